"""Writes for folders and files: create, upload (queues processing), attach to
agents, delete; and an agent's file operations (open, grep, search) that the
file tools call through the memory backend.

Whatever changes what an agent's <directories> shows (attach, detach, a file
completed, opened, closed or deleted) recompiles its system prompt and tells
its open ADE tabs, once committed (`files_changed`). Files the agent opens
itself during a turn show in the tool's result at once and in the prompt from
its next turn, as in Letta.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from agents.errors import Conflict, InvalidInput, NotFound
from agents.models import Agent, AgentTool, Tool, User
from memory.engine.context import MAX_FILES_OPEN
from memory.files.models import FileAgent, Job, Source, SourceFile
from memory.files.parsing import MAX_FILE_BYTES, ParseError, file_type_for
from memory.llm.registry import parse_handle
from memory.services.base_tools import base_tools_sync
from memory.services.events import publish
from memory.services.jobs import job_enqueue
from memory.services.prompt import agent_refresh_if_idle
from memory.services.providers import embedder_for
from memory.store.file_search import source_passage_search
from memory.tools.files import FILE_TOOLS

MAX_OPEN_FILES = MAX_FILES_OPEN
DEFAULT_WINDOW_LINES = 100
GREP_PAGE = 20


# --- folders and files ---------------------------------------------------------------------


def files_changed(agent_ids: list[str], *, folders: bool = False) -> None:
    """After commit: recompile each agent's prompt (its <directories> changed)
    and redraw the files panel and context window of its open tabs (`folders`:
    the attached folders themselves changed, not only their files)."""
    if not agent_ids:
        return

    def send() -> None:
        for agent_id in agent_ids:
            agent_refresh_if_idle(agent_id)
            publish(agent_id, {"type": "files", "folders": folders})

    transaction.on_commit(send)


def source_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    instructions: str = "",
    embedding: str = "",
    chunk_size: int = 300,
) -> Source:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("A folder needs a name of 1 to 200 characters.")
    if embedding:
        try:
            parse_handle(embedding)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    if not 50 <= chunk_size <= 4000:
        raise InvalidInput("chunk_size must be between 50 and 4000 tokens.")
    try:
        with transaction.atomic():
            return Source.objects.create(
                owner=owner,
                organization_id=owner.organization_id,
                name=name,
                description=description,
                instructions=instructions,
                embedding=embedding,
                chunk_size=chunk_size,
            )
    except IntegrityError:
        raise Conflict(f"A folder named {name!r} already exists.") from None


@transaction.atomic
@transaction.atomic
def source_delete(*, source: Source) -> None:
    _hold_files(SourceFile.objects.filter(source=source))
    agent_ids = list(source.agents.values_list("id", flat=True))
    source.delete()
    files_changed(agent_ids, folders=True)


def _hold_files(files) -> None:
    """Lock the files' rows before deleting them. A processing job that stores a
    file's text or chunks meanwhile waits on its foreign-key check until the delete
    commits (then fails, as its file is gone), instead of committing rows the
    delete did not see — which made the delete's own commit fail (a 500)."""
    list(files.select_for_update().values_list("id", flat=True))


@transaction.atomic
def source_create_for_agent(
    *, owner: User, agent: Agent, name: str, description: str = "", instructions: str = ""
) -> Source:
    """A new folder, attached to `agent` at once; its files are embedded with
    the agent's embedding model (full-text only if it has none)."""
    source = source_create(
        owner=owner,
        name=name,
        description=description,
        instructions=instructions,
        embedding=agent.embedding,
    )
    source_attach(source=source, agent=agent)
    return source


def _free_name(source: Source, name: str) -> str:
    """Letta's rule for duplicates: 'notes.txt' -> 'notes_(1).txt'."""
    taken = set(SourceFile.objects.filter(source=source).values_list("file_name", flat=True))
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 1
    while True:
        candidate = f"{stem}_({n}){'.' + ext if ext else ''}"
        if candidate not in taken:
            return candidate
        n += 1


@transaction.atomic
def file_upload(
    *, source: Source, file_name: str, data: bytes, content_type: str = ""
) -> tuple[SourceFile, Job]:
    """Store the upload and queue its processing (parse, chunk, embed)."""
    file_name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not file_name:
        raise InvalidInput("The upload has no file name.")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{file_name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise InvalidInput(f"{file_name} is empty.")
    try:
        kind = file_type_for(file_name, content_type)
    except ParseError as exc:
        raise InvalidInput(str(exc)) from None
    Source.objects.select_for_update().filter(pk=source.pk).first()  # serialise name choice
    file = SourceFile.objects.create(
        source=source,
        organization_id=source.organization_id,
        file_name=_free_name(source, file_name),
        original_file_name=file_name,
        file_type=kind,
        file_size=len(data),
        raw=data,
    )
    job = job_enqueue(kind="file_process", file_id=file.id)
    return file, job


@transaction.atomic
def file_restore(
    *,
    source: Source,
    file_name: str,
    text: str | None,
    file_type: str = "",
    original_file_name: str = "",
    views: dict[str, dict[str, Any]] | None = None,
) -> tuple[SourceFile, Job | None]:
    """A file brought in with its extracted text (from an Agent File): it is
    chunked and embedded like an upload, without parsing it again. `views`
    (agent id -> is_open, offset, length) is how each agent had it open; once
    processed it opens that way instead of opening everywhere. Without text
    (exported before it was processed) it is kept in `error` to upload again."""
    file_name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    if not file_name:
        raise InvalidInput("A file needs a name.")
    data = (text or "").replace("\x00", "").encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"{file_name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    Source.objects.select_for_update().filter(pk=source.pk).first()  # serialise name choice
    file = SourceFile.objects.create(
        source=source,
        organization_id=source.organization_id,
        file_name=_free_name(source, file_name),
        original_file_name=(original_file_name or file_name)[:255],
        file_type=(file_type or "text/plain")[:100],
        file_size=len(data),
        raw=data if text else None,
        processing_status="pending" if text else "error",
        error_message="" if text else "The agent file held no text for this file; upload it again.",
    )
    if not text:
        return file, None
    job = job_enqueue(
        kind="file_process", file_id=file.id, params={"text": True, "views": views or {}}
    )
    return file, job


def files_upload(*, source: Source, uploads: list[Any]) -> tuple[list[SourceFile], list[str]]:
    """Several uploads at once (Django UploadedFiles), each stored and queued on
    its own: one refused file (wrong type, empty, too large) does not stop the
    others. Returns (the files queued, a message per refused upload)."""
    accepted: list[SourceFile] = []
    refused: list[str] = []
    for upload in uploads:
        name = upload.name or ""
        if upload.size and upload.size > MAX_FILE_BYTES:  # refused before it is read into memory
            refused.append(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
            continue
        try:
            file, _ = file_upload(
                source=source,
                file_name=name,
                data=upload.read(),
                content_type=upload.content_type or "",
            )
        except InvalidInput as exc:
            refused.append(exc.message)
        else:
            accepted.append(file)
    return accepted, refused


@transaction.atomic
@transaction.atomic
def file_delete(*, file: SourceFile) -> None:
    _hold_files(SourceFile.objects.filter(pk=file.pk))
    agent_ids = list(FileAgent.objects.filter(file=file).values_list("agent_id", flat=True))
    file.delete()
    files_changed(agent_ids)


def _file_tools() -> list[Tool]:
    names = [fn.__name__ for fn in FILE_TOOLS]
    tools = list(Tool.objects.filter(organization__isnull=True, name__in=names))
    if len(tools) < len(names):
        base_tools_sync()
        tools = list(Tool.objects.filter(organization__isnull=True, name__in=names))
    return tools


@transaction.atomic
def source_attach(*, source: Source, agent: Agent) -> None:
    """The agent gets the folder's files (closed) and the file tools."""
    if source.organization_id != agent.organization_id:
        raise NotFound("No such folder for this agent.")
    source.agents.add(agent)
    for file in SourceFile.objects.filter(source=source, processing_status="completed").defer(
        "raw"
    ):
        FileAgent.objects.get_or_create(agent=agent, file=file, defaults={"source": source})
    for tool in _file_tools():
        AgentTool.objects.get_or_create(agent=agent, tool=tool)
    files_changed([agent.id], folders=True)


@transaction.atomic
def source_detach(*, source: Source, agent: Agent) -> None:
    source.agents.remove(agent)
    FileAgent.objects.filter(agent=agent, source=source).delete()
    if not agent.sources.exists():
        AgentTool.objects.filter(agent=agent, tool__in=_file_tools()).delete()
    files_changed([agent.id], folders=True)


def agent_file_open(*, agent: Agent, file: SourceFile) -> None:
    """A person opens a file in the agent's view (its first lines), as the
    agent's open_files would; the least recently used closes beyond the limit."""
    if file.processing_status != "completed":
        raise InvalidInput(
            f"{file.file_name} is not processed yet; it can be opened once completed."
        )
    with transaction.atomic():
        AgentFiles(agent.id).open([{"file_name": f"{file.source.name}/{file.file_name}"}])
        files_changed([agent.id])


@transaction.atomic
def agent_file_close(*, agent: Agent, file: SourceFile) -> None:
    FileAgent.objects.filter(agent=agent, file=file).update(is_open=False, visible_content="")
    files_changed([agent.id])


# --- an agent's files ------------------------------------------------------------------------


def file_window(text: str, offset: int, length: int | None) -> tuple[str, int, int]:
    lines = text.split("\n")
    end = len(lines) if length is None else min(len(lines), offset + length)
    numbered = "\n".join(f"{i + 1}: {lines[i]}" for i in range(offset, end))
    return numbered, offset, end


class AgentFiles:
    """What the file tools do for one agent, over the folders attached to it."""

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id

    def _links(self) -> Any:
        return FileAgent.objects.filter(
            agent_id=self.agent_id, file__processing_status="completed"
        ).select_related("file", "file__content", "source")

    def _names(self) -> dict[str, FileAgent]:
        return {f"{link.source.name}/{link.file.file_name}": link for link in self._links()}

    def _find(self, names: dict[str, FileAgent], name: str) -> FileAgent:
        if name in names:
            return names[name]
        matches = [link for full, link in names.items() if full.rsplit("/", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        listing = ", ".join(sorted(names)) or "(no files: no folder is attached)"
        if matches:
            raise InvalidInput(
                f"{name!r} is in several folders; use 'folder/{name}'. Files: {listing}"
            )
        raise InvalidInput(f"No file named {name!r}. Files: {listing}")

    @transaction.atomic
    def open(self, requests: list[dict[str, Any]], close_all_others: bool = False) -> str:
        names = self._names()
        now = datetime.now(UTC)
        opened: list[str] = []
        chosen: list[FileAgent] = []
        for request in requests:
            link = self._find(names, str(request.get("file_name", "")))
            text = link.file.content.text
            offset = max(int(request.get("offset") or 0), 0)
            length = request.get("length")
            length = int(length) if length else DEFAULT_WINDOW_LINES
            visible, start, end = file_window(text, offset, length)
            total = text.count("\n") + 1
            link.is_open, link.visible_content, link.offset, link.length = (
                True,
                visible,
                start,
                length,
            )
            link.last_accessed_at = now
            link.save()
            chosen.append(link)
            opened.append(
                f"--- {link.source.name}/{link.file.file_name} (lines {start + 1}-{end} of {total})\n"
                f"{visible}"
            )
        keep = {link.pk for link in chosen}
        if close_all_others:
            FileAgent.objects.filter(agent_id=self.agent_id, is_open=True).exclude(
                pk__in=keep
            ).update(is_open=False, visible_content="")
        # At most MAX_OPEN_FILES stay open: the least recently used close first.
        still = list(
            FileAgent.objects.filter(agent_id=self.agent_id, is_open=True)
            .order_by("-last_accessed_at")
            .values_list("pk", flat=True)
        )
        closed = still[MAX_OPEN_FILES:]
        if closed:
            FileAgent.objects.filter(pk__in=closed).update(is_open=False, visible_content="")
        note = (
            f"\n(Closed {len(closed)} least recently used file(s): at most {MAX_OPEN_FILES} stay open.)"
            if closed
            else ""
        )
        return "\n\n".join(opened) + note

    def grep(
        self, pattern: str, include: str | None = None, context_lines: int = 1, offset: int = 0
    ) -> str:
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise InvalidInput(f"Invalid regular expression {pattern!r}: {exc}.") from None
        context_lines = min(max(context_lines, 0), 10)
        matches: list[str] = []
        for full, link in sorted(self._names().items()):
            if (
                include
                and not fnmatch.fnmatch(full.rsplit("/", 1)[-1], include)
                and not fnmatch.fnmatch(full, include)
            ):
                continue
            lines = link.file.content.text.split("\n")
            for i, line in enumerate(lines):
                if regex.search(line):
                    lo, hi = max(0, i - context_lines), min(len(lines), i + context_lines + 1)
                    block = "\n".join(
                        f"{'>' if j == i else ' '} {j + 1}: {lines[j]}" for j in range(lo, hi)
                    )
                    matches.append(f"{full}:{i + 1}\n{block}")
        if not matches:
            return f"No matches for {pattern!r}."
        page = matches[offset : offset + GREP_PAGE]
        more = len(matches) - offset - len(page)
        head = f"{len(matches)} matches; showing {offset + 1}-{offset + len(page)}."
        tail = f"\n(More: call again with offset={offset + len(page)}.)" if more > 0 else ""
        return head + "\n\n" + "\n\n".join(page) + tail

    def search(self, query: str, limit: int = 5) -> list[dict[str, Any]]:
        return source_passage_search(self.agent_id, query, embedder_for=embedder_for, limit=limit)
