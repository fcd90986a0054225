"""Outbound HTTP for webhooks, destinations and alerts: one POST, safe against SSRF.

`post()` resolves the URL's host name once, refuses it when any resolved address is loopback,
private, link-local (the 169.254.169.254 metadata address included), multicast, reserved or
unspecified (IPv6 equivalents and IPv4-mapped IPv6 included), then connects to the checked
address itself, not to the name, so a second DNS answer cannot swap in a private address
(rebinding). The Host header and TLS SNI / certificate check still use the name. Redirects are
never followed, the whole request (connection, TLS, sending, the answer's headers and body) is
bounded by one deadline, and the response body is read up to a small cap.
`settings.HARK_WEBHOOKS_ALLOW_PRIVATE` lifts the address check (tests, local demos).

`post()` never raises for a network or policy failure: the Result says what happened.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
import urllib3.connection
from django.conf import settings

BODY_CAP_BYTES = 4096
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "Hark-Webhooks/1.0"

# 100.64.0.0/10 (carrier-grade NAT) and the NAT64 / 6to4 ranges can reach internal hosts too.
_EXTRA_BLOCKED = [
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("2002::/16"),
]


class UnsafeURL(ValueError):
    """The URL is malformed, not http(s), or points at an address outbound calls may not reach."""


@dataclass(frozen=True)
class Result:
    status: int | None  # HTTP status, None when no response was received
    body_excerpt: str
    latency_ms: int
    error: str  # empty on a received response (whatever its status)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _allow_private() -> bool:
    return bool(getattr(settings, "HARK_WEBHOOKS_ALLOW_PRIVATE", False))


def address_refusal(address: str) -> str | None:
    """Why an IP address may not be called (None when it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            reason = address_refusal(str(mapped))
            if reason:
                return reason
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata included)"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if any(ip in network for network in _EXTRA_BLOCKED if network.version == ip.version):
        return "a private address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL, or UnsafeURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("must start with https:// or http://")
    host = parts.hostname
    if not host:
        raise UnsafeURL("has no host name")
    if not host.isascii():
        # An international name goes on the wire in its IDNA form ("xn--"), in the Host header
        # (Latin-1 only) and for TLS (certificates name it so); DNS resolves that form anyway.
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UnsafeURL(f"has an invalid host name {host!r} ({exc})") from None
    if parts.username or parts.password:
        raise UnsafeURL("must not carry a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, host, port, path


def resolve_checked(host: str, port: int) -> str:
    """The address to connect to: DNS resolved once, every answer checked. Raises UnsafeURL."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host name {host!r} does not resolve ({exc})") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeURL(f"host name {host!r} does not resolve")
    if not _allow_private():
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise UnsafeURL(f"{host} resolves to {address}, {reason}")
    return addresses[0]


def check_url(url: str, *, resolve: bool = True) -> None:
    """Validation-time check (forms, API): raises UnsafeURL with a readable reason. Delivery
    checks again after resolving, so a name that later resolves elsewhere is still refused."""
    _scheme, host, port, _ = _split(url)
    if len(url) > 2000:
        raise UnsafeURL("is longer than 2000 characters")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not _allow_private():
            reason = address_refusal(str(literal))
            if reason:
                raise UnsafeURL(f"points at {host}, {reason}")
        return
    if resolve:
        resolve_checked(host, port)


class _Deadline:
    """One request's time limit. urllib3's timeouts bound each socket operation, not the
    request: a receiver that sends a byte every few seconds (of its status line, headers or
    body) would hold a delivery thread as long as it liked, and the delivery's lease would run
    out and hand it to a second worker meanwhile. When the time is up, the request's socket is
    shut down, which ends the read or write waiting on it at once."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """Connection mixin: every socket the connection opens (the plain one, before TLS wraps
    it) is handed to the request's deadline, through the public `sock` attribute."""

    _deadline: _Deadline
    _watched_sock: socket.socket | None = None

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    @property
    def sock(self) -> socket.socket | None:
        return self._watched_sock

    @sock.setter
    def sock(self, value: socket.socket | None) -> None:
        self._watched_sock = value
        if value is not None:
            self._deadline.watch(value)


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float = DEFAULT_TIMEOUT
) -> Result:
    """POST `body` to `url`; never follows a redirect; reads at most BODY_CAP_BYTES back."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    def timed_out() -> Result:
        return Result(None, "", elapsed(), f"timed out after {timeout:g} s")

    try:
        scheme, host, port, path = _split(url)
        address = resolve_checked(host, port)
    except UnsafeURL as exc:
        return Result(None, "", elapsed(), f"refused: {exc}")
    host_header = host if ":" not in host else f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    if port != default_port:
        host_header = f"{host_header}:{port}"
    send_headers = {"User-Agent": USER_AGENT, **headers, "Host": host_header}
    urllib_timeout = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout, total=timeout)
    deadline = _Deadline(timeout)
    if scheme == "https":
        pool: urllib3.HTTPConnectionPool = _HTTPSPool(
            address,
            port,
            timeout=urllib_timeout,
            retries=False,
            maxsize=1,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            deadline=deadline,
        )
    else:
        pool = _HTTPPool(
            address, port, timeout=urllib_timeout, retries=False, maxsize=1, deadline=deadline
        )
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=send_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = response.read(BODY_CAP_BYTES, decode_content=True) or b""
        finally:
            response.release_conn()
            response.close()
        if deadline.expired:
            # Cut off mid-answer: what was read looks complete (the socket's end reads as the
            # end of the headers or body) but it is not an answer.
            return timed_out()
        excerpt = data[:BODY_CAP_BYTES].decode("utf-8", "replace")
        return Result(response.status, excerpt, elapsed(), "")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if deadline.expired or isinstance(exc, urllib3.exceptions.TimeoutError):
            return timed_out()
        if isinstance(exc, urllib3.exceptions.NewConnectionError | OSError):
            return Result(None, "", elapsed(), f"connection failed: {exc}"[:500])
        return Result(None, "", elapsed(), f"connection failed: {type(exc).__name__}: {exc}"[:500])
    except ValueError as exc:
        # http.client refuses, before sending anything, a header it cannot write (a control
        # character, a character outside Latin-1) or a path with a character it will not send.
        return Result(None, "", elapsed(), f"refused: the request could not be built: {exc}"[:500])
    finally:
        deadline.cancel()
        pool.close()
