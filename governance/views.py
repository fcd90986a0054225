"""The panel's "Export data" and "Erase" (profiles' User Detail Panel), and Settings → Audit log."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.http import HarkRequest, confirm_page, confirmed, htmx_fragment
from core.pagination import keyset_page
from core.urls import env_reverse
from profiles.models import Profile

from . import audit
from .erasure import erase_contact, erasures_matching, profile_erasure_plan
from .export import contact_export_stream, export_filename
from .models import AuditEntry, ErasureLog

AUDIT_PAGE_SIZE = 50


def _admin_only(request: HarkRequest) -> None:
    if not request.membership.is_admin:
        raise PermissionDenied("Only admins can do this.")


def _profile(request: HarkRequest, uuid: UUID) -> Profile:
    return get_object_or_404(Profile, uuid=uuid, environment=request.environment)


@require_GET
def contact_export(request: HarkRequest, uuid: UUID) -> StreamingHttpResponse:
    """The contact's data as a JSON download (every member may read it; the export is audited)."""
    profile = _profile(request, uuid)
    audit.record(
        request,
        "contact.export",
        ("contact", profile.uuid, profile.display_name),
        after={"via": "dashboard"},
    )
    response = StreamingHttpResponse(
        contact_export_stream(profile=profile), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(profile)}"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def contact_erase(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """GET: the confirmation, naming what will be deleted with counts. POST with confirm: erase.
    Admins only (analysts and other roles: 403)."""
    _admin_only(request)
    profile = _profile(request, uuid)
    if not confirmed(request):
        plan = profile_erasure_plan(profile=profile)
        return confirm_page(
            request,
            "governance/erase.html",
            {"profile": profile, "plan": plan},
            back=env_reverse(request, "profiles:detail", uuid=profile.uuid),
            back_label=profile.display_name,
        )
    entry = erase_contact(request, profile, via="dashboard")
    messages.success(
        request,
        f"Contact erased ({sum(entry.counts.values()):,} rows). Erasure #{entry.pk} is logged "
        "without their data.",
    )
    return HttpResponseRedirect(env_reverse(request, "profiles:list"))


# --- Audit log ------------------------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    actor: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Anyone"
    )
    action = forms.ChoiceField(required=False)
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args: Any, environment: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        # Team members of this environment (past members stay in entries by label).
        actor = cast(forms.ModelChoiceField, self.fields["actor"])
        actor.queryset = (
            get_user_model().objects.filter(memberships__environment=environment).order_by("email")
        )
        # Replaced per instance, as Django's docs do (mypy sees a method being reassigned).
        actor.label_from_instance = lambda u: u.email or u.username  # type: ignore[assignment]
        cast(forms.ChoiceField, self.fields["action"]).choices = [
            ("", "Any action"),
            *audit.ACTIONS.items(),
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "must be on or after the start date")
        return data


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@require_GET
def audit_log(request: HarkRequest) -> HttpResponse:
    """Settings → Audit log: newest first, filtered by actor, action and dates, keyset pages
    (one query a page on the (environment, -at, -id) indexes). Admins only."""
    _admin_only(request)
    form = AuditFilterForm(request.GET or None, environment=request.environment)
    qs = AuditEntry.objects.filter(environment=request.environment)
    if form.is_bound and not form.is_valid():
        qs = qs.none()
    elif form.is_bound:
        data = form.cleaned_data
        if data.get("actor"):
            qs = qs.filter(actor=data["actor"])
        if data.get("action"):
            qs = qs.filter(action=data["action"])
        if data.get("start"):
            qs = qs.filter(at__gte=_day_start(data["start"]))
        # The day after 9999-12-31 (date.max) does not exist (it was a 500): up to the end of
        # that day leaves nothing out.
        if data.get("end") and data["end"] < date.max:
            qs = qs.filter(at__lt=_day_start(data["end"] + timedelta(days=1)))
    page = keyset_page(qs, "at", request.GET.get("after"), AUDIT_PAGE_SIZE)
    for entry in page.items:
        entry.action_label = audit.ACTIONS.get(entry.action, entry.action)
        entry.before_text = json.dumps(entry.before, ensure_ascii=False, sort_keys=True)[:2000]
        entry.after_text = json.dumps(entry.after, ensure_ascii=False, sort_keys=True)[:2000]
    params = request.GET.copy()
    params.pop("after", None)
    first_url = ("?" + params.urlencode()) if request.GET.get("after") else None
    next_url = None
    if page.next_cursor:
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    context = {"form": form, "entries": page.items, "next_url": next_url, "first_url": first_url}
    fragment = htmx_fragment(request)
    template = "governance/audit_log.html#results" if fragment else "governance/audit_log.html"
    return render(request, template, context)


# --- Erasure log ----------------------------------------------------------------------------------


class VerifyErasureForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("email", "Email"), ("id", "User ID"), ("uuid", "Contact uuid")], label="By"
    )
    value = forms.CharField(max_length=320, label="Identifier")

    def clean_value(self) -> str:
        value = self.cleaned_data["value"].replace("\x00", "").strip()
        if not value:
            raise forms.ValidationError("Enter the identifier to check.")
        return value


@require_GET
def erasure_log(request: HarkRequest) -> HttpResponse:
    """Settings → Erasures: the erasure log (who, when, how many rows; never whose), keyset
    pages, and a form that confirms whether a contact with a given identifier was erased (its
    keyed hash is looked up; the identifier is not stored). Admins only."""
    _admin_only(request)
    form = VerifyErasureForm(request.GET if "value" in request.GET else None)
    matches = None
    if form.is_bound and form.is_valid():
        matches = list(
            erasures_matching(
                kind=form.cleaned_data["kind"],
                value=form.cleaned_data["value"],
                environment_id=request.environment.pk,
            )[:20]
        )
    qs = ErasureLog.objects.filter(environment=request.environment)
    page = keyset_page(qs, "erased_at", request.GET.get("after"), AUDIT_PAGE_SIZE)
    for entry in page.items:
        entry.rows = sum(entry.counts.values())
    next_url = f"?after={page.next_cursor}" if page.next_cursor else None
    context = {"form": form, "matches": matches, "erasures": page.items, "next_url": next_url}
    return render(request, "governance/erasures.html", context)
