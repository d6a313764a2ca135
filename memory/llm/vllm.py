"""vLLM's OpenAI-compatible server. Chat is plain OpenAIProvider; the model
listing carries `max_model_len`, which OpenAIProvider already reads."""

from __future__ import annotations

from memory.llm.openai import OpenAIProvider


def vllm_api_base(base_url: str) -> str:
    """VLLM_API_BASE may be given with or without the /v1 suffix."""
    url = base_url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


class VLLMProvider(OpenAIProvider):
    name = "vllm"
    supports_reasoning = False

    def __init__(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0
    ) -> None:
        if not base_url:
            raise self.not_configured("VLLM_API_BASE")
        super().__init__(base_url=vllm_api_base(base_url), api_key=api_key, timeout=timeout)
