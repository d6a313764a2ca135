"""The file tools: an agent given a folder opens, greps and searches its files
(directly, and through the real loop with the fake LLM)."""

from __future__ import annotations

import json

import pytest

from memory.files.models import FileAgent
from memory.services import files as services
from memory.services.jobs import run_pending
from memory.services.stores import store_for
from memory.tools import files as tools
from memory.tools.base import ToolContext, ToolError
from tests.engine_helpers import fake_llm, fast_config, tool_results  # noqa: F401
from tests.fakes.llm_server import reply, tool_call

HANDBOOK = "\n".join(
    [
        "# Staff handbook",
        "Holidays: 25 days a year, booked in the HR portal.",
        "The office wifi password is heron-42.",
        "Expenses are paid on the 15th of each month.",
    ]
    + [f"Filler line {i}." for i in range(200)]
)


@pytest.fixture
def agent(alice):
    from agents.services.lifecycle import agent_create

    return agent_create(owner=alice, name="clerk", model="openai/gpt-4o-mini")


@pytest.fixture
def folder(alice, agent):
    folder = services.source_create(owner=alice, name="hr")
    services.source_attach(source=folder, agent=agent)
    services.file_upload(source=folder, file_name="handbook.md", data=HANDBOOK.encode())
    services.file_upload(source=folder, file_name="menu.txt", data=b"Monday: soup\nTuesday: curry")
    run_pending()
    return folder


def ctx(agent) -> ToolContext:
    return ToolContext(
        agent_id=agent.id, blocks={}, backend=store_for(agent).backend, timezone="UTC"
    )


def test_open_files_shows_a_window_of_numbered_lines(agent, folder):
    text = tools.open_files(ctx(agent), [{"file_name": "handbook.md", "offset": 1, "length": 2}])
    assert "hr/handbook.md (lines 2-3 of 204)" in text
    assert (
        "2: Holidays: 25 days" in text
        and "3: The office wifi" in text
        and "4: Expenses" not in text
    )
    link = FileAgent.objects.get(agent=agent, file__file_name="handbook.md")
    assert link.is_open and link.offset == 1 and link.length == 2


def test_open_files_close_all_others_and_unknown_names(agent, folder):
    tools.open_files(ctx(agent), [{"file_name": "hr/menu.txt"}], close_all_others=True)
    assert list(
        FileAgent.objects.filter(agent=agent, is_open=True).values_list(
            "file__file_name", flat=True
        )
    ) == ["menu.txt"]
    with pytest.raises(
        ToolError, match="No file named 'nope.txt'. Files: hr/handbook.md, hr/menu.txt"
    ):
        tools.open_files(ctx(agent), [{"file_name": "nope.txt"}])
    with pytest.raises(ToolError, match="file_name"):
        tools.open_files(ctx(agent), [{"offset": 3}])


def test_grep_files_finds_lines_with_context_and_pages(agent, folder):
    text = tools.grep_files(ctx(agent), "wifi", context_lines=1)
    assert "hr/handbook.md:3" in text and "> 3: The office wifi password is heron-42." in text
    assert "  2: Holidays" in text
    first = tools.grep_files(ctx(agent), r"Filler line \d+", include="*.md")
    assert first.startswith("200 matches; showing 1-20.") and "offset=20" in first
    assert "showing 21-40" in tools.grep_files(ctx(agent), r"Filler line \d+", offset=20)
    assert tools.grep_files(ctx(agent), "soup", include="*.md") == "No matches for 'soup'."
    with pytest.raises(ToolError, match="Invalid regular expression"):
        tools.grep_files(ctx(agent), "(unclosed")


def test_semantic_search_files_returns_the_best_passages(agent, folder):
    result = json.loads(
        tools.semantic_search_files(ctx(agent), "what is the wifi password", limit=3)
    )
    assert result["results"][0]["file"] == "hr/handbook.md"
    assert "heron-42" in result["results"][0]["content"]


def test_an_agent_without_the_folder_sees_nothing(alice, folder):
    from agents.services.lifecycle import agent_create

    other = agent_create(owner=alice, name="outsider", model="", include_base_tools=False)
    result = json.loads(tools.semantic_search_files(ctx(other), "wifi password"))
    assert result["results"] == []
    with pytest.raises(ToolError, match="no folder is attached"):
        tools.open_files(ctx(other), [{"file_name": "handbook.md"}])


def test_detaching_a_folder_removes_its_files_and_tools(agent, folder):
    services.source_detach(source=folder, agent=agent)
    assert not FileAgent.objects.filter(agent=agent).exists()
    assert "grep_files" not in set(agent.tools.values_list("name", flat=True))


def test_an_agent_finds_a_fact_in_a_file_it_was_given(alice, agent, folder, fake_llm):
    from memory.services.turns import message_send

    fake_llm.script(
        tool_call("semantic_search_files", {"query": "office wifi password"}),
        reply("The wifi password is heron-42."),
    )
    result = message_send(
        agent=agent, texts=["What's the wifi password?"], user=alice, config=fast_config()
    )
    ((name, status, text),) = tool_results(result)
    assert name == "semantic_search_files" and status == "success" and "heron-42" in text


def test_the_directories_listing_shows_open_files_with_their_lines(agent, folder):
    from memory.files.selectors import agent_directories

    tools.open_files(ctx(agent), [{"file_name": "menu.txt"}], close_all_others=True)
    [hr] = agent_directories(agent_id=agent.id)
    files = {f["file_name"]: f for f in hr["files"]}
    assert (
        hr["name"] == "hr"
        and files["menu.txt"]["is_open"]
        and "1: Monday: soup" in files["menu.txt"]["visible_content"]
    )
    assert (
        files["handbook.md"]["is_open"] is False and files["handbook.md"]["visible_content"] == ""
    )
