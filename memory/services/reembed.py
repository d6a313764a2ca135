"""Re-embedding: when an agent's embedding model changes, its passages get
vectors from the new model, in the background, with progress.

Search keeps working all along: the agent switches to the new model at once,
so its dense search sees the passages already re-embedded (vectors are
filtered by model and size) and full-text search sees every passage; old
vectors stay until they are replaced. Only archives the agent does not share
are re-embedded: an archive shared with another agent keeps its vectors, and
the job says so. A job stops by itself when the model changes again.

Changing the model through the API (PATCH /v1/agents/{id}) or the ADE's
settings goes through `reembed_if_changed`; the job's progress is published
to the agent's tabs and readable at /v1/jobs/{id}.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q

from agents.errors import InvalidInput
from agents.models import Agent
from memory import models as m
from memory.files.models import Job
from memory.llm.registry import parse_handle
from memory.services.jobs import JobError, job_enqueue, job_progress
from memory.services.providers import embedder_for
from memory.store.search import vector_literal as vector_literal

BATCH_SIZE = 64


def _own_archives(agent: Agent) -> tuple[list[str], list[str]]:
    """(archive ids only this agent uses, archive ids it shares)."""
    mine = m.Archive.objects.filter(agents=agent).values("id")
    # Counted apart from the filter: on the filtered join Count would always be 1.
    rows = m.Archive.objects.filter(id__in=mine).annotate(n=Count("agents")).values_list("id", "n")
    own = [a for a, n in rows if n == 1]
    shared = [a for a, n in rows if n > 1]
    return own, shared


def _stale(archive_ids: list[str], model: str) -> Any:
    return m.Passage.objects.filter(archive_id__in=archive_ids).filter(
        Q(embedding__isnull=True) | ~Q(embedding_model=model)
    )


@transaction.atomic
def reembed_start(*, agent: Agent, embedding: str) -> Any:
    """Switch the agent to `embedding` and queue the re-embedding of its
    passages; returns the job (None when there is nothing to embed)."""
    if embedding:
        try:
            parse_handle(embedding)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    agent.embedding = embedding
    agent.save(update_fields=["embedding", "updated_at"])
    own, shared = _own_archives(agent)
    m.Archive.objects.filter(id__in=own).update(embedding=embedding)
    # A newer job replaces any queued one for this agent.
    Job.objects.filter(kind="reembed", agent=agent, status="queued").update(status="cancelled")
    if not embedding:
        return None  # full-text only from now on; vectors are kept in case the model comes back
    total = _stale(own, embedding).count()
    return job_enqueue(
        kind="reembed",
        agent_id=agent.id,
        total=total,
        params={"embedding": embedding, "shared_archives_skipped": shared},
    )


def reembed_queue(*, agent: Agent) -> Any:
    """Queue embedding the agent's passages that have no vector from its
    current model (passages brought in without one); returns the job, or None
    when there is nothing to do."""
    if not agent.embedding:
        return None
    own, shared = _own_archives(agent)
    total = _stale(own, agent.embedding).count()
    if not total:
        return None
    return job_enqueue(
        kind="reembed",
        agent_id=agent.id,
        total=total,
        params={"embedding": agent.embedding, "shared_archives_skipped": shared},
    )


def reembed_if_changed(*, agent: Agent, embedding: str | None) -> Any:
    """Switch and re-embed only when the model really changes (clients often
    send the whole configuration back, unchanged), or when the last
    re-embedding with this model failed: sending it again resumes it.
    Returns the job, or None."""
    embedding = (embedding or "").strip()
    if embedding == (agent.embedding or ""):
        latest = reembed_latest(agent)
        if latest is None or latest.status != "failed":
            return None
    job = reembed_start(agent=agent, embedding=embedding)
    agent.refresh_from_db()
    return job


def reembed_latest(agent: Agent) -> Any:
    """The latest job re-embedding the agent's passages with its current model
    (what the ADE shows), or None."""
    if not agent.embedding:
        return None
    return (
        Job.objects.filter(kind="reembed", agent=agent, params__embedding=agent.embedding)
        .order_by("-created_at", "-id")
        .first()
    )


def reembed_run(job: Any) -> None:
    """Embed the agent's stale passages batch by batch; each batch commits on
    its own, so progress is kept if the job stops half-way."""
    target = job.params["embedding"]
    agent = Agent.objects.get(pk=job.agent_id)
    own, _ = _own_archives(agent)
    try:
        embed = embedder_for(target)
    except Exception as exc:
        raise JobError(f"cannot use embedding model {target}: {exc}") from exc
    done = 0
    total = _stale(own, target).count()
    job_progress(job, done=0, total=total)
    while True:
        if Agent.objects.filter(pk=agent.pk).values_list("embedding", flat=True).first() != target:
            job.status = "cancelled"
            job.error = "the agent's embedding model changed again; a newer job takes over"
            job.save(update_fields=["status", "error"])
            return
        with transaction.atomic():
            batch = list(
                _stale(own, target)
                .select_for_update(skip_locked=True)
                .order_by("sequence_id")
                .values_list("id", "text")[:BATCH_SIZE]
            )
            if not batch:
                break
            try:
                vectors = embed([text for _, text in batch])
            except Exception as exc:
                raise JobError(
                    f"embedding with {target} failed after {done} of {total} passages: {exc}"
                ) from exc
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE memory_passage SET embedding = %s::vector, embedding_dim = %s, embedding_model = %s, "
                    "updated_at = now() WHERE id = %s",
                    [
                        (vector_literal(v), len(v), target, pid)
                        for (pid, _), v in zip(batch, vectors, strict=True)
                    ],
                )
        done += len(batch)
        job_progress(job, done=done, total=max(total, done))


def reembed_status(agent: Agent) -> dict[str, Any]:
    """How far the agent's passages are: embedded with its current model / all."""
    own, shared = _own_archives(agent)
    total = m.Passage.objects.filter(archive_id__in=own).count()
    stale = _stale(own, agent.embedding).count() if agent.embedding else 0
    return {
        "embedding": agent.embedding,
        "total": total,
        "embedded": total - stale,
        "shared_archives": shared,
    }
