"""Login landing, environment home and switcher, and the Settings page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import HarkRequest, confirm_page, confirmed, safe_next
from core.once import once_repeated
from core.urls import env_reverse

from . import services
from .context_processors import NAVIGATION
from .forms import (
    ApiKeyCreateForm,
    EnvironmentForm,
    IdentityVerificationForm,
    LoginForm,
    MemberAddForm,
    MemberRoleForm,
)
from .models import ApiKey, Membership, Role
from .permissions import admin_required


class _SafeNextMixin:
    """Django's login and logout check `next` themselves; they use Hark's one check instead, so
    every `next` follows the same rule (core.http.safe_next)."""

    request: HttpRequest

    def get_redirect_url(self) -> str:
        return safe_next(self.request, "")


class LoginView(_SafeNextMixin, auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(_SafeNextMixin, auth_views.LogoutView):
    pass


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
    """`/e/<env>/`: the first page of the navigation."""
    return redirect(NAVIGATION[0][1], env=request.environment.slug)


# --- Settings ----------------------------------------------------------------------------------


def _settings_context(request: HarkRequest, **extra: object) -> dict:
    environment = request.environment
    context = {
        "name_form": EnvironmentForm(
            initial={"name": environment.name, "time_zone": environment.zone}
        ),
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
        form = EnvironmentForm(request.POST)
        if form.is_valid():
            services.environment_update(
                environment=request.environment,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"] or None,
            )
            messages.success(request, "Settings saved.")
            return _settings_redirect(request)
        return render(
            request, "environments/settings.html", _settings_context(request, name_form=form)
        )
    return render(request, "environments/settings.html", _settings_context(request))


@require_POST
@admin_required
def api_key_create(request: HarkRequest) -> HttpResponse:
    if once_repeated(request):
        # The page that showed a new key, sent again: no second key.
        messages.info(request, "That form was already sent: no other key was created.")
        return _settings_redirect(request, "api-keys")
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
    """Add a member (or change an existing member's role) and email them. The answer is the same
    whether or not a login exists for the email: no set-password link is ever shown here (it goes
    to the address only; see services.member_invitation_send)."""
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return render(
            request, "environments/settings.html", _settings_context(request, member_form=form)
        )
    email = form.cleaned_data["email"].strip().lower()
    try:
        membership, sent = services.member_invite(
            environment=request.environment,
            email=email,
            role=form.cleaned_data["role"],
            base_url=request.build_absolute_uri("/"),
            invited_by=request.user,
        )
    except services.LastAdminError as error:
        messages.error(request, str(error))
        return _settings_redirect(request, "team")
    role = membership.get_role_display().lower()
    if sent:
        messages.success(request, f"{email} is {role} here. We emailed them how to sign in.")
    else:
        messages.error(
            request,
            f"{email} is {role} here, but the email to them could not be sent (check the "
            "EMAIL_ settings); add them again to resend it.",
        )
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
        except Membership.DoesNotExist:  # removed by another admin at the same moment
            raise Http404("No such member") from None
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
    except Membership.DoesNotExist:  # removed by another admin at the same moment
        raise Http404("No such member") from None
    except services.LastAdminError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.email or membership.user} removed.")
        if membership.user_id == request.user.pk:
            # An admin who left: this environment's Settings are a 404 for them now.
            return HttpResponseRedirect("/")
    return _settings_redirect(request, "team")
