"""The ADE in Chinese in a real browser: switch the language with the header's
switcher, and the workspace, and what is pushed into it live, speak Chinese.
(This machine has no CJK fonts, so the screenshot shows boxes: the assertions
are on the text.)"""

import pytest

from tests.browser.conftest import login, shot
from tests.fakes.llm_server import reply
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def test_switch_the_ade_to_chinese_with_the_header_switcher(live_page, live_url, llm, alice):
    page = live_page
    agent = make_agent(alice, name="Ada")
    login(page, live_url)
    assert page.locator("a.button:has-text('New agent')").count() == 1

    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    page.select_option("#language-switcher select", "zh-hans")
    page.wait_for_selector("html[lang=zh-hans]")
    page.wait_for_selector("#live-state.live")
    assert page.url == f"{live_url}/agents/{agent.id}/"

    tabs = page.locator("nav.tabs[data-server-tabs] a").all_inner_texts()
    assert tabs == ["核心记忆", "归档记忆", "回忆", "文件", "运行"]
    assert page.locator("nav.tabs[data-local-tabs] button").all_inner_texts() == ["设置", "工具"]
    assert page.locator("#composer button[type=submit]").inner_text() == "发送"
    assert page.locator("#context-panel h2").inner_text() == "上下文窗口"
    assert page.locator("#live-state").inner_text() == "实时"

    # What arrives over the WebSocket is drawn in Chinese too.
    llm.script(reply("你好，Alice！"))
    page.fill("textarea[name=text]", "你好")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg-assistant .bubble:has-text('你好，Alice！')")
    page.wait_for_selector("#run-status .idle")
    assert page.locator("#run-status .idle").inner_text() == "空闲"
    assert page.locator(".msg-user .who").last.inner_text() == "你"
    assert page.locator(".msg-assistant .who").last.inner_text() == "智能体"
    shot(page, "i18n-workspace-zh-hans")

    # The choice is kept (a cookie): the agents page is Chinese as well, and back.
    page.goto(f"{live_url}/")
    assert page.locator("a.button:has-text('新建智能体')").count() == 1
    page.select_option("#language-switcher select", "en")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("a.button:has-text('New agent')").count() == 1
