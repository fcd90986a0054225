"""The demo product's surveys: what `make run` shows inside the "Acme" demo app.

Built through the surveys app's builder services and the delivery app's targeting service
(each validates its own data); idempotent, so every `make run` can call it, including against a
database seeded before the demo product existed.
"""

from __future__ import annotations

from django.db import transaction

from delivery.services import targeting_update
from environments.models import Environment
from surveys.models import Survey, SurveyMode, SurveyStatus
from surveys.services import question_add, survey_create, survey_set_status

# The demo surveys, found again by name. Recurrence "always" and no throttle, so a visitor can
# try them again (real surveys default to once per user).
HOME_SURVEY = "Acme demo: how are we doing?"
UPGRADE_SURVEY = "Acme demo: upgrade intent"
HOME_RULES = [{"kind": "include", "field": "path", "op": "equals", "value": "/"}]


def _survey(environment: Environment, name: str, questions: list[dict], targeting: dict) -> Survey:
    survey = Survey.objects.filter(environment=environment, name=name).first()
    if survey is not None:
        return survey
    survey = survey_create(
        environment=environment, name=name, mode=SurveyMode.ANONYMOUS, channels=["web"]
    )
    for question in questions:
        question_add(survey=survey, **question)
    survey.thank_you = {
        "title": "Thanks for trying Hark!",
        "message": "Your answer is in the dashboard: Responses, and the user's panel.",
    }
    survey.save(update_fields=["thank_you"])
    targeting_update(survey=survey, values=targeting)
    survey_set_status(survey=survey, status=SurveyStatus.LIVE)
    return survey


@transaction.atomic
def demo_product_surveys_ensure(*, environment: Environment) -> list[Survey]:
    home = _survey(
        environment,
        HOME_SURVEY,
        [
            {"kind": "nps", "key": "acme_nps", "title": "How likely are you to recommend Acme?"},
            {
                "kind": "single_choice",
                "key": "acme_best",
                "title": "What do you like most?",
                "config": {"choices": ["Speed", "Design", "Integrations"]},
            },
            {
                "kind": "text",
                "key": "acme_comment",
                "title": "Anything we should improve?",
                "required": False,
            },
        ],
        {
            "trigger": "page",
            "page_rules": HOME_RULES,
            "recurrence": "always",
            "throttle_exempt": True,
            "priority": 100,
        },
    )
    upgrade = _survey(
        environment,
        UPGRADE_SURVEY,
        [
            {
                "kind": "single_choice",
                "key": "acme_upgrade_reason",
                "title": "What made you consider upgrading?",
                "config": {"choices": ["More projects", "Team seats", "Just curious"]},
            }
        ],
        {
            "trigger": "event",
            "trigger_event": "Upgrade Clicked",
            "recurrence": "always",
            "throttle_exempt": True,
            "priority": 90,
        },
    )
    return [home, upgrade]
