"""Request hygiene shared by the /v1 API and the pages."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.http import Http404, JsonResponse
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
