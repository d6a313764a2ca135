"""Permission-scoped reads of folders and files: a user sees their team's."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agents.models import User
from sources.models import Job, Source, SourceFile


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
    return SourceFile.objects.filter(pk=file_id, source__in=sources_visible_to(user=user),
                                     source_id=source_id).defer("raw").first()


def jobs_for_file(file: SourceFile) -> QuerySet[Job]:
    return Job.objects.filter(file=file).order_by("-created_at")


def agent_directories(*, agent_id: str) -> list[dict]:
    """What the context compiler renders as <directories>: each attached folder
    (name, description, instructions) and its files, open ones with their
    visible lines."""
    from sources.models import FileAgent

    folders: dict[str, dict] = {}
    for source in Source.objects.filter(agents__id=agent_id).order_by("name"):
        folders[source.id] = {"name": source.name, "description": source.description,
                              "instructions": source.instructions, "files": []}
    links = (FileAgent.objects.filter(agent_id=agent_id, source_id__in=folders,
                                      file__processing_status="completed")
             .select_related("file").order_by("file__file_name"))
    for link in links:
        folders[link.source_id]["files"].append({
            "file_name": link.file.file_name, "is_open": link.is_open,
            "visible_content": link.visible_content if link.is_open else "",
            "offset": link.offset, "length": link.length})
    return list(folders.values())
