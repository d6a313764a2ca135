"""A new user's first hour in a real browser, with the UI's defaults: create an
agent without touching a field and chat with it; a provider's error keeps the
text; a person makes an API key on their account page and the official
letta-client works with it; with no provider, the pages say how to add one and
a provider added on the Providers page serves the next agent."""

import pytest
from letta_client import AuthenticationError, Letta

from agents.models import APIKey
from agents.services.lifecycle import agent_create
from memory import models as m
from tests.browser.conftest import login, shot, start_server
from tests.fakes.llm_server import FakeLLMServer, delay, reply, tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def htmx_errors(page) -> list[str]:
    """htmx reports a failed swap (e.g. an out-of-band target missing) on the console."""
    page.console_errors = []
    page.on(
        "console",
        lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    return page.console_errors


def test_an_agent_made_with_every_default_answers(live_page, live_url, llm, alice):
    page = live_page
    errors = htmx_errors(page)
    login(page, live_url)
    page.click("text=New agent")
    assert page.locator("select[name=model]").input_value() == "openai/fake-chat"
    shot(page, "new-agent-defaults")
    page.click("button:has-text('Create agent')")
    page.wait_for_selector("#live-state.live")

    llm.script(reply("Hello! Good to meet you."))
    page.fill("textarea[name=text]", "hello")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg-assistant .bubble:has-text('Good to meet you')")
    page.wait_for_selector("#run-status .idle")
    assert page.locator(".msg.pending").count() == 0
    # Another turn with the Runs tab open, then back: no swap may miss its target.
    page.click("[data-server-tabs] a:has-text('Runs')")
    page.wait_for_selector("#runs-panel")
    llm.script(reply("Still here."))
    page.fill("textarea[name=text]", "again")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg-assistant .bubble:has-text('Still here.')")
    page.wait_for_selector("#run-status .idle")
    shot(page, "workspace-default-agent")
    assert not [e for e in errors if "htmx" in e], errors


def test_a_failing_provider_shows_its_error_and_keeps_the_text(live_page, live_url, alice):
    # The live server has OpenAI configured, not Anthropic.
    agent = agent_create(owner=alice, name="Claude", model="anthropic/claude-sonnet-4-5")
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    page.fill("textarea[name=text]", "Please remember my locker code 4711")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg-error .event.error")
    error = page.locator(".msg-error .event.error").last.inner_text()
    assert "ANTHROPIC_API_KEY" in error
    assert page.locator(".msg.pending").count() == 0
    assert page.locator(".msg-user.unsent").count() == 1
    assert page.input_value("textarea[name=text]") == "Please remember my locker code 4711"
    shot(page, "provider-error-keeps-text")


def test_a_person_makes_an_api_key_and_the_letta_client_uses_it(live_page, live_url, llm, bob):
    page = live_page
    login(page, live_url, "bob", "bob-pass-123")
    page.click("a.who")
    page.fill("input[name=name]", "notebook")
    page.click("button:has-text('Create key')")
    secret = page.locator("#new-key pre.secret").inner_text().strip()
    shot(page, "account-new-key")
    client = Letta(base_url=live_url, api_key=secret, max_retries=0, timeout=30)
    made = client.agents.create(
        name="From the SDK", model="openai/fake-chat", agent_type="letta_v1_agent"
    )
    assert [a.id for a in client.agents.list()] == [made.id]
    page.reload()
    assert secret not in page.content()  # shown once
    page.click("button:has-text('Revoke')")  # the confirm dialog is accepted (live_page)
    page.wait_for_selector(".flash li:has-text('Revoked the key')")
    assert APIKey.objects.get(user=bob, name="notebook").revoked
    with pytest.raises(AuthenticationError):
        client.agents.list()


@pytest.fixture
def bare_server(django_db_blocker, alice):
    """A second server started with no model provider at all (and loopback
    endpoints allowed, for the provider the test adds)."""
    from django.conf import settings

    saved = dict(settings.PROVIDER_ENV), settings.ALLOWED_MODEL_ENDPOINTS
    settings.PROVIDER_ENV.clear()
    settings.ALLOWED_MODEL_ENDPOINTS = "127.0.0.1"
    try:
        server = start_server(django_db_blocker)
    finally:
        settings.PROVIDER_ENV.update(saved[0])
        settings.ALLOWED_MODEL_ENDPOINTS = saved[1]
    yield f"http://127.0.0.1:{server.port.value}"
    server.terminate()
    server.join(timeout=10)


def test_with_no_provider_the_pages_guide_and_the_providers_page_adds_one(
    live_page, bare_server, alice
):
    page = live_page
    login(page, bare_server)
    notice = page.locator("#provider-notice")
    assert "No model provider is configured yet" in notice.inner_text()
    shot(page, "no-provider-guidance")
    page.click("#provider-notice a:has-text('add a provider')")
    with FakeLLMServer() as team_llm:
        page.fill("input[name=name]", "team-openai")
        page.select_option("select[name=provider_type]", "openai")
        page.fill("input[name=api_key]", "sk-team-key")
        page.fill("input[name=base_url]", team_llm.url + "/v1")
        page.click("button:has-text('Add provider')")
        page.wait_for_selector("text=Added team-openai")
        shot(page, "providers-page")
        assert "sk-team-key" not in page.content()
        page.goto(f"{bare_server}/agents/new/")
        assert page.locator("select[name=model]").input_value() == "team-openai/fake-chat"
        assert page.locator("#provider-notice").count() == 0
        page.click("button:has-text('Create agent')")
        page.wait_for_selector("#live-state.live")
        team_llm.script(reply("Answered with your team's key."))
        page.fill("textarea[name=text]", "hello")
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg-assistant .bubble:has-text('your team')")
        page.wait_for_selector("#run-status .idle")


def test_the_ade_follows_dark_mode_and_puts_the_chat_first_on_a_phone(live_page, live_url, alice):
    agent = agent_create(owner=alice, name="Pocket", model="openai/fake-chat")
    page = live_page
    page.emulate_media(color_scheme="dark")
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 21, 29)"
    shot(page, "workspace-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    chat_top = page.locator(".pane-center").bounding_box()["y"]
    settings_top = page.locator(".pane-left").bounding_box()["y"]
    assert chat_top < settings_top
    shot(page, "workspace-phone")


def test_stop_during_a_slow_model_step_leaves_memory_untouched(live_page, live_url, llm, alice):
    agent = agent_create(
        owner=alice,
        name="Slow",
        model="openai/fake-chat",
        memory_blocks=[{"label": "human", "value": "Name: unknown"}],
    )
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    # The model "thinks" far longer than the test waits, then would edit memory.
    llm.script(
        delay(30, then=tool_call("core_memory_append", {"label": "human", "content": "after Stop"}))
    )
    page.fill("textarea[name=text]", "take your time")
    page.keyboard.press("Enter")
    page.click("#run-status button:has-text('Stop')")
    page.wait_for_selector(".msg-event .event:has-text('Stopped on request.')")
    page.wait_for_selector("#run-status .idle")
    run = m.Run.objects.get(agent=agent)
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")
    block = m.Block.objects.get(agent_links__agent=agent, label="human")
    assert block.value == "Name: unknown"
    human = page.locator(".block-view", has=page.locator(".label", has_text="human"))
    assert "after Stop" not in human.inner_text()
    shot(page, "stopped-mid-step")


def test_a_refused_send_says_why_and_keeps_the_text(live_page, live_url, alice):
    agent = agent_create(owner=alice, name="Modelless", model="")
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    page.fill("textarea[name=text]", "Is anyone there?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#composer-error:has-text('no model')")
    assert page.input_value("textarea[name=text]") == "Is anyone there?"
    assert page.locator(".msg.pending").count() == 0
