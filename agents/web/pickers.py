"""The model pickers of the agent forms: what the template needs to draw one,
and reading the choice back (a typed handle wins over the list)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from memory.llm.registry import parse_handle
from memory.services.model_catalog import ModelCatalog

NO_EMBEDDING = gettext_lazy("None: search by words only")


def picker(name: str, value: str, catalog: ModelCatalog) -> dict[str, Any]:
    kind = "embedding" if name == "embedding" else "llm"
    groups = catalog.groups(kind)
    return {
        "name": name,
        "value": value or "",
        "groups": groups,
        "listed": {h for _, handles in groups for h in handles},
        "none_label": NO_EMBEDDING if kind == "embedding" else "",
    }


def picked_handle(data: dict[str, Any], name: str) -> str:
    """The handle chosen for `name`: the typed one if any, else the selected one."""
    handle = (data.get(f"{name}_other") or "").strip() or (data.get(name) or "").strip()
    if handle:
        try:
            parse_handle(handle)
        except ValueError as exc:
            raise forms.ValidationError({name: str(exc)}) from None
    return handle
