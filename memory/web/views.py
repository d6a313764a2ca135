"""The workspace's memory side: the chat simulator, the context window,
core memory, archival and recall memory, runs and steps.

Each panel is a named partial of its template. A panel view returns the
partial to htmx; without htmx it sends the browser to the workspace with that
panel open (the workspace builds the same context via `panel_context`).
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from agents.access import aagent_or_404, agent_or_404
from agents.errors import Conflict, DomainError
from memory.engine.state import ApprovalDecision
from memory.llm.errors import ProviderError
from memory.services import archival, blocks
from memory.services.background import turn_launch, turn_prepare
from memory.services.runs import run_cancel as cancel
from memory.web import selectors as sel
from memory.web.files import files_context
from memory.web.forms import (
    ApprovalForm,
    ArchivalSearchForm,
    BlockForm,
    MessageForm,
    PassageForm,
    RecallSearchForm,
)

TABS = ("memory", "archival", "recall", "files", "runs")


def panel_context(request, agent, tab: str) -> dict:
    """What the right-hand tab `tab` shows, from the request's query string."""
    if tab == "archival":
        form = ArchivalSearchForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        ctx = {"search_form": form, "passage_form": PassageForm()}
        if data and form.searching:
            start, end = form.bounds()
            ctx["results"], ctx["search_error"] = _searching(
                sel.archival_search,
                agent,
                query=data["q"],
                tags=data["tags"],
                match_all=data["match_all"],
                start=start,
                end=end,
            )
        else:
            ctx["page"] = sel.passages_page(
                agent, page=data.get("page") or 1, tags=data.get("tags")
            )
        return ctx
    if tab == "recall":
        form = RecallSearchForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {"q": "", "role": ""}
        roles = [data["role"]] if data.get("role") else None
        results, error = _searching(sel.recall_search, agent, query=data["q"], roles=roles)
        return {"recall_form": form, "results": results, "search_error": error}
    if tab == "runs":
        return {"runs": sel.runs_for(agent), "chart": sel.usage_chart(agent)}
    if tab == "files":
        return files_context(agent, request.user)
    return {
        "blocks": sel.blocks_for(agent),
        "new_block": BlockForm(prefix="new"),
        "shareable": sel.blocks_attachable(agent, request.user)[:200],
    }


def _searching(search, agent, **query):
    """Run a search; a provider that cannot embed the query is reported, not a crash."""
    try:
        return search(agent, **query), None
    except ProviderError as exc:
        return [], _("The embedding model could not be reached: %(error)s") % {"error": exc.message}


def _panel(request, agent, tab: str, status: int = 200, **extra):
    if not request.htmx:
        return redirect(f"{reverse('agent', args=[agent.id])}?tab={tab}")
    ctx = {"agent": agent, **panel_context(request, agent, tab), **extra}
    return render(request, f"memory/{tab}.html#{tab}-panel", ctx, status=status)


@login_required
def panel(request, agent_id, tab):
    if tab not in TABS:
        raise Http404("No such panel.")
    return _panel(request, agent_or_404(request.user, agent_id), tab)


# --- chat ------------------------------------------------------------------------------------


@login_required
def chat_older(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    before = request.GET.get("before", "")
    chat = sel.chat_history(agent, before=int(before) if before.isdigit() else None)
    return render(request, "memory/chat.html#older", {"agent": agent, "chat": chat})


async def _sent(request, agent, run, template: str, ctx: dict):
    # Under an ASGI server this loop is the one the WebSocket consumers live on;
    # elsewhere (WSGI, the test client) the loop ends with the request.
    loop = asyncio.get_running_loop() if isinstance(request, ASGIRequest) else None
    turn_launch(run, texts=ctx.get("texts", []), approvals=ctx.get("approvals"), server_loop=loop)
    return await sync_to_async(render)(request, template, {"agent": agent, "run": run, **ctx})


async def _refused(request, message: str, target: str):
    response = await sync_to_async(render)(
        request, "memory/chat.html#refused", {"message": message}, status=422
    )
    return reswap(retarget(response, target), "innerHTML")


@login_required
@require_POST
async def message_send(request, agent_id):
    """Start a turn; answer at once with the user's message. The agent's reply
    streams over the WebSocket."""
    user = await request.auser()
    agent = await aagent_or_404(user, agent_id)
    form = MessageForm(request.POST)
    text = form.cleaned_data["text"] if form.is_valid() else ""
    try:
        run = await sync_to_async(turn_prepare)(agent=agent, user=user, text=text)
    except DomainError as exc:
        return await _refused(request, exc.message, "#composer-error")
    response = await _sent(
        request, agent, run, "memory/chat.html#sent", {"texts": [text], "text": text}
    )
    return response if request.htmx else redirect("agent", agent.id)


@login_required
@require_POST
async def approval_send(request, agent_id):
    """Approve or deny a tool call that waits for a person, and resume the turn."""
    user = await request.auser()
    agent = await aagent_or_404(user, agent_id)
    form = ApprovalForm(request.POST)
    if not form.is_valid():
        return await _refused(
            request, _("Say which tool call you are answering."), "#composer-error"
        )
    data = form.cleaned_data
    run = await sync_to_async(turn_prepare)(agent=agent, user=user, approval=True)
    decision = ApprovalDecision(
        tool_call_id=data["tool_call_id"], approve=data["approve"], reason=data["reason"]
    )
    return await _sent(
        request,
        agent,
        run,
        "memory/chat.html#approval-sent",
        {"approvals": [decision], "approve": data["approve"]},
    )


@login_required
@require_POST
def run_cancel(request, agent_id, run_id):
    agent = agent_or_404(request.user, agent_id)
    run = sel.run_for(agent, run_id)
    if run is None:
        raise Http404("No such run.")
    try:
        cancel(run=run)
    except Conflict:
        return render(request, "memory/chat.html#run-status", {"agent": agent, "run": None})
    return render(
        request, "memory/chat.html#run-status", {"agent": agent, "run": run, "stopping": True}
    )


# --- context window --------------------------------------------------------------------------


@login_required
def context_panel(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    return render(
        request,
        "memory/context.html#context-panel",
        {"agent": agent, "context": sel.context_view(agent)},
    )


@login_required
def context_section(request, agent_id, section):
    agent = agent_or_404(request.user, agent_id)
    data = sel.context_section(agent, section)
    if data is None:
        raise Http404("No such section.")
    return render(request, "memory/context.html#section", {"agent": agent, "section": data})


# --- core memory -----------------------------------------------------------------------------


def _block(request, agent_id, block_id):
    agent = agent_or_404(request.user, agent_id)
    block = sel.block_for(agent, block_id)
    if block is None:
        raise Http404("No such block on this agent.")
    return agent, block


def _card(request, agent, block, status: int = 200, **extra):
    if not request.htmx:
        return redirect("agent", agent.id)
    sel.with_sharing([block], agent)
    return render(
        request,
        "memory/memory.html#block",
        {"agent": agent, "block": block, **extra},
        status=status,
    )


@login_required
@require_POST
def block_new(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = BlockForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            blocks.block_add(agent=agent, user=request.user, **form.changes())
        except DomainError as exc:
            form.add_error(None, exc.message)
    if form.errors:
        return _panel(request, agent, "memory", status=422, new_block=form, adding=True)
    return _panel(request, agent, "memory")


@login_required
def block_edit(request, agent_id, block_id):
    """GET: the edit form. POST: save it, unless the block changed since the
    form was opened (then the form comes back with the current text)."""
    agent, block = _block(request, agent_id, block_id)
    if request.method != "POST":
        return render(
            request,
            "memory/memory.html#block-form",
            {"agent": agent, "block": block, "form": BlockForm.for_block(block)},
        )
    form = BlockForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            block = blocks.block_edit(
                block=block,
                user=request.user,
                reason="edited in the ADE",
                expected_version=form.cleaned_data["version"],
                **form.changes(),
            )
            return _card(request, agent, block)
        except DomainError as exc:
            status = 409 if isinstance(exc, Conflict) else 422
            block.refresh_from_db()
            if status == 409:
                # Keep the person's text, based on the version they have now seen.
                form = BlockForm({**request.POST.dict(), "version": block.version})
                form.is_valid()
            form.add_error(None, exc.message)
    ctx = {
        "agent": agent,
        "block": block,
        "form": form,
        "current": block if status == 409 else None,
    }
    response = render(request, "memory/memory.html#block-form", ctx, status=status)
    return reswap(retarget(response, f"#block-{block.id}-slot"), "innerHTML")


@login_required
def block_card(request, agent_id, block_id):
    agent, block = _block(request, agent_id, block_id)
    return _card(request, agent, block)


@login_required
def block_history(request, agent_id, block_id):
    agent, block = _block(request, agent_id, block_id)
    return render(
        request,
        "memory/memory.html#block-history",
        {"agent": agent, "block": block, "history": sel.block_history(block)},
    )


@login_required
@require_POST
def block_undo(request, agent_id, block_id):
    agent, block = _block(request, agent_id, block_id)
    sequence = request.POST.get("sequence", "")
    try:
        block = blocks.block_revert(
            block=block, user=request.user, sequence=int(sequence) if sequence.isdigit() else None
        )
    except DomainError as exc:
        return _card(request, agent, block, status=409, error=exc.message)
    return _card(request, agent, block)


@login_required
@require_POST
def block_share(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    block = (
        sel.blocks_attachable(agent, request.user)
        .filter(pk=request.POST.get("block_id", ""))
        .first()
    )
    if block is None:
        raise Http404("No such block to share.")
    blocks.agent_block_attach(agent=agent, block=block)
    return _panel(request, agent, "memory")


@login_required
@require_POST
def block_remove(request, agent_id, block_id):
    agent, block = _block(request, agent_id, block_id)
    try:
        blocks.block_remove(agent=agent, block=block, delete=request.POST.get("delete") == "1")
    except DomainError as exc:
        return _panel(request, agent, "memory", status=409, error=exc.message)
    return _panel(request, agent, "memory")


# --- archival memory -------------------------------------------------------------------------


@login_required
@require_POST
def passage_new(request, agent_id):
    agent = agent_or_404(request.user, agent_id)
    form = PassageForm(request.POST)
    if form.is_valid():
        try:
            archival.passage_insert(
                agent=agent, text=form.cleaned_data["text"], tags=form.cleaned_data["tags"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
    if form.errors:
        return _panel(request, agent, "archival", status=422, passage_form=form)
    return _panel(request, agent, "archival", inserted=True)


@login_required
@require_POST
def passage_delete(request, agent_id, passage_id):
    agent = agent_or_404(request.user, agent_id)
    passage = sel.passage_for(agent, passage_id)
    if passage is None:
        raise Http404("No such archival memory.")
    archival.passage_delete(agent=agent, passage_id=passage.id)
    if not request.htmx:
        return redirect(f"{reverse('agent', args=[agent.id])}?tab=archival")
    return HttpResponse("")


# --- runs and steps --------------------------------------------------------------------------


@login_required
def run_steps(request, agent_id, run_id):
    agent = agent_or_404(request.user, agent_id)
    run = sel.run_for(agent, run_id)
    if run is None:
        raise Http404("No such run.")
    return render(
        request,
        "memory/runs.html#run-steps",
        {"agent": agent, "run": run, "steps": sel.run_steps(run)},
    )


@login_required
def step_raw(request, agent_id, step_id):
    agent = agent_or_404(request.user, agent_id)
    step = sel.step_for(agent, step_id)
    if step is None:
        raise Http404("No such step.")
    ctx = {
        "agent": agent,
        "step": step,
        "request_json": sel.pretty(step.request_json),
        "response_json": sel.pretty(step.response_json),
        "error_json": sel.pretty(step.error_data),
    }
    return render(request, "memory/runs.html#step-raw", ctx)
