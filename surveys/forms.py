"""Builder forms: they parse and show fields; the rules live in surveys.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .answers import CSAT_POINTS, RATING_SCALES
from .logic import END, OPERATORS
from .models import Channel, Question, QuestionKind, SurveyMode

BUILDER_CHANNELS = [
    (Channel.WEB, "Web (in-product)"),
    (Channel.LINK, "Survey link"),
    (Channel.EMAIL, "Email"),
]
LOGIC_ROWS = 3


class SurveyForm(forms.Form):
    name = forms.CharField(max_length=200)
    mode = forms.ChoiceField(choices=SurveyMode.choices, initial=SurveyMode.IDENTIFIED)
    channels = forms.MultipleChoiceField(
        choices=BUILDER_CHANNELS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[Channel.LINK],
    )


class ThankYouForm(forms.Form):
    title = forms.CharField(max_length=200, required=False)
    message = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    button_label = forms.CharField(max_length=100, required=False)
    button_url = forms.URLField(max_length=500, required=False, assume_scheme="https")


class QuestionForm(forms.Form):
    """Every setting of every kind; the template shows those of the question's kind."""

    title = forms.CharField(max_length=500)
    key = forms.CharField(
        max_length=100,
        required=False,
        help_text="Answers are stored under this key (a response trait). Empty: from the title.",
    )
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    required = forms.BooleanField(required=False)
    low_label = forms.CharField(max_length=60, required=False)
    high_label = forms.CharField(max_length=60, required=False)
    points = forms.TypedChoiceField(
        choices=[(p, f"{p} points") for p in CSAT_POINTS], coerce=int, required=False
    )
    scale = forms.TypedChoiceField(
        choices=[(s, f"1 to {s}") for s in RATING_SCALES], coerce=int, required=False
    )
    style = forms.ChoiceField(choices=[("stars", "Stars"), ("numbers", "Numbers")], required=False)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One choice per line.",
    )
    placeholder = forms.CharField(max_length=200, required=False)
    button_label = forms.CharField(max_length=100, required=False)
    url = forms.CharField(max_length=500, required=False)

    def __init__(
        self, *args: Any, question: Question, later_keys: list[tuple[str, str]], **kwargs: Any
    ):
        self.question = question
        if "initial" not in kwargs and (not args or args[0] is None):
            kwargs["initial"] = self.initial_for(question)
        super().__init__(*args, **kwargs)
        goto_choices = [("", "—"), *later_keys, (END, "End of survey")]
        operator_choices = [("", "—"), *OPERATORS.items()]
        for i in range(LOGIC_ROWS):
            self.fields[f"logic_{i}_operator"] = forms.ChoiceField(
                choices=operator_choices, required=False, label="If the answer"
            )
            self.fields[f"logic_{i}_value"] = forms.CharField(
                max_length=200, required=False, label="Value"
            )
            self.fields[f"logic_{i}_goto"] = forms.ChoiceField(
                choices=goto_choices, required=False, label="Go to"
            )

    @staticmethod
    def initial_for(question: Question) -> dict[str, Any]:
        config = question.config or {}
        initial: dict[str, Any] = {
            "title": question.title,
            "key": question.key,
            "description": question.description,
            "required": question.required,
            **{k: v for k, v in config.items() if k != "choices"},
            "choices": "\n".join(config.get("choices") or []),
        }
        for i, rule in enumerate((question.logic or [])[:LOGIC_ROWS]):
            initial[f"logic_{i}_operator"] = rule.get("operator", "")
            value = rule.get("value")
            initial[f"logic_{i}_value"] = "" if value is None else value
            initial[f"logic_{i}_goto"] = rule.get("goto", "")
        return initial

    @property
    def logic_rows(self) -> list[tuple[Any, Any, Any]]:
        return [
            (self[f"logic_{i}_operator"], self[f"logic_{i}_value"], self[f"logic_{i}_goto"])
            for i in range(LOGIC_ROWS)
        ]

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = self.question.kind
        if kind == QuestionKind.CSAT:
            return {"points": data.get("points") or 5}
        if kind == QuestionKind.RATING:
            return {"scale": data.get("scale") or 5, "style": data.get("style") or "stars"}
        if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            return {"choices": (data.get("choices") or "").splitlines()}
        if kind in (QuestionKind.NPS, QuestionKind.CES):
            return {"low_label": data.get("low_label"), "high_label": data.get("high_label")}
        if kind in (QuestionKind.TEXT, QuestionKind.EMAIL):
            return {"placeholder": data.get("placeholder")}
        if kind == QuestionKind.CTA:
            return {"button_label": data.get("button_label"), "url": data.get("url")}
        return {}

    def logic(self) -> list[dict[str, Any]]:
        rules = []
        for i in range(LOGIC_ROWS):
            operator = self.cleaned_data.get(f"logic_{i}_operator")
            goto = self.cleaned_data.get(f"logic_{i}_goto")
            if operator and goto:
                value: Any = self.cleaned_data.get(f"logic_{i}_value", "").strip()
                # ASCII and short: int() refuses "²" (a digit to isdigit()) and 4,300+ digits.
                digits = value.removeprefix("-")
                if digits.isdigit() and digits.isascii() and len(digits) <= 15:
                    value = int(value)
                rules.append({"operator": operator, "value": value, "goto": goto})
        return rules

    def add_service_errors(self, exc: ValidationError) -> None:
        """Show a service's ValidationError({field: [...]}) on the matching fields."""
        for name, messages in exc.message_dict.items():
            field = name if name in self.fields else None
            if name == "logic":
                field = None
            for message in messages:
                self.add_error(field, message)
