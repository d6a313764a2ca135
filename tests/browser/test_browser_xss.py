"""Model output, memory contents and tool results are shown as text: script
and event-handler payloads stay inert, on page load and when pushed live."""

import json

import pytest

from tests.browser.conftest import login, shot
from tests.fakes.llm_server import reply, tool_call
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOADS = [
    '<script>window.__xss = "script"</script>',
    "<img src=x onerror=\"window.__xss = 'img'\">",
    "<svg onload=\"window.__xss = 'svg'\"></svg>",
    '"><b hx-get="/logout/" hx-trigger="load">hijack</b>',
]
ALL = " ".join(PAYLOADS)


def assert_inert(page):
    assert page.evaluate("window.__xss") is None
    assert not [d for d in page.dialogs if d[0] == "alert"]
    assert page.locator("#chat-log script, #chat-log img, #chat-log svg, #chat-log b").count() == 0
    assert page.locator("#blocks-list img, #blocks-list script").count() == 0


def test_payloads_in_messages_blocks_and_tool_results_stay_inert(live_page, live_url, llm, alice):
    from memory.models import Block
    from memory.services.stores import store_for
    from memory.store.blocks import block_update

    agent = make_agent(alice)
    block = Block.objects.get(agent_links__agent=agent, label="human")
    block_update(block=block, actor_type="user", actor_id=alice.id, value=f"Name: {ALL}")
    store_for(agent).backend.archival_insert(agent.id, f"Remember {ALL}", ["x"])
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")

    llm.script(
        tool_call(
            "archival_memory_search", {"query": f"Remember {PAYLOADS[1]}"}, reasoning=PAYLOADS[0]
        ),
        tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Name:", "new_string": f"Nom {PAYLOADS[2]}"},
        ),
        reply(f"Here you go: {ALL}"),
    )
    page.fill("textarea[name=text]", f"Try these: {ALL}")
    page.keyboard.press("Enter")
    page.wait_for_selector("#run-status .idle")
    page.wait_for_selector(".msg-assistant .bubble:has-text('Here you go')")
    # Every payload is on screen, as text.
    chat = page.locator("#chat-log").inner_text()
    for payload in PAYLOADS:
        assert payload in chat
    assert "Nom <svg" in page.locator("#blocks-list").inner_text()
    assert_inert(page)
    shot(page, "12-xss-live")

    page.reload()
    page.wait_for_selector("#live-state.live")
    assert_inert(page)
    page.click("[data-server-tabs] a:has-text('Archival')")
    page.wait_for_selector("#archival-panel .passage")
    assert PAYLOADS[1] in page.locator("#archival-panel").inner_text()
    page.click("#ctx-messages summary")
    page.wait_for_selector("#ctx-messages .ctx-msg")
    assert page.evaluate("window.__xss") is None
    assert page.url.endswith(f"/agents/{agent.id}/")  # the hx-get payload did not log us out
    assert json.dumps(page.dialogs) == "[]"
