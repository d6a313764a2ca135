"""Browser tests: Playwright driving Debian's chromium against a live daphne
server (HTTP and WebSockets) that serves the test database, with the fake
LLM server standing in for the provider.

Run them in their own pytest process (`pytest tests/browser`, as `make test`
does): once a sync Playwright page has run, its event loop breaks later async
tests in the same process.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls
# the tests make for set-up and checks are still plain blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("ADE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "alice-pass-123"


def pytest_collection_modifyitems(config, items):
    """Skip these when collected beside the rest of the suite (see above)."""
    here = Path(__file__).parent
    if all(here in Path(item.path).parents for item in items):
        return
    skip = pytest.mark.skip(reason="browser tests run in their own process: pytest tests/browser")
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_FLAGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1600, "height": 1000}}


@pytest.fixture(scope="session")
def llm():
    """One fake provider for the session, configured as the server's own
    OpenAI-compatible provider (settings.PROVIDER_ENV, as OPENAI_* would)."""
    from django.conf import settings

    from tests.fakes.llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        saved = dict(settings.PROVIDER_ENV)
        settings.PROVIDER_ENV.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=server.url + "/v1")
        yield server
        settings.PROVIDER_ENV.clear()
        settings.PROVIDER_ENV.update(saved)


def _application():
    from channels.routing import get_default_application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(get_default_application())


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker, llm):
    """daphne in a forked process, serving the test database on a free port."""
    server = start_server(django_db_blocker)
    yield f"http://127.0.0.1:{server.port.value}"
    server.terminate()
    server.join(timeout=10)


def start_server(django_db_blocker):
    """Fork daphne serving the test database, with this process's settings as
    they are now (tests that need a differently configured server change them
    first)."""
    from daphne.testing import DaphneProcess
    from django.db import connections

    with django_db_blocker.unblock():
        # The child must not share the parent's database sockets, nor its
        # connection pool (whose worker threads a forked child does not have).
        connections.close_all()
        for connection in connections.all():
            connection.close_pool()
        server = DaphneProcess("127.0.0.1", partial(_application))
        server.start()
        if not server.ready.wait(timeout=30):
            server.terminate()
            raise RuntimeError("daphne did not start")
    return server


@pytest.fixture
def alice(transactional_db):
    from agents.models import Organization, User

    team = Organization.objects.create(name="Acme")
    return User.objects.create_user(username="alice", password=PASSWORD, organization=team)


@pytest.fixture
def bob(alice):
    from agents.models import User

    return User.objects.create_user(
        username="bob", password="bob-pass-123", organization=alice.organization
    )


def login(page, live_url: str, username: str = "alice", password: str = PASSWORD) -> None:
    page.goto(f"{live_url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_url}/")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture
def live_page(transactional_db, page):
    """A page that fails the test on any script error and records dialogs (an
    injected alert() would open one; confirm() dialogs are accepted).

    Requested after the database, so it closes first: the server must be idle
    (no open socket, no turn running) before the test database is flushed."""
    page.set_default_timeout(15_000)
    page.errors = []
    page.dialogs = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))

    def on_dialog(dialog):
        page.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", on_dialog)
    yield page
    errors = list(page.errors)
    page.context.close()
    _wait_for_idle_server()
    assert not errors, errors


def _wait_for_idle_server(timeout: float = 20.0) -> None:
    import time

    from memory.models import Run

    deadline = time.monotonic() + timeout
    while (
        Run.objects.filter(status__in=["created", "running"]).exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def fresh_script(llm):
    """Each test scripts its own turns; drop what an earlier one left unused."""
    for _ in range(llm.pending("chat")):
        llm.next_turn("chat")
