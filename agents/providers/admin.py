from django import forms
from django.contrib import admin

from agents.errors import DomainError
from agents.providers import crypto
from agents.providers.models import Provider
from agents.providers.services import endpoint_check


class ProviderForm(forms.ModelForm):
    """The key is write-only here too: typed in, stored encrypted, never shown."""

    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Leave empty to keep the stored key."
    )

    class Meta:
        model = Provider
        fields = [
            "organization",
            "owner",
            "name",
            "provider_type",
            "base_url",
            "region",
            "api_version",
        ]

    def clean_base_url(self):
        url = self.cleaned_data.get("base_url") or ""
        if not url:
            return ""
        try:
            return endpoint_check(url)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def save(self, commit=True):
        if self.cleaned_data.get("api_key"):
            self.instance.api_key_enc = crypto.encrypt(self.cleaned_data["api_key"])
        return super().save(commit)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = [
        "name",
        "provider_type",
        "organization",
        "base_url",
        "key_stored",
        "last_synced",
    ]
    list_filter = ["provider_type"]
    search_fields = ["name", "organization__name"]

    @admin.display(boolean=True, description="key stored")
    def key_stored(self, obj):
        return bool(obj.api_key_enc)
