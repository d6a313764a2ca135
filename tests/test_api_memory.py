"""Core and archival memory through /v1: blocks by label, shared blocks,
attach/detach, block history; passages inserted, listed, searched, deleted."""

from tests.api_helpers import *  # noqa: F403 - fixtures
from tests.api_helpers import create_agent


def test_an_agents_block_is_read_and_edited_by_label(as_alice):
    agent = create_agent(as_alice)
    block = as_alice.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human").json()
    assert block["value"] == "Name: unknown" and block["limit"] == 500
    edited = as_alice.patch(
        f"/v1/agents/{agent['id']}/core-memory/blocks/human",
        {"value": "Name: Alice", "description": "Who the user is."},
    ).json()
    assert edited["value"] == "Name: Alice" and edited["version"] == block["version"] + 1
    too_long = as_alice.patch(
        f"/v1/agents/{agent['id']}/core-memory/blocks/human", {"value": "x" * 501}
    )
    assert too_long.status_code == 413 and "500" in too_long.json()["detail"]
    assert as_alice.get(f"/v1/agents/{agent['id']}/core-memory/blocks/nope").status_code == 404
    memory = as_alice.get(f"/v1/agents/{agent['id']}/core-memory").json()
    assert [b["label"] for b in memory["blocks"]] == ["human", "persona"]
    from memory import models as m

    history = m.BlockHistory.objects.filter(block_id=block["id"]).order_by("sequence")
    assert [h.actor_type for h in history] == [
        "user",
        "user",
    ] and history.last().value == "Name: Alice"


def test_a_shared_block_edit_reaches_every_agent(as_alice, as_bob):
    shared = as_alice.post(
        "/v1/blocks/", {"label": "project", "value": "Launch in May", "tags": ["team"]}
    ).json()
    first = create_agent(as_alice, block_ids=[shared["id"]])
    second = create_agent(as_bob, name="Other", memory_blocks=[])
    as_bob.patch(f"/v1/agents/{second['id']}/core-memory/blocks/attach/{shared['id']}")
    as_bob.patch(f"/v1/blocks/{shared['id']}", {"value": "Launch in June"})
    for agent in (first, second):
        assert (
            "Launch in June"
            in as_alice.get(f"/v1/agents/{agent['id']}/context").json()["core_memory"]
        )
    clash = as_alice.post("/v1/blocks/", {"label": "project", "value": "other"}).json()
    response = as_alice.patch(f"/v1/agents/{first['id']}/core-memory/blocks/attach/{clash['id']}")
    assert response.status_code == 409 and "project" in response.json()["detail"]
    as_alice.patch(f"/v1/agents/{first['id']}/core-memory/blocks/detach/{shared['id']}")
    assert "Launch" not in as_alice.get(f"/v1/agents/{first['id']}/context").json()["core_memory"]
    listed = as_alice.get("/v1/blocks/", label="project").json()
    assert [b["id"] for b in listed] == [shared["id"], clash["id"]]
    assert [b["id"] for b in as_alice.get("/v1/blocks/", value_search="june").json()] == [
        shared["id"]
    ]
    assert as_alice.get("/v1/blocks/count", tags=["team"]).json() == 1
    assert as_alice.delete(f"/v1/blocks/{shared['id']}").status_code == 200
    assert "Launch" not in as_bob.get(f"/v1/agents/{second['id']}/context").json()["core_memory"]


def test_archival_memory_is_inserted_listed_searched_and_deleted(as_alice):
    agent = create_agent(as_alice)
    path = f"/v1/agents/{agent['id']}/archival-memory"
    cat = as_alice.post(
        path,
        {
            "text": "Alice's cat is called Miso.",
            "tags": ["pets", "family"],
            "created_at": "2026-01-05T10:00:00Z",
        },
    ).json()[0]
    as_alice.post(
        path,
        {
            "text": "Alice's dog is called Rex.",
            "tags": ["pets"],
            "created_at": "2026-03-01T10:00:00Z",
        },
    )
    as_alice.post(path, {"text": "Alice flies planes for work.", "tags": ["work"]})
    assert cat["tags"] == ["family", "pets"] and cat["created_at"].startswith("2026-01-05")
    listed = as_alice.get(path).json()
    assert [p["text"][:11] for p in listed] == ["Alice's cat", "Alice's dog", "Alice flies"]
    assert [p["text"] for p in as_alice.get(path, search="planes").json()] == [
        "Alice flies planes for work."
    ]
    page = as_alice.get(path, limit=1, after=listed[0]["id"]).json()
    assert [p["id"] for p in page] == [listed[1]["id"]]
    search = f"{path}/search"
    found = as_alice.get(search, query="what is the cat called").json()
    assert found["results"][0]["content"] == "Alice's cat is called Miso." and found["count"] >= 1
    any_tag = as_alice.get(search, query="called", tags=["pets"]).json()
    assert {r["content"][:11] for r in any_tag["results"]} == {"Alice's cat", "Alice's dog"}
    all_tags = as_alice.get(
        search, query="called", tags=["pets", "family"], tag_match_mode="all"
    ).json()
    assert [r["content"][:11] for r in all_tags["results"]] == ["Alice's cat"]
    dated = as_alice.get(
        search, query="called", start_datetime="2026-02-01", end_datetime="2026-04-01"
    ).json()
    assert [r["content"][:11] for r in dated["results"]] == ["Alice's dog"]
    top = as_alice.get(search, query="Alice", top_k=1).json()
    assert top["count"] == 1
    context = as_alice.get(f"/v1/agents/{agent['id']}/context").json()
    assert context["num_archival_memory"] == 3 and "pets" in context["external_memory_summary"]
    assert as_alice.delete(f"{path}/{cat['id']}").status_code == 200
    assert as_alice.delete(f"{path}/{cat['id']}").status_code == 404
    assert len(as_alice.get(path).json()) == 2
