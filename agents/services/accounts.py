"""Writes for users, teams and API keys."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction

from agents.errors import InvalidInput
from agents.ids import DEFAULT_ORG_ID
from agents.models import APIKey, Organization, User


def default_organization() -> Organization:
    org, _ = Organization.objects.get_or_create(id=DEFAULT_ORG_ID, defaults={"name": "default_org"})
    return org


@transaction.atomic
def admin_ensure() -> tuple[User, str | None]:
    """Create the first admin on first start.

    Returns the user and, only when it was just created without a configured
    password, the generated password (to be printed once).
    """
    existing = User.objects.filter(is_superuser=True).order_by("date_joined").first()
    if existing:
        return existing, None
    generated = None
    password = settings.ADMIN_PASSWORD
    if not password:
        password = generated = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(
        username=settings.ADMIN_USER,
        email="",
        password=password,
        organization=default_organization(),
    )
    return user, generated


def apikey_create(*, user: User, name: str = "") -> tuple[APIKey, str]:
    """Create a key; the returned secret is not stored and cannot be shown again."""
    if len(name) > 200:
        raise InvalidInput("API key name is longer than 200 characters.")
    secret = "ade-" + secrets.token_urlsafe(32)
    key = APIKey.objects.create(
        user=user, name=name, prefix=secret[:10], hashed_key=APIKey.hash(secret)
    )
    return key, secret
