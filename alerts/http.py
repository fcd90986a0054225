"""Outbound HTTP for Slack-compatible posts, with the SSRF check.

The same signature as webhooks/http.py (`post`, `check_url`, `Result`), which the webhooks
branch owns; this minimal adapter stands in until that module is merged, then the import in
alerts/services.py moves to it and this file goes.

A URL is refused when its host resolves to a loopback, private, link-local, reserved or
multicast address (169.254.169.254, the cloud metadata address, is link-local), unless
settings.HARK_WEBHOOKS_ALLOW_PRIVATE. The check runs at delivery time on the addresses the
connection then uses (the connection goes to the checked address, so a name rebinding between
check and connect changes nothing). No redirects are followed; the body read is capped."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

BODY_EXCERPT_BYTES = 1024


class UnsafeURL(ValueError):
    pass


@dataclass
class Result:
    status: int | None
    body_excerpt: str
    latency_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def _resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) or UnsafeURL naming the problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("the URL must start with https:// or http:// and name a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURL(f"the host {parts.hostname} does not resolve") from exc
    addresses = [info[4][0] for info in infos]
    if not getattr(settings, "HARK_WEBHOOKS_ALLOW_PRIVATE", False):
        refused = [a for a in addresses if not _allowed(a)]
        if refused:
            raise UnsafeURL(
                f"the host {parts.hostname} resolves to a private, loopback or link-local "
                f"address ({refused[0]}), which is refused"
            )
    return parts.scheme, parts.hostname, port, addresses[0]


def check_url(url: str) -> None:
    """Raise UnsafeURL (a ValueError, with a message for a form) when `url` may not be posted
    to."""
    _resolve(url)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the certificate checked against the host name."""

    def __init__(self, host: str, address: str, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, **kwargs) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(url: str, body: bytes, headers: dict, timeout: float = 10) -> Result:
    """POST `body`; never raises: a refused URL, a network error or a timeout is a Result with
    `error` set and no status."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, address = _resolve(url)
    except UnsafeURL as exc:
        return Result(None, "", elapsed(), str(exc))
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(
            host, address, port=port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = _PinnedHTTP(host, address, port=port, timeout=timeout)
    try:
        conn.request("POST", target, body=body, headers={"User-Agent": "Hark", **headers})
        response = conn.getresponse()
        excerpt = response.read(BODY_EXCERPT_BYTES).decode("utf-8", "replace")
        return Result(response.status, excerpt, elapsed(), "")
    except (OSError, http.client.HTTPException) as exc:
        return Result(None, "", elapsed(), f"{type(exc).__name__}: {exc}"[:500])
    finally:
        conn.close()
