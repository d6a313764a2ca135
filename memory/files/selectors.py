"""Permission-scoped reads of folders and files: a user sees their team's."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from agents.models import Agent, User
from agents.selectors import agents_visible_to
from memory.files.models import FileAgent, Job, Source, SourceFile


def sources_visible_to(*, user: User) -> QuerySet[Source]:
    if user.is_superuser:
        return Source.objects.all()
    scope = Q(owner=user)
    if user.organization_id:
        scope |= Q(organization_id=user.organization_id)
    return Source.objects.filter(scope)


def source_get_for_user(*, user: User, source_id: str) -> Source | None:
    return sources_visible_to(user=user).filter(pk=source_id).first()


def file_get_for_user(*, user: User, source_id: str, file_id: str) -> SourceFile | None:
    return (
        SourceFile.objects.filter(
            pk=file_id, source__in=sources_visible_to(user=user), source_id=source_id
        )
        .defer("raw")
        .first()
    )


def jobs_visible_to(*, user: User) -> QuerySet[Job]:
    """Jobs of the files in the user's folders and of the agents they may see."""
    sources = sources_visible_to(user=user).values("id")
    agents = agents_visible_to(user=user).values("id")
    return Job.objects.filter(Q(file__source_id__in=sources) | Q(agent_id__in=agents))


def job_get_for_user(*, user: User, job_id: str) -> Job | None:
    return jobs_visible_to(user=user).filter(pk=job_id).first()


# --- an agent's files panel in the ADE ---------------------------------------------------------


def agent_folder_for(*, agent: Agent, source_id: str) -> Source | None:
    """A folder attached to the agent (callers got the agent through a selector)."""
    return Source.objects.filter(pk=source_id, agents=agent).first()


def agent_file_for(*, agent: Agent, file_id: str) -> SourceFile | None:
    """A file of a folder attached to the agent."""
    return (
        SourceFile.objects.filter(pk=file_id, source__agents=agent)
        .select_related("source")
        .defer("raw")
        .first()
    )


def _file_views(agent: Agent, rows: QuerySet[SourceFile]) -> list[SourceFile]:
    """Files as the panel shows them: each with `is_open` (in the agent's view)
    and `percent` (how far its processing is; None while not yet chunked)."""
    opened = FileAgent.objects.filter(agent=agent, file=OuterRef("pk"), is_open=True)
    files = list(rows.defer("raw").annotate(is_open=Exists(opened)).order_by("created_at", "id"))
    for file in files:
        if file.processing_status == "completed":
            file.percent = 100
        elif file.total_chunks:
            file.percent = round(100 * file.chunks_embedded / file.total_chunks)
        else:
            file.percent = None
    return files


def folder_files(*, agent: Agent, source: Source) -> list[SourceFile]:
    """The folder's files, oldest first, as the panel shows them."""
    return _file_views(agent, SourceFile.objects.filter(source=source))


def agent_file_view(*, agent: Agent, file_id: str) -> SourceFile | None:
    """One file of a folder attached to the agent, as the panel shows it."""
    found = _file_views(agent, SourceFile.objects.filter(pk=file_id, source__agents=agent))
    return found[0] if found else None


def agent_folders(*, agent: Agent) -> list[dict[str, Any]]:
    """The folders attached to the agent, each with its files."""
    return [
        {"source": source, "files": folder_files(agent=agent, source=source)}
        for source in Source.objects.filter(agents=agent).order_by("name")
    ]


def folders_attachable(*, agent: Agent, user: User) -> QuerySet[Source]:
    """The user's folders that could be attached to the agent (same team, not yet attached)."""
    return (
        sources_visible_to(user=user)
        .filter(organization_id=agent.organization_id)
        .exclude(agents=agent)
        .order_by("name")
    )


def agent_directories(*, agent_id: str) -> list[dict]:
    """What the context compiler renders as <directories>: each attached folder
    (name, description, instructions) and its files, open ones with their
    visible lines."""
    folders: dict[str, dict] = {}
    for source in Source.objects.filter(agents__id=agent_id).order_by("name"):
        folders[source.id] = {
            "name": source.name,
            "description": source.description,
            "instructions": source.instructions,
            "files": [],
        }
    links = (
        FileAgent.objects.filter(
            agent_id=agent_id, source_id__in=folders, file__processing_status="completed"
        )
        .select_related("file")
        .order_by("file__file_name")
    )
    for link in links:
        folders[link.source_id]["files"].append(
            {
                "file_name": link.file.file_name,
                "is_open": link.is_open,
                "visible_content": link.visible_content if link.is_open else "",
                "offset": link.offset,
                "length": link.length,
            }
        )
    return list(folders.values())
