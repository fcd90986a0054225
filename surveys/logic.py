"""Logic jumps: after a question, when its answer matches a condition, go to another question
or to the end. Pure functions over a survey's ordered questions.

A question's `logic` is a list of rules, the first match wins:
    [{"operator": "lte", "value": 6, "goto": "<question key>" | "end"}, ...]
Jumps only go forward (a rule pointing at an earlier question or at itself is ignored), so a
respondent can never loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import Question

END = "end"
OPERATORS = {
    "eq": "is",
    "neq": "is not",
    "lt": "is less than",
    "lte": "is at most",
    "gt": "is more than",
    "gte": "is at least",
    "contains": "contains",
    "answered": "is answered",
    "skipped": "is skipped",
}
VALUELESS_OPERATORS = ("answered", "skipped")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _same(answer: Any, expected: Any) -> bool:
    a, b = _number(answer), _number(expected)
    if a is not None and b is not None:
        return a == b
    return str(answer).strip().lower() == str(expected).strip().lower()


def rule_matches(rule: dict, answer: Any) -> bool:
    operator = rule.get("operator")
    expected = rule.get("value")
    blank = answer is None or answer == "" or answer == []
    if operator == "answered":
        return not blank
    if operator == "skipped":
        return blank
    if blank:
        return False
    if operator in ("eq", "neq"):
        if isinstance(answer, list):
            hit = any(_same(item, expected) for item in answer)
        else:
            hit = _same(answer, expected)
        return hit if operator == "eq" else not hit
    if operator == "contains":
        needle = str(expected or "").strip().lower()
        if isinstance(answer, list):
            return any(needle == str(item).strip().lower() for item in answer)
        return bool(needle) and needle in str(answer).lower()
    a, b = _number(answer), _number(expected)
    if a is None or b is None:
        return False
    return {
        "lt": a < b,
        "lte": a <= b,
        "gt": a > b,
        "gte": a >= b,
    }.get(str(operator), False)


def next_question(questions: Sequence[Question], current: Question, answer: Any) -> Question | None:
    """The question after `current` given its answer, or None for the end of the survey."""
    keys = [q.key for q in questions]
    try:
        index = keys.index(current.key)
    except ValueError:
        return None
    for rule in current.logic or []:
        if not isinstance(rule, dict) or not rule_matches(rule, answer):
            continue
        goto = rule.get("goto")
        if goto == END:
            return None
        if goto in keys and keys.index(goto) > index:
            return questions[keys.index(goto)]
    return questions[index + 1] if index + 1 < len(questions) else None


def resume_question(questions: Sequence[Question], data: dict) -> Question | None:
    """Where a returning respondent continues: follow the path their answers take and stop at
    the first question on it without an answer (None when the path is complete)."""
    if not questions:
        return None
    question: Question | None = questions[0]
    seen = 0
    while question is not None and seen <= len(questions):
        seen += 1
        if question.key not in data:
            return question
        question = next_question(questions, question, data.get(question.key))
    return None


def path_complete(questions: Sequence[Question], data: dict, current: Question) -> bool:
    """True when, after answering `current`, the path ends (no next question)."""
    return next_question(questions, current, data.get(current.key)) is None
