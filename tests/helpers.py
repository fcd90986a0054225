"""Plain helpers shared by every app's tests (the fixtures are in the root conftest.py)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

# The header htmx sends with each of its requests: `client.get(path, headers=HTMX)` asks for the
# fragment a page's view renders for htmx.
HTMX = {"HX-Request": "true"}


def eurl(environment: Any, name: str, **kwargs: Any) -> str:
    """The URL of one of an environment's pages, as the {% eurl %} tag gives it in templates:
    `eurl(environment, "segments:detail", uuid=segment.uuid)`."""
    return reverse(name, kwargs={"env": environment.slug, **kwargs})
