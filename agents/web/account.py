"""The account page every user has (password, API keys, team) and the team's
providers page (bring-your-own-key model providers)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from agents.errors import DomainError
from agents.models import User
from agents.providers.selectors import provider_get_for_user, team_providers
from agents.providers.services import provider_create, provider_delete, provider_refresh
from agents.services.accounts import (
    apikey_create,
    apikey_revoke,
    password_change,
    team_member_add,
)
from agents.web.account_forms import ApiKeyForm, MemberForm, PasswordForm, ProviderForm
from memory.llm.errors import ProviderError
from memory.services.model_catalog import model_catalog


def _account(request, *, status: int = 200, **extra):
    user = request.user
    ctx = {
        "keys": user.api_keys.order_by("revoked", "-created_at"),
        "members": User.objects.filter(organization_id=user.organization_id).order_by("username")
        if user.organization_id
        else [],
        "password_form": PasswordForm(),
        "key_form": ApiKeyForm(),
        "member_form": MemberForm(),
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        **extra,
    }
    return render(request, "agents/account.html", ctx, status=status)


@login_required
def account(request):
    # A key made just now (key_create redirects here): shown on this one page
    # view, then gone from the session, so a reload neither shows it again nor
    # makes another key.
    fresh = request.session.pop("new_api_key", None)
    if fresh:
        return _account(request, new_key=fresh, new_secret=fresh["secret"])
    return _account(request)


@login_required
@require_POST
def key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _account(request, key_form=form, status=422)
    key, secret = apikey_create(user=request.user, name=form.cleaned_data["name"])
    request.session["new_api_key"] = {"name": key.name, "secret": secret}
    return redirect(reverse("account") + "#new-key")


@login_required
@require_POST
def key_revoke(request, key_id):
    try:
        key = apikey_revoke(user=request.user, key_id=key_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Revoked the key %(key)s.") % {"key": f"{key.prefix}… {key.name}".strip()}
        )
    return redirect("account")


@login_required
@require_POST
def password_set(request):
    form = PasswordForm(request.POST)
    if form.is_valid():
        try:
            password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            update_session_auth_hash(request, request.user)  # stay logged in
            messages.success(request, _("Password changed."))
            return redirect("account")
    return _account(request, password_form=form, status=422)


@login_required
@require_POST
def member_add(request):
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            member = team_member_add(by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Added %(name)s to the team.") % {"name": member.username})
            return redirect("account")
    return _account(request, member_form=form, status=422)


# --- the team's providers ----------------------------------------------------------------------


def _providers(request, *, form=None, status: int = 200):
    ctx = {
        "providers": team_providers(user=request.user).order_by("name"),
        "form": form or ProviderForm(),
        "catalog": model_catalog(request.user, list_models=False),
    }
    return render(request, "agents/providers.html", ctx, status=status)


@login_required
def providers(request):
    return _providers(request)


@login_required
@require_POST
def provider_add(request):
    form = ProviderForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            row = provider_create(
                user=request.user,
                name=data["name"],
                provider_type=data["provider_type"],
                api_key=data["api_key"],
                base_url=data["base_url"] or None,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            found = len(row.synced_models or [])
            messages.success(
                request,
                ngettext(
                    "Added %(name)s: %(count)d model found. "
                    "Pick them as %(name)s/<model> when you create an agent.",
                    "Added %(name)s: %(count)d models found. "
                    "Pick them as %(name)s/<model> when you create an agent.",
                    found,
                )
                % {"name": row.name, "count": found},
            )
            return redirect("providers")
    return _providers(request, form=form, status=422)


def _own_provider(request, provider_id):
    row = provider_get_for_user(user=request.user, provider_id=provider_id)
    if row is None or not team_providers(user=request.user).filter(pk=row.pk).exists():
        return None
    return row


@login_required
@require_POST
def provider_remove(request, provider_id):
    row = _own_provider(request, provider_id)
    if row is None:
        messages.error(request, _("No such provider in your team."))
    else:
        provider_delete(provider=row)
        messages.success(request, _("Removed %(name)s.") % {"name": row.name})
    return redirect("providers")


@login_required
@require_POST
def provider_sync(request, provider_id):
    row = _own_provider(request, provider_id)
    if row is None:
        messages.error(request, _("No such provider in your team."))
        return redirect("providers")
    try:
        row = provider_refresh(provider=row)
    except DomainError as exc:
        messages.error(request, exc.message)
    except ProviderError as exc:
        messages.error(
            request,
            _("%(name)s did not answer: %(error)s") % {"name": row.name, "error": exc.message},
        )
    else:
        count = len(row.synced_models or [])
        messages.success(
            request,
            ngettext("%(name)s: %(count)d model.", "%(name)s: %(count)d models.", count)
            % {"name": row.name, "count": count},
        )
    return redirect("providers")
