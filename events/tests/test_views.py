"""The Events page: rollup counts (never a COUNT over events), edit, delete with events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.factories import EventDefinitionFactory, EventFactory
from events.models import Event, EventDailyCount, EventDefinition
from profiles.factories import ProfileFactory
from tests.helpers import HTMX, eurl

pytestmark = pytest.mark.django_db


def test_events_page_anonymous_outsider_analyst(
    client, outsider_client, analyst_client, environment
):
    definition = EventDefinitionFactory(environment=environment, name="signed_in")
    assert client.get(eurl(environment, "events:list"))["Location"].startswith("/login/")
    assert outsider_client.get(eurl(environment, "events:list")).status_code == 404
    response = analyst_client.get(eurl(environment, "events:list"))
    assert response.status_code == 200 and b"signed_in" in response.content
    assert eurl(environment, "events:edit", pk=definition.pk).encode() not in response.content
    assert (
        analyst_client.post(
            eurl(environment, "events:edit", pk=definition.pk), {"description": "x"}
        ).status_code
        == 403
    )
    delete = eurl(environment, "events:delete", pk=definition.pk)
    assert analyst_client.post(delete, {"confirm": "yes"}).status_code == 403
    assert EventDefinition.objects.filter(pk=definition.pk, description="").exists()


def test_counts_come_from_the_rollups_not_the_events_table(owner_client, environment):
    definition = EventDefinitionFactory(environment=environment, name="exported", total_count=12345)
    today = timezone.now().date()
    EventDailyCount.objects.create(definition=definition, day=today, count=7)
    EventDailyCount.objects.create(definition=definition, day=today - timedelta(days=29), count=5)
    EventDailyCount.objects.create(
        definition=definition, day=today - timedelta(days=30), count=1000
    )
    with CaptureQueriesContext(connection) as ctx:
        html = owner_client.get(eurl(environment, "events:list")).content.decode()
    assert "12,345" in html
    assert ">12<" in html  # 7 + 5 in the last 30 days, the older day left out
    assert not any('"events_event"' in q["sql"] for q in ctx.captured_queries)


def test_events_list_query_count_is_constant(owner_client, environment):
    def count(n: int) -> int:
        for _ in range(n):
            d = EventDefinitionFactory(environment=environment)
            EventDailyCount.objects.create(definition=d, day=timezone.now().date(), count=3)
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(eurl(environment, "events:list")).status_code == 200
        return len(ctx.captured_queries)

    assert count(1) == count(20) <= 8


def test_edit_description_inline(owner_client, environment):
    definition = EventDefinitionFactory(environment=environment, name="signed_in")
    row = owner_client.get(eurl(environment, "events:edit", pk=definition.pk), headers=HTMX)
    assert b"<html" not in row.content and b'name="description"' in row.content
    saved = owner_client.post(
        eurl(environment, "events:edit", pk=definition.pk),
        {"description": "Logged in"},
        headers=HTMX,
    )
    assert saved.content.lstrip().startswith(f'<tr id="event-{definition.pk}"'.encode())
    definition.refresh_from_db()
    assert definition.description == "Logged in"
    assert b"Logged in" in owner_client.get(eurl(environment, "events:list")).content
    page = owner_client.get(eurl(environment, "events:edit", pk=definition.pk))
    assert b"<html" in page.content
    assert (
        owner_client.post(
            eurl(environment, "events:edit", pk=definition.pk), {"description": "B"}
        ).status_code
        == 302
    )


def test_delete_removes_the_events_too(
    owner_client, environment, other_environment, django_capture_on_commit_callbacks
):
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    other = EventDefinitionFactory(environment=environment, name="kept")
    profile = ProfileFactory(environment=environment)
    for _ in range(3):
        EventFactory(profile=profile, definition=definition)
    EventFactory(profile=profile, definition=other)
    EventDailyCount.objects.create(definition=definition, day=timezone.now().date(), count=3)
    foreign = EventDefinitionFactory(environment=other_environment, name="clicked")
    delete = eurl(environment, "events:delete", pk=definition.pk)
    foreign_delete = eurl(environment, "events:delete", pk=foreign.pk)
    assert owner_client.post(foreign_delete, {"confirm": "yes"}).status_code == 404
    assert owner_client.get(delete).status_code == 200
    assert b"Nothing was changed" in owner_client.post(delete).content
    assert Event.objects.filter(definition_id=definition.pk).count() == 3
    # The deletion task runs after commit (inline here: tasks run inline without a broker).
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(delete, {"confirm": "yes"}, follow=True)
    assert "removed in the background" in response.content.decode()
    assert not EventDefinition.objects.filter(pk=definition.pk).exists()
    assert not Event.objects.filter(definition_id=definition.pk).exists()
    assert not EventDailyCount.objects.filter(definition_id=definition.pk).exists()
    assert Event.objects.filter(definition=other).count() == 1
    assert EventDefinition.objects.filter(pk=foreign.pk).exists()


def test_event_names_and_descriptions_render_as_text(owner_client, environment):
    payload = "<script>window.__pwned=1</script>"
    EventDefinitionFactory(environment=environment, name=payload, description=payload)
    html = owner_client.get(eurl(environment, "events:list")).content.decode()
    assert "<script>window" not in html and "&lt;script&gt;window" in html
