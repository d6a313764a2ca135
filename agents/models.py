"""What an agent is: its configuration, its tools, and who owns it."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from agents import ids

AGENT_TYPES = [
    ("memgpt_agent", "MemGPT (send_message + heartbeats)"),
    ("memgpt_v2_agent", "MemGPT v2 (refreshed memory tools)"),
    ("letta_v1_agent", "Letta v1 (tool calls continue, text ends the turn)"),
    ("react_agent", "ReAct (no memory tools)"),
]


class Organization(models.Model):
    """A team: its members can see each other's agents and shared blocks."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.org_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    id = models.CharField(primary_key=True, max_length=64, default=ids.user_id, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    # A team admin adds people to their team from the ADE (the account page).
    # The server's admins (superusers) are team admins of their own team.
    is_team_admin = models.BooleanField(default=False)

    @property
    def manages_team(self) -> bool:
        return bool(self.organization_id) and (self.is_team_admin or self.is_superuser)


class APIKey(models.Model):
    """A bearer key for the /v1 API. Only a SHA-256 of the secret is stored;
    the secret itself is shown once, when the key is created."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.apikey_id, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a key.")
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class Tool(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=ids.tool_id, editable=False)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tools",
        help_text="Empty for built-in tools, which every organization shares.",
    )
    name = models.CharField(max_length=48)
    description = models.TextField(blank=True)
    tool_type = models.CharField(max_length=40, default="custom")
    source_type = models.CharField(max_length=20, default="python")
    source_code = models.TextField(blank=True)
    json_schema = models.JSONField(default=dict)
    args_json_schema = models.JSONField(null=True, blank=True)
    return_char_limit = models.PositiveIntegerField(default=50_000)
    pip_requirements = models.JSONField(default=list, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    default_requires_approval = models.BooleanField(default=False)
    enable_parallel_execution = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="tool_name_unique_per_org",
                nulls_distinct=False,
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=ids.agent_id, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="agents"
    )
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    agent_type = models.CharField(max_length=40, choices=AGENT_TYPES, default="memgpt_v2_agent")
    system = models.TextField(
        help_text="Raw system prompt template; {CORE_MEMORY} marks where memory goes."
    )
    model = models.CharField(
        max_length=200, blank=True, help_text='Model handle, "provider/model".'
    )
    llm_config = models.JSONField(
        default=dict, blank=True, help_text="temperature, max_tokens, reasoning settings, ..."
    )
    context_window_limit = models.PositiveIntegerField(null=True, blank=True)
    embedding = models.CharField(
        max_length=200, blank=True, help_text="Embedding handle, or empty for full-text only."
    )
    embedding_config = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    tool_rules = models.JSONField(default=list, blank=True)
    tools = models.ManyToManyField(Tool, through="AgentTool", related_name="agents", blank=True)
    # The in-context window: ordered message ids, [0] is the compiled system message.
    message_ids = models.JSONField(default=list, blank=True)
    # Hash of what the compiled system prompt was built from (see engine/context.py).
    system_fingerprint = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    message_buffer_autoclear = models.BooleanField(default=False)
    compaction_settings = models.JSONField(default=dict, blank=True)
    response_format = models.JSONField(null=True, blank=True)
    tool_exec_environment_variables = models.JSONField(default=dict, blank=True)
    last_run_completion = models.DateTimeField(null=True, blank=True)
    last_run_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_stop_reason = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            GinIndex(fields=["tags"], name="agent_tags_gin"),
            models.Index(fields=["owner", "created_at"], name="agent_owner_created"),
        ]

    def __str__(self) -> str:
        return self.name


class AgentTool(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE)
    tool = models.ForeignKey(Tool, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "tool"], name="agent_tool_unique")]
        verbose_name = "attached tool"

    def __str__(self) -> str:
        return f"{self.tool_id} attached to {self.agent_id}"
