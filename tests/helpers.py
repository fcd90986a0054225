"""Plain helpers shared by every app's tests (the fixtures are in the root conftest.py)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections
from django.urls import reverse

# The header htmx sends with each of its requests: `client.get(path, headers=HTMX)` asks for the
# fragment a page's view renders for htmx.
HTMX = {"HX-Request": "true"}


def eurl(environment: Any, name: str, **kwargs: Any) -> str:
    """The URL of one of an environment's pages, as the {% eurl %} tag gives it in templates:
    `eurl(environment, "segments:detail", uuid=segment.uuid)`."""
    return reverse(name, kwargs={"env": environment.slug, **kwargs})


def race(
    targets: list[Callable[[], Any]],
    background: Callable[[threading.Event], None] | None = None,
) -> tuple[list[Any], list[BaseException]]:
    """Run `targets` in threads released together, each on its own database connection (and
    `background` beside them, given an event set once they are done): returns what they
    returned and what they raised. Needs a transactional test database."""
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets) + (background is not None))
    done = threading.Event()

    def run(target: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    extra = [threading.Thread(target=run, args=(lambda: background(done),))] if background else []
    for t in [*threads, *extra]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in extra:
        t.join()
    return results, errors


def partitions_read(sql: str, params: Any = None) -> tuple[set[str], str]:
    """The events partitions a statement reads when run (EXPLAIN ANALYZE: partitions pruned at
    run time show as "never executed"), and the plan, for the assertion's message."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        plan = "\n".join(row for (row,) in cursor.fetchall())
    read = {
        name
        for line in plan.splitlines()
        if "never executed" not in line
        for name in re.findall(r" on (events_event_\w+)", line)
    }
    return read, plan


def resolve_locally(monkeypatch: Any, *names: str) -> None:
    """Make the host `names` resolve to 127.0.0.1 (a local receiver), others as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host in names else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
