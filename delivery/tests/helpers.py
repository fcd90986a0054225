"""Calling the client API in tests."""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.test import Client

PREFIX = "/api/v1/client"
ANON = "anon-device-0000000001"


def call(
    client: Client,
    environment: Any,
    path: str,
    body: dict[str, Any],
    *,
    key: str | None = None,
    content_type: str = "text/plain;charset=UTF-8",
    **headers: Any,
):
    return client.post(
        f"{PREFIX}{path}?key={key or environment.public_key}",
        data=json.dumps(body),
        content_type=content_type,
        **headers,
    )


def table_counts() -> dict[str, int]:
    """Rows of every table of the project's own apps (what "writes nothing" is checked on)."""
    counts = {}
    for label in ("profiles", "events", "surveys", "segments", "traits", "delivery"):
        for model in apps.get_app_config(label).get_models():
            counts[model._meta.db_table] = model._default_manager.count()
    return counts
