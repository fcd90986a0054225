"""Browser test for the User Detail Panel's "Export data" (a JSON download) and "Erase" (the
confirmation naming what will be deleted, then the contact gone)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from events.factories import EventDefinitionFactory, EventFactory
from governance.models import ErasureLog
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.factories import ManualSegmentFactory
from segments.services import segment_member_add
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_export_then_erase_from_the_panel(logged_in_page, live_server, environment):
    profile = ProfileFactory(
        environment=environment, email="ada@example.com", traits={"name": "Ada Lovelace"}
    )
    ProfileFactory(environment=environment, traits={"name": "Charles Babbage"})
    definition = EventDefinitionFactory(environment=environment, name="computed")
    now = timezone.now()
    for i in range(3):
        EventFactory(profile=profile, definition=definition, timestamp=now - timedelta(hours=i))
    survey = SurveyFactory(environment=environment, name="Engine NPS")
    QuestionFactory(survey=survey, kind="nps", key="score", title="Recommend us?")
    ResponseFactory(survey=survey, profile=profile, data={"score": 10}, completed_at=now)
    segment_member_add(segment=ManualSegmentFactory(environment=environment), profile=profile)

    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/users/")
    page.get_by_role("link", name="Ada Lovelace").click()
    panel = page.locator("dialog#panel")
    panel.locator("#panel-title").wait_for()

    # Export: a download of the whole document.
    with page.expect_download() as download_info:
        panel.get_by_role("link", name="Export data").click()
    download = download_info.value
    assert download.suggested_filename == f"hark-contact-{profile.uuid}.json"
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert document["profile"]["email"] == "ada@example.com"
    assert len(document["events"]) == 3
    assert document["responses"][0]["answers"][0]["question_title"] == "Recommend us?"
    assert len(document["segment_memberships"]) == 1

    # Erase: the confirmation names what goes, with counts; Cancel keeps everything.
    panel.get_by_role("link", name="Erase").click()
    confirm = page.locator("#erase-confirm")
    confirm.wait_for()
    assert "Erase Ada Lovelace?" in confirm.locator("h1").inner_text()
    assert confirm.locator('tr[data-table="events.Event"] td').inner_text() == "3"
    assert confirm.locator('tr[data-table="surveys.Response"] td').inner_text() == "1"
    assert confirm.locator('tr[data-table="segments.SegmentMembership"] td').inner_text() == "1"
    confirm.get_by_role("link", name="Cancel").click()
    page.wait_for_load_state()
    assert Profile.objects.filter(pk=profile.pk).exists()

    page.goto(f"{live_server.url}/e/{environment.slug}/users/{profile.uuid}/")
    page.get_by_role("link", name="Erase").click()
    page.get_by_role("button", name="Erase this contact").click()
    page.wait_for_url(f"**/e/{environment.slug}/users/")
    assert "Contact erased" in page.content()
    assert page.get_by_role("link", name="Ada Lovelace").count() == 0
    assert page.get_by_role("link", name="Charles Babbage").count() == 1
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert ErasureLog.objects.filter(environment=environment).count() == 1
