"""Shared set-up for engine tests: a fake LLM server the real SDKs talk to,
configured through the same env vars a user would set."""

from __future__ import annotations

import json

import pytest

from tests.fakes.llm_server import FakeLLMServer


@pytest.fixture
def fake_llm(monkeypatch):
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("GEMINI_API_KEY", "test-key")
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
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
