"""Writes for users, teams and API keys: the first admin, a person's own keys
and password, and the members a team admin adds."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agents.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from agents.ids import DEFAULT_ORG_ID
from agents.models import APIKey, Organization, User

USERNAME_RE = re.compile(r"[\w.@+-]{1,150}")


def default_organization() -> Organization:
    org, _ = Organization.objects.get_or_create(id=DEFAULT_ORG_ID, defaults={"name": "default_org"})
    return org


@dataclass
class AdminStart:
    """What start-up did about the first admin, for the start-up banner."""

    user: User
    generated_password: str | None = None  # created just now with this password (shown once)
    password_reset: bool = False  # ADE_ADMIN_PASSWORD replaced a different password


@transaction.atomic
def admin_ensure() -> AdminStart:
    """Create the first admin on first start; on later starts, a set
    ADE_ADMIN_PASSWORD that differs from the admin's password replaces it (the
    documented way to recover a lost admin password)."""
    existing = User.objects.filter(is_superuser=True).order_by("date_joined").first()
    if existing:
        password = settings.ADMIN_PASSWORD
        if password and not existing.check_password(password):
            existing.set_password(password)
            existing.save(update_fields=["password"])
            return AdminStart(existing, password_reset=True)
        return AdminStart(existing)
    generated = None
    password = settings.ADMIN_PASSWORD
    if not password:
        password = generated = secrets.token_urlsafe(12)
    user = User.objects.create_superuser(
        username=settings.ADMIN_USER,
        email="",
        password=password,
        organization=default_organization(),
        is_team_admin=True,
    )
    return AdminStart(user, generated_password=generated)


def apikey_create(*, user: User, name: str = "") -> tuple[APIKey, str]:
    """Create a key; the returned secret is not stored and cannot be shown again."""
    name = (name or "").strip()
    if len(name) > 200:
        raise InvalidInput("API key name is longer than 200 characters.")
    secret = "ade-" + secrets.token_urlsafe(32)
    key = APIKey.objects.create(
        user=user, name=name, prefix=secret[:10], hashed_key=APIKey.hash(secret)
    )
    return key, secret


def apikey_rename(*, user: User, key_id: str, name: str) -> APIKey:
    key = _own_key(user, key_id)
    name = (name or "").strip()
    if len(name) > 200:
        raise InvalidInput("API key name is longer than 200 characters.")
    key.name = name
    key.save(update_fields=["name"])
    return key


def apikey_revoke(*, user: User, key_id: str) -> APIKey:
    """Revoke one of the user's own keys: requests with it get a 401 from now on."""
    key = _own_key(user, key_id)
    key.revoked = True
    key.save(update_fields=["revoked"])
    return key


def _own_key(user: User, key_id: str) -> APIKey:
    key = APIKey.objects.filter(pk=key_id, user=user).first()
    if key is None:
        raise NotFound("No such API key of yours.")
    return key


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password or ""):
        raise InvalidInput("Your current password is not correct.")
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])


def _check_password(password: str, user: User | None) -> None:
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from None


def team_member_add(*, by: User, username: str, password: str, team_admin: bool = False) -> User:
    """A team admin adds a person to their team; they log in with this password
    and can change it on their account page."""
    if not by.manages_team:
        raise PermissionDenied("Only a team admin can add people to the team.")
    username = (username or "").strip()
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput("A username has 1–150 letters, digits and @ . + - _ characters.")
    candidate = User(username=username, organization_id=by.organization_id)
    _check_password(password, candidate)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username,
                password=password,
                organization_id=by.organization_id,
                is_team_admin=team_admin,
            )
    except IntegrityError:
        raise Conflict(f"The username {username!r} is taken.") from None
    return user
