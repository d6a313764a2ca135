"""The /v1 API: one NinjaAPI, each app contributes its Router; one place maps
domain errors to HTTP statuses."""

import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from agents.api.providers import router as providers_router
from agents.api.routes import router as agents_router
from agents.api.schemas import HealthOut
from agents.auth import UNAUTHORIZED_MESSAGE, ApiKeyAuth
from agents.errors import DomainError, TurnFailed
from memory.api.folders import router as sources_router
from memory.api.routes import router as memory_router
from memory.llm.errors import ProviderError


def without_nul(value):
    """Postgres text and jsonb cannot hold NUL characters: a "\\u0000" anywhere in
    a request failed deep in a query with a 500. Like Letta (and our block and
    passage services), drop them at the door."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    return value


class ObjectParser(Parser):
    """Every JSON body of this API is an object; an array or a bare value is a
    malformed request, not an empty one."""

    def parse_body(self, request):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return without_nul(data)

    def parse_querydict(self, data, list_fields, request):
        # Query strings and form fields (uploaded files are left as they are).
        return without_nul(super().parse_querydict(data, list_fields, request))


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
    return api.create_response(
        request, {"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503
    )


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    response = api.create_response(request, {"detail": exc.message, **exc.extra}, status=exc.status)
    if isinstance(exc, TurnFailed):
        # The turn already retried its model and kept the user's message: an
        # SDK's automatic retry of a 429/5xx would send that message again.
        response["x-should-retry"] = "false"
    return response


@api.exception_handler(ProviderError)
def provider_error(request, exc: ProviderError):
    """A model provider refused or failed outside a turn (e.g. embedding an
    archival passage): unconfigured is the caller's to fix, the rest is upstream."""
    status = 422 if exc.kind == "not_configured" else 502
    return api.create_response(
        request, {"detail": exc.message, "error_type": exc.kind}, status=status
    )


@api.exception_handler(RequestDataTooBig)
def body_too_big(request, exc: RequestDataTooBig):
    """Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; say so
    (it was a bare 400 page). Files have their own limit and route."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(
        request,
        {
            "detail": f"The request body is over the limit of {limit} bytes; upload files to "
            "/v1/folders/{folder_id}/upload instead of inlining them."
        },
        status=413,
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
api.add_router("/", providers_router)
