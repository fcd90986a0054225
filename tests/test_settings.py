"""Settings come from environment variables; a bad value stops start-up with a message naming it.

Most cases run the settings module in this process (runpy, so django.conf.settings is left
alone); the cases that depend on not running under pytest (SECRET_KEY required, the deploy
checks) start real processes, as an operator would.
"""

from __future__ import annotations

import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_timezone, env_url

ROOT = Path(__file__).resolve().parent.parent
# Every variable config/settings.py reads, so each test starts from a clean slate.
VARIABLES = [
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TIME_ZONE",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_TIMEOUT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "DEFAULT_FROM_EMAIL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "HARK_API_RATE_LIMIT",
    "HARK_CLIENT_RATE_LIMIT_IP",
    "HARK_CLIENT_RATE_LIMIT_KEY",
    "HARK_DELIVERY_CACHE_SECONDS",
    "HARK_PREPARED_STATEMENTS",
    "HARK_INGEST_SYNCHRONOUS_COMMIT",
    "HARK_SEGMENT_REFRESH_SECONDS",
    "HARK_SEGMENT_DEBOUNCE_SECONDS",
    "HARK_PAGEVIEW_BUFFER_SECONDS",
    "HARK_SEGMENT_STATEMENT_TIMEOUT",
    "HARK_SEGMENT_WORK_MEM",
    "HARK_SEGMENT_STUCK_SECONDS",
    "HARK_SEGMENT_PREVIEW_TIMEOUT",
    "HARK_CELERY_QUEUE",
    "HARK_DATA_DIR",
    "HARK_TESTING",
    "LOG_LEVEL",
    "HARK_BASE_URL",
    "HARK_LOGIN_FAILURE_LIMIT",
    "HARK_LOGIN_COOLOFF_MINUTES",
    "HARK_LOGIN_THROTTLE",
    "HARK_WEBHOOKS_ALLOW_PRIVATE",
    "HARK_WEBHOOKS_LEASE_SECONDS",
    "HARK_WEBHOOKS_BATCH_SIZE",
    "HARK_WEBHOOKS_SEND_THREADS",
    "HARK_WEBHOOKS_DEBOUNCE_SECONDS",
    "HARK_WEBHOOKS_DRAIN_SECONDS",
    "FORWARDED_ALLOW_IPS",
    "HARK_ALERTS_SWEEP_SECONDS",
    "HARK_ALERTS_LOOKBACK_SECONDS",
    "HARK_ALERTS_MAX_ATTEMPTS",
    "HARK_ALERTS_DIGEST_HOUR",
    "HARK_EVENTS_PARTITIONS_AHEAD",
    "HARK_RETENTION_BATCH",
    "HARK_AUDIT_RETENTION_DAYS",
    "HARK_DELIVERY_LOG_DAYS",
    "HARK_ERASURE_SECRET",
    "HARK_IMPORT_MAX_BYTES",
    "HARK_IMPORT_CHUNK_ROWS",
    "HARK_IMPORT_WORKERS",
    "HARK_IMPORT_DIR",
    "HARK_IMPORT_GIN_PENDING_KB",
]
VALID = {
    "DATABASE_URL": "postgres://hark@db.internal:5432/hark",
    "SECRET_KEY": "x" * 60,
    "DEBUG": "true",
}


@pytest.fixture
def environ(monkeypatch, tmp_path):
    """A clean environment with valid base values; returns a setter."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HARK_DATA_DIR", str(tmp_path))
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _load_settings() -> dict:
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


# --- The helpers -----------------------------------------------------------------------------


def test_env_bool_accepts_the_usual_spellings(monkeypatch):
    for text, value in [("true", True), ("1", True), ("Yes", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("HARK_X", text)
        assert env_bool("HARK_X") is value
    monkeypatch.delenv("HARK_X")
    assert env_bool("HARK_X", True) is True


def test_env_bool_rejects_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("HARK_X", "maybe")
    with pytest.raises(ImproperlyConfigured, match="HARK_X"):
        env_bool("HARK_X")


def test_env_int_checks_number_and_minimum(monkeypatch):
    monkeypatch.setenv("HARK_N", "12")
    assert env_int("HARK_N", 1) == 12
    monkeypatch.setenv("HARK_N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="HARK_N must be a whole number"):
        env_int("HARK_N", 1)
    monkeypatch.setenv("HARK_N", "0")
    with pytest.raises(ImproperlyConfigured, match="HARK_N must be at least 1"):
        env_int("HARK_N", 5, minimum=1)


def test_env_url_checks_the_scheme(monkeypatch):
    monkeypatch.setenv("HARK_URL", "mysql://db/hark")
    with pytest.raises(ImproperlyConfigured, match="HARK_URL must be a URL starting with"):
        env_url("HARK_URL", ("postgres",))
    monkeypatch.setenv("HARK_URL", "postgres://db/hark")
    assert env_url("HARK_URL", ("postgres",)) == "postgres://db/hark"
    monkeypatch.setenv("HARK_URL", "")
    assert env_url("HARK_URL", ("postgres",)) is None


def test_env_timezone_and_list(monkeypatch):
    monkeypatch.setenv("HARK_TZ", "Mars/Olympus")
    with pytest.raises(ImproperlyConfigured, match="HARK_TZ is not a known time zone"):
        env_timezone("HARK_TZ")
    monkeypatch.setenv("HARK_TZ", "Europe/Berlin")
    assert env_timezone("HARK_TZ") == "Europe/Berlin"
    monkeypatch.setenv("HARK_HOSTS", " a.example, ,b.example ")
    assert env_list("HARK_HOSTS") == ["a.example", "b.example"]


# --- The settings module -------------------------------------------------------------------


def test_valid_environment_gives_the_expected_settings(environ):
    environ.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    environ.setenv("ALLOWED_HOSTS", "hark.example.com,www.hark.example.com")
    environ.setenv("CSRF_TRUSTED_ORIGINS", "https://hark.example.com")
    environ.setenv("TIME_ZONE", "Europe/Berlin")
    environ.setenv("EMAIL_PORT", "587")
    loaded = _load_settings()
    assert loaded["DATABASES"]["default"]["HOST"] == "db.internal"
    assert loaded["DATABASES"]["default"]["NAME"] == "hark"
    assert loaded["CELERY_BROKER_URL"] == "redis://cache.internal:6379/0"
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False
    assert "hark.example.com" in loaded["ALLOWED_HOSTS"]
    assert loaded["CSRF_TRUSTED_ORIGINS"] == ["https://hark.example.com"]
    assert loaded["TIME_ZONE"] == "Europe/Berlin"
    assert loaded["EMAIL_PORT"] == 587
    assert loaded["EMAIL_TIMEOUT"] == 10  # Django's default would wait forever
    assert loaded["HARK_INGEST_SYNCHRONOUS_COMMIT"] is False


def test_synchronous_ingest_commit_is_read_from_the_environment(environ):
    environ.setenv("HARK_INGEST_SYNCHRONOUS_COMMIT", "true")
    assert _load_settings()["HARK_INGEST_SYNCHRONOUS_COMMIT"] is True


def test_without_redis_tasks_run_inline(environ):
    loaded = _load_settings()
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is True
    assert loaded["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://db.internal/hark"),
        ("DATABASE_URL", "db.internal:5432"),
        ("REDIS_URL", "http://cache.internal:6379"),
        ("DEBUG", "maybe"),
        ("TIME_ZONE", "Mars/Olympus_Mons"),
        ("EMAIL_PORT", "smtp"),
        ("EMAIL_PORT", "0"),
        ("EMAIL_USE_TLS", "sometimes"),
        ("SECURE_SSL_REDIRECT", "2"),
        ("SECURE_HSTS_SECONDS", "-1"),
        ("SECURE_HSTS_SECONDS", "a year"),
        ("HARK_API_RATE_LIMIT", "0"),
        ("HARK_API_RATE_LIMIT", "many"),
        ("HARK_PREPARED_STATEMENTS", "often"),
        ("HARK_INGEST_SYNCHRONOUS_COMMIT", "later"),
        ("HARK_SEGMENT_REFRESH_SECONDS", "5"),
        ("HARK_SEGMENT_DEBOUNCE_SECONDS", "0"),
        ("HARK_PAGEVIEW_BUFFER_SECONDS", "-1"),
        ("HARK_PAGEVIEW_BUFFER_SECONDS", "soon"),
        ("HARK_SEGMENT_STUCK_SECONDS", "soon"),
        ("HARK_SEGMENT_STATEMENT_TIMEOUT", "0"),
        # Longer than a task may run: Redis would hand the run out again while it runs.
        ("HARK_SEGMENT_STATEMENT_TIMEOUT", "3600"),
        ("HARK_SEGMENT_PREVIEW_TIMEOUT", "-1"),
        ("HARK_TESTING", "perhaps"),
        ("CSRF_TRUSTED_ORIGINS", "hark.example.com"),
        ("LOG_LEVEL", "LOUD"),
        ("HARK_ALERTS_SWEEP_SECONDS", "0"),
        ("HARK_ALERTS_LOOKBACK_SECONDS", "5"),
        ("HARK_ALERTS_MAX_ATTEMPTS", "never"),
        ("HARK_ALERTS_DIGEST_HOUR", "24"),
    ],
)
def test_bad_value_raises_improperly_configured_naming_the_variable(environ, name, value):
    environ.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        _load_settings()


def test_dev_secret_key_is_generated_once_and_kept(environ, tmp_path):
    environ.delenv("SECRET_KEY")
    first = _load_settings()["SECRET_KEY"]
    assert len(first) >= 50
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert _load_settings()["SECRET_KEY"] == first


# --- Real processes -------------------------------------------------------------------------


def _process_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # The browser fixture allows sync ORM calls under Playwright's event loop in this process;
    # a production process must not inherit that (check --deploy reports it as async.E001).
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(values)
    return env


def _run(args: list[str], **values: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_process_env(**values),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = _run(
        ["-c", "import django; django.setup()"],
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=VALID["DATABASE_URL"],
        DEBUG="false",
        HARK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_bad_value_stops_a_real_process_with_a_clear_message(tmp_path):
    result = _run(
        ["-c", "import django; django.setup()"],
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=VALID["DATABASE_URL"],
        SECRET_KEY=VALID["SECRET_KEY"],
        EMAIL_PORT="twenty-five",
        HARK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: EMAIL_PORT must be a whole number" in result.stderr


def _real_database_url() -> str:
    """A URL for the database the tests use (the embedded server's socket directory, too)."""
    db = settings.DATABASES["default"]
    host = quote(db["HOST"], safe="") if db["HOST"] else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def test_deploy_checks_pass_with_production_settings(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING", "--database", "default"],
        DATABASE_URL=_real_database_url(),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="hark.example.com",
        CSRF_TRUSTED_ORIGINS="https://hark.example.com",
        HARK_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_login_throttle_and_proxy_settings(environ):
    loaded = _load_settings()
    assert loaded["AXES_FAILURE_LIMIT"] == 10 and loaded["TRUSTED_PROXIES"] == ["127.0.0.1"]
    assert loaded["AXES_COOLOFF_TIME"].total_seconds() == 15 * 60
    environ.setenv("HARK_LOGIN_FAILURE_LIMIT", "5")
    environ.setenv("HARK_LOGIN_COOLOFF_MINUTES", "60")
    environ.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 192.0.2.4")
    environ.setenv("HARK_BASE_URL", "https://hark.example.com/")
    loaded = _load_settings()
    assert loaded["AXES_FAILURE_LIMIT"] == 5
    assert loaded["AXES_COOLOFF_TIME"].total_seconds() == 3600
    assert loaded["TRUSTED_PROXIES"] == ["10.0.0.0/8", "192.0.2.4"]
    assert loaded["HARK_BASE_URL"] == "https://hark.example.com"
    for name, value, message in [
        ("FORWARDED_ALLOW_IPS", "proxy.internal", "FORWARDED_ALLOW_IPS entries must be"),
        ("HARK_LOGIN_FAILURE_LIMIT", "0", "HARK_LOGIN_FAILURE_LIMIT must be at least 1"),
        ("HARK_BASE_URL", "hark.example.com", "HARK_BASE_URL must be a URL"),
    ]:
        environ.setenv(name, value)
        with pytest.raises(ImproperlyConfigured, match=message):
            _load_settings()
        environ.delenv(name)


# --- Documentation ---------------------------------------------------------------------------


def test_readme_documents_every_variable_the_settings_read():

    source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r"env_\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
    assert {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "DEBUG"} <= read
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    }
    assert read <= documented, f"not in the README's Configuration table: {read - documented}"
    # And every variable the module lists for its tests is a real one.
    assert read <= set(VARIABLES)


def test_procfile_web_process_loads_with_production_settings(tmp_path):
    """The Procfile's processes exist, and gunicorn loads the app with its config file."""
    processes = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(processes) == {"web", "worker", "beat", "release"}
    assert "celery -A config worker" in processes["worker"]
    assert "celery -A config beat" in processes["beat"]
    assert "migrate" in processes["release"]
    command = processes["web"].split()
    assert command[0] == "gunicorn"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "--check-config", *command[1:]],
        cwd=ROOT,
        env=_process_env(
            DATABASE_URL=VALID["DATABASE_URL"],
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="hark.example.com",
            HARK_DATA_DIR=str(tmp_path),
            WEB_CONCURRENCY="3",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
