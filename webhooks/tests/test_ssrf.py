"""Outbound requests refuse loopback, private, link-local and metadata addresses, as literals or
behind a name, at validation and again at delivery time (after DNS resolution), unless
HARK_WEBHOOKS_ALLOW_PRIVATE is on."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from webhooks import http, services
from webhooks.models import Delivery, DeliveryStatus, WebhookEndpoint
from webhooks.outbox import emit

REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://192.168.1.1/hook",
    "http://localhost:8000/hook",
]


@pytest.fixture
def fake_dns(monkeypatch):
    """Names resolving to private addresses (no resolver needed), others to the real one."""
    names = {
        "internal.example.test": "10.0.0.1",
        "metadata.example.test": "169.254.169.254",
        "public.example.test": "93.184.215.14",
    }
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port or 80))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_are_refused(url, settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(http.UnsafeURL):
        http.check_url(url)
    result = http.post(url, b"{}", {})
    assert result.status is None and result.error.startswith("refused")


@pytest.mark.parametrize("name", ["internal.example.test", "metadata.example.test"])
def test_names_resolving_to_private_addresses_are_refused(name, fake_dns, settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(http.UnsafeURL, match=fake_dns[name]):
        http.check_url(f"https://{name}/hook")
    assert http.post(f"https://{name}/hook", b"{}", {}).error.startswith("refused")


def test_public_name_passes_the_check(fake_dns, settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    http.check_url("https://public.example.test/hook")


def test_the_setting_allows_private_targets(settings, receiver):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    http.check_url(receiver.url)
    assert http.post(receiver.url, b"{}", {}).status == 200


@pytest.mark.django_db
def test_rebinding_is_refused_at_delivery_time(environment, fake_dns, settings, monkeypatch):
    """A name that resolved to a public address when saved and to a private one when sent is
    refused at delivery: the check runs on the address actually connected to."""
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = False
    endpoint = services.endpoint_create(
        environment=environment,
        url="https://public.example.test/hook",
        event_types=["survey.published"],
    )
    fake_dns["public.example.test"] = "127.0.0.1"
    emit(environment.pk, "survey.published", {"survey_id": 0})
    services.drain(at=timezone.now())
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.http_status is None
    assert "127.0.0.1" in delivery.error and "loopback" in delivery.error
    assert WebhookEndpoint.objects.get().enabled


def test_redirects_are_not_followed(settings):
    """A 302 is an answer (not a 2xx: retried), never followed to its Location."""

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
        result = http.post(f"http://127.0.0.1:{server.server_address[1]}/hook", b"{}", {})
        assert result.status == 302 and not result.ok
        assert hits == ["/hook"]
    finally:
        server.shutdown()
        server.server_close()


class _Drip:
    """A receiver that answers one byte at a time, 50 ms apart, in its status line and headers
    (`where="headers"`) or in a 4,000-byte body (`where="body"`): each read of the caller's
    succeeds well within a per-read timeout, so only a deadline on the whole request ends it.
    `sent` counts the bytes it got out before the caller hung up."""

    def __init__(self, where: str, total: int = 400) -> None:
        self.sent = 0
        self.done = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * total
        body_head = b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n"
        serve = threading.Thread(target=self._serve, args=(where, head, body_head, total))
        serve.daemon = True
        serve.start()

    def _serve(self, where: str, head: bytes, body_head: bytes, total: int) -> None:
        conn, _ = self.sock.accept()
        try:
            conn.recv(65536)
            if where == "body":
                conn.sendall(body_head)
                payload = b"x" * total
            else:
                payload = head
            for n in range(len(payload)):
                conn.sendall(payload[n : n + 1])
                self.sent += 1
                threading.Event().wait(0.05)
        except OSError:
            pass  # the caller hung up
        finally:
            conn.close()
            self.sock.close()
            self.done.set()


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout(settings, where):
    """urllib3's timeouts bound each read, not the request: the deadline covers the whole of it
    (the drip would take 20 s; the request gives up at 1 s, long before the last byte)."""
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    drip = _Drip(where)
    result = http.post(f"http://127.0.0.1:{drip.port}/hook", b"{}", {}, timeout=1.0)
    assert result.status is None and result.error == "timed out after 1 s"
    assert drip.done.wait(10)
    assert drip.sent < 200, drip.sent
