"""The Data page's form: three durations in days, each blank for "forever"."""

from __future__ import annotations

from django import forms

from .models import MAX_DAYS


def _days(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        widget=forms.NumberInput(attrs={"placeholder": "Forever"}),
    )


class RetentionForm(forms.Form):
    events_days = _days("Keep events for … days")
    responses_days = _days("Keep survey responses for … days")
    anonymous_profiles_days = _days("Keep anonymous profiles with no activity for … days")
