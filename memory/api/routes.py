"""The memory app's /v1 routes, one sub-router per area (messages and turns,
core-memory blocks, archival memory, runs and steps, search across agents)."""

from ninja import Router

from memory.api.archival import router as archival_router
from memory.api.blocks import router as blocks_router
from memory.api.messages import router as messages_router
from memory.api.runs import router as runs_router
from memory.api.search import router as search_router

router = Router()
router.add_router("/", messages_router)
router.add_router("/", blocks_router)
router.add_router("/", archival_router)
router.add_router("/", runs_router)
router.add_router("/", search_router)
