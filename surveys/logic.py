"""Logic jumps: after a question, when its answer matches a condition, go to another question
or to the end. Pure functions over a survey's ordered questions.

A question's `logic` is a list of rules, the first match wins:
    [{"operator": "lte", "value": 6, "goto": "<question key>" | "end"}, ...]
Jumps only go forward (a rule pointing at an earlier question or at itself is ignored), so a
respondent can never loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def needs_value(question: Question) -> bool:
    """Whether the question's jumps look at its answer's value, not only at whether it is blank
    ("is answered", "is skipped")."""
    return any(
        isinstance(rule, dict) and rule.get("operator") not in VALUELESS_OPERATORS
        for rule in question.logic or []
    )


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


def path(questions: Sequence[Question], data: Mapping[str, Any]) -> list[Question]:
    """The questions a respondent with these answers goes through, first to last: the one
    place that decides the path (the survey link's steps, its progress and Back link, and which
    stored answers are kept all come from here).

    A question without an answer is followed as skipped (its "is skipped" jumps apply, no other
    jump matches), so the path runs to the end of the survey even before it is answered: for a
    question not reached yet, that is the plain order the respondent is shown next."""
    steps: list[Question] = []
    question: Question | None = questions[0] if questions else None
    # Jumps only go forward, so a path is never longer than the survey; the bound is a guard.
    while question is not None and len(steps) < len(questions):
        steps.append(question)
        question = next_question(questions, question, data.get(question.key))
    return steps


def off_path_keys(questions: Sequence[Question], data: Mapping[str, Any]) -> list[str]:
    """Keys in `data` of questions of the survey that the answers' path no longer goes through
    (an answer left behind when the respondent went back and took another branch). Keys that
    are no question of the survey (a removed question's answers) are not the path's business and
    are kept."""
    on_path = {q.key for q in path(questions, data)}
    return [q.key for q in questions if q.key in data and q.key not in on_path]


def resume_question(questions: Sequence[Question], data: Mapping[str, Any]) -> Question | None:
    """Where a returning respondent continues: the first question on their path without an
    answer after the last one they answered (questions they skipped before it stay skipped);
    None when no question on the path is left."""
    steps = path(questions, data)
    answered = [i for i, q in enumerate(steps) if q.key in data]
    start = answered[-1] + 1 if answered else 0
    return next((q for q in steps[start:] if q.key not in data), None)
