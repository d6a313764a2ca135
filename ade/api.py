"""The /v1 API: one NinjaAPI, each app contributes its Router."""

from django.conf import settings
from ninja import NinjaAPI

api = NinjaAPI(
    title="ADE",
    version="0.1.0",
    description="Letta-compatible /v1 API of the self-hosted Agent Development Environment.",
    urls_namespace="v1",
    docs_url="/docs",
)


@api.get("/health/", auth=None, tags=["health"])
def health(request):
    """Liveness: the process answers. Letta clients read `version` and `status`."""
    return {"version": settings.ADE_VERSION, "status": "ok"}
