"""contact.identified at each way a contact comes to be known: a new user through the one-statement
identify (autocommit, as the API runs it), a device that becomes identified, a device merged into
a known user; and nothing for a call that changes no identity."""

from __future__ import annotations

import pytest

from profiles.services import profile_identify
from webhooks import services
from webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subscribed(environment, allow_private, receiver):
    return services.endpoint_create(
        environment=environment, url=receiver.url, event_types=["contact.identified"]
    )


def identified() -> list[dict]:
    return [
        {"profile": e.profile_id, **e.data}
        for e in OutboxEvent.objects.filter(event_type="contact.identified").order_by("id")
    ]


def test_a_new_user_through_the_autocommit_identify_emits_once(environment, subscribed):
    profile = profile_identify(environment=environment, user_id="u-1", traits={"plan": "pro"})
    assert identified() == [{"profile": profile.pk, "created": True}]
    # The same user again (traits only): no new identity, nothing more.
    profile_identify(environment=environment, user_id="u-1", traits={"plan": "team"})
    assert len(identified()) == 1


def test_a_device_that_becomes_identified_emits(environment, subscribed):
    device = profile_identify(environment=environment, anonymous_id="dev-1")
    assert identified() == []  # an anonymous device is no identified contact
    profile = profile_identify(environment=environment, user_id="u-2", anonymous_id="dev-1")
    assert profile.pk == device.pk
    assert identified() == [{"profile": device.pk, "created": False}]


def test_a_device_merged_into_a_known_user_emits_with_its_origin(environment, subscribed):
    known = profile_identify(environment=environment, user_id="u-3")
    device = profile_identify(environment=environment, anonymous_id="dev-3")
    profile_identify(environment=environment, user_id="u-3", anonymous_id="dev-3")
    events = identified()
    assert events[0] == {"profile": known.pk, "created": True}
    assert events[1:] == [{"profile": known.pk, "created": False, "merged_from": str(device.uuid)}]


def test_nothing_is_written_without_a_subscribed_endpoint(environment):
    profile_identify(environment=environment, user_id="u-4")
    assert identified() == []
