"""The client API's process cache across processes: gunicorn with two workers, each keeping the
environment's live surveys in memory. A change made elsewhere (here, by the test process, as
the dashboard would) reaches every worker on its next call: the database triggers bump the
environment's cache version, which each call reads with the person (delivery.models)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from delivery.factories import web_survey
from delivery.services import delivery_settings_update
from segments.tests.celery_fixtures import _free_port
from surveys.services import survey_set_status
from tests.test_log_redaction import _env, _wait_until_up

ROOT = Path(__file__).resolve().parent.parent
CALLS = 24


def _pages(port: int, environment) -> list[dict]:
    """CALLS page calls, each on a new connection (so both workers answer some)."""
    answers = []
    body = json.dumps({"anonymous_id": "gunicorn-device-0001", "url": "https://app.acme.test/"})
    for _ in range(CALLS):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/client/page?key={environment.public_key}",
            data=body.encode(),
            headers={"Content-Type": "text/plain", "Connection": "close"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answers.append(json.loads(response.read()))
    return answers


@pytest.mark.django_db(transaction=True)
def test_a_change_reaches_every_gunicorn_worker_on_its_next_call(environment):
    survey = web_survey(environment)
    port = _free_port()
    env = _env(port)
    env.update(WEB_CONCURRENCY="2", HARK_PREPARED_STATEMENTS="true")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn_conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(process, port)
        # Both workers hold the survey (and the theme) in memory.
        assert all(len(a["surveys"]) == 1 for a in _pages(port, environment))
        delivery_settings_update(environment=environment, values={"brand_color": "#123456"})
        assert {a["theme"]["brand_color"] for a in _pages(port, environment)} == {"#123456"}
        survey_set_status(survey=survey, status="paused")
        assert all(a["surveys"] == [] for a in _pages(port, environment))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
