"""Who is calling the /v1 API: a bearer API key, or Letta's server password.

Keys are looked up by their SHA-256, never compared in clear. Setting
LETTA_SERVER_PASSWORD makes that password the first admin's key, as Letta's
secure mode does; Letta's `X-BARE-PASSWORD: password <pw>` header is accepted
too, so clients configured for a secured Letta server work unchanged.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from ninja.security import HttpBearer

from agents.models import APIKey, User

# last_used_at is a hint for people, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)

UNAUTHORIZED_MESSAGE = (
    "Missing or invalid API key. Send 'Authorization: Bearer <key>'; create a key on your "
    "account page in the ADE (/account/), "
    "in the admin, or with 'manage.py create_api_key <username>'."
)


def user_for_secret(secret: str) -> User | None:
    secret = (secret or "").strip()
    if not secret:
        return None
    password = settings.LETTA_SERVER_PASSWORD
    if password and constant_time_compare(secret, password):
        return (
            User.objects.filter(is_superuser=True, is_active=True).order_by("date_joined").first()
        )
    key = (
        APIKey.objects.select_related("user")
        .filter(hashed_key=APIKey.hash(secret), revoked=False, user__is_active=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        APIKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user


class ApiKeyAuth(HttpBearer):
    """Bearer key, or Letta's X-BARE-PASSWORD header. `request.auth` is the User."""

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() == "bearer" and secret:
            return self.authenticate(request, secret)
        bare = request.headers.get("X-BARE-PASSWORD", "")
        scheme, _, secret = bare.partition(" ")
        if scheme.lower() == "password" and secret:
            return self.authenticate(request, secret)
        return None

    def authenticate(self, request, token: str) -> User | None:
        return user_for_secret(token)
