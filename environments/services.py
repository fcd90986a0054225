"""Writes for tenancy: environments, API keys, team members."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .models import API_KEY_PREFIX, ApiKey, Environment, Membership, Role, hash_api_key


def environment_create(*, name: str, slug: str | None = None) -> Environment:
    base = slugify(slug or name)[:50] or "environment"
    candidate, n = base, 1
    while Environment.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return Environment.objects.create(name=name, slug=candidate)


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


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


@transaction.atomic
def member_add(
    *,
    environment: Environment,
    email: str,
    role: str = Role.CONTRIBUTOR,
    password: str | None = None,
) -> Membership:
    """Add (or update the role of) a team member, creating the Django user if needed."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}")
    User = get_user_model()
    email = email.strip().lower()
    user = (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username=email).first()
    )
    if user is None:
        user = User(username=email, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, created = Membership.objects.get_or_create(
        user=user, environment=environment, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership
