from __future__ import annotations

from django import forms

from .models import WEBHOOK_EVENT_TYPES, EndpointKind, EventType

EVENT_CHOICES = [(value, EventType(value).label) for value in WEBHOOK_EVENT_TYPES]


class EndpointForm(forms.Form):
    """Shape only; the service validates the URL (and its addresses) and the event types, and
    its ValidationError lands on the matching field (views.apply_service_errors)."""

    kind = forms.ChoiceField(choices=EndpointKind.choices, initial=EndpointKind.WEBHOOK)
    url = forms.CharField(max_length=2000, label="URL")
    description = forms.CharField(max_length=300, required=False)
    event_types = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    write_key = forms.CharField(
        max_length=200, required=False, help_text="Segment-compatible destinations only."
    )


class ReplayForm(forms.Form):
    since = forms.DateTimeField(label="Failed since")
