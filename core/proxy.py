"""Who is the client: X-Forwarded-* headers are believed only from a trusted proxy.

The proxies are FORWARDED_ALLOW_IPS, the variable gunicorn reads for the same purpose (its
default, 127.0.0.1, is ours too): addresses, networks (`10.0.0.0/8`) or `*` for any peer (only
when nothing can reach Hark except through the proxy). Anyone else can send those headers:

- `TrustedProxyMiddleware` (first in MIDDLEWARE) deletes them from a request whose peer is not a
  trusted proxy, so SECURE_PROXY_SSL_HEADER (X-Forwarded-Proto) cannot be claimed by a client
  that connects directly;
- `client_ip` (the login throttle's address, AXES_CLIENT_IP_CALLABLE) walks X-Forwarded-For from
  the right, past the trusted proxies, to the first address a trusted proxy saw: the left-most
  entries are whatever the client wrote and are never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


def parse_trusted_proxies(values: list[str], name: str = "FORWARDED_ALLOW_IPS") -> list[str]:
    """Check the entries of FORWARDED_ALLOW_IPS at start-up (ImproperlyConfigured naming the
    variable for one that is neither `*`, an address nor a network)."""
    for value in values:
        if value == "*":
            continue
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} entries must be IP addresses, networks or *, got {value!r}"
            ) from None
    return values


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[bool, tuple[Network, ...]]:
    if "*" in values:
        return True, ()
    return False, tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 192.0.2.1:443
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    every, networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if every:
        return True
    parsed = _address(address or "")
    return parsed is not None and any(parsed in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind trusted proxies the right-most address of
    X-Forwarded-For that is not one of them. Always a valid IP address (or None)."""
    remote = request.META.get("REMOTE_ADDR") or ""
    peer = _address(remote)
    if peer is None:
        return None
    if not is_trusted_proxy(remote):
        return str(peer)
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Not an address: written by the client, not by a proxy. The last proxy that
            # handed it on is as far as the chain can be believed.
            break
        peer = address
        if not is_trusted_proxy(hop.strip()):
            break
    return str(peer)


class TrustedProxyMiddleware:
    """Drop X-Forwarded-* (and Forwarded, X-Real-IP) from requests whose peer is not a trusted
    proxy, before SecurityMiddleware reads X-Forwarded-Proto."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR")):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
