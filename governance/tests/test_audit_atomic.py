"""An audited change and its audit entry are one transaction: when the entry cannot be written
(the database refuses it, the worker dies between the two statements), the change is not made
either. They were separate autocommits in these services, so a change could land unaudited."""

from __future__ import annotations

import pytest

from delivery.factories import web_survey
from delivery.models import SurveyTargeting
from delivery.services import targeting_update
from environments.models import ApiKey, Environment
from environments.services import (
    api_key_create,
    api_key_revoke,
    identity_secret_regenerate,
    identity_verification_set,
)
from governance import audit
from governance.models import AuditEntry
from segments.factories import SegmentFactory
from segments.models import Segment
from segments.services import segment_update
from surveys.factories import SurveyFactory
from surveys.models import Survey
from surveys.services import survey_create, survey_update
from traits.factories import TraitFactory
from traits.models import Trait
from traits.services import trait_update
from webhooks import services as webhooks
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


class AuditDown(Exception):
    pass


@pytest.fixture
def allow_private(settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True  # the endpoints below are on 127.0.0.1


def _state(environment):
    """What the cases below change, as plain values."""
    environment = Environment.objects.get(pk=environment.pk)
    return {
        "environment": (environment.identity_verification, environment.identity_secret),
        "surveys": sorted(Survey.objects.values_list("name", "mode")),
        "segments": sorted(Segment.objects.values_list("name", "description")),
        "traits": sorted(Trait.objects.values_list("label", "data_type", "hidden")),
        "keys": sorted(ApiKey.objects.values_list("name", "revoked_at")),
        "targeting": sorted(SurveyTargeting.objects.values_list("sample_percent", flat=True)),
        "endpoints": sorted(WebhookEndpoint.objects.values_list("url", "description", "secret")),
    }


def _cases(environment):
    survey = SurveyFactory(environment=environment, name="Churn")
    segment = SegmentFactory(environment=environment, name="Trial")
    trait = TraitFactory(environment=environment, key="plan")
    key, _ = api_key_create(environment=environment, name="backend")
    web = web_survey(environment)
    endpoint = webhooks.endpoint_create(
        environment=environment, url="http://127.0.0.1:9/hook", event_types=["survey.published"]
    )
    return {
        "survey_create": lambda: survey_create(environment=environment, name="New"),
        "survey_update": lambda: survey_update(survey=survey, name="Renamed"),
        "segment_update": lambda: segment_update(segment=segment, description="changed"),
        "trait_update": lambda: trait_update(
            trait=trait, label="Plan!", description="", data_type=trait.data_type, hidden=True
        ),
        "api_key_create": lambda: api_key_create(environment=environment, name="second"),
        "api_key_revoke": lambda: api_key_revoke(api_key=key),
        "identity_verification_set": lambda: identity_verification_set(
            environment=environment, enabled=True
        ),
        "identity_secret_regenerate": lambda: identity_secret_regenerate(environment=environment),
        "targeting_update": lambda: _targeting(web),
        "endpoint_create": lambda: webhooks.endpoint_create(
            environment=environment, url="http://127.0.0.1:9/two", event_types=["survey.closed"]
        ),
        "endpoint_update": lambda: webhooks.endpoint_update(endpoint=endpoint, description="x"),
        "endpoint_rotate_secret": lambda: webhooks.endpoint_rotate_secret(endpoint=endpoint),
        "endpoint_delete": lambda: webhooks.endpoint_delete(endpoint=endpoint),
    }


def _targeting(survey):
    return targeting_update(survey=survey, values={"sample_percent": 37})


NAMES = [
    "survey_create",
    "survey_update",
    "segment_update",
    "trait_update",
    "api_key_create",
    "api_key_revoke",
    "identity_verification_set",
    "identity_secret_regenerate",
    "targeting_update",
    "endpoint_create",
    "endpoint_update",
    "endpoint_rotate_secret",
    "endpoint_delete",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_change_whose_audit_entry_fails_is_not_made(
    environment, allow_private, monkeypatch, name
):
    change = _cases(environment)[name]
    before = _state(environment)
    entries = AuditEntry.objects.count()

    def record(*args, **kwargs):
        raise AuditDown

    monkeypatch.setattr(audit, "record", record)
    with pytest.raises(AuditDown):
        change()
    assert _state(environment) == before
    assert AuditEntry.objects.count() == entries
