"""Keep user-chosen model endpoints out of the server's own network (SSRF guard).

An agent's `llm_config.model_endpoint` and a bring-your-own-key provider's
`base_url` are chosen by API users, but the requests go out from the server,
with its network position: aimed at 169.254.169.254 they would read the cloud
metadata service (and its credentials), aimed at 127.0.0.1 or 10.x an admin
port or the database. So such URLs must name public addresses, unless the
admin allows more (`EndpointPolicy`).

A URL is checked when it is set (the API answers 400) and again before every
request (`guarded_class`), because a name that resolved to a public address
when it was set may resolve to 127.0.0.1 now (DNS rebinding). The HTTP client
resolves the name once more when it connects, so a resolver that answers
differently within that moment is not caught; the window is one request.

URLs from the server's environment (OPENAI_BASE_URL, OLLAMA_BASE_URL, ...) are
the admin's own configuration and are never checked.

Plain Python: no Django, so the engine side and tests can use it directly.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from memory.llm.base import ModelInfo, Provider
from memory.llm.errors import ProviderError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

# IPv6 prefixes whose addresses carry an IPv4 address that the traffic ends up at.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

# What ADE_ALLOW_PRIVATE_MODEL_ENDPOINTS opens: the machine itself and private
# networks (a LAN inference server). Link-local stays shut: it holds the cloud
# metadata service, which no model endpoint ever needs.
PRIVATE_KINDS = frozenset({"loopback", "private", "non-public"})


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class EndpointRefused(ValueError):
    """A model endpoint the server may not send requests to; the message says why."""


@dataclass(frozen=True)
class _Rule:
    host: str | None = None  # a name, matched exactly (lower case)
    network: IPNetwork | None = None  # or addresses
    port: int | None = None  # None: any port


@dataclass(frozen=True)
class EndpointPolicy:
    """What the admin allows beyond public addresses.

    rules: from ADE_ALLOWED_MODEL_ENDPOINTS — `host`, `host:port`, an IP
    address or a CIDR block (`10.0.0.0/8`, `[fd00::1]:8000`). A listed name is
    trusted whatever it resolves to.
    allow_private: ADE_ALLOW_PRIVATE_MODEL_ENDPOINTS — loopback and private
    networks too (link-local, multicast and the like stay refused).
    trusted_urls: URLs the server is configured with anyway (normalized by
    `normalize_url`), allowed as they are.
    """

    rules: tuple[_Rule, ...] = ()
    allow_private: bool = False
    trusted_urls: frozenset[str] = field(default_factory=frozenset)
    # How names become addresses; tests give a resolver they control (DNS rebinding).
    resolve: Resolver = field(default=system_resolver, compare=False, hash=False, repr=False)

    @classmethod
    def parse(
        cls,
        allowed: str | Iterable[str] = "",
        *,
        allow_private: bool = False,
        trusted_urls: Iterable[str] = (),
    ) -> EndpointPolicy:
        entries = allowed.split(",") if isinstance(allowed, str) else list(allowed)
        rules = tuple(rule for entry in entries if (rule := parse_rule(entry)) is not None)
        trusted = frozenset(u for url in trusted_urls if url and (u := normalize_url(url)))
        return cls(rules=rules, allow_private=allow_private, trusted_urls=trusted)

    def allows_name(self, host: str, port: int) -> bool:
        return any(r.host == host and r.port in (None, port) for r in self.rules)

    def allows_address(self, address: IPAddress, port: int) -> bool:
        return any(
            r.network is not None and address in r.network and r.port in (None, port)
            for r in self.rules
        )


def parse_rule(entry: str) -> _Rule | None:
    """One ADE_ALLOWED_MODEL_ENDPOINTS entry; None for an empty or unreadable one
    (a typo in the admin's list must not open anything)."""
    entry = entry.strip().lower()
    if not entry:
        return None
    if "/" in entry:
        try:
            return _Rule(network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            return None
    host, port = entry, None
    bracketed = re.fullmatch(r"\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?", entry)
    if bracketed:
        host = bracketed.group("host")
        port = int(bracketed.group("port")) if bracketed.group("port") else None
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    address = literal_ip(host)
    if address is not None:
        return _Rule(network=ipaddress.ip_network(address), port=port)
    if entry.count(":") > 1:
        return None
    return _Rule(host=host.rstrip("."), port=port)


def normalize_url(url: str) -> str:
    """The form URLs are compared in: scheme and host in lower case, no trailing '/'
    ("" for what is no URL)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def literal_ip(host: str) -> IPAddress | None:
    """The address a host written as a number means, in every form the C
    resolver accepts: `127.0.0.1`, `::1`, but also `2130706433`, `0177.0.0.1`
    and `0x7f.1`, which `ipaddress` alone would take for names."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def blocked_kind(address: IPAddress) -> str | None:
    """Why an address is not public (None when it is). An IPv6 address that
    carries an IPv4 one (::ffff:a.b.c.d, 6to4, NAT64) is judged by that one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_kind(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, shared by carrier-grade NAT
    return None


_KIND_TEXT = {
    "unspecified": "an unspecified address (0.0.0.0 or ::)",
    "loopback": "a loopback address (this server itself)",
    "link-local": "a link-local address (this includes the cloud metadata service)",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
    "private": "a private network address",
    "non-public": "an address that is not publicly routable",
}


def check_endpoint(url: str, policy: EndpointPolicy) -> str:
    """`url` cleaned of surrounding space and a trailing '/', or EndpointRefused."""
    if not isinstance(url, str) or not url.strip():
        raise EndpointRefused("The model endpoint is empty; give a URL such as https://host/v1.")
    url = url.strip().rstrip("/")
    if normalize_url(url) in policy.trusted_urls:
        return url
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        # URL parsers disagree on these (which host does http://a\@b/ name?); no endpoint
        # needs them.
        raise EndpointRefused(
            f"The model endpoint {url!r} contains spaces, control characters or backslashes."
        )
    try:
        parts = urlsplit(url)
        client_host = httpx.URL(url).host  # the host the SDKs' HTTP client will connect to
    except (ValueError, httpx.InvalidURL):
        raise EndpointRefused(f"The model endpoint {url!r} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise EndpointRefused(f"The model endpoint {url!r} must be an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused(
            f"The model endpoint {url!r} contains a user name or password; "
            "give the key as the provider's api_key instead."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EndpointRefused(f"The model endpoint {url!r} names no host.")
    if client_host.lower().rstrip(".") != host:
        raise EndpointRefused(f"The host of the model endpoint {url!r} is ambiguous.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise EndpointRefused(f"The model endpoint {url!r} has an invalid port.") from None
    if policy.allows_name(host, port):
        return url
    address = literal_ip(host)
    if address is not None:
        addresses = [address]
    else:
        try:
            found = policy.resolve(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise EndpointRefused(
                f"The host of the model endpoint {url!r} cannot be resolved ({exc})."
            ) from None
        addresses = [a for text in found if (a := literal_ip(text)) is not None]
        if not addresses:
            raise EndpointRefused(f"The host of the model endpoint {url!r} has no address.")
    for each in addresses:
        kind = blocked_kind(each)
        if kind is None or policy.allows_address(each, port):
            continue
        if policy.allow_private and kind in PRIVATE_KINDS:
            continue
        shown = host if str(each) == host else f"{host} ({each})"
        raise EndpointRefused(
            f"The model endpoint {url!r} points to {_KIND_TEXT[kind]}: {shown}. Model endpoints "
            "must be public unless the server's admin allows the host in "
            "ADE_ALLOWED_MODEL_ENDPOINTS (or sets ADE_ALLOW_PRIVATE_MODEL_ENDPOINTS=1)."
        )
    return url


# --- re-checking before every request ----------------------------------------------------


class _Guarded:
    """Mixed in before a provider class: every method that reaches the network
    checks the provider's base URL first, so a name rebound to an inside
    address is refused at the next request, not just when it was set."""

    base_url: str | None
    name: str
    endpoint_policy: EndpointPolicy = EndpointPolicy()

    def _refusal(self) -> ProviderError | None:
        if not self.base_url:
            return None
        try:
            check_endpoint(self.base_url, self.endpoint_policy)
        except EndpointRefused as exc:
            return ProviderError(str(exc), retryable=False, kind="bad_request", provider=self.name)
        return None

    def stream_payload(self, payload: dict[str, Any]) -> Iterator[Any]:
        if (refused := self._refusal()) is not None:
            raise refused
        return super().stream_payload(payload)  # type: ignore[misc, no-any-return]

    def list_models(self) -> list[ModelInfo]:
        if (refused := self._refusal()) is not None:
            raise refused
        return super().list_models()  # type: ignore[misc, no-any-return]

    def count_tokens(self, request: Any) -> int | None:
        if self._refusal() is not None:
            return None  # callers then estimate locally; the request itself is refused
        return super().count_tokens(request)  # type: ignore[misc, no-any-return]

    def context_window(self, model: str) -> int | None:
        if self._refusal() is not None:
            return None
        return super().context_window(model)  # type: ignore[misc, no-any-return]


_GUARDED_CLASSES: dict[type[Provider], type[Provider]] = {}


def guarded_class(cls: type[Provider]) -> type[Provider]:
    """`cls` with the endpoint re-checked before each network call."""
    guarded = _GUARDED_CLASSES.get(cls)
    if guarded is None:
        guarded = cast(type[Provider], type(f"Guarded{cls.__name__}", (_Guarded, cls), {}))
        _GUARDED_CLASSES[cls] = guarded
    return guarded


def guarded_provider(
    cls: type[Provider],
    policy: EndpointPolicy,
    *,
    base_url: str,
    api_key: str | None,
    timeout: float,
) -> Provider:
    """A provider of class `cls` talking to a user-chosen `base_url`."""
    check_endpoint(base_url, policy)
    provider = guarded_class(cls)(base_url=base_url, api_key=api_key, timeout=timeout)
    provider.endpoint_policy = policy  # type: ignore[attr-defined]
    return provider
