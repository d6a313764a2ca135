"""Changing an agent's embedding model re-embeds its passages in the background,
with progress, while search keeps working."""

from __future__ import annotations

import pytest

from memory import models as m
from memory import reembed, turns
from memory.reembed import reembed_start, reembed_status
from memory.search import PostgresMemoryBackend
from sources.jobs import run_pending
from tests.engine_helpers import fake_llm  # noqa: F401

NEW = "openai/text-embedding-3-small"


def old_embed(texts):
    return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


@pytest.fixture
def agent(alice):
    return turns.agent_create(owner=alice, name="archivist", model="", embedding="", include_base_tools=False)


def fill(agent, n, *, embed=None, model=""):
    backend = PostgresMemoryBackend(embed=embed, embedding_model=model)
    for i in range(n):
        backend.archival_insert(agent.id, f"fact {i} about herons" if i % 10 == 0 else f"fact {i}", [])


def test_changing_the_model_re_embeds_every_passage_with_progress(agent, fake_llm, monkeypatch):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 16)
    fill(agent, 40, embed=old_embed, model="test/old")
    seen = []
    monkeypatch.setattr("sources.events.publish_job", lambda job: seen.append(job.done))
    job = reembed_start(agent=agent, embedding=NEW)
    agent.refresh_from_db()
    assert agent.embedding == NEW and job.total == 40 and job.status == "queued"
    assert run_pending() == 1
    job.refresh_from_db()
    assert job.status == "completed" and job.done == 40
    assert seen[-1] == 40 and 16 in seen and 32 in seen
    assert set(m.Passage.objects.values_list("embedding_model", "embedding_dim")) == {(NEW, 1536)}
    assert reembed_status(agent) == {"embedding": NEW, "total": 40, "embedded": 40, "shared_archives": []}


def test_search_keeps_working_while_half_the_passages_are_re_embedded(agent, fake_llm, monkeypatch):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 10)
    fill(agent, 30, embed=old_embed, model="test/old")
    real = turns._embedder_for

    def failing_after_one_batch(handle):
        embed, calls = real(handle), {"n": 0}

        def run(texts):
            calls["n"] += 1
            if calls["n"] > 1:
                raise RuntimeError("rate limited")
            return embed(texts)
        return run

    monkeypatch.setattr(turns, "_embedder_for", failing_after_one_batch)
    job = reembed_start(agent=agent, embedding=NEW)
    run_pending()
    job.refresh_from_db()
    assert job.status == "failed" and "after 10 of 30 passages" in job.error and "rate limited" in job.error
    models = list(m.Passage.objects.values_list("embedding_model", flat=True))
    assert models.count(NEW) == 10 and models.count("test/old") == 20  # old vectors kept until replaced
    monkeypatch.setattr(turns, "_embedder_for", real)
    backend = turns.store_for(turns.Agent.objects.get(pk=agent.pk)).backend
    hits = backend.archival_search(agent.id, "herons", tags=None, top_k=5)
    assert {h["content"] for h in hits} >= {"fact 0 about herons", "fact 20 about herons"}
    # Running it again finishes the rest.
    job = reembed_start(agent=agent, embedding=NEW)
    assert job.total == 20
    run_pending()
    assert reembed_status(agent)["embedded"] == 30


def test_a_newer_model_change_stops_the_running_job(agent, fake_llm, monkeypatch):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 5)
    fill(agent, 20)
    job = reembed_start(agent=agent, embedding=NEW)
    import sources.jobs as jobs

    original = jobs.job_progress

    def switch_midway(job_row, *, done, total=None):
        original(job_row, done=done, total=total)
        if done == 10:
            turns.Agent.objects.filter(pk=agent.pk).update(embedding="openai/text-embedding-3-large")

    monkeypatch.setattr(jobs, "job_progress", switch_midway)
    run_pending()
    job.refresh_from_db()
    assert job.status == "cancelled" and job.done == 10


def test_switching_to_no_model_keeps_vectors_and_searches_words(agent, fake_llm):
    fill(agent, 3, embed=old_embed, model="test/old")
    assert reembed_start(agent=agent, embedding="") is None
    agent.refresh_from_db()
    backend = turns.store_for(agent).backend
    assert backend.semantic is False
    assert backend.archival_search(agent.id, "herons", tags=None)[0]["content"] == "fact 0 about herons"
    assert m.Passage.objects.filter(embedding__isnull=False).count() == 3


def test_a_shared_archive_is_left_alone(alice, agent, fake_llm):
    other = turns.agent_create(owner=alice, name="colleague", model="", include_base_tools=False)
    shared = m.Archive.objects.create(name="team", owner=alice, organization_id=alice.organization_id)
    shared.agents.add(agent, other)
    m.Passage.objects.create(archive=shared, text="shared fact", created_at=turns.timezone.now())
    fill(agent, 2)
    job = reembed_start(agent=agent, embedding=NEW)
    assert job.total == 2 and job.params["shared_archives_skipped"] == [shared.id]
    run_pending()
    assert m.Passage.objects.get(text="shared fact").embedding is None


def test_an_invalid_handle_is_refused(agent):
    from agents.errors import InvalidInput

    with pytest.raises(InvalidInput):
        reembed_start(agent=agent, embedding="no-slash-here")
