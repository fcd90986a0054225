"""The alert subscription form (Settings → Alerts). Choices are scoped to the environment:
another environment's survey, segment or trait is not a choice, so it is a form error."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from segments import rules as R
from segments.models import Segment
from surveys.models import Question, Survey
from traits.models import Trait

from .models import Frequency, Trigger

SCORE_KINDS = ("nps", "csat", "ces", "rating")


def _operator_choices() -> list[tuple[str, str]]:

    seen: dict[str, str] = {}
    for operators in R.OPERATORS.values():
        for key, label in operators.items():
            seen.setdefault(key, label)
    return [("", "—"), *seen.items()]


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="e.g. Detractors of Onboarding")
    trigger = forms.ChoiceField(
        choices=Trigger.choices, initial=Trigger.RESPONSE, label="Alert when"
    )
    survey: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any survey", to_field_name="uuid"
    )
    question_key = forms.ChoiceField(required=False, label="Question")
    score_min = forms.IntegerField(required=False, min_value=-2, max_value=10, label="Score from")
    score_max = forms.IntegerField(required=False, min_value=-2, max_value=10, label="Score to")
    segment: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Any user", to_field_name="uuid"
    )
    trait_key = forms.ChoiceField(required=False, label="Trait")
    trait_operator = forms.ChoiceField(required=False, label="Condition")
    trait_value = forms.CharField(
        max_length=500,
        required=False,
        label="Value",
        help_text="Several values (is one of, between): separated by commas.",
    )
    email = forms.BooleanField(required=False, initial=True, label="Email me")
    slack_url = forms.URLField(
        max_length=1000,
        required=False,
        assume_scheme="https",
        label="Slack-compatible incoming webhook URL",
    )
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.IMMEDIATE)
    active = forms.BooleanField(required=False, initial=True, label="On")

    def __init__(self, *args: Any, environment: Any, **kwargs: Any) -> None:

        super().__init__(*args, **kwargs)
        self.environment = environment
        cast(forms.ModelChoiceField, self.fields["survey"]).queryset = Survey.objects.filter(
            environment=environment
        ).only("uuid", "name")
        cast(forms.ModelChoiceField, self.fields["segment"]).queryset = Segment.objects.filter(
            environment=environment
        ).only("uuid", "name")
        # One entry per key (a key several surveys share is one question), titled by its first
        # question; score questions first.
        questions: dict[str, str] = {}
        self.question_surveys: dict[str, set[int]] = {}
        self.score_keys: set[str] = set()
        for key, title, kind, survey_id in (
            Question.objects.filter(survey__environment=environment)
            .order_by("survey__name", "position")
            .values_list("key", "title", "kind", "survey_id")
        ):
            questions.setdefault(key, f"{title} ({key})")
            self.question_surveys.setdefault(key, set()).add(survey_id)
            if kind in SCORE_KINDS:
                self.score_keys.add(key)
        cast(forms.ChoiceField, self.fields["question_key"]).choices = [
            ("", "Any question"),
            *questions.items(),
        ]
        traits = Trait.objects.filter(environment=environment, scope="profile").order_by("key")
        cast(forms.ChoiceField, self.fields["trait_key"]).choices = [
            ("", "No trait condition"),
            *((t.key, t.label or t.key) for t in traits.only("key", "label")),
        ]
        cast(forms.ChoiceField, self.fields["trait_operator"]).choices = _operator_choices()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        trigger = data.get("trigger")
        key = data.get("question_key") or ""
        low, high = data.get("score_min"), data.get("score_max")
        if trigger == Trigger.SEGMENT_ENTERED:
            if not data.get("segment"):
                self.add_error("segment", "Pick the segment to watch.")
            if data.get("frequency") not in (None, Frequency.IMMEDIATE):
                self.add_error("frequency", "Segment entry alerts are sent immediately.")
            for field in ("survey", "question_key", "score_min", "score_max"):
                if data.get(field) not in (None, ""):
                    self.add_error(field, "Only response alerts filter on answers.")
        if (low is not None or high is not None) and not key:
            self.add_error("question_key", "A score range needs the question it applies to.")
        elif (low is not None or high is not None) and key not in self.score_keys:
            self.add_error(
                "question_key", "A score range applies to NPS, CSAT, CES or rating questions."
            )
        if low is not None and high is not None and low > high:
            self.add_error("score_max", "The range's end must not be below its start.")
        survey = data.get("survey")
        if survey is not None and key and survey.pk not in self.question_surveys.get(key, ()):
            self.add_error("question_key", "This question is not in the chosen survey.")
        if data.get("trait_key") and not data.get("trait_operator"):
            self.add_error("trait_operator", "Pick a condition for the trait.")
        if not data.get("email") and not data.get("slack_url"):
            self.add_error(None, "Choose at least one way to be alerted: email or Slack.")
        return data
