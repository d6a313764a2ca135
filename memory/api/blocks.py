"""/v1 routes for core memory: an agent's blocks by label, attaching shared
blocks, and the /v1/blocks collection itself."""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import Q
from ninja import Query, Router, Schema

from agents.api.routes import agent_for
from agents.api.schemas import AgentOut, BlockOut, agent_out, block_out
from agents.errors import NotFound
from agents.selectors import agents_visible_to
from memory import models as m
from memory.api import schemas as s
from memory.selectors import (
    agent_block_by_label,
    block_get_for_user,
    blocks_visible_to,
    cursor_page,
    list_page,
)
from memory.services.blocks import (
    agent_block_attach,
    agent_block_detach,
    block_delete,
    block_edit,
    block_new,
)

router = Router(tags=["blocks"])


def _block(request, block_id: str) -> m.Block:
    block = block_get_for_user(user=request.auth, block_id=block_id)
    if block is None:
        raise NotFound(f"Block {block_id} not found.")
    return block


def _labelled(agent, label: str) -> m.Block:
    block = agent_block_by_label(agent=agent, label=label)
    if block is None:
        raise NotFound(f"Agent {agent.id} has no block labelled {label!r}.")
    return block


# --- an agent's core memory -------------------------------------------------------------------


@router.get("/agents/{agent_id}/core-memory", response=dict[str, Any], tags=["agents"])
def core_memory(request, agent_id: str):
    agent = agent_for(request, agent_id)
    return agent_out(agent)["memory"]


@router.get("/agents/{agent_id}/core-memory/blocks", response=list[BlockOut], tags=["agents"])
def list_agent_blocks(
    request,
    agent_id: str,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
):
    """The agent's blocks in the order its prompt shows them."""
    blocks = agent_out(agent_for(request, agent_id))["blocks"]
    return list_page(blocks, before=before, after=after, limit=limit)


@router.get(
    "/agents/{agent_id}/core-memory/blocks/{block_label}", response=BlockOut, tags=["agents"]
)
def retrieve_agent_block(request, agent_id: str, block_label: str):
    agent = agent_for(request, agent_id)
    return block_out(_labelled(agent, block_label), block_label)


@router.patch(
    "/agents/{agent_id}/core-memory/blocks/{block_label}", response=BlockOut, tags=["agents"]
)
def modify_agent_block(request, agent_id: str, block_label: str, payload: s.BlockPatch):
    """Edit a block by its label. Every agent sharing it sees the change."""
    agent = agent_for(request, agent_id)
    block = block_edit(
        user=request.auth,
        block=_labelled(agent, block_label),
        reason="edited through the API",
        **payload.model_dump(exclude_unset=True, exclude_none=True),
    )
    return block_out(block)


@router.patch(
    "/agents/{agent_id}/core-memory/blocks/attach/{block_id}", response=AgentOut, tags=["agents"]
)
def attach_block(request, agent_id: str, block_id: str):
    agent = agent_for(request, agent_id)
    agent_block_attach(agent=agent, block=_block(request, block_id))
    return agent_out(agent)


@router.patch(
    "/agents/{agent_id}/core-memory/blocks/detach/{block_id}", response=AgentOut, tags=["agents"]
)
def detach_block(request, agent_id: str, block_id: str):
    agent = agent_for(request, agent_id)
    agent_block_detach(agent=agent, block=_block(request, block_id))
    return agent_out(agent)


# --- shared blocks ----------------------------------------------------------------------------


class BlockFilters(Schema):
    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "asc"
    label: str | None = None
    tags: list[str] | None = None
    match_all_tags: bool = False
    templates_only: bool = False
    label_search: str | None = None
    value_search: str | None = None
    description_search: str | None = None


def _filtered_blocks(request, f: BlockFilters):
    rows = blocks_visible_to(user=request.auth)
    if f.label:
        rows = rows.filter(label=f.label)
    if f.tags:
        rows = (
            rows.filter(tags__contains=f.tags)
            if f.match_all_tags
            else rows.filter(tags__overlap=f.tags)
        )
    if f.templates_only:
        rows = rows.filter(is_template=True)
    for field, text in (
        ("label", f.label_search),
        ("value", f.value_search),
        ("description", f.description_search),
    ):
        if text:
            rows = rows.filter(Q(**{f"{field}__icontains": text}))
    return rows


@router.get("/blocks/", response=list[BlockOut])
def list_blocks(request, filters: Query[BlockFilters]):
    page = cursor_page(
        _filtered_blocks(request, filters),
        before=filters.before,
        after=filters.after,
        limit=filters.limit,
        ascending=filters.order == "asc",
    )
    return [block_out(b) for b in page]


@router.get("/blocks/count", response=int)
def count_blocks(request, filters: Query[BlockFilters]):
    return _filtered_blocks(request, filters).count()


@router.post("/blocks/", response=BlockOut)
def create_block(request, payload: s.BlockIn):
    """A standalone block your team can attach to several agents."""
    fields = payload.model_dump()
    is_template = fields.pop("is_template")
    block = block_new(user=request.auth, **fields)
    if is_template:
        m.Block.objects.filter(pk=block.pk).update(is_template=True)
        block.is_template = True
    return block_out(block)


@router.get("/blocks/{block_id}", response=BlockOut)
def retrieve_block(request, block_id: str):
    return block_out(_block(request, block_id))


@router.patch("/blocks/{block_id}", response=BlockOut)
def modify_block(request, block_id: str, payload: s.BlockPatch):
    block = block_edit(
        user=request.auth,
        block=_block(request, block_id),
        reason="edited through the API",
        **payload.model_dump(exclude_unset=True, exclude_none=True),
    )
    return block_out(block)


@router.delete("/blocks/{block_id}")
def delete_block(request, block_id: str):
    block_delete(block=_block(request, block_id))
    return {"message": f"Block id={block_id} successfully deleted"}


@router.get("/blocks/{block_id}/agents", response=list[AgentOut])
def list_block_agents(
    request,
    block_id: str,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = 50,
    order: Literal["asc", "desc"] = "asc",
):
    """The agents (that you can see) showing this block."""
    block = _block(request, block_id)
    agents = agents_visible_to(user=request.auth).filter(block_links__block=block)
    page = cursor_page(agents, before=before, after=after, limit=limit, ascending=order == "asc")
    return [agent_out(a) for a in page]
