"""The login brake in the production topology: gunicorn with the project's config, two worker
processes, REDIS_URL set (so the cache is Redis, not per process), a proxy in front (requests
come from 127.0.0.1, the default FORWARDED_ALLOW_IPS, with X-Forwarded-For). Failures are
counted in PostgreSQL, so they add up whichever worker answers."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from conftest import PASSWORD
from environments.services import member_add
from segments.tests.celery_fixtures import (  # noqa: F401 (fixtures)
    _free_port,
    database_url_for_tests,
    redis_server,
    redis_url,
)
from tests.test_log_redaction import _env

ROOT = Path(__file__).resolve().parent.parent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _sign_in(port: int, email: str, password: str, client_address: str) -> tuple[int, str]:
    """A fresh browser behind the proxy: GET the form (CSRF cookie), POST it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    headers = {"X-Forwarded-For": client_address, "Host": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}/login/"
    form = opener.open(urllib.request.Request(url, headers=headers), timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode(
        {"username": email, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        url, data=body, headers={**headers, "Referer": url}, method="POST"
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow  # real gunicorn workers on real Redis
@pytest.mark.django_db(transaction=True)
def test_lockout_holds_across_gunicorn_workers_with_redis(environment, redis_url):  # noqa: F811
    for email in ("alice@acme.test", "bob@acme.test"):
        user = member_add(environment=environment, email=email).user
        # A hash the server knows: the tests' fast MD5 hasher is not in its PASSWORD_HASHERS.
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, "s" * 22, iterations=1000)
        user.save(update_fields=["password"])
    port = _free_port()
    env = _env(port)
    # DEBUG on only so the pages render without a collectstatic manifest.
    env.update(
        WEB_CONCURRENCY="2",
        REDIS_URL=redis_url,
        DATABASE_URL=database_url_for_tests(),
        DEBUG="true",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn_conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).close()
                break
            except urllib.error.HTTPError as error:
                raise AssertionError(f"/login/ answered {error.code}") from error
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.3)
        limit = settings.HARK_LOGIN_FAILURE_LIMIT
        statuses = [
            _sign_in(port, "alice@acme.test", f"guess-{n}", "203.0.113.5")[0]
            for n in range(limit + 5)
        ]
        assert statuses == [200] * (limit - 1) + [429] * 6
        status, page = _sign_in(port, "alice@acme.test", PASSWORD, "203.0.113.5")
        assert status == 429 and "Too many failed sign-ins" in page
        # Another client (a different X-Forwarded-For through the trusted proxy) with another
        # account is let in; the proxy's own address is not what got locked.
        assert _sign_in(port, "bob@acme.test", PASSWORD, "198.51.100.7")[0] == 302
        assert _sign_in(port, "bob@acme.test", PASSWORD, "203.0.113.5")[0] == 429
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
