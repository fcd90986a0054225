"""Each app is the only author of its tables' SQL: another app's statement composes the pieces
the owner hands out (profiles.sql, surveys.sql, segments.dirty, traits'
trait_definitions_statement, webhooks.outbox), and services queue tasks by name (core.queue)
rather than importing a tasks module."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
APPS = sorted(
    p.name for p in ROOT.iterdir() if (p / "apps.py").exists() or (p / "models.py").exists()
)
WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([a-z]+)_[a-z]+", re.IGNORECASE)


def _sources() -> list[Path]:
    files = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            files.append(path)
    return files


def test_no_app_writes_another_apps_tables_in_its_own_sql():
    foreign = []
    for path in _sources():
        app = path.relative_to(ROOT).parts[0]
        for match in WRITE.finditer(path.read_text()):
            owner = match.group(1)
            if owner in APPS and owner != app:
                foreign.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert foreign == []


# `Model.objects…update(` and the like, up to the next `.objects`: an ORM write.
ORM_WRITE = re.compile(
    r"\b([A-Z]\w+)\.objects\b(?:(?!\.objects\b).){0,400}?"
    r"\.(update|delete|create|bulk_create|get_or_create|update_or_create|bulk_update)\(",
    re.S,
)
# The demo app builds every app's demo rows at once (seed_demo): it is the one writer allowed.
ORM_WRITERS_OF_ANY_APP = {"demo"}


def test_no_app_writes_another_apps_models_through_the_orm():
    owner = {model.__name__: model._meta.app_label for model in apps.get_models()}
    foreign = []
    for path in _sources():
        app = path.relative_to(ROOT).parts[0]
        if app in ORM_WRITERS_OF_ANY_APP:
            continue
        for match in ORM_WRITE.finditer(path.read_text()):
            model_app = owner.get(match.group(1))
            if model_app in APPS and model_app != app:
                foreign.append(f"{path.relative_to(ROOT)}: {match.group(1)} .{match.group(2)}()")
    assert foreign == []


def test_services_do_not_import_tasks():
    importing = [
        str(path.relative_to(ROOT))
        for path in _sources()
        if path.name != "tasks.py"
        and re.search(
            r"^\s*from (?:\.|[a-z]+\.)tasks import|^\s*from \. import tasks", path.read_text(), re.M
        )
    ]
    assert importing == []
