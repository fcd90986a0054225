"""Settings → Webhooks: endpoints (list, create, edit, rotate, enable/disable, delete), the
delivery log per endpoint (htmx, filter by status, keyset pages), replays and test events.
Every member may read; changes need the admin role (analysts get 403 or the read-only page);
every lookup is scoped by the environment (another environment's uuid is 404)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import HarkRequest, confirm_page, confirmed, htmx_fragment
from core.once import once_repeated
from core.urls import env_reverse
from environments.permissions import admin_required

from . import selectors, services
from .forms import EndpointForm, ReplayForm
from .models import Delivery, DeliveryStatus, EndpointKind, WebhookEndpoint

PAGE_SIZE = 50


def _endpoint(request: HarkRequest, uuid) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, uuid=uuid, environment=request.environment)


def apply_service_errors(form: EndpointForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # a page showing a secret is never cached
    return response


@require_GET
def endpoint_list(request: HarkRequest) -> HttpResponse:
    context = {
        "endpoints": list(selectors.endpoints_for(environment=request.environment)),
        "is_admin": request.membership.is_admin,
    }
    return render(request, "webhooks/list.html", context)


@require_http_methods(["GET", "POST"])
@admin_required(read_only="webhooks:list")
def endpoint_new(request: HarkRequest) -> HttpResponse:
    if request.method == "POST" and once_repeated(request):
        # The page that showed the new endpoint's secret, sent again: no second endpoint.
        messages.info(request, "That form was already sent: no other endpoint was created.")
        return HttpResponseRedirect(env_reverse(request, "webhooks:list"))
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint = services.endpoint_create(
                environment=request.environment,
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                kind=data["kind"],
                write_key=data["write_key"] or None,
                by=request.user,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Endpoint created.")
            return _no_store(_detail(request, endpoint, new_secret=endpoint.secret))
    return render(request, "webhooks/form.html", {"form": form, "endpoint": None})


def _detail(request: HarkRequest, endpoint: WebhookEndpoint, **extra: object) -> HttpResponse:
    status = request.GET.get("status") or None
    if status not in DeliveryStatus.values:
        status = None
    try:
        before = int(request.GET.get("before") or 0) or None
    except ValueError:
        before = None
    rows, next_before = selectors.deliveries_page(
        endpoint=endpoint, status=status, before=before, limit=PAGE_SIZE
    )
    context = {
        "endpoint": endpoint,
        "deliveries": rows,
        "next_before": next_before,
        "status": status or "",
        "statuses": DeliveryStatus.choices,
        "is_admin": request.membership.is_admin,
        "now": timezone.now(),
        "replay_form": ReplayForm(initial={"since": timezone.now() - timedelta(days=1)}),
        **extra,
    }
    if htmx_fragment(request, "deliveries"):
        return render(request, "webhooks/detail.html#deliveries", context)
    return render(request, "webhooks/detail.html", context)


@require_GET
def endpoint_detail(request: HarkRequest, uuid) -> HttpResponse:
    return _detail(request, _endpoint(request, uuid))


@require_http_methods(["GET", "POST"])
@admin_required(read_only="webhooks:detail")
def endpoint_edit(request: HarkRequest, uuid) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    initial = {
        "kind": endpoint.kind,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    form.fields["kind"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.endpoint_update(
                endpoint=endpoint,
                url=data["url"],
                # The checkboxes list webhook events: a destination keeps its own.
                event_types=None if endpoint.kind == EndpointKind.SEGMENT else data["event_types"],
                description=data["description"],
                write_key=data["write_key"] or None,
            )
        except ValidationError as exc:
            endpoint.refresh_from_db()
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))
    return render(request, "webhooks/form.html", {"form": form, "endpoint": endpoint})


@require_POST
@admin_required
def endpoint_toggle(request: HarkRequest, uuid) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    enable = request.POST.get("enabled") == "on"
    services.endpoint_update(endpoint=endpoint, enabled=enable)
    messages.success(request, "Endpoint enabled." if enable else "Endpoint disabled.")
    return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))


@require_http_methods(["GET", "POST"])
@admin_required(read_only="webhooks:detail")
def endpoint_rotate(request: HarkRequest, uuid) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    if endpoint.kind != EndpointKind.WEBHOOK:
        return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))
    back = env_reverse(request, "webhooks:detail", uuid=uuid)
    if not confirmed(request):
        return confirm_page(
            request,
            "webhooks/rotate.html",
            {"endpoint": endpoint},
            back=back,
            back_label="Endpoint",
        )
    secret = services.endpoint_rotate_secret(endpoint=endpoint)
    messages.success(request, "Secret rotated: the previous one keeps signing for 24 hours.")
    return _no_store(_detail(request, endpoint, new_secret=secret))


@require_http_methods(["GET", "POST"])
@admin_required(read_only="webhooks:detail")
def endpoint_delete(request: HarkRequest, uuid) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    if not confirmed(request):
        back = env_reverse(request, "webhooks:detail", uuid=uuid)
        return confirm_page(
            request,
            "webhooks/delete.html",
            {"endpoint": endpoint},
            back=back,
            back_label="Endpoint",
        )
    services.endpoint_delete(endpoint=endpoint)
    messages.success(request, "Endpoint deleted.")
    return HttpResponseRedirect(env_reverse(request, "webhooks:list"))


@require_POST
@admin_required
def endpoint_test(request: HarkRequest, uuid) -> HttpResponse:
    services.endpoint_send_test(endpoint=_endpoint(request, uuid))
    messages.success(request, "Test event queued: it appears in the log below.")
    return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))


@require_POST
@admin_required
def delivery_replay(request: HarkRequest, uuid, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    delivery = get_object_or_404(Delivery, pk=pk, endpoint=endpoint)
    services.delivery_replay(delivery=delivery)
    messages.success(request, "Delivery queued again (same webhook-id).")
    return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))


@require_POST
@admin_required
def replay_failed(request: HarkRequest, uuid) -> HttpResponse:
    endpoint = _endpoint(request, uuid)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        return _detail(request, endpoint, replay_form=form)
    count = services.deliveries_replay_failed(endpoint=endpoint, since=form.cleaned_data["since"])
    messages.success(request, f"{count} failed deliveries queued again.")
    return HttpResponseRedirect(env_reverse(request, "webhooks:detail", uuid=uuid))
