"""An Agent File carries everything: archival passages (tags, dates), folders
with their files (re-chunked and embedded on import), tools, tool rules,
blocks and messages; parts can be left out; a new embedding model re-embeds
in the background; repeated imports get distinct names; a malformed file is a
422 that leaves nothing behind; a file shaped as Letta writes it imports."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agents.models import Agent, Tool
from memory import models as m
from memory.files.models import FileAgent, Job, Source, SourceFile
from memory.services.files import agent_file_open
from memory.services.jobs import run_pending
from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent
from tests.fakes.llm_server import reply

EMBEDDING = "openai/text-embedding-3-small"
OTHER_EMBEDDING = "openai/text-embedding-3-large"
PING = (
    'def ping(host: str) -> str:\n    """Ping a host.\n\n'
    '    Args:\n        host: where\n    """\n'
    '    return "pong " + host\n'
)
PASSAGES = [
    ("The heron nests by the north pond.", ["birds", "pond"], "2024-03-01T09:00:00+00:00"),
    ("Alice prefers tea to coffee.", ["alice"], "2024-04-02T10:30:00+00:00"),
    ("The boiler was serviced in May.", ["house"], "2024-05-03T11:00:00+00:00"),
    ("Bob's birthday is on 12 June.", ["bob", "dates"], "2024-06-04T12:00:00+00:00"),
    ("The car needs new tyres before winter.", [], "2024-07-05T13:15:00+00:00"),
]
POLICY = (
    "Travel policy.\nEvery trip abroad needs the manager's approval two weeks ahead.\n"
    "Receipts go to the finance office within a month."
)
NOTES = "# Notes\n\nThe office closes on Fridays at four."


def upload(api, client, path, name, data):
    file = SimpleUploadedFile(name, data, "application/octet-stream")
    return client.post(path, {"file": file}, **api.headers)


def import_file(api, client, document, **form):
    file = SimpleUploadedFile("a.af", json.dumps(document).encode(), "application/json")
    return client.post("/v1/agents/import", {"file": file, **form}, **api.headers)


@pytest.fixture
def rich_agent(as_alice, client, fake_llm):
    """An agent with a custom tool and tool rules, a shared and an own block,
    5 passages, a folder of 2 processed files (one open), and a conversation."""
    tool = as_alice.post("/v1/tools/", {"source_code": PING}).json()
    shared = as_alice.post("/v1/blocks/", {"label": "team", "value": "We ship on Fridays."}).json()
    agent = create_agent(
        as_alice,
        embedding=EMBEDDING,
        tool_ids=[tool["id"]],
        block_ids=[shared["id"]],
        tool_rules=[{"type": "run_first", "tool_name": "ping"}],
    )
    for text, tags, when in PASSAGES:
        response = as_alice.post(
            f"/v1/agents/{agent['id']}/archival-memory",
            {"text": text, "tags": tags, "created_at": when},
        )
        assert response.status_code == 200, response.content
    folder = as_alice.post("/v1/folders/", {"name": "handbook", "embedding": EMBEDDING}).json()
    for name, text in (("policy.txt", POLICY), ("notes.md", NOTES)):
        sent = upload(as_alice, client, f"/v1/folders/{folder['id']}/upload", name, text.encode())
        assert sent.status_code == 202, sent.content
    assert run_pending() == 2
    as_alice.patch(f"/v1/agents/{agent['id']}/folders/attach/{folder['id']}")
    # Attached files start closed; the agent has the policy open.
    policy = SourceFile.objects.get(file_name="policy.txt")
    agent_file_open(agent=Agent.objects.get(pk=agent["id"]), file=policy)
    fake_llm.script(reply("Noted, travel needs approval."))
    as_alice.post(f"/v1/agents/{agent['id']}/messages", {"input": "Remember the travel policy"})
    return as_alice.get(f"/v1/agents/{agent['id']}").json()


def passages_of(api, agent_id):
    rows = api.get(f"/v1/agents/{agent_id}/archival-memory", order="asc", limit=100).json()
    return [(p["text"], sorted(p["tags"]), p["created_at"][:19]) for p in rows]


def test_an_agent_round_trips_with_passages_folders_tools_blocks_and_messages(
    as_alice, client, rich_agent
):
    source = rich_agent["id"]
    document = as_alice.get(f"/v1/agents/{source}/export").json()
    (archive,) = document["ade"]["archives"]
    assert [p["text"] for p in archive["passages"]] == [p[0] for p in PASSAGES]
    assert archive["passages"][0]["tags"] == ["birds", "pond"]
    assert "embedding" not in archive["passages"][0]
    assert [s["name"] for s in document["sources"]] == ["handbook"]
    assert {f["file_name"]: f["content"] for f in document["files"]} == {
        "policy.txt": POLICY,
        "notes.md": NOTES,
    }
    assert document["agents"][0]["source_ids"] == ["source-0"]
    assert all(isinstance(v, str) for v in document["metadata"].values())  # Letta's dict[str, str]

    response = import_file(as_alice, client, document)
    assert response.status_code == 200, response.content
    answer = response.json()
    (copy_id,) = answer["agent_ids"]
    assert len(answer["job_ids"]) == 3  # two files to process, the passages to embed
    assert run_pending() == 3
    assert set(Job.objects.filter(id__in=answer["job_ids"]).values_list("status", flat=True)) == {
        "completed"
    }

    copy = as_alice.get(f"/v1/agents/{copy_id}").json()
    assert copy["name"] == "Sam_copy"
    assert {(b["label"], b["value"]) for b in copy["memory"]["blocks"]} == {
        (b["label"], b["value"]) for b in rich_agent["memory"]["blocks"]
    }
    assert sorted(t["name"] for t in copy["tools"]) == sorted(
        t["name"] for t in rich_agent["tools"]
    )
    assert copy["tool_rules"] == rich_agent["tool_rules"]
    strip = lambda items: [(i["message_type"], i.get("content")) for i in items]  # noqa: E731
    assert strip(as_alice.get(f"/v1/agents/{copy_id}/messages", order="asc").json()) == strip(
        as_alice.get(f"/v1/agents/{source}/messages", order="asc").json()
    )

    assert passages_of(as_alice, copy_id) == passages_of(as_alice, source)
    copied = m.Passage.objects.filter(archive__agents__id=copy_id)
    assert set(copied.values_list("embedding_model", "embedding_dim")) == {(EMBEDDING, 1536)}
    hits = as_alice.get(
        f"/v1/agents/{copy_id}/archival-memory/search", query="heron nests", tags=["birds"]
    ).json()["results"]
    assert hits[0]["content"] == PASSAGES[0][0]

    (folder,) = Source.objects.filter(agents__id=copy_id)
    assert folder.name == "handbook_2" and folder.embedding == EMBEDDING
    files = {f.file_name: f for f in SourceFile.objects.filter(source=folder)}
    assert set(files) == {"policy.txt", "notes.md"}
    assert {f.processing_status for f in files.values()} == {"completed"}
    assert files["policy.txt"].content.text == POLICY
    views = {v.file.file_name: v.is_open for v in FileAgent.objects.filter(agent_id=copy_id)}
    assert views == {"policy.txt": True, "notes.md": False}
    # The copy's chunks are found as the original's are (same text, same model;
    # equal scores are ordered by chunk id, which differs, hence sorted).
    search = lambda agent_id: [  # noqa: E731
        (hit["file_name"], hit["content"])
        for hit in as_alice.get(
            f"/v1/agents/{agent_id}/files/search", query="manager approval trip abroad"
        ).json()
    ]
    assert ("policy.txt", POLICY) in search(copy_id)
    assert sorted(search(copy_id)) == sorted(search(source))


def test_importing_with_another_embedding_model_re_embeds_in_the_background(
    as_alice, client, rich_agent
):
    document = as_alice.get(f"/v1/agents/{rich_agent['id']}/export").json()
    response = import_file(as_alice, client, document, embedding=OTHER_EMBEDDING)
    assert response.status_code == 200, response.content
    copy_id = response.json()["agent_ids"][0]
    job = Job.objects.get(kind="reembed", agent_id=copy_id)
    assert job.status == "queued" and job.total == 5
    # Before the job runs, search finds passages by their words.
    early = as_alice.get(f"/v1/agents/{copy_id}/archival-memory/search", query="boiler serviced")
    assert early.json()["results"][0]["content"] == PASSAGES[2][0]
    run_pending()
    job.refresh_from_db()
    assert job.status == "completed" and job.done == job.total == 5
    copied = m.Passage.objects.filter(archive__agents__id=copy_id)
    assert set(copied.values_list("embedding_model", "embedding_dim")) == {(OTHER_EMBEDDING, 3072)}
    assert Source.objects.get(agents__id=copy_id).embedding == OTHER_EMBEDDING
    hits = as_alice.get(f"/v1/agents/{copy_id}/archival-memory/search", query="tea or coffee")
    assert hits.json()["results"][0]["content"] == PASSAGES[1][0]


def test_vectors_come_along_when_asked_and_are_kept_for_the_same_model(
    as_alice, client, rich_agent
):
    document = as_alice.get(
        f"/v1/agents/{rich_agent['id']}/export", include="embeddings", exclude="folders"
    ).json()
    passage = document["ade"]["archives"][0]["passages"][0]
    assert passage["embedding_model"] == EMBEDDING and len(passage["embedding"]) == 1536
    response = import_file(as_alice, client, document)
    assert response.json()["job_ids"] == []  # nothing to embed
    copy_id = response.json()["agent_ids"][0]
    copied = m.Passage.objects.filter(archive__agents__id=copy_id)
    assert set(copied.values_list("embedding_model", "embedding_dim")) == {(EMBEDDING, 1536)}
    original = m.Passage.objects.filter(archive__agents__id=rich_agent["id"]).order_by("created_at")
    assert [list(p.embedding) for p in copied.order_by("created_at")] == [
        list(p.embedding) for p in original
    ]
    # Another model: the vectors are not the new model's, so they are made again.
    other = import_file(as_alice, client, document, embedding=OTHER_EMBEDDING).json()
    assert Job.objects.get(id__in=other["job_ids"]).kind == "reembed"


def test_importing_the_same_file_again_gives_distinct_names(as_alice, client, rich_agent):
    document = as_alice.get(f"/v1/agents/{rich_agent['id']}/export").json()
    names = []
    for _ in range(3):
        answer = import_file(as_alice, client, document)
        assert answer.status_code == 200, answer.content
        copy_id = answer.json()["agent_ids"][0]
        names.append(as_alice.get(f"/v1/agents/{copy_id}").json()["name"])
    assert names == ["Sam_copy", "Sam_copy_2", "Sam_copy_3"]
    assert sorted(Source.objects.values_list("name", flat=True)) == [
        "handbook",
        "handbook_2",
        "handbook_3",
        "handbook_4",
    ]
    kept = import_file(as_alice, client, document, append_copy_suffix="false").json()
    assert as_alice.get(f"/v1/agents/{kept['agent_ids'][0]}").json()["name"] == "Sam_2"


def test_an_export_leaves_out_the_parts_asked(as_alice, client, rich_agent):
    url = f"/v1/agents/{rich_agent['id']}/export"
    bare = as_alice.get(url, exclude=["messages,passages", "folders", "tools"]).json()
    (agent,) = bare["agents"]
    assert agent["messages"] == [] and agent["in_context_message_ids"] == []
    assert bare["ade"]["archives"] == [] and bare["sources"] == [] and bare["files"] == []
    assert agent["source_ids"] == [] and agent["files_agents"] == []
    names = {t["name"] for t in bare["tools"]}
    assert "ping" not in names and "memory_replace" in names  # built-ins carry no code
    assert bare["metadata"]["parts"] == ""
    assert as_alice.get(url, scrub_messages="true").json()["agents"][0]["messages"] == []
    assert as_alice.get(url, exclude="passages").json()["agents"][0]["messages"]
    copy = import_file(as_alice, client, bare).json()["agent_ids"][0]
    assert not m.Passage.objects.filter(archive__agents__id=copy).exists()
    assert not Source.objects.filter(agents__id=copy).exists()
    for params in ({"exclude": "memories"}, {"use_legacy_format": "true"}):
        response = as_alice.get(url, **params)
        assert response.status_code == 422, response.content
    assert as_alice.post(url + "?exclude=messages").json()["agents"][0]["messages"] == []


def _counts():
    return (
        Agent.objects.count(),
        m.Block.objects.count(),
        m.Passage.objects.count(),
        m.Archive.objects.count(),
        Source.objects.count(),
        SourceFile.objects.count(),
        Tool.objects.count(),
        Job.objects.count(),
    )


def test_a_malformed_file_is_refused_with_a_reason_and_leaves_nothing(as_alice, client, rich_agent):
    document = as_alice.get(f"/v1/agents/{rich_agent['id']}/export").json()
    before = _counts()

    def broken(change):
        copy = json.loads(json.dumps(document))
        change(copy)
        return copy

    cases = [
        lambda d: d["ade"]["archives"][0]["passages"][3].update(tags="bob"),
        lambda d: d["ade"]["archives"][0]["passages"][4].update(text=""),
        lambda d: d["ade"].update(archives={"not": "a list"}),
        lambda d: d["agents"][0].update(source_ids=["source-9"]),
        lambda d: d["agents"][0].update(block_ids="block-0"),
        lambda d: d["agents"][0].update(tags=[1, 2]),
        lambda d: d["agents"][0].update(context_window_limit="big"),
        lambda d: d["agents"][0].update(embedding="no-slash"),
        lambda d: d["files"][0].update(file_name=""),
        lambda d: d.update(ade=[]),
        lambda d: d.update(agents=[1]),
    ]
    for number, change in enumerate(cases):
        response = import_file(as_alice, client, broken(change))
        assert response.status_code == 422, (number, response.status_code, response.content)
        assert response.json()["detail"]
    assert _counts() == before


def test_a_file_as_letta_writes_it_imports_with_its_folder(as_alice, client, fake_llm):
    """Letta's export: no "ade" key, its own config objects, files with content."""
    letta_file = {
        "agents": [
            {
                "id": "agent-0",
                "name": "letta-agent",
                "agent_type": "letta_v1_agent",
                "system": "You are helpful.",
                "llm_config": {
                    "model": "gpt-4o-mini",
                    "model_endpoint_type": "openai",
                    "context_window": 32000,
                },
                "embedding_config": {
                    "embedding_model": "text-embedding-3-small",
                    "embedding_endpoint_type": "openai",
                    "embedding_dim": 1536,
                },
                "block_ids": ["block-0"],
                "tool_ids": ["tool-0"],
                "source_ids": ["source-0"],
                "tool_rules": [],
                "tags": [],
                "messages": [
                    {
                        "id": "message-0",
                        "role": "user",
                        "content": [{"type": "text", "text": "hello"}],
                        "created_at": "2025-01-01T00:00:00Z",
                    }
                ],
                "in_context_message_ids": ["message-0"],
                "files_agents": [
                    {
                        "id": "file_agent-0",
                        "agent_id": "agent-0",
                        "file_id": "file-0",
                        "source_id": "source-0",
                        "file_name": "docs/faq.txt",
                        "is_open": True,
                        "visible_content": "Q: hours?",
                    }
                ],
                "group_ids": [],
            }
        ],
        "groups": [],
        "blocks": [{"id": "block-0", "label": "persona", "value": "I help.", "limit": 5000}],
        "files": [
            {
                "id": "file-0",
                "source_id": "source-0",
                "file_name": "faq.txt",
                "file_type": "text/plain",
                "processing_status": "completed",
                "content": "Q: hours?\nA: The shop opens at nine and closes at six.",
            }
        ],
        "sources": [
            {
                "id": "source-0",
                "name": "docs",
                "embedding_config": {
                    "embedding_model": "text-embedding-3-small",
                    "embedding_endpoint_type": "openai",
                },
            }
        ],
        "tools": [{"id": "tool-0", "name": "send_message", "tool_type": "letta_core"}],
        "mcp_servers": [],
        "metadata": {"revision_id": "abc"},
        "created_at": "2025-01-01T00:00:00Z",
    }
    response = import_file(as_alice, client, letta_file)
    assert response.status_code == 200, response.content
    copy_id = response.json()["agent_ids"][0]
    run_pending()
    copy = as_alice.get(f"/v1/agents/{copy_id}").json()
    assert copy["name"] == "letta-agent_copy" and copy["embedding"] == EMBEDDING
    file = SourceFile.objects.get(source__agents__id=copy_id)
    assert file.processing_status == "completed" and file.source.embedding == EMBEDDING
    assert FileAgent.objects.get(agent_id=copy_id, file=file).is_open
    hits = as_alice.get(f"/v1/agents/{copy_id}/files/search", query="shop opens").json()
    assert "nine" in hits[0]["content"]
