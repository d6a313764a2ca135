"""/v1/providers: an organization's bring-your-own-key providers, in Letta's
shapes. Members of the organization share them; anyone else gets a 404."""

from __future__ import annotations

from typing import Literal

from ninja import Query, Router, Schema

from agents import ids
from agents.api import provider_schemas as s
from agents.errors import NotFound
from agents.providers import services
from agents.providers.models import Provider
from agents.providers.selectors import provider_get_for_user, providers_visible_to
from memory.selectors import cursor_page

router = Router(tags=["providers"])


def provider_for(request, provider_id: str) -> Provider:
    row = None
    if ids.is_id(provider_id, "provider"):
        row = provider_get_for_user(user=request.auth, provider_id=provider_id)
    if row is None:
        raise NotFound(f"Provider {provider_id} not found.")
    return row


class ProviderFilters(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "desc"
    order_by: Literal["created_at"] = "created_at"
    name: str | None = None
    provider_type: str | None = None


@router.get("/providers/", response=list[s.ProviderOut])
def list_providers(request, filters: Query[ProviderFilters]):
    """Your organization's providers, newest first by default."""
    rows = providers_visible_to(user=request.auth)
    if filters.name:
        rows = rows.filter(name=filters.name)
    if filters.provider_type:
        rows = rows.filter(provider_type=filters.provider_type)
    page = cursor_page(
        rows,
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=filters.order == "asc",
    )
    return [s.provider_out(row) for row in page]


@router.post("/providers/", response=s.ProviderOut)
def create_provider(request, payload: s.ProviderIn):
    """Store a provider; its API key is encrypted and never shown again. Its
    name becomes a handle prefix: 'my-openai/gpt-4o-mini'."""
    row = services.provider_create(user=request.auth, **payload.model_dump())
    return s.provider_out(row)


@router.post("/providers/check", response=s.CheckOut)
def check_provider(request, payload: s.ProviderCheckIn):
    """Check a key without storing it: the provider is asked to list its models."""
    message = services.credentials_check(
        provider_type=payload.provider_type, api_key=payload.api_key, base_url=payload.base_url
    )
    return {"message": message}


@router.get("/providers/{provider_id}", response=s.ProviderOut)
def retrieve_provider(request, provider_id: str):
    return s.provider_out(provider_for(request, provider_id))


@router.patch("/providers/{provider_id}", response=s.ProviderOut)
def modify_provider(request, provider_id: str, payload: s.ProviderPatch):
    """Change the fields sent; the api_key is always required."""
    row = services.provider_update(
        provider=provider_for(request, provider_id), **payload.model_dump(exclude_unset=True)
    )
    return s.provider_out(row)


@router.delete("/providers/{provider_id}")
def delete_provider(request, provider_id: str):
    services.provider_delete(provider=provider_for(request, provider_id))
    return {"message": f"Provider id={provider_id} successfully deleted"}


@router.post("/providers/{provider_id}/check", response=s.CheckOut)
def check_existing_provider(request, provider_id: str):
    """Check the stored key: the provider is asked to list its models."""
    return {"message": services.provider_check(provider=provider_for(request, provider_id))}


@router.patch("/providers/{provider_id}/refresh", response=s.ProviderOut)
def refresh_provider_models(request, provider_id: str):
    """List the provider's models now; /v1/models shows them."""
    row = services.provider_refresh(provider=provider_for(request, provider_id))
    return s.provider_out(row)
