"""In a real browser: Chinese and Japanese memories are found by their words
in the archival tab, and a Korean message in the recall tab (no embedding model)."""

import pytest

from memory.services.turns import message_send
from tests.browser.conftest import login, shot
from tests.engine_helpers import fake_llm, fast_config  # noqa: F401
from tests.fakes.llm_server import reply
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def test_cjk_memories_are_found_in_the_archival_and_recall_tabs(
    live_page, live_url, alice, fake_llm
):
    agent = make_agent(alice)
    fake_llm.script(reply("좋아요!"))
    message_send(agent=agent, texts=["저는 주말마다 등산을 가요"], user=alice, config=fast_config())
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    page.click("[data-server-tabs] a:has-text('Archival')")
    page.wait_for_selector("#archival-panel")
    for text in (
        "用户养了一只叫豆豆的橘猫。",
        "ユーザーは毎朝ジョギングをしている。",
        "I ride a red bicycle.",
    ):
        page.click("#archival-panel details.insert summary")
        page.fill("#archival-panel details.insert textarea[name=text]", text)
        page.click("#archival-panel button:has-text('Insert')")
        page.wait_for_selector(f'#archival-panel .passage:has-text("{text}")')
    for query, expected in (("橘猫", "豆豆"), ("ジョギング", "毎朝")):
        page.fill("#archival-panel input[name=q]", query)
        page.click("#archival-panel button:has-text('Search')")
        page.wait_for_selector(f"#archival-panel .passage:has-text('score'):has-text('{expected}')")
        assert page.locator("#archival-panel .passage").count() == 1
    shot(page, "archival-search-cjk")

    page.click("[data-server-tabs] a:has-text('Recall')")
    page.wait_for_selector("#recall-panel")
    page.fill("#recall-panel input[name=q]", "등산")
    page.press("#recall-panel input[name=q]", "Enter")
    # The reply matches too, by the turn before it (one conversation).
    page.wait_for_selector("#recall-panel :text('2 matches, the agent')")
    assert "주말마다 등산을" in page.locator("#recall-panel").inner_text()
    shot(page, "recall-search-cjk")
