"""Login landing, environment home and switcher."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from core.http import HarkRequest

from .context_processors import available_pages


@require_GET
@login_required
def home(request: HarkRequest) -> HttpResponse:
    """Send a signed-in user to their current (or first) environment."""
    memberships = request.user.memberships.select_related("environment").order_by(
        "environment__name"
    )
    slug = request.session.get("environment")
    chosen = (
        next((m for m in memberships if m.environment.slug == slug), None) or memberships.first()
    )
    if chosen is None:
        return render(request, "environments/no_environment.html", status=200)
    return redirect("environments:home", env=chosen.environment.slug)


@require_GET
def environment_home(request: HarkRequest) -> HttpResponse:
    """`/e/<env>/`: the first page of the dashboard that exists."""
    pages = available_pages(request.environment.slug)
    if not pages:
        return render(request, "environments/welcome.html")
    return redirect(pages[0][2])
