"""Queueing Celery tasks by name: the seam services enqueue through.

Tasks call services (`<app>/tasks.py` imports its `services`); a service that queues work names
the task instead of importing its tasks module, so no services module depends on a tasks
module and the import graph has no services <-> tasks cycle. The task is the registered one,
so everything Celery's `delay` does holds: inline where CELERY_TASK_ALWAYS_EAGER is on (no
Redis: development, tests), and a test may patch the task's `delay`.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import current_app
from django.db import transaction


def _task(name: str) -> Any:
    """The registered task `name`. Every task is named after where it is defined,
    "<app>.tasks.<function>": a process that has not imported that module yet (a web process:
    Celery's autodiscovery runs when a worker starts) imports it on the first call."""
    tasks = current_app.tasks
    if name not in tasks:
        importlib.import_module(name.rpartition(".")[0])
    return tasks[name]


def enqueue(name: str, *args: Any) -> None:
    """Queue task `name` with `args` now (inline when tasks run eagerly)."""
    _task(name).delay(*args)


def enqueue_on_commit(name: str, *args: Any) -> None:
    """Queue task `name` with `args` once the current transaction commits (at once outside
    one): a worker never looks for rows that are not committed yet."""
    transaction.on_commit(lambda: enqueue(name, *args))
