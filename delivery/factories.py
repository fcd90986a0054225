"""Test data for delivery.

survey = web_survey(environment, questions=2)             # live, web channel, default targeting
SurveyTargetingFactory(survey=survey, sample_percent=25)
"""

from __future__ import annotations

from typing import Any

import factory

from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Channel, QuestionKind

from .models import SurveyTargeting


class SurveyTargetingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyTargeting

    survey = factory.SubFactory(SurveyFactory, live=True, channels=[Channel.WEB])


def web_survey(environment: Any, *, questions: int = 1, targeting: dict | None = None, **kw: Any):
    """A live survey on the web channel with `questions` NPS/text questions and a targeting
    row (defaults unless `targeting` says otherwise)."""
    kw.setdefault("channels", [Channel.WEB, Channel.LINK])
    kw.setdefault("live", True)
    survey = SurveyFactory(environment=environment, **kw)
    kinds = [QuestionKind.NPS, QuestionKind.TEXT, QuestionKind.SINGLE_CHOICE]
    for n in range(questions):
        kind = kinds[n % len(kinds)]
        QuestionFactory(
            survey=survey,
            kind=kind,
            key=f"q{n + 1}",
            position=n + 1,
            required=kind != QuestionKind.TEXT,
            **({"choices": ["Red", "Blue"]} if kind == QuestionKind.SINGLE_CHOICE else {}),
        )
    SurveyTargetingFactory(survey=survey, **(targeting or {}))
    return survey
