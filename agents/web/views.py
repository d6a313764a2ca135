"""The ADE's agent pages: the list, creating and importing agents, the
workspace, and an agent's settings and tools panels.

Every page is a full page; with htmx the same template's named partial is
returned instead. Writes go through services, reads through selectors.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from agents.access import aagent_or_404, agent_or_404
from agents.errors import DomainError
from agents.selectors import tools_visible_to
from agents.services import agentfile, agentfile_export, agentfile_import, lifecycle, tools
from agents.services.lifecycle import agent_create
from agents.web.forms import AgentCreateForm, AgentSettingsForm, ToolRulesForm, ToolSourceForm
from agents.web.pickers import picker
from memory.services.model_catalog import model_catalog
from memory.services.reembed import reembed_latest
from memory.tools.base import schema_from_source
from memory.tools.catalog import BASE_TOOLS
from memory.web import selectors as sel
from memory.web.views import TABS, panel_context

TAB_LABELS = [
    ("memory", gettext_lazy("Core memory")),
    ("archival", gettext_lazy("Archival")),
    ("recall", gettext_lazy("Recall")),
    ("files", gettext_lazy("Files")),
    ("runs", gettext_lazy("Runs")),
]


@login_required
def home(request):
    query, tag = request.GET.get("q", "").strip(), request.GET.get("tag", "").strip()
    ctx = {
        "agents": sel.agent_rows(request.user, query=query, tag=tag),
        "q": query,
        "tag": tag,
        "tags": sel.tags_in_use(request.user),
        "catalog": model_catalog(request.user, list_models=False),
    }
    return render(
        request, "agents/home.html#agent-rows" if request.htmx else "agents/home.html", ctx
    )


@login_required
def agent_new(request):
    team = (
        tools_visible_to(user=request.user)
        .filter(organization__isnull=False)
        .values_list("name", flat=True)
    )
    names = sorted(set(BASE_TOOLS) | set(team))
    form = AgentCreateForm(request.POST or None, tool_names=names)
    catalog = model_catalog(request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agent = agent_create(
                owner=request.user,
                name=data["name"],
                agent_type=data["agent_type"],
                model=data["model"],
                embedding=data["embedding"],
                description=data["description"],
                memory_blocks=form.blocks(),
                tools=data["tools"],
                tags=data["tags"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("agent", agent.id)
    if form.is_bound:
        chosen = {
            n: (request.POST.get(f"{n}_other") or request.POST.get(n, "")).strip()
            for n in ("model", "embedding")
        }
    else:
        chosen = {"model": catalog.default_llm, "embedding": catalog.default_embedding}
    ctx = {"form": form, "catalog": catalog, **pickers(catalog, **chosen)}
    return render(request, "agents/new.html", ctx, status=422 if form.errors else 200)


def pickers(catalog, *, model: str, embedding: str) -> dict:
    return {
        "model_picker": picker("model", model, catalog),
        "embedding_picker": picker("embedding", embedding, catalog),
    }


@login_required
@require_POST
def agent_import(request):
    upload = request.FILES.get("file")
    try:
        data = json.loads(upload.read().decode("utf-8")) if upload else None
        agent = agentfile_import.agent_import(user=request.user, document=data).agents[0]
    except (ValueError, UnicodeDecodeError):
        messages.error(request, _("That file is not an Agent File (.af JSON)."))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Imported %(name)s.") % {"name": agent.name})
        return redirect("agent", agent.id)
    return redirect("home")


@login_required
def agent_export(request, agent_id):
    """The Agent File download. The export dialog sends the parts ticked
    (`part`, with `chosen` so that none ticked means none); a plain link gets
    every part."""
    agent = agent_or_404(request.user, agent_id)
    if request.GET.get("chosen"):
        parts = frozenset(request.GET.getlist("part")) & agentfile_export.DEFAULT_PARTS
    else:
        parts = agentfile_export.DEFAULT_PARTS
    document = agentfile_export.agent_export(agent=agent, parts=parts)
    response = JsonResponse(document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{slugify(agent.name) or agent.id}.af"'
    return response


@login_required
@require_POST
def agent_duplicate(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    copy = agentfile.agent_duplicate(agent=agent, user=request.user)
    messages.success(
        request,
        _("Created %(copy)s, a copy of %(name)s.") % {"copy": copy.name, "name": agent.name},
    )
    return redirect("agent", copy.id)


@login_required
@require_POST
def agent_delete(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    name = agent.name
    lifecycle.agent_delete(agent=agent)
    messages.success(request, _("Deleted %(name)s.") % {"name": name})
    return redirect("home")


@login_required
def workspace(request, agent_id):
    """The three-panel workspace: settings and tools, the chat, the context
    window with memory panels."""
    agent = agent_or_404(request.user, agent_id)
    tab = request.GET.get("tab", "memory")
    tab = tab if tab in TABS else "memory"
    ctx = {
        "agent": agent,
        "tab": tab,
        "tabs": TAB_LABELS,
        "tab_template": f"memory/{tab}.html#{tab}-panel",
        "form": AgentSettingsForm.for_agent(agent),
        **pickers(model_catalog(request.user), model=agent.model, embedding=agent.embedding),
        "reembed_job": reembed_latest(agent),
        "chat": sel.chat_history(agent),
        "run": sel.active_run(agent),
        "context": sel.context_view(agent),
        **tools_context(agent, request.user),
        **panel_context(request, agent, tab),
    }
    return render(request, "agents/workspace.html", ctx)


@login_required
@require_POST
def agent_settings(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = AgentSettingsForm(request.POST)
    if form.is_valid():
        try:
            lifecycle.agent_settings_update(agent=agent, user=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
    if not request.htmx and not form.errors:
        return redirect("agent", agent.id)
    agent.refresh_from_db()
    ctx = {
        "agent": agent,
        "form": form,
        "saved": not form.errors,
        "reembed_job": reembed_latest(agent),
        **pickers(model_catalog(request.user), model=agent.model, embedding=agent.embedding),
    }
    return render(
        request, "agents/settings.html#settings-response", ctx, status=422 if form.errors else 200
    )


# --- tools ---------------------------------------------------------------------------------


def tools_context(agent, user, **extra):
    return {
        "agent": agent,
        "attached": agent.tools.order_by("name"),
        "attachable": sel.tools_attachable(agent, user),
        "rules_form": ToolRulesForm(
            initial={"rules": json.dumps(agent.tool_rules or [], indent=2)}
        ),
        "editor": ToolSourceForm(),
        **extra,
    }


def _tools_panel(request, agent, status=200, **extra):
    if not request.htmx and status == 200:
        return redirect("agent", agent.id)
    return render(
        request,
        "agents/tools.html#tools-panel",
        tools_context(agent, request.user, **extra),
        status=status,
    )


@login_required
@require_POST
def tool_attach(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    tool = (
        sel.tools_attachable(agent, request.user).filter(pk=request.POST.get("tool_id", "")).first()
    )
    if tool is None:
        raise Http404("No such tool.")
    tools.agent_tool_attach(agent=agent, tool=tool)
    return _tools_panel(request, agent)


@login_required
@require_POST
def tool_detach(request, agent_id, tool_id):
    agent = agent_or_404(request.user, agent_id)
    tool = agent.tools.filter(pk=tool_id).first()
    if tool is None:
        raise Http404("No such tool on this agent.")
    tools.agent_tool_detach(agent=agent, tool=tool)
    return _tools_panel(request, agent)


@login_required
@require_POST
def tool_rules(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = ToolRulesForm(request.POST)
    if form.is_valid():
        try:
            lifecycle.agent_update(
                agent=agent, user=request.user, tool_rules=form.cleaned_data["rules"]
            )
        except DomainError as exc:
            form.add_error("rules", exc.message)
    if form.errors:
        return _tools_panel(request, agent, status=422, rules_form=form)
    return _tools_panel(request, agent, rules_saved=True)


@login_required
def tool_editor(request, agent_id):
    """The editor, empty (with an example) or loaded with a team tool's source."""
    agent = agent_or_404(request.user, agent_id)
    form = ToolSourceForm()
    tool = (
        sel.tool_editable(request.user, request.GET.get("tool", ""))
        if request.GET.get("tool")
        else None
    )
    if tool is not None:
        form = ToolSourceForm(initial={"source": tool.source_code, "arguments": "{}"})
    return render(
        request, "agents/tools.html#tool-editor", {"agent": agent, "editor": form, "tool": tool}
    )


@login_required
@require_POST
def tool_preview(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    try:
        schema, error = schema_from_source(request.POST.get("source", "")), None
    except ValueError as exc:
        schema, error = None, str(exc)
    ctx = {"agent": agent, "schema": sel.pretty(schema) if schema else "", "error": error}
    return render(request, "agents/tools.html#schema-preview", ctx)


@login_required
@require_POST
async def tool_run(request, agent_id):
    """Run the source in the sandbox with the test arguments, off the event
    loop and off Django's shared sync thread (a tool may take a while)."""
    agent = await aagent_or_404(await request.auser(), agent_id)
    form = ToolSourceForm(request.POST)
    ctx = {"agent": agent, "form": form}
    if form.is_valid():
        try:
            ctx["result"] = await sync_to_async(tools.tool_test_run, thread_sensitive=False)(
                agent=agent, source=form.cleaned_data["source"], args=form.cleaned_data["arguments"]
            )
        except DomainError as exc:
            ctx["error"] = exc.message
    return await sync_to_async(render)(request, "agents/tools.html#tool-run-result", ctx)


@login_required
@require_POST
def tool_save(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = ToolSourceForm(request.POST)
    if not form.is_valid():
        return _tools_panel(request, agent, status=422, editor=form)
    try:
        tool = tools.tool_save(
            user=request.user, source=form.cleaned_data["source"], attach_to=agent
        )
    except DomainError as exc:
        form.add_error("source", exc.message)
        return _tools_panel(request, agent, status=422, editor=form)
    return _tools_panel(request, agent, tool_saved=tool)
