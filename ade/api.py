"""The /v1 API: one NinjaAPI, each app contributes its Router; one place maps
domain errors to HTTP statuses."""

import json

from django.conf import settings
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from agents.api import router as agents_router
from agents.auth import UNAUTHORIZED_MESSAGE, ApiKeyAuth
from agents.errors import DomainError
from agents.schemas import HealthOut
from memory.api import router as memory_router
from memory.llm.base import ProviderError
from sources.api import router as sources_router


class ObjectParser(Parser):
    """Every JSON body of this API is an object; an array or a bare value is a
    malformed request, not an empty one."""

    def parse_body(self, request):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data


BODY_HINT = "Cannot parse request body: send one JSON object, with Content-Type: application/json."

api = NinjaAPI(
    title="ADE",
    version="0.1.0",
    description=(
        "Letta-compatible /v1 API of the self-hosted Agent Development Environment. Authenticate with "
        "`Authorization: Bearer <API key>` (or Letta's `X-BARE-PASSWORD: password <LETTA_SERVER_PASSWORD>`)."
    ),
    urls_namespace="v1",
    docs_url="/docs",
    auth=ApiKeyAuth(),
    parser=ObjectParser(),
)


@api.get("/health/", auth=None, tags=["health"], response=HealthOut)
def health(request):
    """Liveness: the process answers. Letta clients read `version` and `status`."""
    return {"version": settings.ADE_VERSION, "status": "ok"}


@api.get("/ready/", auth=None, tags=["health"])
def ready(request):
    """Readiness: the database answers and the channel layer (live events) works.
    503 with the failing parts otherwise, so a load balancer stops routing here."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import connection

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        checks["database"] = f"error: {exc}".strip()[:200]
    try:
        layer = get_channel_layer()
        async_to_sync(layer.send)("ade.readiness", {"type": "ready.probe"})
        checks["channel_layer"] = "ok"
    except Exception as exc:
        checks["channel_layer"] = f"error: {exc}".strip()[:200]
    ok = all(v == "ok" for v in checks.values())
    return api.create_response(request, {"status": "ok" if ok else "unavailable", **checks},
                               status=200 if ok else 503)


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return api.create_response(request, {"detail": exc.message}, status=exc.status)


@api.exception_handler(ProviderError)
def provider_error(request, exc: ProviderError):
    """A model provider refused or failed outside a turn (e.g. embedding an
    archival passage): unconfigured is the caller's to fix, the rest is upstream."""
    status = 422 if exc.kind == "not_configured" else 502
    return api.create_response(
        request, {"detail": exc.message, "error_type": exc.kind}, status=status
    )


@api.exception_handler(AuthenticationError)
def unauthorized(request, exc: AuthenticationError):
    return api.create_response(request, {"detail": UNAUTHORIZED_MESSAGE}, status=401)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    message = str(exc.message)
    if message.startswith("Cannot parse request body"):
        message = BODY_HINT
    return api.create_response(request, {"detail": message}, status=exc.status_code)


def _where(loc) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "payload")) or "body"


@api.exception_handler(ValidationError)
def invalid_request(request, exc: ValidationError):
    """422 with one readable sentence per problem, and the details beside it."""
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors]
    detail = "Invalid request — " + "; ".join(problems) if problems else "Invalid request."
    errors = [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
        for e in exc.errors
    ]
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


# Routers whose literal paths (agents/import, tools/run, ...) must precede the
# same routes' {id} patterns are ordered inside each router.
api.add_router("/", agents_router)
api.add_router("/", memory_router)
api.add_router("/", sources_router)
