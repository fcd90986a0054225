"""No secret reaches a log: `?api_key=`, the REST API's key sent as the Basic auth user,
signatures and tokens in query strings, a set-password token in the path, secrets in the
Referer. Tried on the real writers: gunicorn with the project's config (its access log), Django's
runserver (the `django.server` logger) and the handlers of settings.LOGGING."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gunicorn.config import Config

from core.redact import REDACTED, RedactingGunicornLogger, RedactSecretsFilter, redact
from environments.services import api_key_create
from segments.tests.celery_fixtures import _free_port, database_url_for_tests

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v1/?api_key=hark_sk_abc HTTP/1.1", "GET /api/v1/?api_key=[redacted] HTTP/1.1"),
        ("/a?x=1&API_KEY=k&y=2", "/a?x=1&API_KEY=[redacted]&y=2"),
        ("/a?api%5Fkey=k", "/a?api%5Fkey=[redacted]"),
        (
            "/s/p/?id=u1&signature=ab12&contact_plan=pro",
            "/s/p/?id=u1&signature=[redacted]&contact_plan=pro",
        ),
        ("?key=1;token=2#x", "?key=[redacted];token=[redacted]#x"),
        (
            "?identity_secret=s&access_token=t",
            "?identity_secret=[redacted]&access_token=[redacted]",
        ),
        ("/set-password/MTM/c3x-9f1e2d/", "/set-password/MTM/[redacted]/"),
        ("/set-password/MTM/set-password/", "/set-password/MTM/set-password/"),
        ("/e/acme/people/?q=key&page=2", "/e/acme/people/?q=key&page=2"),
        ("plain text, no url", "plain text, no url"),
        ("?api_key=", "?api_key="),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_every_configured_handler_redacts():
    """settings.LOGGING as Django applied it: every handler of the root, `django` and
    `django.server` loggers carries the filter, and what it writes is clean."""
    loggers = [logging.getLogger(), logging.getLogger("django"), logging.getLogger("django.server")]
    # (pytest adds capture handlers of its own classes to the root: only Django's count.)
    handlers = [h for lg in loggers for h in lg.handlers if type(h) is logging.StreamHandler]
    assert len(handlers) == 3 and all(
        any(isinstance(f, RedactSecretsFilter) for f in h.filters) for h in handlers
    )
    stream = io.StringIO()
    handler = handlers[0]
    old = handler.setStream(stream)
    try:
        logging.getLogger("hark.test").warning(
            "upstream said %s", "https://h/api/v1/?api_key=hark_sk_SECRETVALUE&x=1"
        )
        logging.getLogger("django.request").warning(
            "Not Found: %s", "/set-password/MTM/c3x-SECRETTOKEN/"
        )
    finally:
        handler.setStream(old)
    written = stream.getvalue()
    assert "SECRETVALUE" not in written and "SECRETTOKEN" not in written
    assert "api_key=[redacted]&x=1" in written and "/set-password/MTM/[redacted]/" in written


def _env(port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DATABASE_URL=database_url_for_tests(),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        DEBUG="false",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        HARK_PREPARED_STATEMENTS="false",
    )
    return env


def _wait_until_up(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.3)


def _hostile_requests(port: int, secret: str) -> None:
    base = f"http://127.0.0.1:{port}"
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    requests = [
        urllib.request.Request(f"{base}/api/v1/?api_key={secret}"),
        urllib.request.Request(f"{base}/api/v1/", headers={"Authorization": f"Basic {basic}"}),
        urllib.request.Request(f"{base}/api/v1/?x=1&token=SECRET-TOKEN-2&key=SECRET-KEY-3"),
        urllib.request.Request(f"{base}/s/nope/?id=u1&signature=SECRET-SIGNATURE-4"),
        urllib.request.Request(
            f"{base}/login/", headers={"Referer": f"{base}/s/p/?signature=SECRET-REFERER-5"}
        ),
        urllib.request.Request(f"{base}/set-password/MTM/c3x-SECRET-RESET-6/"),
    ]
    for request in requests:
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10).close()
    # A malformed request line goes to gunicorn's error log ("Invalid request from ...").
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /api/v1/?api_key=SECRET-RAW-7 HTTP/1.1 junk\r\nHost: 127.0.0.1\r\n\r\n")
        raw.recv(4096)


SECRETS = (
    "SECRET-TOKEN-2",
    "SECRET-KEY-3",
    "SECRET-SIGNATURE-4",
    "SECRET-REFERER-5",
    "SECRET-RESET-6",
    "SECRET-RAW-7",
)


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.mark.slow  # a real gunicorn process
@pytest.mark.django_db(transaction=True)
def test_gunicorn_access_log_holds_no_secret(environment):
    _, secret = api_key_create(environment=environment, name="log test")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn_conf.py"],
        cwd=ROOT,
        env=_env(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_up(process, port)
        _hostile_requests(port, secret)
    finally:
        log = _stop(process)
    access = [line for line in log.splitlines() if '"GET ' in line]
    assert len(access) >= 6, log
    for value in (secret, *SECRETS):
        assert value not in log, f"{value} in the log:\n{log}"
    assert f"api_key={REDACTED}" in log
    assert f"/set-password/MTM/{REDACTED}/" in log
    assert f"signature={REDACTED}" in log
    assert "Invalid request from ip=127.0.0.1" in log  # the malformed line was seen, not its key
    # The Basic auth user (the key) is replaced, the valid key's call was still answered.
    assert f" {REDACTED} [" in log
    assert any('"GET /api/v1/?api_key=[redacted] HTTP/1.1" 200' in line for line in access)


@pytest.mark.django_db(transaction=True)
def test_runserver_request_log_holds_no_secret(environment):
    _, secret = api_key_create(environment=environment, name="log test")
    port = _free_port()
    env = _env(port)
    env.update(DEBUG="true")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_up(process, port)
        _hostile_requests(port, secret)
        time.sleep(0.5)  # let the last request line reach the pipe before the stop
    finally:
        log = _stop(process)
    assert '"GET /api/v1/?api_key=[redacted] HTTP/1.1" 200' in log, log
    for value in (secret, *SECRETS):
        assert value not in log, f"{value} in the log:\n{log}"


def test_gunicorn_error_log_redacts_too(tmp_path):

    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    logger = RedactingGunicornLogger(cfg)
    # What a worker writes when the application fails on a request: its URI, query and all.
    logger.error("Error handling request %s", "/api/v1/?api_key=hark_sk_SECRET-ERR-8")
    for handler in logger.error_log.handlers:
        handler.flush()
    written = (tmp_path / "error.log").read_text()
    assert "SECRET-ERR-8" not in written and "api_key=[redacted]" in written
