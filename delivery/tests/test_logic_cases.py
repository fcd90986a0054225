"""The logic jump cases the web client's tests share (delivery/logic_cases.json), run against the
server's one implementation (surveys/logic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surveys.logic import next_question
from surveys.models import Question

CASES = json.loads((Path(__file__).parents[1] / "logic_cases.json").read_text())


def _questions() -> list[Question]:
    return [
        Question(key=q["key"], logic=q["logic"], position=n)
        for n, q in enumerate(CASES["questions"])
    ]


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: f"{c['question']}={c['answer']!r}")
def test_shared_logic_case(case):
    questions = _questions()
    current = next(q for q in questions if q.key == case["question"])
    following = next_question(questions, current, case["answer"])
    assert (following.key if following else None) == case["next"]
