"""Segment pages: list, builder, detail with members, recompute; and the panel fragment."""

from __future__ import annotations

import contextlib
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from core.http import (
    HarkRequest,
    confirm_page,
    confirmed,
    htmx_fragment,
    parse_uuid,
    safe_next,
)
from core.totals import capped_total
from core.urls import env_reverse
from environments.permissions import editor_required
from profiles.models import Profile
from profiles.selectors import profile_ids_for_uuids

from . import rules as R
from . import selectors, services
from .models import Segment, SegmentKind


def _error_text(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
    return " ".join(error.messages)


@require_http_methods(["GET", "POST"])
@editor_required
def profile_segments(request: HarkRequest, profile_uuid: str) -> HttpResponse:
    """The "Segments" block of the User Detail Panel (hx-get, hx-trigger="load"): the profile's
    segments, with add/remove for manual ones. POST action=add|remove, segment=<uuid>."""
    profile = get_object_or_404(Profile, uuid=profile_uuid, environment=request.environment)
    error = ""
    if request.method == "POST":
        segment = get_object_or_404(
            Segment,
            uuid=parse_uuid(request.POST.get("segment")),  # not a uuid: None, a 404
            environment=request.environment,
            kind=SegmentKind.MANUAL,
        )
        action = request.POST.get("action")
        # Checked before anything is written: an off-site `next` falls back to the list.
        target = safe_next(request, env_reverse(request, "segments:list"))
        try:
            if action == "add":
                services.segment_member_add(segment=segment, profile=profile)
            elif action == "remove":
                services.segment_member_remove(segment=segment, profile=profile)
            else:
                error = "Unknown action."
        except ValidationError as exc:
            error = _error_text(exc)
        if not htmx_fragment(request) and not error:
            return HttpResponseRedirect(target)
    context = {
        "profile": profile,
        "memberships": list(selectors.profile_memberships(profile=profile)),
        "addable": list(
            selectors.manual_segments_without(environment=request.environment, profile=profile)
        )
        if request.membership.can_edit
        else [],
        "can_edit": request.membership.can_edit,
        "error": error,
    }
    # htmx swaps only 2xx answers: the fragment shows the error in place; a plain form post
    # gets a 400.
    status = 400 if error and not htmx_fragment(request) else 200
    response = render(request, "segments/_profile_segments.html", context, status=status)
    if request.method == "POST" and not error:
        trigger_client_event(response, "segmentMembershipChanged", {"profile": str(profile.uuid)})
    return response


# --- Pages ------------------------------------------------------------------------------------


def _parse_rules(raw: str | None) -> object:

    return R.rules_from_json(raw)


def _error_items(errors: dict, rules: object) -> list[dict]:
    """Validation errors in words, each with its path for the builder to place it."""

    return R.error_items(errors, rules if isinstance(rules, dict) else None)


@require_http_methods(["GET"])
def segment_list(request: HarkRequest) -> HttpResponse:
    segments = list(selectors.segment_list(environment=request.environment))
    lost = selectors.segments_lost_among(segments)
    for segment in segments:
        segment.run_lost = segment.pk in lost  # type: ignore[attr-defined]  # for the template
    return render(
        request,
        "segments/list.html",
        {"segments": segments, "can_edit": request.membership.can_edit},
    )


def _save_form(request: HarkRequest, segment: Segment | None) -> tuple[Segment | None, dict]:
    errors: dict = {}
    name = request.POST.get("name", "")
    description = request.POST.get("description", "")
    kind = request.POST.get("kind") or (segment.kind if segment else SegmentKind.DYNAMIC)
    try:
        if segment is not None and kind != segment.kind:
            # The builder sends the segment's own kind; another one was ignored under "saved".
            raise ValidationError(
                {"kind": ["A segment's kind cannot be changed: create a new segment instead."]}
            )
        rules = _parse_rules(request.POST.get("rules")) if kind == SegmentKind.DYNAMIC else None
        if segment is None:
            segment = services.segment_create(
                environment=request.environment,
                name=name,
                kind=kind,
                rules=rules,
                description=description,
                created_by=request.user,
            )
        else:
            services.segment_update(
                segment=segment, name=name, description=description, rules=rules
            )
        return segment, errors
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "message_dict") else {"": exc.messages}
    return None, errors


@require_http_methods(["GET", "POST"])
@editor_required(read_only="segments:list")
def segment_new(request: HarkRequest) -> HttpResponse:
    return _builder(request, None)


@require_http_methods(["GET", "POST"])
@editor_required(read_only="segments:detail")
def segment_edit(request: HarkRequest, uuid: str) -> HttpResponse:
    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    return _builder(request, segment)


def _builder(request: HarkRequest, segment: Segment | None) -> HttpResponse:

    errors: dict = {}
    form = {
        "name": segment.name if segment else "",
        "description": segment.description if segment else "",
        "kind": segment.kind if segment else SegmentKind.DYNAMIC,
        "rules": json.dumps(segment.rules if segment else {"op": "and", "conditions": []}),
    }
    if request.method == "POST":
        saved, errors = _save_form(request, segment)
        if saved is not None:
            messages.success(request, f"Segment “{saved.name}” saved.")
            url = env_reverse(request, "segments:detail", uuid=saved.uuid)
            if htmx_fragment(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
        form.update({k: request.POST.get(k, form[k]) for k in form})
    data = selectors.segment_builder_data(environment=request.environment, segment=segment)
    if request.method == "POST":
        with contextlib.suppress(ValidationError):
            data["rules"] = _parse_rules(form["rules"])
    return render(
        request,
        "segments/builder.html",
        {
            "segment": segment,
            "form": form,
            "errors": _error_items(errors, data["rules"]),
            "builder_data": data,
            "kinds": SegmentKind.choices,
            # An existing segment's count is shown as the page opens, not after a first edit.
            "count_on_load": segment is not None and segment.kind == SegmentKind.DYNAMIC,
            "time_zone": settings.TIME_ZONE,
        },
        status=400 if errors else 200,
    )


@require_http_methods(["POST"])
@editor_required
def segment_preview(request: HarkRequest) -> HttpResponse:
    """Live count and sample for the builder's unsaved rules."""

    segment = None
    if request.POST.get("segment"):
        key = parse_uuid(request.POST["segment"])
        if key is None:
            raise Http404("No such segment.")
        segment = selectors.segment_get(environment=request.environment, uuid=key)
    context: dict = {"errors": [], "count": None, "sample": []}
    rules: object = None
    try:
        rules = _parse_rules(request.POST.get("rules"))
        context["count"], context["sample"] = services.segment_preview(
            environment_id=request.environment.pk, rules=rules, segment=segment
        )
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "message_dict") else {"": exc.messages}
        context["errors"] = _error_items(errors, rules)
    except OperationalError:
        context["timeout"] = True
    return render(request, "segments/builder.html#preview", context)


def _members_page(request: HarkRequest, segment: Segment) -> dict:
    cursor = request.GET.get("after", "")
    page = selectors.segment_members_page(segment=segment, cursor=cursor)
    return {
        "members": page.items,
        "next_cursor": page.next_cursor or "",
        "cursor": cursor,
        # The members listed now, exact up to COUNT_CAP (one bounded count, core.totals): the
        # stored member_count is as of the last recompute.
        "total": capped_total(selectors.segment_members(segment=segment)),
    }


@require_http_methods(["GET"])
def segment_detail(request: HarkRequest, uuid: str) -> HttpResponse:

    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    context = {
        "segment": segment,
        "can_edit": request.membership.can_edit,
        "run_lost": selectors.segment_run_lost(segment=segment),
        "rules_text": R.describe_rules(
            segment.rules,
            selectors.rule_names(environment=request.environment, rules=segment.rules),
        ),
        **_members_page(request, segment),
    }
    if htmx_fragment(request, "members"):
        return render(request, "segments/detail.html#members", context)
    # Conditions that no longer fit (a trait's type changed): listed in words, no profile read.
    context["rule_problems"] = selectors.segment_rule_problems(segment=segment)
    return render(request, "segments/detail.html", context)


@require_http_methods(["GET"])
def segment_status(request: HarkRequest, uuid: str) -> HttpResponse:
    """The status block (polled while a run is queued or running)."""
    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    response = render(
        request,
        "segments/detail.html#status",
        {
            "segment": segment,
            "can_edit": request.membership.can_edit,
            "run_lost": selectors.segment_run_lost(segment=segment),
        },
    )
    if request.GET.get("was") in ("queued", "running") and segment.status in ("idle", "failed"):
        # The run finished: let the member list (and anything else) reload itself.
        trigger_client_event(response, "segmentRecomputed", {"segment": str(segment.uuid)})
    return response


@require_http_methods(["POST"])
@editor_required
def segment_recompute(request: HarkRequest, uuid: str) -> HttpResponse:
    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    if segment.kind == SegmentKind.DYNAMIC:
        services.segment_recompute_request(segment=segment)
        # Without Redis the task ran inline (after commit): the re-read shows its result.
    if not htmx_fragment(request):
        return redirect(env_reverse(request, "segments:detail", uuid=segment.uuid))
    segment.refresh_from_db()
    response = render(
        request,
        "segments/detail.html#status",
        {
            "segment": segment,
            "can_edit": True,
            "run_lost": selectors.segment_run_lost(segment=segment),
        },
    )
    if segment.status in ("idle", "failed"):
        trigger_client_event(response, "segmentRecomputed", {"segment": str(segment.uuid)})
    return response


@require_http_methods(["GET", "POST"])
@editor_required(read_only="segments:detail")
def segment_delete(request: HarkRequest, uuid: str) -> HttpResponse:
    """GET: a confirmation page (the <dialog>'s fallback). POST with confirm: delete."""
    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    if not confirmed(request):
        back = env_reverse(request, "segments:detail", uuid=segment.uuid)
        return confirm_page(
            request,
            "segments/delete.html",
            {"segment": segment, "blockers": services.segment_delete_blockers(segment=segment)},
            back=back,
            back_label=segment.name,
        )
    try:
        services.segment_delete(segment=segment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(env_reverse(request, "segments:detail", uuid=segment.uuid))
    messages.success(request, f"Segment “{segment.name}” deleted.")
    return redirect(env_reverse(request, "segments:list"))


@require_http_methods(["POST"])
@editor_required
def segment_import(request: HarkRequest, uuid: str) -> HttpResponse:
    """Import members of a manual segment from a CSV file or pasted ids / emails."""
    segment = selectors.segment_get(environment=request.environment, uuid=uuid)
    data = request.POST.get("ids", "")
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size and upload.size > 20 * 1024 * 1024:
            messages.error(request, "The file is larger than 20 MB.")
            return redirect(env_reverse(request, "segments:detail", uuid=segment.uuid))
        data += "\n" + upload.read().decode("utf-8-sig", errors="replace")
    try:
        added, missing = services.segment_members_import(segment=segment, data=data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        text = f"{added} added."
        if missing:
            shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
            text += f" {len(missing)} not found: {shown}"
        messages.success(request, text)
    return redirect(env_reverse(request, "segments:detail", uuid=segment.uuid))


@require_http_methods(["POST"])
@editor_required
def segment_members_change(request: HarkRequest, uuid: str) -> HttpResponse:
    """Add or remove profiles (POST profile=<uuid>..., action=add|remove) to a manual segment:
    the Users list's bulk action posts here."""
    segment = get_object_or_404(
        Segment, uuid=uuid, environment=request.environment, kind=SegmentKind.MANUAL
    )
    target = safe_next(request, env_reverse(request, "segments:detail", uuid=uuid))
    uuids = request.POST.getlist("profile")
    action = request.POST.get("action", "add")
    bad = next((u for u in uuids if parse_uuid(u) is None), None)
    if bad is not None or action not in ("add", "remove"):
        text = (
            f"profile: “{bad[:100]}” is not a valid id."
            if bad is not None
            else "action: choose add or remove."
        )
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    # One read for the ids, one statement for the change, whatever the number of profiles.
    profile_ids = profile_ids_for_uuids(environment=request.environment, uuids=uuids[:10_000])
    if action == "remove":
        changed = services.segment_members_remove(segment=segment, profile_ids=profile_ids)
    else:
        changed = services.segment_members_add(segment=segment, profile_ids=profile_ids)
    verb = "removed from" if action == "remove" else "added to"
    text = f"{changed} user{'s' if changed != 1 else ''} {verb} “{segment.name}”."
    if htmx_fragment(request):
        response = HttpResponse(text)
        trigger_client_event(response, "segmentMembershipChanged", {"segment": str(segment.uuid)})
        return response
    messages.success(request, text)
    return HttpResponseRedirect(target)
