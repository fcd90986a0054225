"""Login landing, environment home and switcher, and the Settings page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import HarkRequest, confirm_page, confirmed
from core.urls import env_reverse

from . import services
from .context_processors import available_pages
from .forms import (
    ApiKeyCreateForm,
    EnvironmentNameForm,
    IdentityVerificationForm,
    MemberAddForm,
    MemberRoleForm,
)
from .models import ApiKey, Membership, Role
from .permissions import admin_required


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


# --- Settings ----------------------------------------------------------------------------------


def _settings_context(request: HarkRequest, **extra: object) -> dict:
    environment = request.environment
    context = {
        "name_form": EnvironmentNameForm(initial={"name": environment.name}),
        "key_form": ApiKeyCreateForm(),
        "member_form": MemberAddForm(),
        "api_keys": list(
            ApiKey.objects.filter(environment=environment)
            .select_related("created_by")
            .only(
                "name",
                "prefix",
                "created_at",
                "last_used_at",
                "revoked_at",
                "created_by__email",
                "created_by__username",
            )
            .order_by("revoked_at", "-created_at")
        ),
        "members": list(
            Membership.objects.filter(environment=environment)
            .select_related("user")
            .only("role", "created_at", "user__email", "user__username")
            .order_by("user__email", "user__username")
        ),
        "roles": Role.choices,
        "is_admin": request.membership.is_admin,
        "hark_url": request.build_absolute_uri("/").rstrip("/"),
    }
    context.update(extra)
    return context


def _settings_redirect(request: HarkRequest, anchor: str = "") -> HttpResponseRedirect:
    url = env_reverse(request, "environments:settings")
    return HttpResponseRedirect(url + (f"#{anchor}" if anchor else ""))


@admin_required
def settings_page(request: HarkRequest) -> HttpResponse:
    """GET: every member sees the settings (analysts without controls). POST: rename."""
    if request.method == "POST":
        form = EnvironmentNameForm(request.POST)
        if form.is_valid():
            services.environment_update(
                environment=request.environment, name=form.cleaned_data["name"]
            )
            messages.success(request, "Environment renamed.")
            return _settings_redirect(request)
        return render(
            request, "environments/settings.html", _settings_context(request, name_form=form)
        )
    return render(request, "environments/settings.html", _settings_context(request))


@require_POST
@admin_required
def api_key_create(request: HarkRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return render(
            request, "environments/settings.html", _settings_context(request, key_form=form)
        )
    key, secret = services.api_key_create(
        environment=request.environment, name=form.cleaned_data["name"], created_by=request.user
    )
    # The secret is rendered in this response only (never stored, never in a redirect URL or
    # the session): reloading the page does not show it again.
    response = render(
        request,
        "environments/settings.html",
        _settings_context(request, new_key=key, new_secret=secret),
    )
    response["Cache-Control"] = "no-store"
    return response


def _settings_confirm(
    request: HarkRequest, template: str, context: dict, anchor: str
) -> HttpResponse:
    back = env_reverse(request, "environments:settings") + f"#{anchor}"
    return confirm_page(request, template, context, back=back, back_label="Settings")


@require_http_methods(["GET", "POST"])
@admin_required(read_only="environments:settings")
def api_key_revoke(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page (the <dialog>'s fallback). POST with confirm: revoke."""
    key = get_object_or_404(ApiKey, pk=pk, environment=request.environment)
    if not confirmed(request):
        return _settings_confirm(request, "environments/revoke_key.html", {"key": key}, "api-keys")
    services.api_key_revoke(api_key=key)
    messages.success(request, f"Key {key.prefix}… revoked.")
    return _settings_redirect(request, "api-keys")


@require_POST
@admin_required
def identity_verification(request: HarkRequest) -> HttpResponse:
    form = IdentityVerificationForm(request.POST)
    form.is_valid()
    enabled = bool(form.cleaned_data.get("enabled"))
    services.identity_verification_set(environment=request.environment, enabled=enabled)
    messages.success(request, f"Identity verification {'on' if enabled else 'off'}.")
    return _settings_redirect(request, "identity")


@require_http_methods(["GET", "POST"])
@admin_required(read_only="environments:settings")
def identity_secret_regenerate(request: HarkRequest) -> HttpResponse:
    """GET: the confirmation page (the <dialog>'s fallback). POST with confirm: a new secret."""
    if not confirmed(request):
        return _settings_confirm(request, "environments/regenerate_secret.html", {}, "identity")
    services.identity_secret_regenerate(environment=request.environment)
    messages.success(request, "A new identity secret was generated; update your servers.")
    return _settings_redirect(request, "identity")


@require_POST
@admin_required
def member_add(request: HarkRequest) -> HttpResponse:
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return render(
            request, "environments/settings.html", _settings_context(request, member_form=form)
        )
    try:
        membership = services.member_add_or_update(
            environment=request.environment,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
    except services.LastAdminError as error:
        messages.error(request, str(error))
        return _settings_redirect(request, "team")
    user = membership.user
    if not user.has_usable_password():
        # No email is sent from here: the admin passes this one-time link on. It is the
        # standard password-reset token, valid until used or PASSWORD_RESET_TIMEOUT.
        link = request.build_absolute_uri(
            reverse(
                "environments:password_set",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
        )
        response = render(
            request,
            "environments/settings.html",
            _settings_context(request, invite_member=membership, invite_link=link),
        )
        response["Cache-Control"] = "no-store"
        return response
    messages.success(request, f"{user.email} is now {membership.get_role_display().lower()}.")
    return _settings_redirect(request, "team")


def _member(request: HarkRequest, pk: int) -> Membership:
    """A team membership of this environment (404 for another environment's id)."""
    return get_object_or_404(
        Membership.objects.select_related("user", "environment"),
        pk=pk,
        environment=request.environment,
    )


@require_POST
@admin_required
def member_role(request: HarkRequest, pk: int) -> HttpResponse:
    membership = _member(request, pk)
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.member_role_change(membership=membership, role=form.cleaned_data["role"])
        except services.LastAdminError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{membership.user.email or membership.user} updated.")
    else:
        messages.error(request, "Unknown role.")
    return _settings_redirect(request, "team")


@require_http_methods(["GET", "POST"])
@admin_required(read_only="environments:settings")
def member_remove(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page (the <dialog>'s fallback). POST with confirm: remove."""
    membership = _member(request, pk)
    if not confirmed(request):
        return _settings_confirm(
            request, "environments/remove_member.html", {"member": membership}, "team"
        )
    try:
        services.member_remove(membership=membership)
    except services.LastAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.email or membership.user} removed.")
    return _settings_redirect(request, "team")
