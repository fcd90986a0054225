"""Operators manage tenancy from the command line: environments, API keys, team members."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory  # the login throttle needs a request

from environments.models import ApiKey, Environment, Membership, Role, hash_api_key
from environments.services import api_key_authenticate

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def _call(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- create_environment ----------------------------------------------------------------------


def test_create_environment_prints_slug_and_public_key():
    out, _ = _call("create_environment", "Mobile App")
    environment = Environment.objects.get(name="Mobile App")
    assert environment.slug == "mobile-app"
    assert f"slug: {environment.slug}" in out
    assert f"public key: {environment.public_key}" in out
    assert environment.public_key.startswith("pk_")
    # The identity-verification secret is not something to print.
    assert environment.identity_secret not in out


def test_create_environment_keeps_slugs_unique_and_accepts_one():
    _call("create_environment", "Web")
    out, _ = _call("create_environment", "Web")
    assert "slug: web-2" in out
    out, _ = _call("create_environment", "Staging", "--slug", "stage")
    assert Environment.objects.get(name="Staging").slug == "stage"


# --- create_api_key --------------------------------------------------------------------------


def test_create_api_key_prints_the_secret_once_and_stores_only_its_hash(environment):
    out, err = _call("create_api_key", environment.slug, "--name", "backend")
    secret = out.strip()
    key = ApiKey.objects.get(environment=environment)
    assert secret.startswith("hark_sk_") and len(secret) > 40
    assert key.name == "backend"
    assert key.hashed_key == hash_api_key(secret)
    # Nothing stored holds the secret in clear.
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert not any(secret in str(value) for value in stored.values())
    assert secret.startswith(key.prefix) and len(key.prefix) < len(secret) // 2
    # The secret appears once (stdout); stderr only shows the prefix.
    assert secret not in err and key.prefix in err
    assert api_key_authenticate(secret=secret) == key


def test_each_api_key_is_different(environment):
    first, _ = _call("create_api_key", environment.slug)
    second, _ = _call("create_api_key", environment.slug)
    assert first != second
    assert ApiKey.objects.filter(environment=environment).count() == 2


def test_create_api_key_for_unknown_environment_fails(db):
    with pytest.raises(CommandError, match="no environment with slug 'nope'"):
        _call("create_api_key", "nope")
    assert not ApiKey.objects.exists()


# --- create_member ---------------------------------------------------------------------------


def test_create_member_adds_a_login_with_role_and_password(environment):
    out, _ = _call(
        "create_member", environment.slug, "Lee@Example.com", "--role", "analyst", "--password",
        "a-long-password-1",
    )  # fmt: skip
    membership = Membership.objects.get(environment=environment, user__email="lee@example.com")
    assert membership.role == Role.ANALYST
    assert "lee@example.com is analyst" in out
    assert (
        authenticate(
            RequestFactory().post("/login/"),
            username="lee@example.com",
            password="a-long-password-1",
        )
        is not None
    )
    assert "a-long-password-1" not in membership.user.password


def test_create_member_defaults_to_contributor_and_updates_role(environment):
    _call("create_member", environment.slug, "sam@example.com")
    membership = Membership.objects.get(user__email="sam@example.com")
    assert membership.role == Role.CONTRIBUTOR
    # Without --password the login cannot be used until a password is set.
    assert not membership.user.has_usable_password()
    _call("create_member", environment.slug, "sam@example.com", "--role", "admin")
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert Membership.objects.filter(user__email="sam@example.com").count() == 1


def test_create_member_adds_an_existing_login_to_another_environment(
    environment, other_environment
):
    _call("create_member", environment.slug, "kim@example.com", "--password", "first-password-1")
    _call("create_member", other_environment.slug, "kim@example.com", "--role", "manager")
    roles = dict(
        Membership.objects.filter(user__email="kim@example.com").values_list(
            "environment__slug", "role"
        )
    )
    assert roles == {environment.slug: Role.CONTRIBUTOR, other_environment.slug: Role.MANAGER}
    assert (
        authenticate(
            RequestFactory().post("/login/"),
            username="kim@example.com",
            password="first-password-1",
        )
        is not None
    )


def test_create_member_errors(environment):
    with pytest.raises(CommandError, match="no environment with slug 'missing'"):
        _call("create_member", "missing", "a@example.com", "--role", "admin")
    with pytest.raises(CommandError, match="invalid choice: 'owner'"):
        _call("create_member", environment.slug, "a@example.com", "--role", "owner")
    with pytest.raises(CommandError, match="is not an email address"):
        _call("create_member", environment.slug, "not-an-email")
    assert not Membership.objects.filter(environment=environment).exists()


def _database_url() -> str:
    """The test database (the embedded server's socket directory too) as a DATABASE_URL."""
    db = connection.settings_dict
    host = quote(db["HOST"], safe="") if db["HOST"] else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def _manage(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _database_url(), "HARK_TESTING": "true"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_work_as_real_processes(transactional_db):
    """What an operator types: output on stdout, errors on stderr with a non-zero exit."""
    result = _manage("create_environment", "Shell Made")
    assert result.returncode == 0, result.stderr
    slug = Environment.objects.get(name="Shell Made").slug
    assert f"slug: {slug}" in result.stdout
    result = _manage("create_api_key", slug)
    assert result.returncode == 0, result.stderr
    assert ApiKey.objects.get(environment__slug=slug).hashed_key == hash_api_key(
        result.stdout.strip()
    )
    result = _manage("create_api_key", "no-such-environment")
    assert result.returncode == 1
    assert "no environment with slug 'no-such-environment'" in result.stderr
    result = _manage("create_member", slug, "a@example.com", "--role", "boss")
    assert result.returncode == 2
    assert "invalid choice: 'boss'" in result.stderr
