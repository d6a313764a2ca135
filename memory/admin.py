from django.contrib import admin

from memory.models import Archive, Block, BlockHistory, Message, Passage, Run, Step
from memory.services.blocks import block_edit, block_new


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: visible to a person, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class BlockHistoryInline(admin.TabularInline):
    model = BlockHistory
    extra = 0
    can_delete = False
    fields = ["sequence", "actor_type", "actor_id", "reason", "value", "created_at"]
    readonly_fields = fields
    ordering = ["-sequence"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["label", "id", "chars", "limit", "read_only", "owner", "updated_at"]
    list_filter = ["label", "read_only", "is_template"]
    search_fields = ["label", "value", "description", "id"]
    readonly_fields = ["id", "version", "created_at", "updated_at"]
    fields = [
        "id",
        "label",
        "value",
        "limit",
        "description",
        "read_only",
        "metadata",
        "tags",
        "owner",
        "organization",
        "is_template",
        "version",
        "created_at",
        "updated_at",
    ]
    inlines = [BlockHistoryInline]

    @admin.display(description="chars")
    def chars(self, obj):
        return len(obj.value)

    def save_model(self, request, obj, form, change):
        # Through the one block-edit path: the limit policy holds, history is
        # written, and agents showing the block recompile and redraw.
        if not change:
            created = block_new(
                user=request.user,
                owner=obj.owner,
                label=obj.label,
                value=obj.value,
                limit=obj.limit,
                description=obj.description,
                read_only=obj.read_only,
                metadata=obj.metadata,
                tags=obj.tags,
            )
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)
            return
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in {"label", "value", "limit", "description", "read_only", "metadata", "tags"}
        }
        if changes:
            block_edit(user=request.user, block=obj, reason="admin edit", **changes)
        other = [n for n in form.changed_data if n in {"owner", "organization", "is_template"}]
        if other:
            Block.objects.filter(pk=obj.pk).update(**{n: getattr(obj, n) for n in other})


@admin.register(BlockHistory)
class BlockHistoryAdmin(ReadOnlyAdmin):
    list_display = ["block", "sequence", "label", "actor_type", "actor_id", "reason", "created_at"]
    list_filter = ["actor_type"]
    search_fields = ["block__id", "label", "value"]


@admin.register(Archive)
class ArchiveAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "embedding", "owner", "created_at"]
    search_fields = ["name", "id"]
    filter_horizontal = ["agents"]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = [
        "short_text",
        "archive",
        "tags",
        "embedding_model",
        "embedding_dim",
        "created_at",
    ]
    list_filter = ["embedding_model", "embedding_dim"]
    search_fields = ["text", "id"]
    readonly_fields = ["id", "embedding_dim", "embedding_model", "updated_at"]
    exclude = ["embedding"]
    raw_id_fields = ["archive"]

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:100]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["sequence_id", "agent", "role", "kind", "preview", "run", "created_at"]
    list_filter = ["role", "kind", "is_err"]
    search_fields = ["id", "agent__id", "agent__name", "tool_call_id"]
    raw_id_fields = ["agent", "run", "step"]

    @admin.display(description="content")
    def preview(self, obj):
        parts = []
        for part in obj.content or []:
            kind = part.get("type")
            if kind == "text":
                parts.append(part.get("text", ""))
            elif kind == "tool_call":
                parts.append(f"{part.get('name')}({part.get('arguments', '')})")
            elif kind == "tool_return":
                parts.append(f"→ {part.get('content', '')}")
            elif kind == "reasoning":
                parts.append(f"[thinking] {part.get('text', '')}")
        return " | ".join(parts)[:140]


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    fields = [
        "id",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "stop_reason",
        "llm_ns",
        "created_at",
    ]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "agent",
        "status",
        "stop_reason",
        "step_count",
        "prompt_tokens",
        "completion_tokens",
        "created_at",
    ]
    list_filter = ["status", "stop_reason", "background"]
    search_fields = ["id", "agent__id", "agent__name"]
    inlines = [StepInline]


@admin.register(Step)
class StepAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "run",
        "agent",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "stop_reason",
        "created_at",
    ]
    list_filter = ["status", "provider", "stop_reason", "error_type"]
    search_fields = ["id", "run__id", "agent__id"]
