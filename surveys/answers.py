"""What a valid answer is for each kind of question, and the settings each kind accepts.

Pure functions (no database): the services, the survey link and the API all validate through
`answer_clean`, so a value stored in Response.data always has the shape its question promises.
"""

from __future__ import annotations

from typing import Any

import regex
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .models import Question, QuestionKind

NPS_RANGE = (0, 10)
CES_RANGE = (1, 7)
RATING_SCALES = range(2, 11)
DEFAULT_RATING_SCALE = 5
CSAT_POINTS = range(2, 6)
DEFAULT_CSAT_POINTS = 5
TEXT_MAX_LENGTH = 5000
CHOICE_MAX_LENGTH = 200

# CSAT is stored on one scale whatever the number of points, so answers to a 3-point and a
# 5-point question compare: -2 (very unsatisfied) .. 0 (neutral) .. 2 (very satisfied).
# A 2-point scale (thumbs down/up) only uses the extremes; odd scales have the neutral 0; the
# 4-point scale has no neutral; the 5-point scale uses every value.
CSAT_VALUES: dict[int, tuple[int, ...]] = {
    2: (-2, 2),
    3: (-2, 0, 2),
    4: (-2, -1, 1, 2),
    5: (-2, -1, 0, 1, 2),
}
CSAT_LABELS = {
    -2: "Very unsatisfied",
    -1: "Unsatisfied",
    0: "Neutral",
    1: "Satisfied",
    2: "Very satisfied",
}
CSAT_EMOJI = {-2: "😠", -1: "🙁", 0: "😐", 1: "🙂", 2: "😍"}
CSAT_SATISFIED = (1, 2)

# Kinds whose answer is one value picked from a short list: they fit one click (an email link,
# a button per value on the survey link).
ONE_CLICK_KINDS = (
    QuestionKind.NPS,
    QuestionKind.CSAT,
    QuestionKind.CES,
    QuestionKind.RATING,
    QuestionKind.SINGLE_CHOICE,
)
NUMERIC_KINDS = (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES, QuestionKind.RATING)

CTA_TRUE = {"1", "true", "yes", "clicked", "on"}


def csat_points(question: Question) -> int:
    points = _int_or_none((question.config or {}).get("points"))
    return points if points is not None and points in CSAT_POINTS else DEFAULT_CSAT_POINTS


def rating_scale(question: Question) -> int:
    scale = _int_or_none((question.config or {}).get("scale"))
    return scale if scale is not None and scale in RATING_SCALES else DEFAULT_RATING_SCALE


def choices(question: Question) -> list[str]:
    return [str(c) for c in (question.config or {}).get("choices") or [] if str(c).strip()]


def allowed_values(question: Question) -> list[Any] | None:
    """The values a one-click question accepts, in display order; None for other kinds."""
    kind = question.kind
    if kind == QuestionKind.NPS:
        return list(range(NPS_RANGE[0], NPS_RANGE[1] + 1))
    if kind == QuestionKind.CES:
        return list(range(CES_RANGE[0], CES_RANGE[1] + 1))
    if kind == QuestionKind.RATING:
        return list(range(1, rating_scale(question) + 1))
    if kind == QuestionKind.CSAT:
        return list(CSAT_VALUES[csat_points(question)])
    if kind == QuestionKind.SINGLE_CHOICE:
        return choices(question)
    return None


def value_label(question: Question, value: Any) -> str:
    """How an answer reads for people (CSAT numbers become words)."""
    if question.kind == QuestionKind.CSAT and value in CSAT_LABELS:
        return CSAT_LABELS[value]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is True:
        return "Clicked"
    return str(value)


def is_blank(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only: "²" is a digit to isdigit() and not to int().
        if text.lstrip("-").isdigit() and text.isascii() and len(text) < 6:
            return int(text)
    return None


def _error(key: str, message: str) -> ValidationError:
    return ValidationError({key: [message]})


# A character as a person sees it (a grapheme cluster): "é" written as e + accent, a flag, an
# emoji with a skin tone or a family joined by zero-width joiners each count as one. The survey
# page counts the same way (Intl.Segmenter in static/hark/survey.js), so its limit and the
# server's agree exactly, where the browser's maxlength counts UTF-16 units (an emoji is 2).
GRAPHEME_RE = regex.compile(r"\X")
# No real grapheme is this many code points long: past it, a text is refused without counting.
GRAPHEME_MAX_CODE_POINTS = 32


def text_length(text: str) -> int:
    """The number of characters a person sees in `text` (grapheme clusters)."""
    return sum(1 for _ in GRAPHEME_RE.finditer(text))


def _text(key: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _error(key, "must be text")
    text = str(value).replace("\x00", "").strip()
    if len(text) > max_length and (
        len(text) > max_length * GRAPHEME_MAX_CODE_POINTS or text_length(text) > max_length
    ):
        raise _error(key, f"must be at most {max_length} characters")
    return text


def answer_clean(question: Question, value: Any) -> Any:
    """The normalised answer to `question`, or None when `value` is blank (no answer).

    Raises ValidationError({question.key: [...]}) when the value does not fit the question.
    Whether a blank answer is acceptable (required questions) is the caller's decision.
    """
    key = question.key
    if is_blank(value):
        return None
    kind = question.kind
    if kind in NUMERIC_KINDS:
        number = _int_or_none(value)
        allowed = allowed_values(question) or []
        if number is None or number not in allowed:
            if kind == QuestionKind.CSAT:
                shown = ", ".join(str(v) for v in allowed)
                raise _error(key, f"must be one of {shown} (CSAT, {csat_points(question)} points)")
            raise _error(key, f"must be a whole number from {allowed[0]} to {allowed[-1]}")
        return number
    if kind == QuestionKind.SINGLE_CHOICE:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        text = _text(key, value, CHOICE_MAX_LENGTH)
        if text not in choices(question):
            raise _error(key, "must be one of the question's choices")
        return text
    if kind == QuestionKind.MULTIPLE_CHOICE:
        items = value if isinstance(value, list | tuple) else [value]
        options = choices(question)
        picked: list[str] = []
        for item in items:
            text = _text(key, item, CHOICE_MAX_LENGTH)
            if text not in options:
                raise _error(key, f"{text!r} is not one of the question's choices")
            if text not in picked:
                picked.append(text)
        # Stored in the question's order, so equal answers compare equal.
        return sorted(picked, key=options.index) or None
    if kind == QuestionKind.TEXT:
        return _text(key, value, TEXT_MAX_LENGTH) or None
    if kind == QuestionKind.EMAIL:
        text = _text(key, value, 320).replace(" ", "+")
        try:
            validate_email(text)
        except ValidationError:
            raise _error(key, "must be a valid email address") from None
        return text.lower()
    if kind == QuestionKind.CTA:
        if value is True or (isinstance(value, str) and value.strip().lower() in CTA_TRUE):
            return True
        if value is False or (isinstance(value, str) and value.strip().lower() in {"0", "false"}):
            return None
        raise _error(key, "a call to action is either clicked or not")
    raise _error(key, f"unknown question kind {kind!r}")


def answers_clean(
    questions: dict[str, Question], answers: Any, *, field: str = "answers"
) -> dict[str, Any]:
    """Clean a mapping of answers keyed by question key. Unknown keys are errors; blank answers
    to required questions are errors; blank answers to optional questions are dropped."""
    if not hasattr(answers, "items"):
        raise ValidationError({field: ["must be an object keyed by question key"]})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        question = questions.get(str(key))
        if question is None:
            errors[str(key)] = ["is not a question of this survey"]
            continue
        try:
            answer = answer_clean(question, value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
            continue
        if answer is None:
            if question.required and question.kind != QuestionKind.CTA:
                errors[question.key] = ["an answer is required"]
            continue
        cleaned[question.key] = answer
    if errors:
        raise ValidationError(errors)
    return cleaned
