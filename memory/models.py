"""What an agent remembers (blocks, passages, messages) and what it did (runs, steps)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Func, Value
from pgvector.django import VectorField

from agents import ids
from agents.models import Agent, Organization, User

ACTOR_TYPES = [("user", "user"), ("agent", "agent"), ("system", "system")]


class Block(models.Model):
    """A core-memory block. Standalone so one block can be shared by many agents."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.block_id, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="blocks"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="blocks"
    )
    label = models.CharField(max_length=100)
    value = models.TextField(blank=True)
    limit = models.PositiveIntegerField(
        default=20_000, help_text="Character limit shown to the agent."
    )
    description = models.TextField(blank=True)
    read_only = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    is_template = models.BooleanField(default=False)
    # Optimistic locking: every write bumps it; a write based on a stale version fails.
    version = models.PositiveIntegerField(default=1)
    agents = models.ManyToManyField(Agent, through="AgentBlock", related_name="blocks", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.id})"


class AgentBlock(models.Model):
    """Attachment of a block to an agent; a label appears at most once per agent."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="block_links")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="agent_links")
    label = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "label"], name="agent_block_label_unique"),
            models.UniqueConstraint(fields=["agent", "block"], name="agent_block_unique"),
        ]
        ordering = ["position", "id"]
        verbose_name = "attached block"

    def __str__(self) -> str:
        return f"{self.label} ({self.block_id}) of {self.agent_id}"


class BlockHistory(models.Model):
    """A snapshot of a block after each change: who changed it, and to what.
    Undo restores the previous snapshot."""

    id = models.CharField(
        primary_key=True, max_length=64, default=ids.block_history_id, editable=False
    )
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="history")
    sequence = models.PositiveIntegerField()
    label = models.CharField(max_length=100)
    value = models.TextField(blank=True)
    limit = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    read_only = models.BooleanField(default=False)
    actor_type = models.CharField(max_length=10, choices=ACTOR_TYPES)
    actor_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(
        max_length=200, blank=True, help_text="e.g. the tool that made the edit"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["block", "sequence"], name="block_history_seq_unique")
        ]
        ordering = ["block", "sequence"]
        verbose_name_plural = "block history"

    def __str__(self) -> str:
        return f"{self.label} #{self.sequence} ({self.actor_type})"


class Archive(models.Model):
    """A collection of passages (archival memory). Each agent has a default one;
    archives can be shared between agents."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.archive_id, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="archives"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="archives"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    embedding = models.CharField(max_length=200, blank=True)
    embedding_config = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    agents = models.ManyToManyField(Agent, related_name="archives", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Passage(models.Model):
    """One archival memory. Embeddings are stored at their real dimension
    (`embedding_dim`), not padded: indexes are built per dimension."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.passage_id, editable=False)
    archive = models.ForeignKey(Archive, on_delete=models.CASCADE, related_name="passages")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.TextField()
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    embedding = VectorField(null=True, blank=True)
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    search_vector = SearchVectorField(null=True, editable=False)
    # Passages that are consecutive parts of one whole (the turns of one imported
    # conversation, the parts of one document) share a thread; "" is a passage on
    # its own (a fact the agent saved). memory/store/search.py indexes a threaded
    # passage with its neighbours' words, and an unthreaded one with its own only.
    thread = models.CharField(max_length=200, blank=True, default="", db_default="")
    # Insertion order inside an archive: memory/store/search.py indexes each passage
    # together with its neighbours in this order (the biggest retrieval lever).
    sequence_id = models.BigIntegerField(
        editable=False,
        db_default=Func(
            Value("memory_passage_sequence_id_seq"),
            function="nextval",
            output_field=models.BigIntegerField(),
        ),
    )
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            GinIndex(fields=["search_vector"], name="passage_fts_gin"),
            GinIndex(fields=["tags"], name="passage_tags_gin"),
            models.Index(fields=["archive", "created_at"], name="passage_archive_created"),
            models.Index(fields=["archive", "sequence_id"], name="passage_archive_seq"),
            models.Index(fields=["archive", "thread", "sequence_id"], name="passage_thread_seq"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


MESSAGE_ROLES = [
    ("system", "system"),
    ("user", "user"),
    ("assistant", "assistant"),
    ("tool", "tool"),
]


class Message(models.Model):
    """Recall memory: every message ever exchanged, kept forever. Which of them
    are in the context window is `Agent.message_ids`."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.message_id, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="messages")
    # Monotonic, gap-tolerant order across the whole table, assigned by Postgres.
    sequence_id = models.BigIntegerField(
        unique=True,
        editable=False,
        db_default=Func(
            Value("memory_message_sequence_id_seq"),
            function="nextval",
            output_field=models.BigIntegerField(),
        ),
    )
    role = models.CharField(max_length=12, choices=MESSAGE_ROLES)
    kind = models.CharField(
        max_length=30, help_text="user_message, heartbeat, summary, ... (engine MessageKind)"
    )
    # Typed parts: text, reasoning (+ provider signature), tool_call, tool_return.
    content = models.JSONField(default=list)
    name = models.CharField(max_length=200, blank=True)
    tool_call_id = models.CharField(max_length=200, blank=True, db_index=True)
    model = models.CharField(max_length=200, blank=True)
    run = models.ForeignKey(
        "Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step = models.ForeignKey(
        "Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    otid = models.CharField(max_length=200, blank=True)
    is_err = models.BooleanField(default=False)
    token_count = models.PositiveIntegerField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    search_vector = SearchVectorField(null=True, editable=False)
    # For conversation_search's dense half (memory/store/search.py), at its real size.
    embedding = VectorField(null=True, blank=True, editable=False)
    embedding_dim = models.PositiveIntegerField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=200, blank=True, editable=False, db_default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["sequence_id"]
        indexes = [
            models.Index(fields=["agent", "sequence_id"], name="message_agent_seq"),
            GinIndex(fields=["search_vector"], name="message_fts_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.role}:{self.kind} {self.id}"


RUN_STATUSES = [
    ("created", "created"),
    ("running", "running"),
    ("completed", "completed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
]


class Run(models.Model):
    """One request to an agent (a user turn), with its steps."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.run_id, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=12, choices=RUN_STATUSES, default="created")
    stop_reason = models.CharField(max_length=60, blank=True)
    background = models.BooleanField(default=False)
    request_config = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_input_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    step_count = models.PositiveIntegerField(default=0)
    ttft_ns = models.BigIntegerField(null=True, blank=True)
    total_duration_ns = models.BigIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


STEP_STATUSES = [("pending", "pending"), ("success", "success"), ("failed", "failed")]


class Step(models.Model):
    """One LLM call inside a run: its usage, timings and the exact provider
    request and response."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.step_id, editable=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="steps")
    status = models.CharField(max_length=10, choices=STEP_STATUSES, default="pending")
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=200, blank=True)
    model_handle = models.CharField(max_length=200, blank=True)
    context_window_limit = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_input_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    stop_reason = models.CharField(max_length=60, blank=True)
    error_type = models.CharField(max_length=60, blank=True)
    error_data = models.JSONField(null=True, blank=True)
    request_json = models.JSONField(null=True, blank=True)
    response_json = models.JSONField(null=True, blank=True)
    llm_ns = models.BigIntegerField(null=True, blank=True)
    tool_ns = models.BigIntegerField(null=True, blank=True)
    step_ns = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
