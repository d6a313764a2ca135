"""Changing an agent's embedding model re-embeds its passages in the background,
with progress, while search keeps working: through the service, PATCH
/v1/agents/{id} (followed at /v1/jobs) and the ADE's settings form."""

from __future__ import annotations

import pytest
from django.utils import timezone

from agents.models import Agent
from agents.services.lifecycle import agent_create
from memory import models as m
from memory.services import reembed
from memory.services.jobs import run_pending
from memory.services.reembed import reembed_start, reembed_status
from memory.services.stores import store_for
from memory.store.search import PostgresMemoryBackend
from tests.api_helpers import *  # noqa: F403 - fixtures (fake_llm and the actors' API clients)

NEW = "openai/text-embedding-3-small"


def old_embed(texts):
    return [[1.0, 0.0, 0.0, 0.0] for _ in texts]


@pytest.fixture
def agent(alice):
    return agent_create(
        owner=alice, name="archivist", model="", embedding="", include_base_tools=False
    )


def fill(agent, n, *, embed=None, model=""):
    backend = PostgresMemoryBackend(embed=embed, embedding_model=model)
    for i in range(n):
        backend.archival_insert(
            agent.id, f"fact {i} about herons" if i % 10 == 0 else f"fact {i}", []
        )


def test_changing_the_model_re_embeds_every_passage_with_progress(agent, fake_llm, monkeypatch):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 16)
    fill(agent, 40, embed=old_embed, model="test/old")
    seen = []
    monkeypatch.setattr("memory.services.jobs.job_publish", lambda job: seen.append(job.done))
    job = reembed_start(agent=agent, embedding=NEW)
    agent.refresh_from_db()
    assert agent.embedding == NEW and job.total == 40 and job.status == "queued"
    assert run_pending() == 1
    job.refresh_from_db()
    assert job.status == "completed" and job.done == 40
    assert seen[-1] == 40 and 16 in seen and 32 in seen
    assert set(m.Passage.objects.values_list("embedding_model", "embedding_dim")) == {(NEW, 1536)}
    assert reembed_status(agent) == {
        "embedding": NEW,
        "total": 40,
        "embedded": 40,
        "shared_archives": [],
    }


def test_search_keeps_working_while_half_the_passages_are_re_embedded(agent, fake_llm, monkeypatch):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 10)
    fill(agent, 30, embed=old_embed, model="test/old")
    real = reembed.embedder_for

    def failing_after_one_batch(handle):
        embed, calls = real(handle), {"n": 0}

        def run(texts):
            calls["n"] += 1
            if calls["n"] > 1:
                raise RuntimeError("rate limited")
            return embed(texts)

        return run

    monkeypatch.setattr(reembed, "embedder_for", failing_after_one_batch)
    job = reembed_start(agent=agent, embedding=NEW)
    run_pending()
    job.refresh_from_db()
    assert (
        job.status == "failed"
        and "after 10 of 30 passages" in job.error
        and "rate limited" in job.error
    )
    models = list(m.Passage.objects.values_list("embedding_model", flat=True))
    assert (
        models.count(NEW) == 10 and models.count("test/old") == 20
    )  # old vectors kept until replaced
    monkeypatch.setattr(reembed, "embedder_for", real)
    backend = store_for(Agent.objects.get(pk=agent.pk)).backend
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
    original = reembed.job_progress

    def switch_midway(job_row, *, done, total=None):
        original(job_row, done=done, total=total)
        if done == 10:
            Agent.objects.filter(pk=agent.pk).update(embedding="openai/text-embedding-3-large")

    monkeypatch.setattr(reembed, "job_progress", switch_midway)
    run_pending()
    job.refresh_from_db()
    assert job.status == "cancelled" and job.done == 10


def test_switching_to_no_model_keeps_vectors_and_searches_words(agent, fake_llm):
    fill(agent, 3, embed=old_embed, model="test/old")
    assert reembed_start(agent=agent, embedding="") is None
    agent.refresh_from_db()
    backend = store_for(agent).backend
    assert backend.semantic is False
    assert (
        backend.archival_search(agent.id, "herons", tags=None)[0]["content"]
        == "fact 0 about herons"
    )
    assert m.Passage.objects.filter(embedding__isnull=False).count() == 3


def test_a_shared_archive_is_left_alone(alice, agent, fake_llm):
    other = agent_create(owner=alice, name="colleague", model="", include_base_tools=False)
    shared = m.Archive.objects.create(
        name="team", owner=alice, organization_id=alice.organization_id
    )
    shared.agents.add(agent, other)
    m.Passage.objects.create(archive=shared, text="shared fact", created_at=timezone.now())
    fill(agent, 2)
    job = reembed_start(agent=agent, embedding=NEW)
    assert job.total == 2 and job.params["shared_archives_skipped"] == [shared.id]
    run_pending()
    assert m.Passage.objects.get(text="shared fact").embedding is None


def test_an_invalid_handle_is_refused(agent):
    from agents.errors import InvalidInput

    with pytest.raises(InvalidInput):
        reembed_start(agent=agent, embedding="no-slash-here")


# --- through the API and the ADE -----------------------------------------------------------------


def _jobs(api, agent):
    response = api.get("/v1/jobs/", agent_id=agent.id)
    assert response.status_code == 200, response.content
    return response.json()


def test_patching_the_embedding_re_embeds_in_the_background_while_search_works(
    agent, as_alice, fake_llm, monkeypatch
):

    monkeypatch.setattr(reembed, "BATCH_SIZE", 10)
    fill(agent, 30, embed=old_embed, model="test/old")
    response = as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    assert response.status_code == 200, response.content
    assert response.json()["embedding"] == NEW
    [job] = _jobs(as_alice, agent)
    assert (job["kind"], job["status"], job["done"], job["total"]) == ("reembed", "queued", 0, 30)
    assert job["job_type"] == "job" and job["metadata"]["embedding"] == NEW

    herons = {"fact 0 about herons", "fact 10 about herons", "fact 20 about herons"}
    midway = {}
    original = reembed.job_progress

    def search_midway(row, *, done, total=None):
        original(row, done=done, total=total)
        if done == 10:
            midway["job"] = as_alice.get(f"/v1/jobs/{job['id']}").json()
            found = as_alice.get(
                f"/v1/agents/{agent.id}/archival-memory/search", query="herons"
            ).json()
            midway["found"] = {hit["content"] for hit in found["results"]}

    monkeypatch.setattr(reembed, "job_progress", search_midway)
    assert run_pending() == 1
    # Half-way: a third re-embedded, and search still finds every heron (full text covers the rest).
    assert midway["job"]["status"] == "running" and midway["job"]["done"] == 10
    assert midway["found"] >= herons
    done = as_alice.get(f"/v1/jobs/{job['id']}").json()
    assert (done["status"], done["done"], done["progress"]) == ("completed", 30, 1.0)
    assert done["completed_at"] is not None
    assert set(m.Passage.objects.values_list("embedding_model", "embedding_dim")) == {(NEW, 1536)}
    found = as_alice.get(f"/v1/agents/{agent.id}/archival-memory/search", query="herons").json()
    assert {hit["content"] for hit in found["results"]} >= herons


def test_sending_the_same_embedding_back_queues_nothing(agent, as_alice, fake_llm):
    fill(agent, 3)
    as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    assert len(_jobs(as_alice, agent)) == 1
    # Letta clients often send the whole configuration back.
    response = as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW, "description": "tidy"})
    assert response.status_code == 200 and response.json()["description"] == "tidy"
    assert len(_jobs(as_alice, agent)) == 1


def test_sending_the_model_again_after_a_failure_resumes_the_job(
    agent, as_alice, fake_llm, monkeypatch
):
    monkeypatch.setattr(reembed, "BATCH_SIZE", 10)
    fill(agent, 25)
    real = reembed.embedder_for

    def down(texts):
        raise RuntimeError("the embedding service is down")

    monkeypatch.setattr(reembed, "embedder_for", lambda handle: down)
    as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    run_pending()
    [failed] = _jobs(as_alice, agent)
    assert failed["status"] == "failed" and "the embedding service is down" in failed["error"]
    monkeypatch.setattr(reembed, "embedder_for", real)
    as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    resumed, _ = _jobs(as_alice, agent)
    assert resumed["status"] == "queued" and resumed["total"] == 25
    run_pending()
    assert as_alice.get(f"/v1/jobs/{resumed['id']}").json()["status"] == "completed"
    as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    assert len(_jobs(as_alice, agent)) == 2  # finished: nothing more to do


def test_an_embedding_config_and_a_team_member_change_the_model_too(agent, as_bob, fake_llm):
    fill(agent, 2)
    config = {"embedding_model": "text-embedding-3-large", "embedding_endpoint_type": "openai"}
    response = as_bob.patch(f"/v1/agents/{agent.id}", {"embedding_config": config})
    assert (
        response.status_code == 200
        and response.json()["embedding"] == "openai/text-embedding-3-large"
    )
    [job] = _jobs(as_bob, agent)
    assert job["metadata"]["embedding"] == "openai/text-embedding-3-large" and job["total"] == 2
    run_pending()
    assert set(m.Passage.objects.values_list("embedding_dim", flat=True)) == {3072}


def test_a_stranger_cannot_change_the_model_or_see_the_job(agent, as_alice, as_charlie, fake_llm):
    fill(agent, 2)
    assert as_charlie.patch(f"/v1/agents/{agent.id}", {"embedding": NEW}).status_code == 404
    agent.refresh_from_db()
    assert agent.embedding == "" and not _jobs(as_alice, agent)
    as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW})
    [job] = _jobs(as_alice, agent)
    assert _jobs(as_charlie, agent) == []
    assert as_charlie.get(f"/v1/jobs/{job['id']}").status_code == 404


def test_an_unknown_provider_is_refused_and_nothing_changes(agent, as_alice):
    response = as_alice.patch(
        f"/v1/agents/{agent.id}", {"embedding": "nowhere/model", "description": "x"}
    )
    assert response.status_code == 422
    agent.refresh_from_db()
    assert agent.embedding == "" and agent.description == "" and not _jobs(as_alice, agent)


@pytest.mark.django_db(transaction=True)
def test_in_inline_mode_the_patch_answers_with_the_archive_re_embedded(
    agent, as_alice, fake_llm, monkeypatch
):
    monkeypatch.setenv("ADE_JOBS", "inline")
    fill(agent, 5, embed=old_embed, model="test/old")
    assert as_alice.patch(f"/v1/agents/{agent.id}", {"embedding": NEW}).status_code == 200
    [job] = _jobs(as_alice, agent)
    assert (job["status"], job["done"]) == ("completed", 5)
    agent.refresh_from_db()
    assert reembed_status(agent) == {
        "embedding": NEW,
        "total": 5,
        "embedded": 5,
        "shared_archives": [],
    }
    assert set(m.Passage.objects.values_list("embedding_model", flat=True)) == {NEW}


def test_the_settings_form_re_embeds_and_shows_progress(agent, alice, fake_llm):
    from django.urls import reverse

    from agents.web.forms import AgentSettingsForm
    from tests.ui_helpers import htmx, logged_in

    fill(agent, 4)
    data = {k: v for k, v in AgentSettingsForm.for_agent(agent).initial.items() if v is not None}
    data.update(name=agent.name, embedding=NEW, tags="")
    response = htmx(logged_in(alice), "post", reverse("agent-settings", args=[agent.id]), data)
    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.embedding == NEW
    assert (
        'id="reembed-status"' in response.text
        and "Re-embedding archival memory with" in response.text
    )
    assert "0 / 4 passages" in response.text
    run_pending()
    page = logged_in(alice).get(reverse("agent", args=[agent.id])).text
    assert "4 passages re-embedded" in page
