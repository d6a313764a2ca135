"""Forms of the ADE's memory panels: chat, blocks, archival and recall."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.web.forms import split_tags


class MessageForm(forms.Form):
    text = forms.CharField(max_length=100_000, strip=True)


class ApprovalForm(forms.Form):
    tool_call_id = forms.CharField(max_length=200)
    approve = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=2000, required=False)


class BlockForm(forms.Form):
    label = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    value = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6}))
    limit = forms.IntegerField(min_value=1, required=False, help_text=_("Characters."))
    read_only = forms.BooleanField(required=False, label=_("Read-only for the agent"))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    @classmethod
    def for_block(cls, block: Any, **kwargs: Any) -> BlockForm:
        return cls(
            initial={
                "label": block.label,
                "description": block.description,
                "value": block.value,
                "limit": block.limit,
                "read_only": block.read_only,
                "version": block.version,
            },
            **kwargs,
        )

    def changes(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        if data.get("limit") is None:
            data.pop("limit", None)
        return data


class PassageForm(forms.Form):
    text = forms.CharField(max_length=200_000, widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(required=False, help_text=_("Comma-separated."))

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])


class ArchivalSearchForm(forms.Form):
    q = forms.CharField(required=False, label=_("Search"))
    tags = forms.CharField(required=False)
    match_all = forms.BooleanField(required=False, label=_("All tags"))
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    page = forms.IntegerField(required=False, min_value=1)

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """Inclusive whole days, as the agent's tool reads its dates."""
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        return (
            datetime.combine(start, time.min, UTC) if start else None,
            datetime.combine(end, time.max, UTC) if end else None,
        )

    @property
    def searching(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("q") or data.get("start") or data.get("end"))


RECALL_ROLES = [
    ("", _("Everyone")),
    ("user", _("User")),
    ("assistant", _("Assistant")),
    ("tool", _("Tool results")),
]


class RecallSearchForm(forms.Form):
    q = forms.CharField(required=False, label=_("Search"))
    role = forms.ChoiceField(choices=RECALL_ROLES, required=False)
