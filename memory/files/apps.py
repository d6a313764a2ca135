from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "memory.files"
    label = "sources"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "folders and files"
