"""Settings → Alerts: each member's alert subscriptions. Every member, analysts included, may
manage their own (an alert only reads); admins see and manage every one of the environment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from core.http import HarkRequest, confirm_page, confirmed
from core.urls import env_reverse

from . import selectors, services
from .forms import SubscriptionForm
from .models import AlertSubscription


@require_GET
def subscription_list(request: HarkRequest) -> HttpResponse:
    subscriptions = selectors.subscriptions_visible(
        environment=request.environment, membership=request.membership
    )
    context = {"subscriptions": list(subscriptions), "is_admin": request.membership.is_admin}
    return render(request, "alerts/list.html", context)


def _initial(subscription: AlertSubscription) -> dict[str, Any]:
    initial = {f: getattr(subscription, f) for f in services.SUBSCRIPTION_FIELDS}
    initial["survey"] = subscription.survey.uuid if subscription.survey else None
    initial["segment"] = subscription.segment.uuid if subscription.segment else None
    return initial


def _form_page(request: HarkRequest, subscription: AlertSubscription | None) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = SubscriptionForm(request.POST, environment=request.environment)
        if form.is_valid():
            try:
                services.subscription_save(
                    environment=request.environment,
                    user=subscription.user if subscription else request.user,
                    values=form.cleaned_data,
                    subscription=subscription,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
                status = 400
            else:
                messages.success(request, "Alert saved.")
                return HttpResponseRedirect(env_reverse(request, "alerts:list"))
        else:
            status = 400
    elif subscription is not None:
        form = SubscriptionForm(initial=_initial(subscription), environment=request.environment)
    else:
        form = SubscriptionForm(environment=request.environment)
    deliveries = (
        selectors.recent_deliveries(subscription=subscription) if subscription is not None else []
    )
    context = {"form": form, "subscription": subscription, "deliveries": deliveries}
    return render(request, "alerts/form.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def subscription_new(request: HarkRequest) -> HttpResponse:
    return _form_page(request, None)


@require_http_methods(["GET", "HEAD", "POST"])
def subscription_edit(request: HarkRequest, pk: int) -> HttpResponse:
    subscription = selectors.subscription_for(
        environment=request.environment, membership=request.membership, pk=pk
    )
    return _form_page(request, subscription)


@require_http_methods(["GET", "POST"])
def subscription_delete(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page. POST with confirm: delete."""
    subscription = selectors.subscription_for(
        environment=request.environment, membership=request.membership, pk=pk
    )
    back = env_reverse(request, "alerts:list")
    if not confirmed(request):
        return confirm_page(
            request,
            "alerts/delete.html",
            {"subscription": subscription},
            back=back,
            back_label="Alerts",
        )
    services.subscription_delete(subscription=subscription)
    messages.success(request, f"Alert “{subscription.name}” deleted.")
    return HttpResponseRedirect(back)
