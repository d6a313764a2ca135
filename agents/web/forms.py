"""Forms of the ADE's agent pages: create, settings, tools."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.models import AGENT_TYPES
from agents.services.lifecycle import NAME_PATTERN_HELP
from agents.web.pickers import picked_handle

NAME_RE = re.compile(r"[\w\s'\-]+")
DEFAULT_PERSONA = (
    "I am Sam, a thoughtful assistant. I remember what matters to the people I talk with "
    "and keep my notes about them up to date."
)
DEFAULT_HUMAN = "Name: unknown"
PERSONA_HELP = "The persona block: who the agent is, its voice and how it behaves."
HUMAN_HELP = "The human block: key facts about the person the agent talks with."


def split_tags(text: str) -> list[str]:
    return sorted({t.strip() for t in (text or "").split(",") if t.strip()})


def clean_agent_name(name: str) -> str:
    name = (name or "").strip()
    if name and (len(name) > 200 or not NAME_RE.fullmatch(name)):
        raise forms.ValidationError(_("Use only %(allowed)s.") % {"allowed": NAME_PATTERN_HELP})
    return name


class AgentCreateForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text=_("Leave empty for a generated name.")
    )
    # Letta v1 (the API's default too): a plain answer ends the turn, so models
    # that are shaky at tool calling (small local ones) still answer.
    agent_type = forms.ChoiceField(choices=AGENT_TYPES, initial="letta_v1_agent")
    # Drawn as pickers (agents/web/pickers.py): a list of the configured
    # providers' models plus a box for any handle ("<name>_other").
    model = forms.CharField(
        max_length=200,
        required=False,
        help_text=_("The model that answers. Pick one, or type any handle as provider/model."),
    )
    embedding = forms.CharField(
        max_length=200,
        required=False,
        help_text=_(
            "Lets archival and recall search match by meaning; without one they match by words."
        ),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    persona = forms.CharField(
        required=False, initial=DEFAULT_PERSONA, widget=forms.Textarea(attrs={"rows": 3})
    )
    human = forms.CharField(
        required=False, initial=DEFAULT_HUMAN, widget=forms.Textarea(attrs={"rows": 2})
    )
    tools = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Extra tools; the agent type's defaults are always added."),
    )
    tags = forms.CharField(required=False, help_text=_("Comma-separated."))

    def __init__(self, *args: Any, tool_names: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tools"].choices = [(n, n) for n in tool_names or []]

    def clean_name(self) -> str:
        return clean_agent_name(self.cleaned_data["name"])

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("model", "embedding"):
            data[name] = picked_handle(self.data, name)
        return data

    def blocks(self) -> list[dict[str, Any]]:
        data = self.cleaned_data
        return [
            {"label": "persona", "value": data["persona"], "description": PERSONA_HELP},
            {"label": "human", "value": data["human"], "description": HUMAN_HELP},
        ]


class AgentSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    system = forms.CharField(
        required=False,
        label=_("System prompt"),
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        help_text=_("{CORE_MEMORY} marks where memory goes; without it memory follows the text."),
    )
    model = forms.CharField(max_length=200, required=False)
    temperature = forms.FloatField(required=False, min_value=0, max_value=2)
    max_tokens = forms.IntegerField(required=False, min_value=1, label=_("Max output tokens"))
    enable_reasoner = forms.BooleanField(
        required=False, label=_("Reasoning (models that support it)")
    )
    context_window_limit = forms.IntegerField(
        required=False,
        min_value=256,
        label=_("Context window limit"),
        help_text=_("Cap the model's window (tokens); empty: the model's own."),
    )
    embedding = forms.CharField(
        max_length=200,
        required=False,
        help_text=_(
            "Changing it re-embeds archival memory in the background; "
            "search keeps working meanwhile."
        ),
    )
    tags = forms.CharField(required=False, help_text=_("Comma-separated."))

    @classmethod
    def for_agent(cls, agent: Any) -> AgentSettingsForm:
        config = agent.llm_config or {}
        return cls(
            initial={
                "name": agent.name,
                "description": agent.description,
                "system": agent.system,
                "model": agent.model,
                "temperature": config.get("temperature"),
                "max_tokens": config.get("max_tokens"),
                "enable_reasoner": config.get("enable_reasoner", False),
                "context_window_limit": agent.context_window_limit,
                "embedding": agent.embedding,
                "tags": ", ".join(agent.tags or []),
            }
        )

    def clean_name(self) -> str:
        name = clean_agent_name(self.cleaned_data["name"])
        if not name:
            raise forms.ValidationError(_("An agent needs a name."))
        return name

    def clean_tags(self) -> list[str]:
        return split_tags(self.cleaned_data["tags"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("model", "embedding"):
            data[name] = picked_handle(self.data, name)
        return data


class ToolRulesForm(forms.Form):
    rules = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=_(
            'Letta\'s JSON shape, e.g. [{"type": "exit_loop", "tool_name": "send_message"}].'
        ),
    )

    def clean_rules(self) -> list[dict[str, Any]]:
        text = self.cleaned_data["rules"].strip() or "[]"
        try:
            rules = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(rules, list):
            raise forms.ValidationError(_("Tool rules are a JSON list of rule objects."))
        return rules


EXAMPLE_TOOL = '''def roll_dice(sides: int = 6) -> str:
    """Roll a die and say what came up.

    Args:
        sides: How many sides the die has.
    """
    import random

    return f"You rolled a {random.randint(1, sides)}."
'''


class ToolSourceForm(forms.Form):
    source = forms.CharField(
        initial=EXAMPLE_TOOL,
        widget=forms.Textarea(
            attrs={"rows": 14, "spellcheck": "false", "class": "code", "wrap": "off"}
        ),
    )
    arguments = forms.CharField(
        required=False,
        initial="{}",
        label=_("Test arguments (JSON)"),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
    )

    def clean_arguments(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("arguments") or "").strip() or "{}"
        try:
            args = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(args, dict):
            raise forms.ValidationError(_('Arguments are a JSON object, e.g. {"sides": 20}.'))
        return args
