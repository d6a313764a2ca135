"""Ollama: chat through its OpenAI-compatible /v1, catalogue through its
native API (/api/tags + /api/show), as Letta does."""

from __future__ import annotations

from typing import Any

import httpx

from memory.llm.base import ModelInfo, error_from_status, error_from_transport
from memory.llm.errors import ProviderError
from memory.llm.models_table import context_window_or_default
from memory.llm.openai import OpenAIProvider

OLLAMA_DEFAULT_BASE_URL = "http://localhost:11434"


def ollama_native_url(base_url: str | None) -> str:
    """OLLAMA_BASE_URL is the server root; accept it with a trailing /v1 too."""
    url = (base_url or OLLAMA_DEFAULT_BASE_URL).rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def native_request(
    provider: str, method: str, url: str, *, timeout: float, json: Any = None
) -> Any:
    """One call to Ollama's native JSON API, errors mapped to ProviderError."""
    try:
        response = httpx.request(method, url, json=json, timeout=timeout)
    except httpx.HTTPError as exc:
        mapped = error_from_transport(provider, exc)
        raise (
            mapped or ProviderError(str(exc), retryable=True, kind="connection", provider=provider)
        ) from exc
    if response.status_code >= 400:
        try:
            body = response.json()
            message = body.get("error") if isinstance(body, dict) else None
        except ValueError:
            message = None
        raise error_from_status(
            provider,
            response.status_code,
            f"{response.status_code}: {message or response.text[:500]}",
            headers=dict(response.headers),
        )
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            f"Ollama returned non-JSON from {url}",
            retryable=True,
            kind="invalid_response",
            provider=provider,
        ) from exc


class OllamaProvider(OpenAIProvider):
    name = "ollama"
    supports_reasoning = False

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        self.native_url = ollama_native_url(base_url)
        super().__init__(base_url=self.native_url + "/v1", api_key=api_key, timeout=timeout)
        self._show_cache: dict[str, dict[str, Any]] = {}

    def _show(self, model: str) -> dict[str, Any]:
        if model not in self._show_cache:
            data = native_request(
                self.name,
                "POST",
                f"{self.native_url}/api/show",
                timeout=self.timeout,
                json={"model": model},
            )
            self._show_cache[model] = data if isinstance(data, dict) else {}
        return self._show_cache[model]

    def list_models(self) -> list[ModelInfo]:
        tags = native_request(self.name, "GET", f"{self.native_url}/api/tags", timeout=self.timeout)
        models: list[ModelInfo] = []
        for entry in (tags or {}).get("models", []):
            name = entry.get("name") or entry.get("model")
            if not name:
                continue
            show = self._show(name)
            capabilities = set(show.get("capabilities") or [])
            info = show.get("model_info") or {}
            context = _model_info_value(info, "context_length")
            if "tools" in capabilities:
                models.append(
                    ModelInfo(
                        handle=f"{self.name}/{name}",
                        provider=self.name,
                        name=name,
                        context_window=context_window_or_default(name, context),
                    )
                )
            elif "embedding" in capabilities:
                models.append(
                    ModelInfo(
                        handle=f"{self.name}/{name}",
                        provider=self.name,
                        name=name,
                        context_window=context_window_or_default(name, context),
                        kind="embedding",
                        embedding_dim=_model_info_value(info, "embedding_length"),
                        supports_tools=False,
                    )
                )
            # Models without tool support cannot run the agent loop: skipped.
        return models

    def context_window(self, model: str) -> int | None:
        try:
            info = self._show(model).get("model_info") or {}
        except ProviderError:
            info = {}
        # Skip OpenAIProvider.context_window: it would list (and /api/show)
        # every installed model; the table is the only other source.
        return _model_info_value(info, "context_length") or super(
            OpenAIProvider, self
        ).context_window(model)


def _model_info_value(info: dict[str, Any], key: str) -> int | None:
    """`<arch>.<key>` from /api/show model_info, e.g. llama.context_length."""
    arch = info.get("general.architecture")
    value = info.get(f"{arch}.{key}") if arch else None
    if value is None:
        # Some converted models report an architecture name that differs
        # from the prefix of their keys.
        value = next((v for k, v in info.items() if k.endswith("." + key)), None)
    return int(value) if isinstance(value, (int, float)) and value > 0 else None
