"""What the web client renders: a survey's content in a locale, the environment's theme and the
interface's own words. Plain text only (the client renders text, never HTML)."""

from __future__ import annotations

import functools
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from surveys import answers as answer_rules
from surveys.models import Question, QuestionKind, Survey

from .models import DeliverySettings
from .targeting import SurveyPlan

# Languages the interface's own words come in (Django's translation catalogues in
# delivery/locale); the survey's texts come in any language it has a translation for.
UI_LANGUAGES = ("en", "de", "fr", "es", "pt", "nl")
DEFAULT_LANGUAGE = "en"


def locale_candidates(requested: str | None) -> list[str]:
    """ "pt-BR" → ["pt-br", "pt"]: the translations to look for, most specific first."""
    value = (requested or "").strip().replace("_", "-").lower()[:20]
    if not value:
        return []
    base = value.split("-")[0]
    return [value] if value == base else [value, base]


def ui_language(requested: str | None) -> str:
    for candidate in locale_candidates(requested):
        if candidate in UI_LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


@functools.cache
def ui_strings(language: str) -> dict[str, str]:
    """The interface's words in `language` (one of UI_LANGUAGES: the cache stays small)."""
    with translation.override(language):
        return {
            "next": _("Next"),
            "back": _("Back"),
            "submit": _("Submit"),
            "close": _("Close"),
            "skip": _("Skip"),
            # {n} and {total} are filled in by the client.
            "progress": _("Question {n} of {total}"),
            "required": _("Please answer this question."),
            "invalid_email": _("Please enter a valid email address."),
            "thank_you": _("Thank you!"),
            "select_all": _("Select all that apply"),
            "placeholder": _("Type your answer"),
            "dialog_label": _("Survey"),
            "optional": _("(optional)"),
            "continue": _("Continue"),
        }


def theme(settings: DeliverySettings) -> dict[str, Any]:
    return {
        "brand_color": settings.brand_color,
        "text_color": settings.text_color,
        "background_color": settings.background_color,
        "font_family": settings.font_family,
        "radius": settings.radius,
        # str(): an unsaved row's defaults are the enum members (orjson writes plain text).
        "position": str(settings.position),
        "dark_mode": str(settings.color_scheme),
        "dark": {
            "text_color": settings.dark_text_color,
            "background_color": settings.dark_background_color,
        },
    }


def trigger(plan: SurveyPlan) -> dict[str, Any]:
    kind = plan.trigger
    if kind in ("delay", "session_delay"):
        return {"type": kind, "seconds": plan.trigger_seconds or 0}
    if kind == "event":
        return {"type": kind, "event": plan.trigger_event, "nth": plan.trigger_nth}
    if kind == "scroll":
        return {"type": kind, "percent": plan.trigger_percent or 50}
    return {"type": kind}


def _options(question: Question, texts: dict[str, Any]) -> list[dict[str, Any]] | None:
    allowed = answer_rules.allowed_values(question)
    if question.kind == QuestionKind.MULTIPLE_CHOICE:
        allowed = answer_rules.choices(question)
    if allowed is None:
        return None
    shown = texts.get("choices") if isinstance(texts.get("choices"), list) else None
    options = []
    for index, value in enumerate(allowed):
        label = str(value)
        title = answer_rules.value_label(question, value)
        if question.kind == QuestionKind.CSAT:
            label = answer_rules.CSAT_EMOJI.get(value, label)
        elif (
            shown
            and question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
            and index < len(shown)
            and str(shown[index]).strip()
        ):
            # A translated choice is shown; the stored value stays the default language's, so
            # answers in every language count together.
            label = title = str(shown[index])
        options.append({"value": value, "label": label, "title": title})
    return options


def question_content(question: Question, texts: dict[str, Any]) -> dict[str, Any]:
    config = dict(question.config or {})
    for key in ("low_label", "high_label", "placeholder", "button_label"):
        if texts.get(key):
            config[key] = str(texts[key])
    config.pop("choices", None)
    return {
        "key": question.key,
        "type": question.kind,
        "title": str(texts.get("title") or question.title),
        "description": str(texts.get("description") or question.description),
        "required": question.required,
        "options": _options(question, texts),
        "config": config,
        "logic": list(question.logic or []),
    }


def survey_content(
    survey: Survey, plan: SurveyPlan, texts: dict[str, Any] | None = None
) -> dict[str, Any]:
    texts = texts or {}
    per_question = texts.get("questions") or {}
    thank_you = {**(survey.thank_you or {})}
    for key, value in (texts.get("thank_you") or {}).items():
        if key in ("title", "message", "button_label") and value:
            thank_you[key] = str(value)
    return {
        "id": str(survey.uuid),
        "name": survey.name,
        "priority": plan.priority,
        "trigger": trigger(plan),
        "questions": [
            question_content(q, per_question.get(q.key) or {}) for q in survey.questions.all()
        ],
        "thank_you": {
            k: str(thank_you.get(k) or "")
            for k in ("title", "message", "button_label", "button_url")
        },
    }
