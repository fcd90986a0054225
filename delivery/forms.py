"""Dashboard forms for delivery: a survey's web targeting and the environment's settings.
They only shape the POST into the values the services validate (services raise the errors)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from core.fields import CalendarDateTimeField

from .models import (
    Audience,
    ColorScheme,
    Position,
    Recurrence,
    SegmentMatch,
    SurveyTargeting,
    TriggerType,
)
from .targeting import PAGE_FIELDS, PAGE_OPS

PAGE_RULE_ROWS = 4


class TargetingForm(forms.Form):
    audience = forms.ChoiceField(choices=Audience.choices)
    segment_match = forms.ChoiceField(choices=SegmentMatch.choices)
    segments_include = forms.TypedMultipleChoiceField(coerce=int, required=False)
    segments_exclude = forms.TypedMultipleChoiceField(coerce=int, required=False)
    trigger = forms.ChoiceField(choices=TriggerType.choices)
    trigger_seconds = forms.IntegerField(required=False, min_value=0, max_value=86_400)
    trigger_event = forms.CharField(required=False, max_length=200)
    trigger_nth = forms.IntegerField(required=False, min_value=1)
    trigger_percent = forms.IntegerField(required=False, min_value=1, max_value=100)
    recurrence = forms.ChoiceField(choices=Recurrence.choices)
    recurrence_days = forms.IntegerField(required=False, min_value=1, max_value=3650)
    recurrence_max = forms.IntegerField(required=False, min_value=1, max_value=1000)
    sample_percent = forms.IntegerField(min_value=0, max_value=100)
    throttle_exempt = forms.BooleanField(required=False)
    priority = forms.IntegerField(min_value=-1000, max_value=1000)
    starts_at = CalendarDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = CalendarDateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    response_limit = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: Any, segments: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["segments_include"]).choices = segments
        cast(forms.ChoiceField, self.fields["segments_exclude"]).choices = segments
        self.rule_rows = []
        for n in range(PAGE_RULE_ROWS):
            self.fields[f"rule_kind_{n}"] = forms.ChoiceField(
                choices=[("include", "Show on"), ("exclude", "Never on")], required=False
            )
            self.fields[f"rule_field_{n}"] = forms.ChoiceField(
                choices=list(PAGE_FIELDS.items()), required=False
            )
            self.fields[f"rule_op_{n}"] = forms.ChoiceField(
                choices=list(PAGE_OPS.items()), required=False
            )
            self.fields[f"rule_value_{n}"] = forms.CharField(required=False, max_length=500)
            self.rule_rows.append(
                [
                    self[f"rule_kind_{n}"],
                    self[f"rule_field_{n}"],
                    self[f"rule_op_{n}"],
                    self[f"rule_value_{n}"],
                ]
            )

    @classmethod
    def initial_from(cls, targeting: SurveyTargeting) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(targeting, name)
            for name in (
                "audience",
                "segment_match",
                "segments_include",
                "segments_exclude",
                "trigger",
                "trigger_seconds",
                "trigger_event",
                "trigger_nth",
                "trigger_percent",
                "recurrence",
                "recurrence_days",
                "recurrence_max",
                "sample_percent",
                "throttle_exempt",
                "priority",
                "starts_at",
                "ends_at",
                "response_limit",
            )
        }
        for n, rule in enumerate((targeting.page_rules or [])[:PAGE_RULE_ROWS]):
            initial[f"rule_kind_{n}"] = rule.get("kind")
            initial[f"rule_field_{n}"] = rule.get("field")
            initial[f"rule_op_{n}"] = rule.get("op")
            initial[f"rule_value_{n}"] = rule.get("value")
        return initial

    def values(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("rule_")}
        data["page_rules"] = [
            {
                "kind": self.cleaned_data.get(f"rule_kind_{n}") or "include",
                "field": self.cleaned_data.get(f"rule_field_{n}") or "path",
                "op": self.cleaned_data.get(f"rule_op_{n}") or "starts_with",
                "value": self.cleaned_data.get(f"rule_value_{n}") or "",
            }
            for n in range(PAGE_RULE_ROWS)
            if (self.cleaned_data.get(f"rule_value_{n}") or "").strip()
        ]
        return data


class DeliverySettingsForm(forms.Form):
    brand_color = forms.CharField(widget=forms.TextInput(attrs={"type": "color"}))
    text_color = forms.CharField(widget=forms.TextInput(attrs={"type": "color"}))
    background_color = forms.CharField(widget=forms.TextInput(attrs={"type": "color"}))
    dark_text_color = forms.CharField(widget=forms.TextInput(attrs={"type": "color"}))
    dark_background_color = forms.CharField(widget=forms.TextInput(attrs={"type": "color"}))
    font_family = forms.CharField(max_length=200)
    radius = forms.IntegerField(min_value=0, max_value=32)
    position = forms.ChoiceField(choices=Position.choices)
    color_scheme = forms.ChoiceField(choices=ColorScheme.choices)
    throttle_days = forms.IntegerField(min_value=0, max_value=365)
    allowed_origins = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    pageview_tracking = forms.BooleanField(required=False)
