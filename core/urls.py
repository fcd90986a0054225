"""Helpers to build dashboard URLs, which all carry the environment slug (`/e/<env>/...`)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse


def env_reverse(request: Any, name: str, *args: Any, **kwargs: Any) -> str:
    """reverse() for a dashboard URL in the request's environment."""
    return reverse(name, kwargs={"env": request.environment.slug, **kwargs}, args=args or None)
