from django.contrib import admin

from memory.files.models import FileAgent, Job, Source, SourceFile


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "embedding", "created_at"]
    search_fields = ["name", "description"]
    filter_horizontal = ["agents"]


@admin.register(SourceFile)
class SourceFileAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "source",
        "processing_status",
        "chunks_embedded",
        "total_chunks",
        "created_at",
    ]
    list_filter = ["processing_status"]
    search_fields = ["file_name"]
    exclude = ["raw"]
    readonly_fields = ["processing_status", "error_message", "total_chunks", "chunks_embedded"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "done", "total", "created_at", "finished_at"]
    list_filter = ["kind", "status"]


@admin.register(FileAgent)
class FileAgentAdmin(admin.ModelAdmin):
    list_display = ["agent", "file", "is_open", "last_accessed_at"]
