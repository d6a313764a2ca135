"""Bring-your-own-key model providers: an organization's own account at
OpenAI, Anthropic, a self-hosted server... Its name is the handle prefix its
agents use ("my-openai/gpt-4o-mini"). Secrets are stored encrypted
(providers/crypto.py), never in the clear."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower

from agents import ids
from agents.models import Organization, User


def provider_id() -> str:
    return ids.make_id("provider")


class Provider(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=provider_id, editable=False)
    # The organization's providers serve all its members' agents; a user without
    # an organization has their own.
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="providers"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=100)
    provider_type = models.CharField(
        max_length=40, help_text="Letta's provider type: openai, anthropic, ..."
    )
    api_key_enc = models.TextField(blank=True, help_text="Encrypted API key (Fernet token).")
    access_key_enc = models.TextField(blank=True, help_text="Encrypted access key (Fernet token).")
    base_url = models.CharField(max_length=2000, blank=True)
    region = models.CharField(max_length=100, blank=True)
    api_version = models.CharField(max_length=100, blank=True)
    # The models the provider offered when last asked (for /v1/models), and when.
    synced_models = models.JSONField(default=list, blank=True)
    last_synced = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Names are handle prefixes, which are read case-insensitively.
            models.UniqueConstraint(
                Lower("name"),
                "organization",
                name="provider_name_unique_per_org",
                condition=models.Q(organization__isnull=False),
            ),
            models.UniqueConstraint(
                Lower("name"),
                "owner",
                name="provider_name_unique_per_owner",
                condition=models.Q(organization__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_type})"
