"""The official letta-client pages through ADE's lists and deletes what it
listed: auto-pagination ends, every item is seen once, and deletes answer
what the client expects."""

from itertools import islice

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

GUARD = 50  # more items than this from a 3-item list means pagination never ends


@pytest.fixture
def letta(live_server, secrets):
    from letta_client import Letta

    return Letta(base_url=live_server.url, api_key=secrets["alice"], max_retries=0, timeout=60)


def ids(items) -> list[str]:
    return [item.id for item in islice(items, GUARD)]


def test_the_client_pages_through_folders_and_their_files(letta):
    folders = [letta.folders.create(name=f"folder-{i}") for i in range(3)]
    files = [
        letta.folders.files.upload(folders[0].id, file=(f"note-{i}.txt", b"hello", "text/plain"))
        for i in range(3)
    ]

    assert ids(letta.folders.list(limit=2)) == [f.id for f in folders]
    assert ids(letta.folders.list(limit=2, order="desc")) == [f.id for f in reversed(folders)]
    assert ids(letta.folders.files.list(folders[0].id, limit=2, order="asc")) == [
        f.id for f in files
    ]
    assert ids(letta.folders.files.list(folders[0].id, limit=2)) == [f.id for f in reversed(files)]
    assert ids(letta.folders.files.list(folders[1].id, limit=2)) == []


def test_folder_pages_follow_the_cursor_and_hide_strangers_folders(as_alice, as_charlie):
    made = [as_alice.post("/v1/folders/", {"name": f"f{i}"}).json()["id"] for i in range(3)]
    as_charlie.post("/v1/folders/", {"name": "charlie's"})

    page = as_alice.get(f"/v1/folders/?limit=1&after={made[0]}").json()
    assert [f["id"] for f in page] == [made[1]]
    page = as_alice.get(f"/v1/folders/?before={made[2]}&limit=5").json()
    assert [f["id"] for f in page] == made[:2]
    assert [f["name"] for f in as_charlie.get("/v1/sources/").json()] == ["charlie's"]
    assert as_alice.get("/v1/folders/?limit=0").status_code == 422


def test_the_client_deletes_what_it_made(letta, fake_llm):
    from letta_client import NotFoundError

    from tests.api_helpers import MODEL
    from tests.test_api_letta_client import WEATHER_TOOL

    agent = letta.agents.create(name="Sam", agent_type="letta_v1_agent", model=MODEL)
    block = letta.blocks.create(label="notes", value="shared")
    tool = letta.tools.create(source_code=WEATHER_TOOL)
    passage = letta.agents.passages.create(agent.id, text="to forget")[0]
    folder = letta.folders.create(name="docs")
    file = letta.folders.files.upload(folder.id, file=("a.txt", b"hello", "text/plain"))

    letta.agents.passages.delete(passage.id, agent_id=agent.id)
    letta.folders.files.delete(file.id, folder_id=folder.id)
    letta.folders.delete(folder.id)
    letta.tools.delete(tool.id)
    letta.blocks.delete(block.id)
    letta.agents.delete(agent.id)

    for retrieve, item in (
        (letta.folders.retrieve, folder),
        (letta.tools.retrieve, tool),
        (letta.blocks.retrieve, block),
        (letta.agents.retrieve, agent),
    ):
        with pytest.raises(NotFoundError):
            retrieve(item.id)


def test_the_client_deletes_folders_while_iterating_them(letta):
    for i in range(5):
        letta.folders.create(name=f"tmp-{i}")
    deleted = []
    for folder in islice(letta.folders.list(limit=2), GUARD):
        letta.folders.delete(folder.id)
        deleted.append(folder.id)
    assert len(deleted) == 5 and list(letta.folders.list()) == []


def test_a_cursor_naming_nothing_is_ignored_as_letta_does(as_alice):
    from tests.api_helpers import create_agent

    agent = create_agent(as_alice)
    blocks = as_alice.get(f"/v1/agents/{agent['id']}/core-memory/blocks").json()
    gone = "block-00000000-0000-4000-8000-000000000000"
    for query in (f"after={gone}", f"before={gone}"):
        page = as_alice.get(f"/v1/agents/{agent['id']}/core-memory/blocks?{query}").json()
        assert page == blocks
    assert [a["id"] for a in as_alice.get(f"/v1/agents/?after={agent['id']}x").json()] == [
        agent["id"]
    ]
    response = as_alice.get(f"/v1/agents/{agent['id']}/messages?before=message-gone&limit=5")
    assert response.status_code == 200


def test_the_sdk_iterates_an_agents_messages_once_each_in_either_order(letta, as_alice, fake_llm):
    # Cursors follow the requested order (Letta's spec: "after this message ID in the specified
    # sort order"), which is what the SDK's auto-pagination relies on: it asks for after=<last>.
    from tests.api_helpers import create_agent
    from tests.fakes.llm_server import reply

    agent = create_agent(as_alice)
    for word in ("one", "two", "three"):
        fake_llm.script(reply(f"reply {word}"))
        as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": word})
    every = [
        m["id"] for m in as_alice.get(f"/v1/agents/{agent['id']}/messages", order="asc").json()
    ]
    for order, expected in (("asc", every), ("desc", every[::-1])):
        seen = []
        for message in letta.agents.messages.list(agent["id"], limit=2, order=order):
            seen.append(message.id)
            assert len(seen) <= GUARD * 2, "pagination does not end"
        assert seen == expected


def test_tags_are_those_on_your_agents_in_pages(letta, as_alice, as_charlie, fake_llm):
    from tests.api_helpers import create_agent

    create_agent(as_alice, tags=["red", "blue"])
    create_agent(as_alice, name="Kim", tags=["green", "blue"])
    create_agent(as_charlie, tags=["secret"])

    assert list(letta.tags.list()) == ["blue", "green", "red"]
    assert list(letta.tags.list(order="desc", limit=2)) == ["red", "green"]
    assert list(letta.tags.list(after="blue", limit=1)) == ["green"]
    assert list(letta.tags.list(before="red", order="asc")) == ["blue", "green"]
    assert list(letta.tags.list(query_text="RE")) == ["green", "red"]
    assert as_charlie.get("/v1/tags/").json() == ["secret"]
    assert as_alice.get("/v1/tags/", limit=0).status_code == 422
