"""The web ADE in Simplified Chinese: the browser's language by default, the
header's switcher (Django's set_language) to change it, and the committed
catalogue (.mo) compiled from its .po. The /v1 API stays English."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from memory.web.consumers import _language
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans"}


@pytest.fixture(autouse=True)
def english_afterwards():
    """LocaleMiddleware leaves the last request's language active in the test
    client's thread: later tests that render outside a request expect English."""
    yield
    translation.deactivate()


CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_the_agents_page_speaks_the_browsers_language(as_alice, agent):
    page = as_alice.get(reverse("home"), **ZH).text
    assert '<html lang="zh-hans">' in page
    assert "新建智能体" in page and "最近活动" in page and "退出登录" in page
    # What people wrote stays as they wrote it.
    assert agent.name in page


def test_without_accept_language_the_pages_are_english(as_alice, agent):
    page = as_alice.get(reverse("home")).text
    assert "New agent" in page and "新建智能体" not in page


def test_the_workspace_in_chinese(as_alice, agent):
    page = as_alice.get(reverse("agent", args=[agent.id]), **ZH).text
    for words in (
        "智能体模拟器",
        "发送",
        "上下文窗口",
        "核心记忆",
        "归档记忆",
        "回忆",
        "运行",
        "设置",
    ):
        assert words in page, words
    # The live updates are drawn in the page's language too.
    assert 'data-label-live="实时"' in page


def test_the_right_hand_panels_in_chinese(as_alice, agent):
    for tab, words in (
        ("archival", "插入一条记忆"),
        ("recall", "搜索全部对话历史"),
        ("files", "新建文件夹"),
        ("runs", "每步 token 数"),
        ("memory", "添加记忆块"),
    ):
        page = htmx(as_alice, "get", reverse("panel", args=[agent.id, tab]), **ZH).text
        assert words in page, tab


def test_account_providers_and_new_agent_form_in_chinese(as_alice):
    account = as_alice.get(reverse("account"), **ZH).text
    assert "我的账户" in account and "API 密钥" in account and "当前密码" in account
    providers = as_alice.get(reverse("providers"), **ZH).text
    assert "模型提供商" in providers and "加密存储，之后不再显示。" in providers
    new = as_alice.get(reverse("agent-new"), **ZH).text
    assert "创建智能体" in new and "留空则自动生成名称。" in new and "初始记忆块" in new


def test_the_login_page_in_chinese(client):
    page = client.get(reverse("login"), **ZH).text
    assert "登录" in page and "用户名" in page


def test_flash_messages_are_translated(as_alice, agent):
    response = as_alice.post(reverse("agent-delete", args=[agent.id]), follow=True, **ZH)
    assert f"已删除 {agent.name}。" in response.text


def test_the_switcher_keeps_the_chosen_language(as_alice, agent):
    page = as_alice.get(reverse("home")).text
    assert 'id="language-switcher"' in page and reverse("set_language") in page
    response = as_alice.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("home")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert as_alice.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    # The cookie wins over the browser's English.
    page = as_alice.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").text
    assert "新建智能体" in page
    as_alice.post(reverse("set_language"), {"language": "en", "next": reverse("home")})
    assert "New agent" in as_alice.get(reverse("home"), **ZH).text


def test_the_api_answers_in_english_whatever_the_client_asks(as_alice):
    response = as_alice.get("/v1/agents/agent-00000000-0000-0000-0000-000000000000", **ZH)
    assert response.status_code in (401, 404)
    assert response.get("Content-Language", "en").startswith("en")
    assert not re.search(r"[\u4e00-\u9fff]", response.text)


def _po_entries(text: str) -> dict[str, str]:
    """msgid (with msgctxt, as gettext keys them) -> its (first) msgstr."""
    entries: dict[str, str] = {}
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(
                r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[0\])?|msgstr\[\d+\]) (\".*\")$", line
            )
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if not fields.get("msgid"):
            continue
        if re.search(r"^#,.*\bfuzzy\b", block, re.M):
            fields["msgstr"] = ""  # msgfmt leaves fuzzy entries out: untranslated
        msgid = fields["msgid"]
        if "msgctxt" in fields:
            msgid = f"{fields['msgctxt']}\x04{msgid}"
        entries[msgid] = fields.get("msgstr", fields.get("msgstr[0]", ""))
    return entries


def test_the_committed_mo_is_compiled_from_the_po():
    """Run `python manage.py compilemessages` after editing the .po."""
    po = _po_entries((CATALOGUE / "django.po").read_text(encoding="utf-8"))
    with open(CATALOGUE / "django.mo", "rb") as fh:
        mo = gettext.GNUTranslations(fh)
    compiled = {
        (k[0] if isinstance(k, tuple) else k): v
        for k, v in mo._catalog.items()  # noqa: SLF001 - the catalogue gettext read
        if (k[1] if isinstance(k, tuple) else 0) == 0 and (k[0] if isinstance(k, tuple) else k)
    }
    assert compiled == {k: v for k, v in po.items() if v}
    assert all(po.values()), [k for k, v in po.items() if not v]


def test_live_updates_use_the_language_the_page_was_drawn_in():
    assert _language({"headers": [(b"accept-language", b"zh-CN,zh;q=0.9")]}) == "zh-hans"
    assert _language({"headers": [], "cookies": {settings.LANGUAGE_COOKIE_NAME: "zh-hans"}}) == (
        "zh-hans"
    )
    assert _language({"headers": [(b"accept-language", b"fr")]}) == "en"


def test_status_and_role_badges_are_translated():
    badge = Template(
        '{% load i18n %}{% translate s context "status" %}/{% translate r context "role" %}'
    )
    with translation.override("zh-hans"):
        assert badge.render(Context({"s": "failed", "r": "assistant"})) == "失败/助手"
        # A word not in the catalogue shows as it is.
        assert badge.render(Context({"s": "odd", "r": ""})) == "odd/"
    with translation.override("en"):
        assert badge.render(Context({"s": "failed", "r": "assistant"})) == "failed/assistant"
