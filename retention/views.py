"""Settings -> Data: the environment's retention policy (admins change it, others read it)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from core.http import HarkRequest
from core.urls import env_reverse
from environments.permissions import admin_required

from . import services
from .forms import RetentionForm


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def data_settings(request: HarkRequest) -> HttpResponse:
    policy = services.retention_policy_get(environment=request.environment)
    status = 200
    if request.method == "POST":
        form = RetentionForm(request.POST)
        if form.is_valid():
            try:
                services.retention_policy_update(
                    environment=request.environment, values=form.cleaned_data
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
                status = 400
            else:
                messages.success(request, "Retention saved. The hourly purge applies it.")
                return HttpResponseRedirect(env_reverse(request, "retention:settings"))
        else:
            status = 400
    else:
        form = RetentionForm(initial={f: getattr(policy, f) for f in services.POLICY_FIELDS})
    context = {
        "form": form,
        "policy": policy,
        "is_admin": request.membership.is_admin,
    }
    return render(request, "retention/settings.html", context, status=status)
