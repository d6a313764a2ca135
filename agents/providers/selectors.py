"""Permission-scoped reads of BYOK providers: an organization's providers are
its members' (a user without an organization has their own); a stranger's
are not found."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from agents.models import User
from agents.providers.models import Provider


def _scope(*, organization_id: str | None, owner_id: str | None) -> Q:
    if organization_id:
        return Q(organization_id=organization_id)
    return Q(organization__isnull=True, owner_id=owner_id)


def providers_visible_to(*, user: User) -> QuerySet[Provider]:
    if user.is_superuser:
        return Provider.objects.all()
    return Provider.objects.filter(_scope(organization_id=user.organization_id, owner_id=user.id))


def team_providers(*, user: User) -> QuerySet[Provider]:
    """The providers the user's own agents can use (their team's, or their
    own without a team) — for an admin too, unlike providers_visible_to."""
    return Provider.objects.filter(_scope(organization_id=user.organization_id, owner_id=user.id))


def provider_get_for_user(*, user: User, provider_id: str) -> Provider | None:
    return providers_visible_to(user=user).filter(id=provider_id).first()


def provider_in_scope(
    *, organization_id: str | None, owner_id: str | None, name: str
) -> Provider | None:
    """The provider a handle prefix names for an agent of this organization (or owner)."""
    return Provider.objects.filter(
        _scope(organization_id=organization_id, owner_id=owner_id), name__iexact=name.strip()
    ).first()


def provider_named_for_user(*, user: User, name: str) -> Provider | None:
    """The provider `name` would mean on an agent this user creates."""
    return provider_in_scope(organization_id=user.organization_id, owner_id=user.id, name=name)


def models_for_user(*, user: User, kind: str = "llm") -> list[dict[str, Any]]:
    """The models the user's BYOK providers offered when last synced, in the
    shape of /v1/models (handles carry the provider's name)."""
    out = []
    # Only the providers the user's own agents could use, even for an admin.
    for row in team_providers(user=user).order_by("name"):
        for model in row.synced_models or []:
            if model.get("kind", "llm") != kind:
                continue
            out.append(
                {
                    "handle": f"{row.name}/{model['name']}",
                    "name": model["name"],
                    "display_name": model["name"],
                    "provider_name": row.name,
                    "provider_type": row.provider_type,
                    "provider_category": "byok",
                    "context_window": model.get("context_window") or 0,
                    "embedding_dim": model.get("embedding_dim"),
                }
            )
    return out
