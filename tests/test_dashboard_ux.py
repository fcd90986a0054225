"""What a person meets on every dashboard page: analysts get read-only pages and a styled 403
instead of forms that cannot be sent, the layout has a skip link and a menu that works on a
phone without JavaScript, times read "just now" / "8 hours ago", and lists say how many rows
match without counting a whole table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.views.defaults import server_error

from core.humanize import time_ago
from core.totals import Total, capped_total
from events.factories import EventDefinitionFactory
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from segments.models import Segment
from tests.helpers import HTMX, eurl
from traits.factories import TraitFactory

# --- Read-only pages and the styled 403 ---------------------------------------------------------


@pytest.fixture
def things(environment):
    trait = TraitFactory(environment=environment, key="plan")
    event = EventDefinitionFactory(environment=environment, name="Signed Up")
    segment = ManualSegmentFactory(environment=environment, name="Beta")
    return {"trait": trait, "event": event, "segment": segment}


def _forms(environment, things):
    """(edit form URL, the read-only page an analyst is sent to instead)."""
    return [
        (eurl(environment, "surveys:new"), eurl(environment, "surveys:list")),
        (eurl(environment, "segments:new"), eurl(environment, "segments:list")),
        (
            eurl(environment, "segments:edit", uuid=things["segment"].uuid),
            eurl(environment, "segments:detail", uuid=things["segment"].uuid),
        ),
        (
            eurl(environment, "traits:edit", pk=things["trait"].pk),
            eurl(environment, "traits:list"),
        ),
        (
            eurl(environment, "traits:delete", pk=things["trait"].pk),
            eurl(environment, "traits:list"),
        ),
        (
            eurl(environment, "events:edit", pk=things["event"].pk),
            eurl(environment, "events:list"),
        ),
        (
            eurl(environment, "events:delete", pk=things["event"].pk),
            eurl(environment, "events:list"),
        ),
        (
            eurl(environment, "environments:identity_secret_regenerate"),
            eurl(environment, "environments:settings"),
        ),
    ]


def test_analyst_opening_an_edit_form_gets_the_read_only_page(analyst_client, environment, things):
    for form_url, read_only in _forms(environment, things):
        response = analyst_client.get(form_url, follow=True)
        assert response.redirect_chain == [(read_only, 302)], form_url
        assert response.status_code == 200
        assert "read-only" in response.content.decode(), form_url


def test_editors_still_get_the_forms(owner_client, environment, things):
    for form_url, _ in _forms(environment, things):
        assert owner_client.get(form_url).status_code == 200, form_url


def test_analyst_write_gets_a_styled_403_and_changes_nothing(analyst_client, environment, things):
    response = analyst_client.post(
        eurl(environment, "segments:edit", uuid=things["segment"].uuid), {"name": "Renamed"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can\u2019t make this change" in html
    assert "Your role in Acme is Analyst" in html
    assert 'class="topbar"' in html and "Skip to content" in html  # the dashboard's layout
    assert Segment.objects.get(pk=things["segment"].pk).name == "Beta"


def test_analyst_htmx_edit_row_is_refused(analyst_client, environment, things):
    response = analyst_client.get(
        eurl(environment, "traits:edit", pk=things["trait"].pk), headers=HTMX
    )
    assert response.status_code == 403


# --- Layout: skip link, phone menu --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["surveys:overview", "surveys:responses", "profiles:list", "segments:list"]
)
def test_every_page_has_a_skip_link_and_a_menu_without_javascript(owner_client, environment, name):
    html = owner_client.get(eurl(environment, name)).content.decode()
    body = html.split("<body", 1)[1]
    first_link = body.split("<a ", 1)[1]
    assert first_link.startswith('class="skip-link" href="#main">Skip to content</a>')
    assert '<main id="main" tabindex="-1"' in html
    menu = html.split('<details class="navmenu">', 1)[1].split("</details>", 1)[0]
    for target in ("surveys:overview", "surveys:responses", "profiles:list", "segments:list"):
        assert f'href="{eurl(environment, target)}"' in menu


# --- Times --------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(seconds=-30), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=8, minutes=1), "8 hours ago"),
        (timedelta(hours=23, minutes=59), "23 hours ago"),
        (timedelta(days=1, hours=5), "1 day ago"),
        (timedelta(days=13), "1 week ago"),
        (timedelta(days=45), "1 month ago"),
        (timedelta(days=800), "2 years ago"),
        (timedelta(hours=-3), "in 3 hours"),
    ],
)
def test_time_ago(delta, text):
    assert time_ago(NOW - delta, now=NOW) == text


def test_time_ago_of_nothing_is_empty():
    assert time_ago(None) == ""


def test_lists_say_just_now_not_zero_minutes(owner_client, environment):
    ProfileFactory(environment=environment, last_seen_at=timezone.now())
    html = owner_client.get(eurl(environment, "profiles:list")).content.decode()
    assert "just now" in html
    assert "0 minutes" not in html


# --- Totals -------------------------------------------------------------------------------------


def test_capped_total_is_exact_below_the_cap_and_bounded_above(environment):
    for _ in range(5):
        ProfileFactory(environment=environment)
    qs = Profile.objects.filter(environment=environment)
    total = capped_total(qs, cap=10)
    assert (total.count, total.capped, str(total)) == (5, False, "5")
    with CaptureQueriesContext(connection) as captured:
        total = capped_total(qs.order_by("-last_seen_at"), cap=3)
    assert (total.count, total.capped, str(total)) == (3, True, "3+")
    (query,) = captured.captured_queries
    # A COUNT over a LIMIT cap + 1 subquery: never more than cap + 1 rows read.
    assert "COUNT(*)" in query["sql"] and "LIMIT 4" in query["sql"]
    assert "ORDER BY" not in query["sql"]


def test_thousands_are_grouped():

    assert str(Total(count=10_000, capped=True)) == "10,000+"
    assert str(Total(count=1_234, capped=False)) == "1,234"


def test_users_list_says_how_many_match(owner_client, environment, monkeypatch):
    for i in range(4):
        ProfileFactory(environment=environment, user_id=f"match-{i}")
    ProfileFactory(environment=environment, user_id="other")
    html = owner_client.get(eurl(environment, "profiles:list")).content.decode()
    assert '<strong class="total">5</strong> users' in html
    html = owner_client.get(eurl(environment, "profiles:list"), {"q": "match"}).content.decode()
    assert '<strong class="total">4</strong> users match' in html
    monkeypatch.setattr("core.totals.COUNT_CAP", 3)
    # A page holding every match says how many without counting (so past the cap); the count
    # a longer list loads after it (profiles:count) stops at the cap.
    html = owner_client.get(eurl(environment, "profiles:list")).content.decode()
    assert '<strong class="total">5</strong> users' in html
    html = owner_client.get(eurl(environment, "profiles:count")).content.decode()
    assert html.strip() == '<strong class="total">3+</strong> users'


def test_segment_members_page_says_how_many(owner_client, environment):
    segment = ManualSegmentFactory(environment=environment)
    for _ in range(3):
        SegmentMembershipFactory(segment=segment)
    html = owner_client.get(eurl(environment, "segments:detail", uuid=segment.uuid)).content
    assert b'<strong class="total">3</strong> members' in html


def test_a_form_without_its_csrf_token_gets_a_styled_page(owner, environment):

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    response = client.post(eurl(environment, "segments:new"), {"name": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html and "Skip to content" in html
    assert not Segment.objects.filter(name="x").exists()


def test_missing_pages_and_server_errors_get_styled_pages(owner_client, environment, rf):

    response = owner_client.get(f"/e/{environment.slug}/no-such-page/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
