"""Every adapter maps failures to the same ProviderError kinds, and
configuration problems say which variable to set."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from memory.llm.anthropic import AnthropicProvider
from memory.llm.base import Provider, error_from_status, parse_retry_after
from memory.llm.errors import ContextWindowExceeded, ProviderError
from memory.llm.gemini import GeminiProvider
from memory.llm.models_table import (
    FALLBACK_CONTEXT_WINDOW,
    context_window_or_default,
    lookup_context_window,
    lookup_embedding_dim,
)
from memory.llm.ollama import OllamaProvider
from memory.llm.openai import OpenAIProvider
from memory.llm.registry import (
    ProviderConfig,
    configured_providers,
    get_provider,
    list_all_models,
    parse_handle,
)
from tests.fakes import LOOKUP, chat
from tests.fakes.llm_server import (
    FakeLLMServer,
    context_overflow,
    delay,
    disconnect,
    empty,
    error,
    tool_call,
    truncated,
)

FAST_TIMEOUT = 0.4


def openai_at(url: str, timeout: float) -> Provider:
    return OpenAIProvider(base_url=url + "/v1", api_key="k", timeout=timeout)


def anthropic_at(url: str, timeout: float) -> Provider:
    return AnthropicProvider(base_url=url, api_key="k", timeout=timeout)


def gemini_at(url: str, timeout: float) -> Provider:
    return GeminiProvider(base_url=url, api_key="k", timeout=timeout)


def ollama_at(url: str, timeout: float) -> Provider:
    return OllamaProvider(base_url=url, timeout=timeout)


PROVIDERS: dict[str, tuple[Callable[[str, float], Provider], str]] = {
    "openai": (openai_at, "gpt-4o-mini"),
    "anthropic": (anthropic_at, "claude-sonnet-4-6"),
    "gemini": (gemini_at, "gemini-2.5-flash"),
    "ollama": (ollama_at, "llama3.1:8b"),
}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(params=sorted(PROVIDERS))
def target(request, server) -> tuple[Provider, str]:
    factory, model = PROVIDERS[request.param]
    return factory(server.url, FAST_TIMEOUT), model


def fail(provider: Provider, model: str, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        provider.complete(chat(model, **kwargs))
    assert info.value.provider == provider.name
    return info.value


def test_rate_limit_is_retryable_with_the_servers_retry_after(server, target):
    server.script(error(429, retry_after=7))

    err = fail(*target)

    assert (err.kind, err.retryable, err.status, err.retry_after) == ("rate_limit", True, 429, 7.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(server, target, status):
    server.script(error(status))

    err = fail(*target)

    assert (err.kind, err.retryable, err.status) == ("server", True, status)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_not_retryable(server, target, status):
    server.script(error(status))

    err = fail(*target)

    assert (err.kind, err.retryable, err.status) == ("auth", False, status)


def test_context_length_errors_raise_context_window_exceeded(server, target):
    server.script(context_overflow())

    err = fail(*target)

    assert isinstance(err, ContextWindowExceeded)
    assert (err.kind, err.retryable, err.status) == ("context_overflow", False, 400)


def test_other_client_errors_are_bad_requests(server, target):
    server.script(error(400, "tools.0.name: String should match pattern"))

    err = fail(*target)

    assert (err.kind, err.retryable) == ("bad_request", False)
    assert "String should match pattern" in err.message


@pytest.mark.parametrize("reset", [True, False])
def test_a_dropped_connection_is_a_retryable_connection_error(server, target, reset):
    server.script(disconnect(reset=reset))

    err = fail(*target)

    assert (err.kind, err.retryable) == ("connection", True)


def test_a_server_slower_than_the_timeout_is_a_retryable_timeout(server, target):
    server.script(delay(3.0))
    started = time.monotonic()

    err = fail(*target)

    assert (err.kind, err.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2.5


def test_a_stream_cut_off_mid_text_is_an_invalid_response(server, target):
    server.script(truncated())

    err = fail(*target)

    assert (err.kind, err.retryable) == ("invalid_response", True)


def test_a_stream_cut_off_mid_tool_call_is_an_invalid_response(server, target):
    server.script(truncated(tool_call("lookup", {"word": "a long enough word to be split"})))

    err = fail(*target, tools=[LOOKUP])

    assert (err.kind, err.retryable) == ("invalid_response", True)


def test_an_answer_without_text_or_tool_calls_is_an_empty_response(server, target):
    server.script(empty())

    err = fail(*target)

    assert (err.kind, err.retryable) == ("empty_response", True)


def test_a_tool_call_cut_by_max_tokens_is_an_invalid_response(server, target):
    if target[0].name == "gemini":
        pytest.skip("Gemini sends function calls whole, never with partial arguments")
    server.script(tool_call("lookup", '{"word": "unfinis', finish="length"))

    err = fail(*target, tools=[LOOKUP])

    assert (err.kind, err.retryable) == ("invalid_response", True)
    assert "max_tokens" in err.message


def test_a_refused_connection_is_a_retryable_connection_error(target):
    provider, model = target
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    factory = PROVIDERS[provider.name][0]

    err = fail(factory(f"http://127.0.0.1:{port}", FAST_TIMEOUT), model)

    assert (err.kind, err.retryable) == ("connection", True)


def test_a_failing_on_event_callback_propagates_and_closes_the_stream(server, target):
    provider, model = target

    class Stop(Exception):
        pass

    def on_event(event):
        raise Stop

    with pytest.raises(Stop):
        provider.complete(chat(model), on_event=on_event)
    # The server is still healthy for the next request.
    assert provider.complete(chat(model)).message.text == "ok"


# --- error classification helpers ----------------------------------------


def test_retry_after_reads_seconds_milliseconds_and_http_dates():
    future = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 25 < parse_retry_after({"Retry-After": future}) <= 30
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens",
        "prompt is too long: 210000 tokens > 200000 maximum",
        "The input token count (1200000) exceeds the maximum number of tokens allowed",
        "Too many tokens in the request",
    ],
)
def test_context_overflow_is_recognised_in_each_providers_wording(message):
    assert isinstance(error_from_status("x", 400, message), ContextWindowExceeded)


def test_an_overloaded_error_inside_a_200_stream_is_a_server_error():
    err = error_from_status("anthropic", 500, "Overloaded", error_type="overloaded_error")

    assert (err.kind, err.retryable) == ("server", True)


# --- configuration -----------------------------------------------------------


def test_config_reads_lettas_environment_variable_names():
    config = ProviderConfig.from_env(
        {
            "OPENAI_API_KEY": "sk-1",
            "OPENAI_API_BASE": "https://openrouter.ai/api/v1",
            "ANTHROPIC_API_KEY": "sk-ant",
            "GEMINI_API_KEY": "g",
            "GEMINI_BASE_URL": "http://g",
            "OLLAMA_BASE_URL": "http://localhost:11434",
            "VLLM_API_BASE": "http://vllm:8000",
            "ANTHROPIC_BASE_URL": "  ",
        }
    )

    assert config.openai_api_key == "sk-1"
    assert config.openai_base_url == "https://openrouter.ai/api/v1"
    assert config.anthropic_base_url is None  # blank means unset
    assert set(configured_providers(config)) == {"openai", "anthropic", "gemini", "ollama", "vllm"}


def test_openai_base_url_wins_over_the_legacy_api_base_name():
    config = ProviderConfig.from_env(
        {"OPENAI_BASE_URL": "http://a/v1", "OPENAI_API_BASE": "http://b/v1"}
    )

    assert config.openai_base_url == "http://a/v1"


def test_only_configured_providers_are_built():
    providers = configured_providers(ProviderConfig(anthropic_api_key="k"))

    assert list(providers) == ["anthropic"]
    assert isinstance(providers["anthropic"], AnthropicProvider)


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("google_ai", "GEMINI_API_KEY"),
        ("ollama", "OLLAMA_BASE_URL"),
        ("vllm", "VLLM_API_BASE"),
    ],
)
def test_an_unconfigured_provider_names_the_variable_to_set(name, variable):
    with pytest.raises(ProviderError) as info:
        get_provider(ProviderConfig(), name)

    assert (info.value.kind, info.value.retryable) == ("not_configured", False)
    assert variable in info.value.message


def test_an_unknown_provider_is_not_configured():
    with pytest.raises(ProviderError) as info:
        get_provider(ProviderConfig(), "bedrock")

    assert info.value.kind == "not_configured"
    assert "bedrock" in info.value.message


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("google_ai/gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
        ("openai-proxy/meta-llama/llama-3.1-70b", ("openai", "meta-llama/llama-3.1-70b")),
        ("ollama/llama3.1:8b", ("ollama", "llama3.1:8b")),
    ],
)
def test_handles_split_into_provider_and_model(handle, expected):
    assert parse_handle(handle) == expected


@pytest.mark.parametrize("handle", ["gpt-4o-mini", "openai/", "/gpt-4o"])
def test_malformed_handles_are_rejected_with_an_example(handle):
    with pytest.raises(ValueError, match="provider/model|provider and a model"):
        parse_handle(handle)


def test_list_all_models_keeps_going_when_a_provider_is_down(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = ProviderConfig(
        openai_api_key="k", openai_base_url=server.url + "/v1", ollama_base_url=dead, timeout=2
    )

    models, errors = list_all_models(config)

    assert {m.provider for m in models} == {"openai"}
    assert set(errors) == {"ollama"}
    assert errors["ollama"].kind == "connection"


def test_the_models_table_matches_snapshots_by_prefix():
    assert lookup_context_window("gpt-4o-2024-08-06") == 128_000
    assert lookup_context_window("gpt-4o-mini") == 128_000
    assert lookup_context_window("gpt-4.1-mini") == 1_047_576
    assert lookup_context_window("o4-mini") == 200_000
    assert lookup_context_window("gpt-5-nano") == 400_000
    assert lookup_context_window("claude-3-5-sonnet-20241022") == 200_000
    assert lookup_context_window("anthropic/claude-3.7-sonnet") == 200_000  # OpenRouter spelling
    assert lookup_context_window("models/gemini-1.5-pro-002") == 2_097_152
    assert lookup_context_window("gemini-2.5-flash-lite") == 1_048_576
    assert lookup_context_window("my-finetune") is None
    assert context_window_or_default("my-finetune") == FALLBACK_CONTEXT_WINDOW
    assert context_window_or_default("gpt-4o", 64_000) == 64_000
    assert lookup_embedding_dim("text-embedding-3-large") == 3072
    assert lookup_embedding_dim("nomic-embed-text:latest") == 768
    assert lookup_embedding_dim("gemini-embedding-001") == 3072
    assert lookup_embedding_dim("gpt-4o") is None
