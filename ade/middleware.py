"""Request hygiene shared by the /v1 API and the pages."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.http import Http404, JsonResponse
from django.utils import translation
from django.utils.decorators import sync_and_async_middleware

NUL_IN_PATH = "Not found: no id, label or name contains a NUL character."


def _refuse(request):
    if request.path_info.startswith("/v1/"):
        return JsonResponse({"detail": NUL_IN_PATH}, status=404)
    raise Http404(NUL_IN_PATH)


@sync_and_async_middleware
def nul_in_path(get_response):
    """A path with %00 in it names nothing we store (Postgres text cannot hold
    NUL), but looking it up failed in the database with a 500: answer 404 first.
    Bodies and query strings are cleaned in ade/api.py."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if "\x00" in request.path_info:
                return _refuse(request)
            return await get_response(request)

    else:

        def middleware(request):
            if "\x00" in request.path_info:
                return _refuse(request)
            return get_response(request)

    return middleware


def _explain_405(request, response):
    """A /v1 path that exists for other methods answers 405 with a reason, in
    the API's {"detail": …} shape (Django's bare 405 said nothing a client could show)."""
    if response.status_code == 405 and request.path_info.startswith("/v1/"):
        allowed = response.get("Allow", "")
        if "json" not in response.get("Content-Type", ""):
            explained = JsonResponse(
                {
                    "detail": f"{request.method} is not allowed on {request.path_info}; "
                    f"allowed: {allowed or 'none'}."
                },
                status=405,
            )
            if allowed:
                explained["Allow"] = allowed
            return explained
    return response


@sync_and_async_middleware
def method_not_allowed_explained(get_response):
    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _explain_405(request, await get_response(request))

    else:

        def middleware(request):
            return _explain_405(request, get_response(request))

    return middleware


@sync_and_async_middleware
def api_in_english(get_response):
    """The /v1 API answers in English whatever the client's Accept-Language:
    its messages are for programs and their logs (LocaleMiddleware, just
    before this, picks the pages' language)."""
    if iscoroutinefunction(get_response):

        async def middleware(request):
            if request.path_info.startswith("/v1/"):
                translation.activate("en")
                request.LANGUAGE_CODE = "en"
            return await get_response(request)

    else:

        def middleware(request):
            if request.path_info.startswith("/v1/"):
                translation.activate("en")
                request.LANGUAGE_CODE = "en"
            return get_response(request)

    return middleware
