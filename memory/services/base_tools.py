"""The built-in tools' rows: kept in step with the catalog in code (memory/tools/catalog.py)."""

from __future__ import annotations

from django.db import transaction

from agents.models import Tool
from memory.tools.catalog import BASE_TOOLS


@transaction.atomic
def base_tools_sync() -> list[Tool]:
    """Upsert the built-in tools (shared by every organization) from the catalog,
    so their schemas follow the code after an upgrade."""
    tools = []
    for name, base in BASE_TOOLS.items():
        tool, _ = Tool.objects.update_or_create(
            organization=None,
            name=name,
            defaults={
                "description": base.schema.get("description", ""),
                "tool_type": base.tool_type,
                "source_type": "python",
                "json_schema": base.schema,
                "return_char_limit": 50_000,
            },
        )
        tools.append(tool)
    return tools


def base_tools_ensure() -> None:
    """Built-in tools exist before anything refers to them by name (a fresh
    database has none until the first agent with base tools is created)."""
    if not Tool.objects.filter(organization__isnull=True).exists():
        base_tools_sync()
