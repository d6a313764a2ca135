"""Self-hosted servers: Ollama (OpenAI /v1 for chat, native API for the
catalogue) and vLLM (OpenAI API with max_model_len)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from memory.llm.errors import ProviderError
from memory.llm.ollama import OllamaProvider
from memory.llm.vllm import VLLMProvider
from tests.fakes import LOOKUP, chat
from tests.fakes.llm_server import FakeLLMServer, FakeModel, disconnect, reply, tool_call


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        fake.models = [
            FakeModel("llama3.1:8b", 131_072, ("completion", "tools"), "llama"),
            FakeModel("qwen3:4b", 40_960, ("completion", "tools", "thinking"), "qwen3"),
            FakeModel("gemma2:2b", 8_192, ("completion",), "gemma2"),
            FakeModel(
                "nomic-embed-text:latest", 2_048, ("embedding",), "nomic-bert", embedding_dim=768
            ),
        ]
        yield fake


def test_ollama_chats_through_its_openai_compatible_v1(server):
    server.script(tool_call("lookup", {"word": "llama"}), reply("Llamas hum."))
    provider = OllamaProvider(base_url=server.url, timeout=5)

    first = provider.complete(chat("llama3.1:8b", tools=[LOOKUP]))
    second = provider.complete(chat("llama3.1:8b"))

    assert json.loads(first.message.tool_calls[0].arguments) == {"word": "llama"}
    assert second.message.text == "Llamas hum."
    assert {r.path for r in server.chat_requests()} == {"/v1/chat/completions"}
    assert server.last_chat().json["model"] == "llama3.1:8b"


def test_ollama_lists_only_tool_capable_models_and_embedders(server):
    provider = OllamaProvider(base_url=server.url)

    models = {m.name: m for m in provider.list_models()}

    assert set(models) == {"llama3.1:8b", "qwen3:4b", "nomic-embed-text:latest"}
    assert models["llama3.1:8b"].handle == "ollama/llama3.1:8b"
    assert models["llama3.1:8b"].context_window == 131_072  # llama.context_length
    assert models["qwen3:4b"].context_window == 40_960  # qwen3.context_length
    embedder = models["nomic-embed-text:latest"]
    assert (embedder.kind, embedder.embedding_dim, embedder.supports_tools) == (
        "embedding",
        768,
        False,
    )
    shown = [r.json["model"] for r in server.requests if r.path == "/api/show"]
    assert sorted(shown) == sorted(m.name for m in server.models)


def test_ollama_context_window_comes_from_api_show(server):
    provider = OllamaProvider(base_url=server.url)

    assert provider.context_window("llama3.1:8b") == 131_072
    assert provider.context_window("llama3.1:8b") == 131_072
    assert len([r for r in server.requests if r.path == "/api/show"]) == 1  # cached
    # Not installed: /api/show says 404, so only our table could answer.
    assert provider.context_window("not-pulled") is None


def test_ollama_accepts_a_base_url_with_v1_and_needs_no_key(server):
    provider = OllamaProvider(base_url=server.url + "/v1/", api_key=None)

    assert provider.native_url == server.url
    assert provider.base_url == server.url + "/v1"
    assert provider.complete(chat("llama3.1:8b")).message.text == "ok"
    assert len(provider.list_models()) == 3


def test_ollama_native_api_errors_become_provider_errors(server):
    server.script_for("models", disconnect())
    provider = OllamaProvider(base_url=server.url)

    with pytest.raises(ProviderError) as info:
        provider.list_models()

    assert (info.value.kind, info.value.retryable) == ("connection", True)


def test_vllm_appends_v1_and_reads_max_model_len(server):
    provider = VLLMProvider(base_url=server.url, timeout=5)

    models = {m.name: m for m in provider.list_models()}

    assert provider.base_url == server.url + "/v1"
    assert models["llama3.1:8b"].context_window == 131_072
    assert models["llama3.1:8b"].handle == "vllm/llama3.1:8b"
    assert provider.context_window("qwen3:4b") == 40_960
    assert [r.path for r in server.requests] == ["/v1/models"]


def test_vllm_keeps_a_base_that_already_ends_in_v1(server):
    provider = VLLMProvider(base_url=server.url + "/v1")
    server.script(reply("served by vllm"))

    assert provider.complete(chat("llama3.1:8b")).message.text == "served by vllm"
    assert server.last_chat().path == "/v1/chat/completions"


def test_vllm_streams_reasoning_content_from_its_reasoning_parser(server):
    server.script(reply("4", reasoning="2+2"))

    response = VLLMProvider(base_url=server.url).complete(chat("qwen3:4b"))

    assert response.message.reasoning[0].text == "2+2"
    assert response.message.text == "4"


def test_vllm_without_a_base_url_is_not_configured():
    with pytest.raises(ProviderError) as info:
        VLLMProvider(base_url=None)

    assert info.value.kind == "not_configured"
    assert "VLLM_API_BASE" in info.value.message
