"""File search finds Chinese, Japanese, Korean and mixed-script text by its
words: grep_files (regular expressions over lines) and semantic_search_files
(the full-text index, no embedding model), directly and through the loop."""

from __future__ import annotations

import json

import pytest

from agents.services.lifecycle import agent_create
from memory.services import files as services
from memory.services.jobs import run_pending
from memory.services.stores import store_for
from memory.services.turns import message_send
from memory.tools import files as tools
from memory.tools.base import ToolContext
from tests.engine_helpers import fake_llm, fast_config, tool_results  # noqa: F401
from tests.fakes.llm_server import reply, tool_call

FILES = {
    "员工手册.md": "# 员工手册\n年假：每年十五天，在HR系统里申请。\n办公室的WiFi密码是heron-42。",
    "手冊.md": "# 員工手冊\n報銷款項每個月十五號發放。",
    "就業規則.md": "# 就業規則\n在宅勤務は週に二日まで可能です。",
    "안내.md": "# 사내 안내\n주차장은 지하 2층에 있습니다.",
}


@pytest.fixture
def agent(alice):
    return agent_create(owner=alice, name="clerk", model="openai/gpt-4o-mini")


@pytest.fixture
def folder(alice, agent):
    folder = services.source_create(owner=alice, name="docs")
    services.source_attach(source=folder, agent=agent)
    for name, text in FILES.items():
        services.file_upload(source=folder, file_name=name, data=text.encode())
    run_pending()
    return folder


def ctx(agent) -> ToolContext:
    return ToolContext(
        agent_id=agent.id, blocks={}, backend=store_for(agent).backend, timezone="UTC"
    )


@pytest.mark.parametrize(
    "query, file_name",
    [
        ("年假怎么申请", "docs/员工手册.md"),
        ("WiFi密码", "docs/员工手册.md"),
        ("報銷", "docs/手冊.md"),
        ("在宅勤務", "docs/就業規則.md"),
        ("주차장", "docs/안내.md"),
    ],
)
def test_semantic_search_files_finds_cjk_words(agent, folder, query, file_name):
    result = json.loads(tools.semantic_search_files(ctx(agent), query, limit=3))
    assert [r["file"] for r in result["results"]][:1] == [file_name]


def test_grep_files_finds_cjk_lines(agent, folder):
    text = tools.grep_files(ctx(agent), "WiFi密码|在宅")
    assert "> 3: 办公室的WiFi密码是heron-42。" in text and "> 2: 在宅勤務" in text
    assert tools.grep_files(ctx(agent), "주차장", include="*.md").startswith("1 matches")


def test_the_agent_searches_its_files_in_chinese(agent, folder, alice, fake_llm):
    fake_llm.script(
        tool_call("semantic_search_files", {"query": "WiFi密码"}), reply("密码是heron-42。")
    )
    result = message_send(agent=agent, texts=["WiFi密码是什么？"], user=alice, config=fast_config())
    ((name, status, text),) = tool_results(result)
    assert name == "semantic_search_files" and status == "success" and "heron-42" in text
