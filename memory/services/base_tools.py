"""Writes for tools and archival memory that are not part of a turn."""

from __future__ import annotations

from django.db import transaction

from agents.models import Tool


@transaction.atomic
def base_tools_sync() -> list[Tool]:
    """Upsert the built-in tools (shared by every organization) from the catalog,
    so their schemas follow the code after an upgrade."""
    from memory.tools.catalog import BASE_TOOLS

    tools = []
    for name, base in BASE_TOOLS.items():
        tool, _ = Tool.objects.update_or_create(
            organization=None, name=name,
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
