"""Letta-style row ids: "<prefix>-<uuid4>", so Letta clients accept ours.

Module-level functions (not lambdas) because migrations must reference defaults
by import path.
"""

import re
import uuid

ID_PATTERN = re.compile(
    r"^(?P<prefix>[a-z_]+)-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)

DEFAULT_ORG_ID = "org-00000000-0000-4000-8000-000000000000"


def make_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def is_id(value: str, prefix: str) -> bool:
    match = ID_PATTERN.match(value or "")
    return bool(match and match.group("prefix") == prefix)


def org_id() -> str:
    return make_id("org")


def user_id() -> str:
    return make_id("user")


def agent_id() -> str:
    return make_id("agent")


def tool_id() -> str:
    return make_id("tool")


def apikey_id() -> str:
    return make_id("apikey")


def block_id() -> str:
    return make_id("block")


def block_history_id() -> str:
    return make_id("block_hist")


def archive_id() -> str:
    return make_id("archive")


def passage_id() -> str:
    return make_id("passage")


def message_id() -> str:
    return make_id("message")


def run_id() -> str:
    return make_id("run")


def step_id() -> str:
    return make_id("step")
