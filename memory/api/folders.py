"""/v1/folders (and Letta's older /v1/sources, same handlers): create and list
folders, upload files (processed in the background: poll the file or its job
for status and progress), attach folders to agents, search an agent's files.

Mount with `api.add_router("/", sources_router)` in ade/api.py. Handlers
parse, authorize through a selector (someone else's folder is simply not
found), call one service and render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import QuerySet
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from agents.errors import NotFound
from agents.selectors import agent_get_for_user
from memory.files.models import Job, Source, SourceFile
from memory.files.selectors import (
    file_get_for_user,
    job_get_for_user,
    jobs_visible_to,
    source_get_for_user,
    sources_visible_to,
)
from memory.selectors import cursor_page
from memory.services import files as services

router = Router(tags=["folders"])


class FolderIn(Schema):
    name: str
    description: str = ""
    instructions: str = ""
    embedding: str | None = None
    embedding_chunk_size: int = 300


class FolderOut(Schema):
    id: str
    name: str
    description: str
    instructions: str
    embedding: str
    embedding_chunk_size: int
    file_count: int
    created_at: datetime


class FileOut(Schema):
    id: str
    source_id: str
    folder_id: str
    file_name: str
    original_file_name: str
    file_type: str
    file_size: int
    processing_status: str
    error_message: str | None
    total_chunks: int
    chunks_embedded: int
    progress: float
    job_id: str | None
    created_at: datetime
    updated_at: datetime


class JobOut(Schema):
    """Letta's Job (job_type, completed_at, metadata) plus our progress fields."""

    id: str
    job_type: str
    kind: str
    status: str
    done: int
    total: int
    progress: float
    error: str | None
    file_id: str | None
    source_id: str | None
    agent_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    completed_at: datetime | None


class PassageOut(Schema):
    id: str
    content: str
    file_name: str
    folder: str
    relevance: float


class FolderPage(Schema):
    """Letta's cursor pagination: `after`/`before` are ids in the requested order."""

    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "asc"

    def of(self, rows: QuerySet[Any]) -> list[Any]:
        return cursor_page(
            rows,
            before=self.before,
            after=self.after,
            limit=self.limit,
            ascending=self.order == "asc",
        )


class FolderFilters(FolderPage):
    name: str | None = None


class FilePage(FolderPage):
    limit: int | None = 1000
    order: Literal["asc", "desc"] = "desc"
    include_content: bool = False


def _folder(source: Source) -> dict:
    return {
        "id": source.id,
        "name": source.name,
        "description": source.description,
        "instructions": source.instructions,
        "embedding": source.embedding,
        "embedding_chunk_size": source.chunk_size,
        "file_count": source.files.count(),
        "created_at": source.created_at,
    }


def _file(file: SourceFile, job: Job | None = None) -> dict:
    if job is None:
        job = Job.objects.filter(file=file).order_by("-created_at").first()
    progress = (
        file.chunks_embedded / file.total_chunks
        if file.total_chunks
        else (1.0 if file.processing_status == "completed" else 0.0)
    )
    return {
        "id": file.id,
        "source_id": file.source_id,
        "folder_id": file.source_id,
        "file_name": file.file_name,
        "original_file_name": file.original_file_name,
        "file_type": file.file_type,
        "file_size": file.file_size,
        "processing_status": file.processing_status,
        "error_message": file.error_message or None,
        "total_chunks": file.total_chunks,
        "chunks_embedded": file.chunks_embedded,
        "progress": round(progress, 4),
        "job_id": job.id if job else None,
        "created_at": file.created_at,
        "updated_at": file.updated_at,
    }


def folder_for(request, folder_id: str) -> Source:
    source = source_get_for_user(user=request.auth, source_id=folder_id)
    if source is None:
        raise NotFound(f"Folder {folder_id} not found.")
    return source


def _routes(prefix: str) -> None:
    """The same handlers under /folders and Letta's legacy /sources."""

    @router.post(f"/{prefix}/", response={201: FolderOut}, operation_id=f"{prefix}_create")
    def create(request, payload: FolderIn):
        source = services.source_create(
            owner=request.auth,
            name=payload.name,
            description=payload.description,
            instructions=payload.instructions,
            embedding=payload.embedding or "",
            chunk_size=payload.embedding_chunk_size,
        )
        return Status(201, _folder(source))

    @router.get(f"/{prefix}/", response=list[FolderOut], operation_id=f"{prefix}_list")
    def list_folders(request, page: Query[FolderFilters]):
        rows = sources_visible_to(user=request.auth)
        if page.name:
            rows = rows.filter(name=page.name)
        return [_folder(s) for s in page.of(rows)]

    @router.get(f"/{prefix}/{{folder_id}}", response=FolderOut, operation_id=f"{prefix}_retrieve")
    def retrieve(request, folder_id: str):
        return _folder(folder_for(request, folder_id))

    # Letta answers 200 with a JSON body here (the client parses it), 204 only for a file.
    @router.delete(f"/{prefix}/{{folder_id}}", operation_id=f"{prefix}_delete")
    def delete(request, folder_id: str):
        services.source_delete(source=folder_for(request, folder_id))
        return {"message": f"Folder id={folder_id} successfully deleted"}

    @router.post(
        f"/{prefix}/{{folder_id}}/upload", response={202: FileOut}, operation_id=f"{prefix}_upload"
    )
    def upload(request, folder_id: str, file: UploadedFile = File(...)):  # noqa: B008
        source = folder_for(request, folder_id)
        row, job = services.file_upload(
            source=source,
            file_name=file.name or "",
            data=file.read(),
            content_type=file.content_type or "",
        )
        return Status(202, _file(row, job))

    @router.get(
        f"/{prefix}/{{folder_id}}/files", response=list[FileOut], operation_id=f"{prefix}_files"
    )
    def files(request, folder_id: str, page: Query[FilePage]):
        source = folder_for(request, folder_id)
        return [_file(f) for f in page.of(source.files.defer("raw"))]

    @router.get(
        f"/{prefix}/{{folder_id}}/files/{{file_id}}",
        response=FileOut,
        operation_id=f"{prefix}_file",
    )
    def file_status(request, folder_id: str, file_id: str):
        row = file_get_for_user(user=request.auth, source_id=folder_id, file_id=file_id)
        if row is None:
            raise NotFound(f"File {file_id} not found.")
        return _file(row)

    @router.get(
        f"/{prefix}/{{folder_id}}/agents", response=list[str], operation_id=f"{prefix}_agents"
    )
    def agents(request, folder_id: str):
        return list(folder_for(request, folder_id).agents.values_list("id", flat=True))

    # Letta's path for deleting a file; after every literal /{folder_id}/<word> route.
    @router.delete(
        f"/{prefix}/{{folder_id}}/{{file_id}}",
        response={204: None},
        operation_id=f"{prefix}_file_delete",
    )
    def file_delete(request, folder_id: str, file_id: str):
        row = file_get_for_user(user=request.auth, source_id=folder_id, file_id=file_id)
        if row is None:
            raise NotFound(f"File {file_id} not found.")
        services.file_delete(file=row)
        return Status(204, None)

    @router.patch(
        f"/agents/{{agent_id}}/{prefix}/attach/{{folder_id}}",
        response=FolderOut,
        operation_id=f"agent_{prefix}_attach",
    )
    def attach(request, agent_id: str, folder_id: str):
        source = folder_for(request, folder_id)
        services.source_attach(source=source, agent=_agent(request, agent_id))
        return _folder(source)

    @router.patch(
        f"/agents/{{agent_id}}/{prefix}/detach/{{folder_id}}",
        response=FolderOut,
        operation_id=f"agent_{prefix}_detach",
    )
    def detach(request, agent_id: str, folder_id: str):
        source = folder_for(request, folder_id)
        services.source_detach(source=source, agent=_agent(request, agent_id))
        return _folder(source)


def _agent(request, agent_id: str):
    agent = agent_get_for_user(user=request.auth, agent_id=agent_id)
    if agent is None:
        raise NotFound(f"Agent {agent_id} not found.")
    return agent


_routes("folders")
_routes("sources")


ACTIVE = ("queued", "running")


def _job(job: Job) -> dict:
    source_id = job.file.source_id if job.file_id else None
    finished = job.finished_at if job.status == "completed" else None
    return {
        "id": job.id,
        "job_type": "job",
        "kind": job.kind,
        "status": job.status,
        "done": job.done,
        "total": job.total,
        "progress": round(job.progress, 4),
        "error": job.error or None,
        "file_id": job.file_id,
        "source_id": source_id,
        "agent_id": job.agent_id,
        "metadata": {"kind": job.kind, **job.params},
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "completed_at": finished,
    }


class JobFilters(Schema):
    source_id: str | None = None
    folder_id: str | None = None
    agent_id: str | None = None
    kind: str | None = None
    active: bool = False
    before: str | None = None
    after: str | None = None
    limit: int | None = 100
    order: Literal["asc", "desc"] = "desc"
    ascending: bool | None = None


def _jobs(request, filters: JobFilters, *, active: bool) -> list[dict]:
    rows = jobs_visible_to(user=request.auth).select_related("file")
    folder = filters.folder_id or filters.source_id
    if folder:
        rows = rows.filter(file__source_id=folder)
    if filters.agent_id:
        rows = rows.filter(agent_id=filters.agent_id)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if active or filters.active:
        rows = rows.filter(status__in=ACTIVE)
    ascending = filters.ascending if filters.ascending is not None else filters.order == "asc"
    page = cursor_page(
        rows, before=filters.before, after=filters.after, limit=filters.limit, ascending=ascending
    )
    return [_job(job) for job in page]


@router.get("/jobs/", response=list[JobOut], tags=["jobs"])
def list_jobs(request, filters: Query[JobFilters]):
    """Background jobs (file processing, re-embedding) of your folders and agents, newest first."""
    return _jobs(request, filters, active=False)


@router.get("/jobs/active", response=list[JobOut], tags=["jobs"])
def list_active_jobs(request, filters: Query[JobFilters]):
    """Jobs still queued or running."""
    return _jobs(request, filters, active=True)


@router.get("/jobs/{job_id}", response=JobOut, tags=["jobs"])
def job_status(request, job_id: str):
    """A background job (file processing, re-embedding): status and progress."""
    job = job_get_for_user(user=request.auth, job_id=job_id)
    if job is None:
        raise NotFound(f"Job {job_id} not found.")
    return _job(job)


@router.get("/agents/{agent_id}/files/search", response=list[PassageOut], tags=["folders"])
def files_search(request, agent_id: str, query: str, limit: int = 5):
    """Search the agent's files as its semantic_search_files tool does."""
    agent = _agent(request, agent_id)
    return services.AgentFiles(agent.id).search(query, limit=max(1, min(limit, 50)))
