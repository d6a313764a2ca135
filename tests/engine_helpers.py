"""Shared set-up for engine tests: a fake LLM server the real SDKs talk to,
configured under the same variable names a user sets (settings.PROVIDER_ENV
holds them, read from the environment at start-up)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from tests.fakes.llm_server import FakeLLMServer


def set_provider_env(monkeypatch, name: str, value: str) -> None:
    """As if the server had started with `name=value` in its environment ("" unsets):
    in this process's settings, and in the environment that servers and workers
    the test starts as subprocesses read theirs from."""
    monkeypatch.setitem(settings.PROVIDER_ENV, name, value)
    if value:
        monkeypatch.setenv(name, value)
    else:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_llm(monkeypatch):
    with FakeLLMServer() as server:
        set_provider_env(monkeypatch, "OPENAI_API_KEY", "test-key")
        set_provider_env(monkeypatch, "OPENAI_BASE_URL", server.url + "/v1")
        set_provider_env(monkeypatch, "ANTHROPIC_API_KEY", "test-key")
        set_provider_env(monkeypatch, "ANTHROPIC_BASE_URL", server.url)
        set_provider_env(monkeypatch, "GEMINI_API_KEY", "test-key")
        set_provider_env(monkeypatch, "GEMINI_BASE_URL", server.url)
        yield server


def fast_config(**overrides):
    from memory.engine.loop import LoopConfig

    values = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "max_steps": 10}
    values.update(overrides)
    return LoopConfig(**values)


def tool_results(result):
    """(tool name, status, message) for each tool return the turn produced."""
    out = []
    for message in result.messages:
        for part in message.tool_returns:
            out.append((part.name, part.status, json.loads(part.content)["message"]))
    return out
