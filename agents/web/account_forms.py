"""Forms of the account, team and providers pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from agents.providers.kinds import KINDS

# The kinds a person is most likely to want first, then the rest alphabetically.
FIRST_KINDS = ["openai", "anthropic", "google_ai", "ollama", "openrouter"]


class PasswordForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        required=False,
        label=_("Name"),
        help_text=_("What uses it, e.g. 'notebook' or 'CI'."),
    )


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label=_("Username"))
    password = forms.CharField(
        widget=forms.PasswordInput,
        label=_("Password"),
        help_text=_("Tell them; they can change it on their account page."),
    )
    team_admin = forms.BooleanField(required=False, label=_("Team admin (may add people)"))


class ProviderForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label=_("Name"),
        help_text=_(
            "The first part of your model handles, e.g. 'my-openai' for my-openai/gpt-4o-mini."
        ),
    )
    provider_type = forms.ChoiceField(label=_("Type"))
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label=_("API key"),
        help_text=_("Stored encrypted; never shown again."),
    )
    base_url = forms.CharField(
        required=False,
        label=_("Base URL"),
        help_text=_("Only for self-hosted servers (Ollama, vLLM, LM Studio) or a proxy."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = FIRST_KINDS + sorted(k for k in KINDS if k not in FIRST_KINDS)
        self.fields["provider_type"].choices = [(k, k) for k in kinds if k in KINDS]
