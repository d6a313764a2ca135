"""End to end in a real browser: log in, create an agent, chat with it and
watch the reply stream in, the tool call, the agent's memory edit
highlighted live and the context window grow; then runs and steps."""

import re

import pytest

from tests.browser.conftest import login, shot
from tests.fakes.llm_server import reply, tool_call

pytestmark = pytest.mark.django_db(transaction=True)

LONG_REPLY = (
    "Nice to meet you, Alice! I have noted your name in my memory, so I will remember it "
    "the next time we talk. What would you like to work on today?"
)


def context_used(page) -> int:
    return int(page.locator("#context-panel .usage strong").inner_text())


def test_create_an_agent_and_chat_with_it_live(live_page, live_url, llm, alice):
    page = live_page
    frames = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    login(page, live_url)
    shot(page, "01-agents-empty")

    page.click("text=New agent")
    page.fill("input[name=name]", "Ada")
    page.select_option("select[name=agent_type]", "letta_v1_agent")
    page.fill("input[name=model_other]", "openai/gpt-4o-mini")
    page.fill("textarea[name=human]", "Name: unknown")
    shot(page, "02-new-agent-form")
    page.click("button:has-text('Create agent')")
    page.wait_for_selector("#live-state.live")
    assert page.locator("#agent-title").inner_text() == "Ada"
    before = context_used(page)
    shot(page, "03-workspace-new")

    llm.script(
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name: unknown", "new_string": "Name: Alice"},
            reasoning="The user told me their name; I will remember it.",
        ),
        reply(LONG_REPLY),
    )
    page.fill("textarea[name=text]", "Hi, I'm Alice")
    page.keyboard.press("Enter")
    page.wait_for_selector(
        ".msg-assistant .bubble:has-text('What would you like to work on today?')"
    )
    page.wait_for_selector("#run-status .idle")

    chat = page.locator("#chat-log")
    assert chat.locator(".msg-user .bubble").last.inner_text() == "Hi, I'm Alice"
    assert chat.locator(".msg.pending").count() == 0  # the stored copy replaced it
    assert chat.locator(".tool-call code", has_text="memory_replace").count() == 1
    assert "The user told me their name" in chat.locator(".reasoning").first.inner_text()
    assert chat.locator(".msg-tool .tool-return.ok").count() == 1
    human = page.locator(".block-view", has=page.locator(".label", has_text="human"))
    assert "Name: Alice" in human.locator(".block-value").inner_text()
    assert human.locator(".badge.live", has_text="edited by the agent").is_visible()
    assert "changed-agent" in human.get_attribute("class")
    page.wait_for_function(
        f"Number(document.querySelector('#context-panel .usage strong').textContent) > {before}"
    )
    shot(page, "04-workspace-after-turn")

    # The reply arrived token by token before the stored message replaced the bubble.
    text_frames = [
        f for f in frames if isinstance(f, str) and re.search(r'beforeend:#msg-[^"]+-text', f)
    ]
    assert len(text_frames) > 10
    streamed = "".join(
        re.findall(r'beforeend:#msg-[^"]+-text">([^<]*)</div>', "".join(text_frames))
    )
    assert streamed.replace("&#x27;", "'") == LONG_REPLY
    final = next(
        i
        for i, f in enumerate(frames)
        if isinstance(f, str) and 'class="msg msg-assistant"' in f and "What would you like" in f
    )
    assert final > frames.index(text_frames[-1])

    # The context window's sections open to the exact text.
    page.click("#ctx-core_memory summary")
    page.wait_for_selector("#ctx-core_memory .ctx-pre:has-text('Name: Alice')")
    # Runs and steps, with the raw provider request.
    page.click("[data-server-tabs] a:has-text('Runs')")
    page.wait_for_selector("#runs-panel .chart .bar")
    page.locator("#runs-panel .runs summary").first.click()
    page.wait_for_selector("#runs-panel .step")
    page.locator("#runs-panel .step details summary").first.click()
    page.wait_for_selector("#runs-panel .raw-json:has-text('messages')")
    shot(page, "05-runs-and-steps")

    page.click("a.back")
    page.wait_for_selector("#agent-rows a:has-text('Ada')")
    assert "openai/gpt-4o-mini" in page.locator("#agent-rows").inner_text()
    shot(page, "01b-agents-list")


def test_a_running_turn_can_be_stopped(live_page, live_url, llm, alice):
    from tests.fakes.llm_server import delay
    from tests.ui_helpers import make_agent

    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    llm.script(
        delay(2, tool_call("conversation_search", {"query": "tea"})), reply("This step never runs.")
    )
    page.fill("textarea[name=text]", "Search for tea, slowly")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg-user:not(.pending) .bubble:has-text('Search for tea, slowly')")
    page.click("#run-status button:has-text('Stop')")
    page.wait_for_selector("#run-status:has-text('Stopping')")
    page.wait_for_selector(".msg-event:has-text('Stopped on request.')")
    page.wait_for_selector("#run-status .idle")
    assert page.locator(".bubble:has-text('This step never runs.')").count() == 0


def test_provider_errors_are_shown_plainly(live_page, live_url, llm, alice):
    from tests.fakes.llm_server import error
    from tests.ui_helpers import make_agent

    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    llm.script(error(401, "Incorrect API key provided: sk-***"))
    page.fill("textarea[name=text]", "hello?")
    page.click("#composer button[type=submit]")
    error_box = page.wait_for_selector(".msg-error .event.error")
    assert "Incorrect API key provided" in error_box.inner_text()
    page.wait_for_selector("#run-status .idle")
    shot(page, "06-provider-error")


def test_a_message_sent_from_another_tab_appears_without_reload(
    live_page, live_url, llm, alice, browser
):
    from tests.ui_helpers import make_agent

    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    other_context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = other_context.new_page()
    login(other, live_url)
    other.goto(f"{live_url}/agents/{agent.id}/")
    other.wait_for_selector("#live-state.live")

    llm.script(reply("Hello from the other tab's turn."))
    other.fill("textarea[name=text]", "Sent from tab two")
    other.keyboard.press("Enter")
    page.wait_for_selector(".msg-user .bubble:has-text('Sent from tab two')")
    page.wait_for_selector('.msg-assistant .bubble:has-text("Hello from the other tab\'s turn.")')
    other_context.close()

    # And one sent through the /v1 API.
    import httpx

    from agents.services.accounts import apikey_create

    _, secret = apikey_create(user=alice, name="browser test")
    llm.script(reply("Answered over the API."))
    response = httpx.post(
        f"{live_url}/v1/agents/{agent.id}/messages",
        timeout=30,
        headers={"Authorization": f"Bearer {secret}"},
        json={"messages": [{"role": "user", "content": "Sent through the API"}]},
    )
    assert response.status_code == 200, response.text
    page.wait_for_selector(".msg-user .bubble:has-text('Sent through the API')")
    page.wait_for_selector(".msg-assistant .bubble:has-text('Answered over the API.')")
    # Nothing live replaced the settings (the model picker keeps its list).
    assert page.locator("#settings-panel input[name=name]").input_value() == "Sam"
    picker = page.locator("#settings-panel select[name=model] option[value='openai/fake-chat']")
    assert picker.count() == 1
    shot(page, "13-messages-from-another-tab-and-the-api")
