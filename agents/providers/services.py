"""Writes and checks of BYOK providers. Keys are encrypted before they reach
the database; a user-chosen base_url passes the SSRF guard first."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.errors import Conflict, DomainError, InvalidInput
from agents.models import User
from agents.providers import crypto
from agents.providers.kinds import KINDS, supported_types
from agents.providers.models import Provider as ProviderRow
from agents.providers.selectors import provider_named_for_user
from memory.llm.base import ModelInfo, Provider
from memory.llm.endpoint_guard import EndpointRefused, check_endpoint
from memory.llm.errors import ProviderError
from memory.services.providers import build_provider, endpoint_policy

NAME_PATTERN = re.compile(r"[\w][\w .\-]{0,99}")
# Handle prefixes the server itself answers to; a BYOK provider of that name
# would make "openai/gpt-4o" mean two things.
RESERVED_NAMES = {
    "openai",
    "anthropic",
    "gemini",
    "google_ai",
    "ollama",
    "vllm",
    "openai-proxy",
    "local",
    "letta",
}
UNSET: Any = object()
log = logging.getLogger(__name__)


class EndpointNotAllowed(DomainError):
    """A model endpoint the SSRF guard refuses (the message says why)."""

    status = 400


class ProviderKeyRejected(DomainError):
    """The provider refused the key (Letta answers a failed check with 401)."""

    status = 401


def endpoint_check(url: str) -> str:
    """A user-chosen model endpoint, cleaned, or EndpointNotAllowed."""
    try:
        return check_endpoint(url, endpoint_policy())
    except EndpointRefused as exc:
        raise EndpointNotAllowed(str(exc)) from None


def _clean_base_url(provider_type: str, base_url: str | None) -> str:
    if base_url is not None and not isinstance(base_url, str):
        raise InvalidInput("base_url must be a URL string.")
    if base_url and base_url.strip():
        return endpoint_check(base_url)
    if KINDS[provider_type].needs_base_url:
        raise InvalidInput(f"A {provider_type} provider needs a base_url (its server's address).")
    return ""


def _check_type(provider_type: str) -> None:
    if provider_type not in KINDS:
        raise InvalidInput(
            f"provider_type {provider_type!r} is not supported by this server; use one of "
            f"{supported_types()}."
        )


def _check_key(value: str | None, field: str = "api_key") -> str:
    """Keys travel in HTTP headers, which carry printable ASCII only."""
    value = (value or "").strip()
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in value):
        raise InvalidInput(f"{field} must be printable ASCII without spaces, as API keys are.")
    return value


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "A provider name is 1-100 letters, digits, spaces, '.', '_' or '-' (no '/'): it "
            "becomes the handle prefix, as in 'my-openai/gpt-4o-mini'."
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidInput(
            f"{name!r} is the name of one of the server's own providers; choose another, "
            f"e.g. 'my-{name.lower()}'."
        )
    return name


def provider_create(
    *,
    user: User,
    name: str,
    provider_type: str,
    api_key: str,
    access_key: str | None = None,
    region: str | None = None,
    base_url: str | None = None,
    api_version: str | None = None,
) -> ProviderRow:
    name = _check_name(name)
    _check_type(provider_type)
    api_key, access_key = _check_key(api_key), _check_key(access_key, "access_key")
    base_url = _clean_base_url(provider_type, base_url)
    if provider_named_for_user(user=user, name=name) is not None:
        raise Conflict(f"A provider named {name!r} already exists.")
    row = ProviderRow(
        organization_id=user.organization_id,
        owner=user,
        name=name,
        provider_type=provider_type,
        api_key_enc=crypto.encrypt(api_key or ""),
        access_key_enc=crypto.encrypt(access_key or ""),
        base_url=base_url,
        region=region or "",
        api_version=api_version or "",
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # created meanwhile by someone else
        raise Conflict(f"A provider named {name!r} already exists.") from None
    _sync_quietly(row)
    return row


def provider_update(
    *,
    provider: ProviderRow,
    api_key: str,
    access_key: Any = UNSET,
    region: Any = UNSET,
    base_url: Any = UNSET,
    api_version: Any = UNSET,
) -> ProviderRow:
    """Letta's ProviderUpdate: the key is always given, so a new base_url never
    receives a key its setter did not know."""
    provider.api_key_enc = crypto.encrypt(_check_key(api_key))
    if access_key is not UNSET:
        provider.access_key_enc = crypto.encrypt(_check_key(access_key, "access_key"))
    if region is not UNSET:
        provider.region = region or ""
    if api_version is not UNSET:
        provider.api_version = api_version or ""
    if base_url is not UNSET:
        provider.base_url = _clean_base_url(provider.provider_type, base_url)
    provider.save()
    return provider


def provider_delete(*, provider: ProviderRow) -> None:
    provider.delete()


# --- asking the provider ----------------------------------------------------------------


def _check_timeout() -> float:
    # A check answers a person waiting on a form, not a long completion.
    return min(float(settings.LLM_TIMEOUT), 30.0)


def _credentials_provider(
    provider_type: str, *, api_key: str | None, base_url: str | None
) -> Provider:
    try:
        return build_provider(
            provider_type,
            api_key=api_key or None,
            base_url=base_url or None,
            timeout=_check_timeout(),
            policy=endpoint_policy(),
        )
    except EndpointRefused as exc:
        raise EndpointNotAllowed(str(exc)) from None


def _stored_provider(row: ProviderRow) -> Provider:
    try:
        key = crypto.decrypt(row.api_key_enc)
    except crypto.SecretUnreadable as exc:
        raise InvalidInput(str(exc)) from None
    return _credentials_provider(row.provider_type, api_key=key, base_url=row.base_url)


def _list_models(provider: Provider, label: str) -> list[ModelInfo]:
    try:
        return provider.list_models()
    except ProviderError as exc:
        if exc.kind == "auth":
            raise ProviderKeyRejected(
                f"The {label} provider rejected the API key: {exc.message}"
            ) from None
        raise
    except Exception as exc:  # noqa: BLE001 - an odd answer is the provider's fault: a 502
        raise ProviderError(
            f"{type(exc).__name__}: {exc}", retryable=False, kind="invalid_response", provider=label
        ) from exc


def credentials_check(*, provider_type: str, api_key: str, base_url: str | None = None) -> str:
    """Ask the provider to list its models with these credentials: the
    cheapest request that proves a key works."""
    _check_type(provider_type)
    api_key = _check_key(api_key)
    base_url = _clean_base_url(provider_type, base_url)
    models = _list_models(
        _credentials_provider(provider_type, api_key=api_key, base_url=base_url), provider_type
    )
    return f"Valid {provider_type} credentials: the provider lists {len(models)} models."


def provider_check(*, provider: ProviderRow) -> str:
    models = _list_models(_stored_provider(provider), provider.name)
    return f"Valid credentials for {provider.name}: the provider lists {len(models)} models."


def _store_models(row: ProviderRow, models: list[ModelInfo]) -> None:
    row.synced_models = [
        {
            "name": m.name,
            "kind": m.kind,
            "context_window": m.context_window,
            "embedding_dim": m.embedding_dim,
        }
        for m in models
    ]
    row.last_synced = timezone.now()
    # Not a change of the provider: its updated_at (and cached clients) stay.
    ProviderRow.objects.filter(pk=row.pk).update(
        synced_models=row.synced_models, last_synced=row.last_synced
    )


def provider_refresh(*, provider: ProviderRow) -> ProviderRow:
    """Letta's "refresh models": list the provider's models now (for /v1/models)."""
    _store_models(provider, _list_models(_stored_provider(provider), provider.name))
    return provider


def _sync_quietly(row: ProviderRow) -> None:
    """List a new provider's models if it answers; an unreachable one is still
    created (refresh later), as a server may be started after its provider."""
    try:
        _store_models(row, _list_models(_stored_provider(row), row.name))
    except (ProviderError, DomainError) as exc:
        log.info("provider %s: models not listed on creation (%s)", row.name, exc)
