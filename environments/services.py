"""Writes for tenancy: environments, API keys, team members."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from governance import audit

from .models import API_KEY_PREFIX, ApiKey, Environment, Membership, Role, hash_api_key

logger = logging.getLogger(__name__)


def environment_create(*, name: str, slug: str | None = None) -> Environment:
    base = slugify(slug or name)[:50] or "environment"
    candidate, n = base, 1
    while Environment.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return Environment.objects.create(name=name, slug=candidate)


@transaction.atomic
def api_key_create(
    *, environment: Environment, name: str = "", created_by=None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is shown once and never stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        environment=environment,
        name=name,
        prefix=secret[: len(API_KEY_PREFIX) + 6],
        hashed_key=hash_api_key(secret),
        created_by=created_by,
    )
    audit.record(created_by, "api_key.create", key, after={"name": name, "prefix": key.prefix})
    return key, secret


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key for a secret, with its environment, or None. One indexed query."""
    if not secret or len(secret) > 200:
        return None
    return (
        ApiKey.objects.select_related("environment")
        .filter(hashed_key=hash_api_key(secret), revoked_at__isnull=True)
        .first()
    )


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute, so a busy key does not write on every request."""
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < 60:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke once: the row is locked and read again, so two revokes at the same moment (two
    admins, a double click) write one audit entry."""
    current = ApiKey.objects.select_for_update().filter(pk=api_key.pk).first()
    if current is not None and current.revoked_at is None:
        api_key.revoked_at = current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        audit.record(
            None,
            "api_key.revoke",
            api_key,
            {"revoked_at": None},
            {"revoked_at": api_key.revoked_at, "prefix": api_key.prefix},
        )


@transaction.atomic
def member_add(
    *,
    environment: Environment,
    email: str,
    role: str = Role.CONTRIBUTOR,
    password: str | None = None,
) -> Membership:
    """Add (or update the role of) a team member, creating the Django user if needed. A role
    change goes through member_role_change: the last admin stays one (LastAdminError)."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    email = email.strip().lower()
    user = _user_for_email(email)
    if user is None:
        user = _user_create(email=email, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, created = Membership.objects.get_or_create(
        user=user, environment=environment, defaults={"role": role}
    )
    if created:
        audit.record(
            None,
            "member.add",
            _member_target(membership),
            None,
            {"role": role},
            environment=environment,
        )
    elif membership.role != role:
        member_role_change(membership=membership, role=role)
    return membership


def _user_for_email(email: str):
    """The login of a (stripped, lowercased) email: by its address, else by a username equal
    to it (a login made with createsuperuser may have no address)."""
    User = get_user_model()
    return (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username=email).first()
    )


def _user_create(*, email: str, password: str | None):
    """A new login for `email`, or the one a concurrent add (a double click) just made: the
    insert waits for the other transaction and then meets the unique username."""
    User = get_user_model()
    user = User(username=email, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        user = User.objects.get(username=email)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
    return user


def _member_target(membership: Membership) -> tuple[str, int, str]:
    user = membership.user
    return ("member", membership.pk, user.email or user.username)


# --- Settings page (environment name, identity verification, team roles) ---------------------


class LastAdminError(ValueError):
    """Raised when a change would leave an environment without any admin."""


def environment_update(
    *, environment: Environment, name: str, time_zone: str | None = None
) -> Environment:
    """Rename, and set the time zone (an IANA name the form offered; None leaves it). The
    zone moves MAU's month boundaries from now on: months already counted stay as they are."""
    values = {"name": name.strip() or environment.name}
    if time_zone is not None:
        values["time_zone"] = "" if time_zone == str(settings.TIME_ZONE) else time_zone
    before = audit.snapshot(environment, values)
    changed = [k for k, v in values.items() if getattr(environment, k) != v]
    if changed:
        for key in changed:
            setattr(environment, key, values[key])
        with transaction.atomic():
            environment.save(update_fields=changed)
            audit.record(
                None,
                "environment.update",
                environment,
                *audit.changes(before, audit.snapshot(environment, values)),
            )
    return environment


@transaction.atomic
def identity_verification_set(*, environment: Environment, enabled: bool) -> Environment:
    if environment.identity_verification != enabled:
        environment.identity_verification = enabled
        environment.save(update_fields=["identity_verification"])
        audit.record(
            None,
            f"identity_verification.{'on' if enabled else 'off'}",
            environment,
            {"identity_verification": not enabled},
            {"identity_verification": enabled},
        )
    return environment


@transaction.atomic
def identity_secret_regenerate(*, environment: Environment) -> Environment:
    """A new HMAC secret: signatures made with the old one stop verifying at once."""
    environment.identity_secret = secrets.token_hex(32)
    environment.save(update_fields=["identity_secret"])
    # Never the secret itself: only that it changed.
    audit.record(None, "identity_verification.secret", environment)
    return environment


def _lock_team(membership: Membership) -> list[int]:
    """Lock the environment's admin rows, then the member's own row, and refresh its role: two
    concurrent demotions cannot both pass the "another admin remains" check, and the check is
    made on the role as it is now, not as it was read before the lock. Every change locks in
    this order (admins first), so two changes cannot deadlock. The admins' ids are returned;
    Membership.DoesNotExist when the member was removed meanwhile."""
    admins = list(
        Membership.objects.select_for_update()
        .filter(environment_id=membership.environment_id, role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    current = (
        Membership.objects.select_for_update()
        .filter(pk=membership.pk)
        .values_list("role", flat=True)
        .first()
    )
    if current is None:
        raise Membership.DoesNotExist("This member was removed meanwhile.")
    membership.role = current
    return admins


@transaction.atomic
def member_role_change(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    admins = _lock_team(membership)
    if membership.role == role:
        return membership
    if admins == [membership.pk]:
        raise LastAdminError("An environment needs at least one admin.")
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        None,
        "member.role",
        _member_target(membership),
        {"role": before},
        {"role": role},
        environment=membership.environment_id,
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    if _lock_team(membership) == [membership.pk]:
        raise LastAdminError("An environment needs at least one admin.")
    audit.record(
        None,
        "member.remove",
        _member_target(membership),
        {"role": membership.role},
        None,
        environment=membership.environment_id,
    )
    membership.delete()


def member_add_or_update(*, environment: Environment, email: str, role: str) -> Membership:
    """The Settings page's "add member": adds a new member, or changes an existing member's role
    through member_role_change (so the last admin cannot be demoted this way either)."""
    return member_add(environment=environment, email=email, role=role)


# --- Invitations ------------------------------------------------------------------------------
#
# A login is global (one per email) while admins are per environment. So a set-password link is
# never shown to the admin who adds a member: with it, the admin of one environment could set
# the password of a person invited to another (not yet activated) and sign in as them there, or
# claim a login ahead of its owner and be let into every environment that later adds that
# email. The link goes by email to the address only, and the Settings page answers the same
# whether or not a login already exists for it: every add sends one email, which says either
# "choose a password" (no usable password yet) or "sign in" (the person has one).


def _absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def password_set_link(*, user, base_url: str) -> str:
    """The one-time set-password address for `user` (Django's password-reset token: valid until
    used, until the password changes, or PASSWORD_RESET_TIMEOUT)."""
    path = reverse(
        "environments:password_set",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return _absolute(base_url, path)


def member_invitation_send(*, membership: Membership, base_url: str, invited_by=None) -> bool:
    """Email the member that they were added to the environment: with a set-password link when
    their login has no usable password yet, else with the sign-in address. True when the email
    left; False (logged) when the mail server refused it."""
    user = membership.user
    if not user.email:  # a login made elsewhere (createsuperuser) with no address to write to
        return False
    base_url = settings.HARK_BASE_URL or base_url
    context = {
        "environment": membership.environment,
        "role": membership.get_role_display(),
        "invited_by": (getattr(invited_by, "email", "") or "") if invited_by else "",
        "needs_password": not user.has_usable_password(),
        "login_url": _absolute(base_url, reverse("environments:login")),
        "password_link": "",
    }
    if context["needs_password"]:
        context["password_link"] = password_set_link(user=user, base_url=base_url)
    subject = f"You were added to {membership.environment.name} on Hark"
    body = render_to_string("environments/email/invitation.txt", context)
    try:
        send_mail(subject, body, None, [user.email], fail_silently=False)
    except OSError:  # smtplib.SMTPException is an OSError too: server down, address refused
        logger.exception("invitation email to member %s could not be sent", membership.pk)
        return False
    return True


def member_invite(
    *, environment: Environment, email: str, role: str, base_url: str, invited_by=None
) -> tuple[Membership, bool]:
    """The Settings page's "add member": add the member (or change the role of an existing one,
    guarded by member_role_change) and email them. Returns the membership and whether the email
    left. The caller shows the same answer whether or not a login existed for the email."""
    membership = member_add_or_update(environment=environment, email=email, role=role)
    sent = member_invitation_send(membership=membership, base_url=base_url, invited_by=invited_by)
    return membership, sent
