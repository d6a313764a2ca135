"""Shared set-up for the web ADE's tests: an agent of Alice's with two
blocks, and clients logged in as each actor."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from tests.engine_helpers import fake_llm  # noqa: F401 - re-exported fixture

# Test modules `from tests.ui_helpers import *` to get the fixtures too.
__all__ = ["agent", "as_alice", "as_bob", "as_charlie", "fake_llm", "turns_settle"]

BLOCKS = [
    {
        "label": "human",
        "value": "Name: unknown",
        "limit": 500,
        "description": "Facts about the user.",
    },
    {"label": "persona", "value": "I am Sam, a helpful assistant.", "limit": 500},
]


def make_agent(owner, name="Sam", **kw):
    from agents.services.lifecycle import agent_create

    kw.setdefault("model", "openai/gpt-4o-mini")
    kw.setdefault("memory_blocks", [dict(b) for b in BLOCKS])
    return agent_create(owner=owner, name=name, **kw)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def htmx(client: Client, method: str, url: str, data=None, **extra):
    """A request as htmx sends it."""
    call = getattr(client, method)
    return call(url, data or {}, HTTP_HX_REQUEST="true", **extra)


def wait_for_run(run_id: str, timeout: float = 20.0):
    """Turns started from the UI run in the background; wait for this one to end."""
    from memory.models import Run

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status not in ("created", "running"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


@pytest.fixture
def agent(alice):
    return make_agent(alice)


@pytest.fixture
def as_alice(alice):
    return logged_in(alice)


@pytest.fixture
def as_bob(bob):
    return logged_in(bob)


@pytest.fixture
def as_charlie(charlie):
    return logged_in(charlie)


@pytest.fixture
def turns_settle():
    """Turns started from the UI outlive the request; let them end before the
    test database is flushed."""
    yield
    from memory.models import Run

    for run_id in Run.objects.filter(
        status__in=["created", "running"], request_config__source="ade"
    ).values_list("id", flat=True):
        try:
            wait_for_run(run_id, timeout=10)
        except AssertionError:
            pass
