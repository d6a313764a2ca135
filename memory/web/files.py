"""The workspace's Files tab: the folders attached to an agent, uploads whose
processing shows live, and the agent's view of each file (open or closed).

Every answer is a named partial of templates/memory/files.html, the template
the tab, these views and the WebSocket redraws (memory/web/live.py) share. The
agent comes through agent_or_404, folders and files only from among those
attached to it (anyone else gets a 404); writes go through memory.services.files.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from agents.access import agent_or_404
from agents.errors import DomainError
from memory.files.parsing import KINDS
from memory.files.selectors import (
    agent_file_for,
    agent_file_view,
    agent_folder_for,
    agent_folders,
    folder_files,
    folders_attachable,
)
from memory.services import files as services
from memory.web.file_forms import FolderForm

TEMPLATE = "memory/files.html"
ACCEPT = ",".join(sorted(KINDS))


def files_context(agent, user, **extra) -> dict:
    """What the Files tab shows (also used by the workspace page)."""
    return {
        "agent": agent,
        "folders": agent_folders(agent=agent),
        "attachable": folders_attachable(agent=agent, user=user),
        "folder_form": FolderForm(),
        "accept": ACCEPT,
        **extra,
    }


def _back(agent):
    return redirect(f"{reverse('agent', args=[agent.id])}?tab=files")


def _panel(request, agent, status: int = 200, **extra):
    if not request.htmx and status == 200:
        return _back(agent)
    return render(
        request,
        f"{TEMPLATE}#files-panel",
        files_context(agent, request.user, **extra),
        status=status,
    )


def _folder(request, agent_id, folder_id):
    agent = agent_or_404(request.user, agent_id)
    source = agent_folder_for(agent=agent, source_id=folder_id)
    if source is None:
        raise Http404("No such folder on this agent.")
    return agent, source


def _file(request, agent_id, file_id):
    agent = agent_or_404(request.user, agent_id)
    file = agent_file_for(agent=agent, file_id=file_id)
    if file is None:
        raise Http404("No such file on this agent.")
    return agent, file


def _row(request, agent, file_id, status: int = 200, **extra):
    if not request.htmx and status == 200:
        return _back(agent)
    file = agent_file_view(agent=agent, file_id=file_id)
    if file is None:
        return HttpResponse("")
    return render(
        request, f"{TEMPLATE}#file-row", {"agent": agent, "f": file, **extra}, status=status
    )


# --- folders -----------------------------------------------------------------------------------


@login_required
@require_POST
def folder_new(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = FolderForm(request.POST)
    if form.is_valid():
        try:
            services.source_create_for_agent(owner=request.user, agent=agent, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
    if form.errors:
        return _panel(request, agent, status=422, folder_form=form)
    return _panel(request, agent)


@login_required
@require_POST
def folder_attach(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    source = (
        folders_attachable(agent=agent, user=request.user)
        .filter(pk=request.POST.get("folder_id", ""))
        .first()
    )
    if source is None:
        raise Http404("No such folder to attach.")
    services.source_attach(source=source, agent=agent)
    return _panel(request, agent)


@login_required
@require_POST
def folder_detach(request, agent_id, folder_id):
    agent, source = _folder(request, agent_id, folder_id)
    services.source_detach(source=source, agent=agent)
    return _panel(request, agent)


@login_required
@require_POST
def upload(request, agent_id, folder_id):
    """Store the files and queue their processing; the answer lists the folder's
    files at once, and their progress arrives over the agent's WebSocket."""
    agent, source = _folder(request, agent_id, folder_id)
    uploads = request.FILES.getlist("files")
    accepted, refused = services.files_upload(source=source, uploads=uploads)
    if not uploads:
        refused = [_("Choose one or more files to upload.")]
    if not request.htmx and not refused:
        return _back(agent)
    ctx = {
        "agent": agent,
        "folder": {"source": source, "files": folder_files(agent=agent, source=source)},
        "accepted": accepted,
        "refused": refused,
    }
    return render(
        request, f"{TEMPLATE}#upload-response", ctx, status=422 if refused and not accepted else 200
    )


# --- files -------------------------------------------------------------------------------------


@login_required
@require_GET
def file_row(request, agent_id, file_id):
    """One file's row: the fallback for progress missed on the WebSocket."""
    agent, file = _file(request, agent_id, file_id)
    return _row(request, agent, file.id)


@login_required
@require_POST
def file_open(request, agent_id, file_id):
    agent, file = _file(request, agent_id, file_id)
    try:
        services.agent_file_open(agent=agent, file=file)
    except DomainError as exc:
        return _row(request, agent, file.id, status=422, row_error=exc.message)
    return _row(request, agent, file.id)


@login_required
@require_POST
def file_close(request, agent_id, file_id):
    agent, file = _file(request, agent_id, file_id)
    services.agent_file_close(agent=agent, file=file)
    return _row(request, agent, file.id)


@login_required
@require_POST
def file_delete(request, agent_id, file_id):
    agent, file = _file(request, agent_id, file_id)
    services.file_delete(file=file)
    if not request.htmx:
        return _back(agent)
    return HttpResponse("")
