"""Folders (Letta's "sources") of uploaded files, their text and searchable
chunks, each agent's view of them, and the background jobs that process them
(and re-embed archives: memory/services/reembed.py)."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import VectorField

from agents import ids
from agents.models import Agent, Organization, User


def source_id() -> str:
    return ids.make_id("source")


def file_id() -> str:
    return ids.make_id("file")


def job_id() -> str:
    return ids.make_id("job")


class Source(models.Model):
    """A folder of files. Attached to an agent, its files become the agent's to
    open, grep and search."""

    id = models.CharField(primary_key=True, max_length=64, default=source_id, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="sources"
    )
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="sources"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True, help_text="How the agent should use these files.")
    embedding = models.CharField(
        max_length=200, blank=True, help_text="Embedding handle, or empty for full-text only."
    )
    chunk_size = models.PositiveIntegerField(default=300, help_text="Target chunk size in tokens.")
    metadata = models.JSONField(default=dict, blank=True)
    agents = models.ManyToManyField(Agent, related_name="sources", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="source_name_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


FILE_STATUSES = [
    ("pending", "pending"),
    ("parsing", "parsing"),
    ("embedding", "embedding"),
    ("completed", "completed"),
    ("error", "error"),
]


class SourceFile(models.Model):
    """An uploaded file. Its chunks are searchable only once it is `completed`,
    so a file that fails half-way is never half-visible."""

    id = models.CharField(primary_key=True, max_length=64, default=file_id, editable=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="files")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    original_file_name = models.CharField(max_length=255)
    file_type = models.CharField(max_length=100, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    # The uploaded bytes, kept until processing has read them.
    raw = models.BinaryField(null=True, blank=True, editable=False)
    processing_status = models.CharField(max_length=12, choices=FILE_STATUSES, default="pending")
    error_message = models.TextField(blank=True)
    total_chunks = models.PositiveIntegerField(default=0)
    chunks_embedded = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "file_name"], name="file_name_unique_per_source"
            )
        ]

    def __str__(self) -> str:
        return self.file_name


class FileContent(models.Model):
    """The whole extracted text of a file (what open_files and grep_files read)."""

    file = models.OneToOneField(
        SourceFile, on_delete=models.CASCADE, related_name="content", primary_key=True
    )
    text = models.TextField()

    def __str__(self) -> str:
        return f"text of {self.file_id}"


class SourcePassage(models.Model):
    """One chunk of a file, with its embedding at its real size."""

    id = models.CharField(primary_key=True, max_length=64, default=ids.passage_id, editable=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="passages")
    file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="passages")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    chunk_index = models.PositiveIntegerField()
    text = models.TextField()
    embedding = VectorField(null=True, blank=True)
    embedding_dim = models.PositiveIntegerField(null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    search_vector = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["file", "chunk_index"]
        indexes = [
            GinIndex(fields=["search_vector"], name="source_passage_fts_gin"),
            models.Index(fields=["source", "file", "chunk_index"], name="source_passage_order"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class FileAgent(models.Model):
    """An agent's view of a file: open or closed, and which lines it sees."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="file_links")
    file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="agent_links")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    is_open = models.BooleanField(default=False)
    visible_content = models.TextField(blank=True)
    offset = models.PositiveIntegerField(default=0, help_text="First visible line (0-based).")
    length = models.PositiveIntegerField(null=True, blank=True)
    last_accessed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "file"], name="file_agent_unique")]

    def __str__(self) -> str:
        return f"{self.agent_id} / {self.file_id} ({'open' if self.is_open else 'closed'})"


JOB_STATUSES = [
    ("queued", "queued"),
    ("running", "running"),
    ("completed", "completed"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
]


class Job(models.Model):
    """Background work that is not an agent turn (processing a file,
    re-embedding an archive), claimed by one worker with SKIP LOCKED.

    A running job holds a lease: its worker renews `heartbeat_at` while the
    handler runs. A job whose lease ran out belongs to a worker that died; the
    next claim takes it over (`attempts` counts the starts) or gives it up."""

    id = models.CharField(primary_key=True, max_length=64, default=job_id, editable=False)
    kind = models.CharField(max_length=30)
    status = models.CharField(max_length=12, choices=JOB_STATUSES, default="queued")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    file = models.ForeignKey(
        SourceFile, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def progress(self) -> float:
        return (
            self.done / self.total if self.total else (1.0 if self.status == "completed" else 0.0)
        )
