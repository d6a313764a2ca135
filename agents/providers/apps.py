from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "agents.providers"
    label = "providers"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "model providers (bring your own key)"
