"""Processing one uploaded file in the background: parse -> store the text ->
chunk -> embed in batches -> searchable. Progress is published as it goes; a
failure at any step removes what was written and leaves the file in `error`
with a message that says what went wrong."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from memory.files.chunking import chunk_text
from memory.files.models import FileAgent, FileContent, Job, SourceFile, SourcePassage
from memory.files.parsing import ParseError, parse
from memory.services.files import MAX_OPEN_FILES, file_window, files_changed
from memory.services.jobs import JobError, job_progress
from memory.services.providers import embedder_for
from memory.store.search import TS_CONFIG, tsvector_sql
from memory.store.search import vector_literal as vector_literal

EMBED_BATCH = 64
OPEN_LINES = 100


def _status(file: SourceFile, status: str, **fields: Any) -> None:
    file.processing_status = status
    for key, value in fields.items():
        setattr(file, key, value)
    SourceFile.objects.filter(pk=file.pk).update(processing_status=status, **fields)


def _insert_chunks(
    file: SourceFile, start: int, chunks: list[str], vectors: list[list[float]] | None, model: str
) -> None:
    rows = []
    for i, text in enumerate(chunks):
        vec = vectors[i] if vectors else None
        rows.append(
            {
                "id": f"passage-{uuid.uuid4()}",
                "source": file.source_id,
                "file": file.id,
                "org": file.organization_id,
                "idx": start + i,
                "text": text,
                "vec": vector_literal(vec) if vec else None,
                "dim": len(vec) if vec else None,
                "model": model if vec else "",
                "cfg": TS_CONFIG,
                "name": file.file_name,
            }
        )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"""INSERT INTO sources_sourcepassage (id, source_id, file_id, organization_id, chunk_index, text,
                   embedding, embedding_dim, embedding_model, search_vector, created_at)
               VALUES (%(id)s, %(source)s, %(file)s, %(org)s, %(idx)s, %(text)s, %(vec)s::vector, %(dim)s,
                   %(model)s, setweight({tsvector_sql("%(text)s")}, 'A')
                       || setweight({tsvector_sql("%(name)s")}, 'D'), now())""",
            rows,
        )


def file_process(job: Job) -> None:
    file = SourceFile.objects.select_related("source").get(pk=job.file_id)
    source = file.source
    if file.processing_status == "completed":
        return  # finished before its worker died; only the job's own ending was lost
    try:
        _undo(file)  # a job taken over from a worker that died starts over from nothing
        _status(file, "parsing", error_message="")
        job_progress(job, done=0, total=0)
        raw = bytes(file.raw or b"")
        # A file restored from an Agent File comes as its extracted text already.
        text = (
            raw.decode("utf-8")
            if job.params.get("text")
            else parse(raw, file.file_name, file.file_type)
        )
        chunks = chunk_text(text, source.chunk_size)
        with transaction.atomic():
            FileContent.objects.update_or_create(file=file, defaults={"text": text})
            _status(file, "embedding", total_chunks=len(chunks), chunks_embedded=0)
        job_progress(job, done=0, total=len(chunks))
        embed = embedder_for(source.embedding) if source.embedding else None
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors = embed(batch) if embed else None
            _insert_chunks(file, start, batch, vectors, source.embedding)
            _status(file, "embedding", chunks_embedded=start + len(batch))
            job_progress(job, done=start + len(batch))
        with transaction.atomic():
            _status(file, "completed", raw=None)
            agent_ids = list(source.agents.values_list("id", flat=True))
            views = job.params.get("views")
            for agent_id in agent_ids:
                if views is None:
                    _open_for(agent_id, file, text)
                else:
                    _restore_view(agent_id, file, text, views.get(agent_id) or {})
            files_changed(agent_ids)
    except Exception as exc:
        _undo(file)
        message = (
            str(exc)
            if isinstance(exc, ParseError | JobError)
            else f"processing {file.file_name} failed: {type(exc).__name__}: {exc}"
        )
        _status(file, "error", error_message=message[:2000])
        raise JobError(message) from exc


def file_abandon(job: Job, message: str) -> None:
    """The job was given up (its workers kept dying): leave the file in `error`
    with nothing half-written, as any other failure does."""
    file = SourceFile.objects.filter(pk=job.file_id).first()
    if file is not None and file.processing_status != "completed":
        _undo(file)
        _status(file, "error", error_message=message[:2000])


def _restore_view(agent_id: str, file: SourceFile, text: str, view: dict[str, Any]) -> None:
    """A restored file shows as the agent had it: open at its lines, or closed."""
    if view.get("is_open"):
        _open_for(agent_id, file, text, view.get("offset") or 0, view.get("length") or OPEN_LINES)
    else:
        FileAgent.objects.get_or_create(
            agent_id=agent_id, file=file, defaults={"source_id": file.source_id}
        )


def _open_for(
    agent_id: str, file: SourceFile, text: str, offset: int = 0, length: int = OPEN_LINES
) -> None:
    """A new file opens in every attached agent's view, as in Letta."""
    visible, start, _ = file_window(text, offset, length)
    FileAgent.objects.update_or_create(
        agent_id=agent_id,
        file=file,
        defaults={
            "source_id": file.source_id,
            "is_open": True,
            "visible_content": visible,
            "offset": start,
            "length": length,
            "last_accessed_at": datetime.now(UTC),
        },
    )
    still = list(
        FileAgent.objects.filter(agent_id=agent_id, is_open=True)
        .order_by("-last_accessed_at")
        .values_list("pk", flat=True)
    )
    if len(still) > MAX_OPEN_FILES:
        FileAgent.objects.filter(pk__in=still[MAX_OPEN_FILES:]).update(
            is_open=False, visible_content=""
        )


def _undo(file: SourceFile) -> None:
    with transaction.atomic():
        SourcePassage.objects.filter(file=file).delete()
        FileContent.objects.filter(file=file).delete()
        FileAgent.objects.filter(file=file).delete()
