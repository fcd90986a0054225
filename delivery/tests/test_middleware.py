"""Client calls take a short path through the middleware (delivery.middleware): the answer's
headers stay what the whole stack writes, and nothing of the dashboard's state is touched."""

from __future__ import annotations

from django.test.utils import override_settings

from delivery.factories import web_survey

from .helpers import ANON, PREFIX, call

BODY = {"anonymous_id": ANON, "url": "https://app.acme.test/"}
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


def test_a_client_answer_has_the_security_headers_of_any_other_answer(client, environment):
    web_survey(environment)
    dashboard = client.get("/accounts/login/")
    answer = call(client, environment, "/page", BODY, HTTP_ORIGIN="https://app.acme.test")
    assert answer.status_code == 200
    for name in SECURITY_HEADERS:
        assert answer.headers.get(name) and answer.headers[name] == dashboard.headers[name], name
    assert answer["Access-Control-Allow-Origin"] == "https://app.acme.test"
    assert answer["Vary"] == "Origin"
    assert answer["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in answer.headers and not answer.cookies


def test_client_errors_carry_the_same_headers(client, environment):
    dashboard = client.get("/accounts/login/")
    for answer in (
        call(client, environment, "/page", BODY, key="pk_unknown"),  # 401
        client.post(f"{PREFIX}/no-such-call?key={environment.public_key}", "{}", "text/plain"),
        client.get(f"{PREFIX}/page?key={environment.public_key}"),  # 405
    ):
        assert answer.status_code in (401, 404, 405)
        assert answer["Access-Control-Allow-Origin"] == "*"
        for name in SECURITY_HEADERS:
            assert answer.headers.get(name) == dashboard.headers[name], (answer, name)


def test_a_client_call_with_a_dashboard_session_leaves_it_alone(client, environment, owner):
    web_survey(environment)
    client.force_login(owner.user)
    session_key = client.cookies["sessionid"].value
    answer = call(client, environment, "/page", BODY)
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert client.cookies["sessionid"].value == session_key


@override_settings(SECURE_SSL_REDIRECT=True)
def test_client_calls_over_http_are_redirected_like_every_other_call(client, environment):
    answer = call(client, environment, "/page", BODY)
    assert answer.status_code == 301 and answer["Location"].startswith("https://")
