"""Test data for surveys: SurveyFactory, QuestionFactory, ResponseFactory.

survey = SurveyFactory(environment=environment, live=True)
nps = QuestionFactory(survey=survey, kind="nps")            # key "q1", "q2"... unless given
QuestionFactory(survey=survey, kind="single_choice", choices=["Red", "Blue"])
ResponseFactory(survey=survey, profile=profile, data={nps.key: 9}, completed=True)
"""

from __future__ import annotations

import factory
from django.utils import timezone

from environments.services import environment_create
from profiles.factories import ProfileFactory

from .models import Channel, Question, QuestionKind, Response, Survey, SurveyStatus
from .services import DEFAULT_CONFIG, DEFAULT_TITLES


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    environment = factory.LazyFunction(lambda: environment_create(name="Factory"))
    name = factory.Sequence(lambda n: f"Survey {n}")
    status = SurveyStatus.DRAFT
    channels = factory.LazyFunction(lambda: [Channel.LINK, Channel.EMAIL])
    thank_you = factory.LazyFunction(
        lambda: {"title": "Thank you!", "message": "Your feedback helps us improve."}
    )

    class Params:
        live = factory.Trait(
            status=SurveyStatus.LIVE, published_at=factory.LazyFunction(timezone.now)
        )


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    class Params:
        # QuestionFactory(kind="single_choice", choices=[...]) sets config["choices"].
        choices = None

    survey = factory.SubFactory(SurveyFactory)
    kind = QuestionKind.NPS
    position = factory.Sequence(lambda n: n + 1)
    key = factory.Sequence(lambda n: f"q{n + 1}")
    title = factory.LazyAttribute(lambda q: DEFAULT_TITLES[QuestionKind(q.kind)])
    required = True
    config = factory.LazyAttribute(
        lambda q: (
            {"choices": list(q.choices)}
            if q.choices is not None
            else dict(DEFAULT_CONFIG[QuestionKind(q.kind)])
        )
    )
    logic = factory.LazyFunction(list)


def _profile(environment):

    return ProfileFactory(environment=environment)


class ResponseFactory(factory.django.DjangoModelFactory):
    """A response; pass `survey` and `profile` from the same environment."""

    class Meta:
        model = Response

    class Params:
        completed = factory.Trait(completed_at=factory.LazyFunction(timezone.now))

    survey = factory.SubFactory(SurveyFactory)
    environment = factory.LazyAttribute(lambda r: r.survey.environment)
    profile = factory.LazyAttribute(lambda r: _profile(r.survey.environment))
    channel = Channel.LINK
    created_at = factory.LazyFunction(timezone.now)
    first_shown_at = factory.LazyAttribute(lambda r: r.created_at)
    last_shown_at = factory.LazyAttribute(lambda r: r.created_at)
    show_count = 1
    data = factory.Dict({})
    context = factory.Dict({})
    first_data_at = factory.LazyAttribute(lambda r: r.created_at if r.data else None)
    last_data_at = factory.LazyAttribute(lambda r: r.created_at if r.data else None)
    updated_at = factory.LazyAttribute(lambda r: r.created_at)
