"""Forms of the Settings page."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection, models

from core.widgets import LongSelect

from .models import Role


@functools.cache
def time_zone_choices() -> list[tuple[str, str]]:
    """IANA zones both Python (the Usage page's months) and PostgreSQL (ingestion's months)
    know, sorted. Read once per process: pg_timezone_names reads the zone files from disk
    (~350 ms on a 2-core machine), and the list changes only with an upgrade."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_timezone_names")
        known = {name for (name,) in cursor.fetchall()}
    names = sorted(known & zoneinfo.available_timezones())
    return [(name, name.replace("_", " ")) for name in names]


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=200, label="Environment name")
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,  # absent: unchanged
        widget=LongSelect(attrs={"aria-describedby": "time_zone_help"}),
        help_text="Where your months start for monthly active users (Settings → Usage).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["time_zone"]).choices = time_zone_choices()


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, label="Key name", help_text="e.g. backend, data import"
    )


class IdentityVerificationForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Require verified identities")


# A member's login is named by their email (services.member_add): an address longer than the
# username column cannot be one (it was a 500, a DataError on insert).
EMAIL_MAX_LENGTH = min(
    cast(int, cast(models.CharField, get_user_model()._meta.get_field(name)).max_length)
    for name in ("username", "email")
)


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=EMAIL_MAX_LENGTH)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CONTRIBUTOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class LoginForm(AuthenticationForm):
    """Sign-in by email in any case: a phone keyboard capitalises the first letter, and logins
    are stored lowercased (services.member_add), so `Owner@Acme.test` was refused with the right
    password. The typed name becomes the login's username when exactly one matches it ignoring
    case (the login throttle already counts the two spellings as one account)."""

    def clean_username(self) -> str:
        typed = self.cleaned_data["username"]
        matches = list(
            get_user_model()
            .objects.filter(username__iexact=typed)
            .values_list("username", flat=True)[:2]
        )
        return matches[0] if len(matches) == 1 else typed
