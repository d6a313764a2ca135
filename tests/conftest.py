"""Shared fixtures. Named actors, as in every permission test: Alice owns,
Bob is on Alice's team, Charlie is a stranger."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer

# pytest-django's live_server listens with socketserver's backlog of 5: fifty
# clients connecting at once (tests/test_concurrent_sends.py) could overflow it
# on a busy machine and get "connection reset". A real server's backlog is larger.
ThreadedWSGIServer.request_queue_size = 128

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # Unix socket path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests may not reach the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise ConnectionRefusedError(f"tests may not reach the network (tried {address!r})")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture
def team(db):
    from agents.models import Organization

    return Organization.objects.create(name="Acme")


@pytest.fixture
def alice(db, team):
    from agents.models import User

    return User.objects.create_user(username="alice", password="alice-pass-123", organization=team)


@pytest.fixture
def bob(db, team):
    from agents.models import User

    return User.objects.create_user(username="bob", password="bob-pass-123", organization=team)


@pytest.fixture
def charlie(db):
    from agents.models import Organization, User

    other = Organization.objects.create(name="Elsewhere")
    return User.objects.create_user(
        username="charlie", password="charlie-pass-123", organization=other
    )
