"""Letta's Provider shapes. Secrets go in, never out: `api_key` and its
encrypted form are always null in answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

# Letta's ProviderType enum; the ones this server cannot serve are refused by
# the service with the list of those it can.
ProviderType = Literal[
    "anthropic",
    "azure",
    "baseten",
    "bedrock",
    "cerebras",
    "chatgpt_oauth",
    "deepseek",
    "fireworks",
    "google_ai",
    "google_vertex",
    "groq",
    "hugging-face",
    "letta",
    "lmstudio_openai",
    "minimax",
    "mistral",
    "ollama",
    "openai",
    "together",
    "vllm",
    "sglang",
    "openrouter",
    "xai",
    "zai",
    "zai_coding",
]


class ProviderIn(Schema):
    """Letta's ProviderCreate."""

    model_config = ConfigDict(extra="forbid")

    name: str
    provider_type: ProviderType
    api_key: str
    access_key: str | None = None
    region: str | None = Field(None, max_length=100)
    base_url: str | None = Field(None, max_length=2000)
    api_version: str | None = Field(None, max_length=100)


class ProviderPatch(Schema):
    """Letta's ProviderUpdate: api_key is required, so whoever changes the
    base_url must know the key that will be sent there."""

    model_config = ConfigDict(extra="forbid")

    api_key: str
    access_key: str | None = None
    region: str | None = Field(None, max_length=100)
    base_url: str | None = Field(None, max_length=2000)
    api_version: str | None = Field(None, max_length=100)


class ProviderCheckIn(Schema):
    """Letta's ProviderCheck."""

    provider_type: ProviderType
    api_key: str
    access_key: str | None = None
    region: str | None = Field(None, max_length=100)
    base_url: str | None = Field(None, max_length=2000)
    api_version: str | None = Field(None, max_length=100)


class ProviderOut(Schema):
    id: str
    name: str
    provider_type: str
    provider_category: str = "byok"
    api_key: str | None = None
    base_url: str | None = None
    access_key: str | None = None
    region: str | None = None
    api_version: str | None = None
    organization_id: str | None = None
    updated_at: datetime | None = None
    last_synced: datetime | None = None
    api_key_enc: str | None = None
    access_key_enc: str | None = None


class CheckOut(Schema):
    message: str


def provider_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "provider_type": row.provider_type,
        "provider_category": "byok",
        # Never the key, nor its ciphertext: a client that echoes a Provider
        # back must not overwrite the key with a mask.
        "api_key": None,
        "api_key_enc": None,
        "access_key": None,
        "access_key_enc": None,
        "base_url": row.base_url or None,
        "region": row.region or None,
        "api_version": row.api_version or None,
        "organization_id": row.organization_id,
        "updated_at": row.updated_at,
        "last_synced": row.last_synced,
    }
