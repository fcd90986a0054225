"""The login brake: past HARK_LOGIN_FAILURE_LIMIT failures an account, or an address, is refused
(the right password too) with a message, until the cool-off has passed; other accounts from
other addresses are unaffected; X-Forwarded-For counts only when a trusted proxy sent it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.db.models import F
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from conftest import PASSWORD
from core.proxy import client_ip
from environments.services import member_add

pytestmark = pytest.mark.django_db

LOGIN = reverse("environments:login")
LIMIT = settings.HARK_LOGIN_FAILURE_LIMIT


def _attempt(email: str, password: str, ip: str, **extra) -> object:
    """A sign-in through the real form, from `ip`, in a fresh browser (no session)."""
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": email, "password": password}, **extra)


def _signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


@pytest.fixture
def alice(environment):
    return member_add(environment=environment, email="alice@acme.test", password=PASSWORD).user


@pytest.fixture
def bob(environment):
    return member_add(environment=environment, email="bob@acme.test", password=PASSWORD).user


def test_wrong_passwords_then_the_right_one_is_refused_with_a_message(alice):
    answers = [_attempt("alice@acme.test", f"guess-{n}", "203.0.113.5") for n in range(LIMIT)]
    # Before the limit: the ordinary "wrong password" form.
    assert all(r.status_code == 200 for r in answers[:-1])
    # The limit-th failure already answers with the lockout.
    assert answers[-1].status_code == 429
    response = _attempt("alice@acme.test", PASSWORD, "203.0.113.5")
    assert response.status_code == 429 and not _signed_in(response)
    html = response.content.decode()
    assert "Too many failed sign-ins" in html and "try again in 15 minutes" in html
    assert response["Retry-After"] == "900"
    # The page is the sign-in form again, the email kept.
    assert 'name="password"' in html and 'value="alice@acme.test"' in html


def test_forty_guesses_are_not_all_answered(alice):
    statuses = [_attempt("alice@acme.test", f"g{n}", "203.0.113.5").status_code for n in range(40)]
    assert statuses.count(200) == LIMIT - 1
    assert set(statuses[LIMIT - 1 :]) == {429}


def test_the_account_is_locked_from_every_address_and_the_address_for_every_account(alice, bob):
    for n in range(LIMIT):
        _attempt("alice@acme.test", f"guess-{n}", "203.0.113.5")
    # Per account: the right password from another address is refused too.
    assert _attempt("alice@acme.test", PASSWORD, "198.51.100.7").status_code == 429
    # Per address: another account from the guessing address is refused.
    assert _attempt("bob@acme.test", PASSWORD, "203.0.113.5").status_code == 429
    # Another account from another address is unaffected.
    assert _signed_in(_attempt("bob@acme.test", PASSWORD, "198.51.100.7"))


def test_guesses_spread_over_accounts_lock_the_address(alice, bob):
    for n in range(LIMIT):
        _attempt(f"someone-{n}@acme.test", "nope-nope-1", "203.0.113.9")
    assert _attempt("alice@acme.test", PASSWORD, "203.0.113.9").status_code == 429
    assert _signed_in(_attempt("alice@acme.test", PASSWORD, "198.51.100.7"))


def test_case_and_spaces_do_not_make_a_new_account(alice):
    variants = ["alice@acme.test", "Alice@Acme.test", " ALICE@acme.test ", "alice@ACME.TEST"]
    for n in range(LIMIT):
        # A fresh address each time: only the per-account count can add these up.
        _attempt(variants[n % len(variants)], f"guess-{n}", f"192.0.2.{n + 1}")
    assert _attempt("alice@acme.test", PASSWORD, "198.51.100.200").status_code == 429


def test_the_lockout_expires_after_the_cooloff(alice):
    for n in range(LIMIT):
        _attempt("alice@acme.test", f"guess-{n}", "203.0.113.5")
    assert _attempt("alice@acme.test", PASSWORD, "203.0.113.5").status_code == 429
    # The clock moves on: every recorded failure is now one cool-off (and a second) old.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - _second()
    )
    assert _signed_in(_attempt("alice@acme.test", PASSWORD, "203.0.113.5"))


def _second():

    return timedelta(seconds=1)


def test_a_success_does_not_wipe_the_address_count(alice, bob):
    # An attacker with an account of their own signs in between guesses at alice.
    for n in range(LIMIT - 1):
        _attempt("alice@acme.test", f"guess-{n}", "203.0.113.5")
        assert _signed_in(_attempt("bob@acme.test", PASSWORD, "203.0.113.5"))
    _attempt("alice@acme.test", "one-more-guess", "203.0.113.5")
    assert _attempt("alice@acme.test", PASSWORD, "203.0.113.5").status_code == 429


@override_settings(TRUSTED_PROXIES=["10.0.0.1"])
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(alice, bob):
    # A client connecting directly cannot pick a new address per guess with the header.
    for n in range(LIMIT):
        _attempt(
            f"x{n}@acme.test", "nope-nope-1", "203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        )
    assert _attempt("bob@acme.test", PASSWORD, "203.0.113.5").status_code == 429
    # Through the trusted proxy, each client is its own address, and the proxy is not locked.
    for n in range(LIMIT):
        _attempt(f"y{n}@acme.test", "nope-nope-1", "10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert (
        _attempt("bob@acme.test", PASSWORD, "10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    ).status_code == 429
    assert _signed_in(
        _attempt("bob@acme.test", PASSWORD, "10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    )
    # A client writing its own X-Forwarded-For in front of the proxy's: the proxy appends the
    # real address on the right, and that is the one read.
    assert (
        _attempt(
            "bob@acme.test",
            PASSWORD,
            "10.0.0.1",
            HTTP_X_FORWARDED_FOR="192.0.2.77, 198.51.100.1",
        )
    ).status_code == 429


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", "", ["127.0.0.1"], "203.0.113.5"),
        ("203.0.113.5", "192.0.2.1", ["127.0.0.1"], "203.0.113.5"),
        ("127.0.0.1", "192.0.2.1", ["127.0.0.1"], "192.0.2.1"),
        ("127.0.0.1", "192.0.2.9, 192.0.2.1", ["127.0.0.1"], "192.0.2.1"),
        ("10.0.0.2", "192.0.2.1, 10.0.0.1", ["10.0.0.0/8"], "192.0.2.1"),
        ("127.0.0.1", "not-an-ip, 192.0.2.1", ["127.0.0.1"], "192.0.2.1"),
        ("127.0.0.1", "192.0.2.1, garbage", ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", "[2001:db8::1]:443", ["127.0.0.1"], "2001:db8::1"),
        ("127.0.0.1", "192.0.2.1:5555", ["127.0.0.1"], "192.0.2.1"),
        ("::1", "2001:db8::2", ["::1"], "2001:db8::2"),
        ("203.0.113.5", "192.0.2.1", ["*"], "192.0.2.1"),
    ],
)
def test_client_ip(settings, remote, forwarded, trusted, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@override_settings(TRUSTED_PROXIES=["10.0.0.1"], SECURE_SSL_REDIRECT=True)
def test_x_forwarded_proto_is_ignored_from_a_direct_client(db):
    direct = Client(REMOTE_ADDR="203.0.113.5").get(LOGIN, HTTP_X_FORWARDED_PROTO="https")
    assert direct.status_code == 301 and direct["Location"].startswith("https://")
    proxied = Client(REMOTE_ADDR="10.0.0.1").get(LOGIN, HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200


def test_a_locked_out_login_keeps_a_safe_next_only(alice):
    for n in range(LIMIT):
        _attempt("alice@acme.test", f"guess-{n}", "203.0.113.5")
    locked = Client(REMOTE_ADDR="203.0.113.5").post(
        f"{LOGIN}?next=https://evil.example/", {"username": "alice@acme.test", "password": "x"}
    )
    assert locked.status_code == 429 and "evil.example" not in locked.content.decode()


def test_login_never_redirects_off_site(alice):
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:x"):
        response = Client(REMOTE_ADDR="198.51.100.9").post(
            LOGIN, {"username": "alice@acme.test", "password": PASSWORD, "next": target}
        )
        assert response.status_code == 302 and response["Location"] == "/"


def test_the_admin_sign_in_counts_and_is_refused_too(alice):
    admin_login = reverse("admin:login")
    for n in range(LIMIT):
        Client(REMOTE_ADDR="203.0.113.8").post(
            admin_login, {"username": "alice@acme.test", "password": f"guess-{n}"}
        )
    assert _attempt("alice@acme.test", PASSWORD, "198.51.100.8").status_code == 429
    response = Client(REMOTE_ADDR="198.51.100.8").post(
        admin_login, {"username": "alice@acme.test", "password": PASSWORD}
    )
    assert response.status_code == 429


def test_successful_sign_ins_are_not_recorded(alice):

    assert _signed_in(_attempt("alice@acme.test", PASSWORD, "198.51.100.9"))
    assert not AccessLog.objects.exists()
