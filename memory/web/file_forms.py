"""Forms of the workspace's Files tab."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class FolderForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Name"))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("How the agent should use these files; it reads this in its prompt."),
    )
