"""Role checks for dashboard views. Analysts read; every other role may change things."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from core.http import HarkRequest

from .models import Role


def editor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Unsafe methods (POST, PUT, PATCH, DELETE) need a role other than analyst, else 403."""

    @wraps(view)
    def wrapper(request: HarkRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not request.membership.can_edit:
            raise PermissionDenied("Your role is read-only in this environment.")
        return view(request, *args, **kwargs)

    return wrapper


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Unsafe methods need the admin role (settings, API keys, team members)."""

    @wraps(view)
    def wrapper(request: HarkRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and request.membership.role != Role.ADMIN
        ):
            raise PermissionDenied("Only admins can change this.")
        return view(request, *args, **kwargs)

    return wrapper


__all__ = ["Role", "admin_required", "editor_required"]
