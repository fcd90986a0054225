"""MAU by the seeds' rule, and the Usage page (Settings -> Usage).

The rule: every user identified by the web client or the API within a month counts; an
anonymous visitor counts only if they saw, dismissed or answered a survey that month."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from delivery.tests.helpers import call
from events.services import events_track, track_item
from governance.erasure import profile_erase
from profiles.models import ActivitySource, MonthlyActivity, Profile
from profiles.selectors import USAGE_PAGE_SIZE, usage_months
from profiles.services import mau_zone, month_start, profile_identify, profile_mark_active
from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Channel
from surveys.services import response_dismiss, response_record_view, response_save_answers
from tests.api_helpers import ApiClient, new_key
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db


def _this_month() -> date:
    return month_start(timezone.now())


def _counted(environment, month: date | None = None) -> dict[str, tuple[bool, int]]:
    """Who counts in the month: {user id or device id: (identified, sources)}."""
    rows = MonthlyActivity.objects.filter(
        environment=environment, month=month or _this_month()
    ).select_related("profile")
    return {
        (r.profile.user_id or r.profile.anonymous_id or r.profile.email or ""): (
            r.identified,
            r.sources,
        )
        for r in rows
        if r.profile is not None and (r.identified or r.surveyed)
    }


def _mau(environment) -> tuple[int, int]:
    [current, *_] = usage_months(environment_id=environment.pk, current=_this_month())
    return current.identified, current.anonymous


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps")
    return survey


def _anonymous(environment, device: str, *, source=ActivitySource.CLIENT) -> Profile:
    return profile_identify(environment=environment, anonymous_id=device, source=source)


def test_user_identified_through_the_api_counts(environment):
    api = ApiClient(new_key(environment))
    assert api.post("/api/v1/identify-user", {"id": "u-api"}).status_code in (200, 201)
    assert _counted(environment) == {"u-api": (True, ActivitySource.API)}
    assert _mau(environment) == (1, 0)


def test_user_tracked_through_the_api_counts(environment):
    api = ApiClient(new_key(environment))
    assert api.post("/api/v1/track-event", {"id": "u-t", "event": "Login"}).status_code in (
        200,
        201,
    )
    assert _counted(environment) == {"u-t": (True, ActivitySource.API)}


def test_user_identified_by_the_client_counts(environment):
    profile_identify(environment=environment, user_id="u-web", source=ActivitySource.CLIENT)
    item = track_item(event="$pageview", user_id="u-web")
    events_track(environment=environment, items=[item], source=ActivitySource.CLIENT)
    assert _counted(environment) == {"u-web": (True, ActivitySource.CLIENT)}
    assert _mau(environment) == (1, 0)


def test_both_sources_are_recorded_on_one_row(environment):
    profile_identify(environment=environment, user_id="u", source=ActivitySource.CLIENT)
    profile_identify(environment=environment, user_id="u", source=ActivitySource.API)
    assert _counted(environment) == {"u": (True, ActivitySource.CLIENT | ActivitySource.API)}
    [month] = [m for m in usage_months(environment_id=environment.pk, current=_this_month())][:1]
    assert month.by_source[ActivitySource.API] == month.by_source[ActivitySource.CLIENT] == 1


def test_anonymous_visitor_who_only_visited_is_not_counted(environment):
    _anonymous(environment, "dev-visit")
    items = [track_item(event="$pageview", anonymous_id="dev-visit") for _ in range(3)]
    events_track(environment=environment, items=items)
    # Active (delivery's audience counts them), but not a monthly active user.
    assert MonthlyActivity.objects.filter(environment=environment).count() == 1
    assert _counted(environment) == {}
    assert _mau(environment) == (0, 0)


def test_anonymous_visitor_who_saw_a_survey_counts(environment, survey):
    profile = _anonymous(environment, "dev-seen")
    response_record_view(survey=survey, profile=profile, channel=Channel.WEB)
    assert _counted(environment) == {"dev-seen": (False, ActivitySource.CLIENT)}
    assert _mau(environment) == (0, 1)


def test_anonymous_visitor_who_dismissed_counts(environment, survey):
    profile = _anonymous(environment, "dev-dismiss")
    # The view happened last month; the dismissal this month counts them this month.
    last_month = timezone.now().replace(day=1) - timezone.timedelta(days=2)
    response = response_record_view(
        survey=survey, profile=profile, channel=Channel.WEB, at=last_month
    )
    MonthlyActivity.objects.filter(month=_this_month()).update(surveyed=False)  # visit only
    assert _counted(environment) == {}
    response_dismiss(response=response)
    assert _counted(environment) == {"dev-dismiss": (False, ActivitySource.CLIENT)}


def test_anonymous_respondent_who_answered_counts(environment, survey):
    profile = _anonymous(environment, "dev-answer", source=ActivitySource.LINK)
    response = response_record_view(survey=survey, profile=profile, channel=Channel.LINK)
    MonthlyActivity.objects.update(surveyed=False, sources=0)  # as if only the answer is left
    response_save_answers(response=response, answers={"nps": 9}, complete=True)
    assert _counted(environment) == {"dev-answer": (False, ActivitySource.LINK)}


def test_anonymous_merged_into_an_identified_user_keeps_both_months_flags(environment, survey):
    profile = _anonymous(environment, "dev-m")
    response_record_view(survey=survey, profile=profile, channel=Channel.WEB)
    profile_identify(
        environment=environment, user_id="u-m", anonymous_id="dev-m", source=ActivitySource.API
    )
    row = MonthlyActivity.objects.get(environment=environment)
    assert (row.identified, row.surveyed) == (True, True)
    assert row.sources == ActivitySource.CLIENT | ActivitySource.API


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("UTC", date(2026, 3, 1)), ("America/New_York", date(2026, 2, 1))],
)
def test_month_boundary_is_in_the_configured_time_zone(environment, zone, expected):
    # 03:00 UTC on March 1st is still February 28th in New York.
    at = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    with override_settings(TIME_ZONE=zone):
        profile_identify(environment=environment, user_id="u-id", seen_at=at)
        events_track(
            environment=environment,
            items=[track_item(event="Login", user_id="u-ev", timestamp=at)],
        )
        item = track_item(event="Login", email="ev@acme.test", timestamp=at)
        events_track(environment=environment, items=[item])
    months = dict(
        MonthlyActivity.objects.filter(environment=environment).values_list(
            "profile__user_id", "month"
        )
    )
    assert months == {"u-id": expected, "u-ev": expected, None: expected}
    assert all(m.identified for m in MonthlyActivity.objects.all())


def test_monthly_activity_row_is_not_rewritten_when_nothing_changes(environment):
    profile_identify(environment=environment, user_id="u", source=ActivitySource.API)
    row = MonthlyActivity.objects.get()
    xmin = _xmin(row.pk)
    for _ in range(3):
        profile_identify(environment=environment, user_id="u", source=ActivitySource.API)
        events_track(environment=environment, items=[track_item(event="E", user_id="u")])
    assert _xmin(row.pk) == xmin


def _xmin(pk: int) -> str:

    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM profiles_monthlyactivity WHERE id = %s", [pk])
        return cursor.fetchone()[0]


# --- The Usage page --------------------------------------------------------------------------


def usage_url(environment) -> str:
    return reverse("profiles:usage", kwargs={"env": environment.slug})


def csv_url(environment) -> str:
    return reverse("profiles:usage_csv", kwargs={"env": environment.slug})


def _people(environment, n: int, *, anonymous_surveyed: int = 0) -> None:
    for i in range(n):
        profile_identify(environment=environment, user_id=f"user-{i:04d}")
    if anonymous_surveyed:
        survey = SurveyFactory(environment=environment, live=True)
        for i in range(anonymous_surveyed):
            profile = _anonymous(environment, f"dev-{i}")
            response_record_view(survey=survey, profile=profile, channel=Channel.WEB)
    _anonymous(environment, "dev-browsing-only")


def test_usage_page_shows_twelve_months_split(analyst_client, environment):
    _people(environment, 3, anonymous_surveyed=2)
    response = analyst_client.get(usage_url(environment))
    assert response.status_code == 200
    months = response.context["months"]
    assert len(months) == 12 and months[0].month == _this_month()
    assert (months[0].identified, months[0].anonymous, months[0].total) == (3, 2, 5)
    assert months[0].by_source[ActivitySource.API] == 3
    assert months[0].by_source[ActivitySource.CLIENT] == 2
    assert all(m.total == 0 for m in months[1:])
    assert b"Who counted" in response.content


def test_usage_drill_down_pages_by_keyset_with_constant_queries(
    owner_client, environment, django_assert_num_queries
):
    _people(environment, USAGE_PAGE_SIZE + 5, anonymous_surveyed=1)
    month = _this_month().strftime("%Y-%m")
    url = f"{usage_url(environment)}?month={month}"
    first = owner_client.get(url)
    assert first.status_code == 200
    rows = first.context["rows"]
    assert len(rows) == USAGE_PAGE_SIZE
    after = first.context["next_after"]
    # The fragments (a partial rendered alone records no context: read their HTML).
    fragment = owner_client.get(url, headers=HTMX).content.decode()
    assert fragment.lstrip().startswith('<section id="counted"')
    assert fragment.count('data-label="Person"') == USAGE_PAGE_SIZE
    with django_assert_num_queries(4):  # session, user + membership, the page
        second = owner_client.get(f"{url}&after={after}", headers=HTMX)
    html = second.content.decode()
    assert html.count('data-label="Person"') == 6
    assert 'data-label="ID">dev-0<' in html and "dev-browsing-only" not in html
    assert "Next page" not in html


def test_usage_csv_streams_everyone_who_counted(analyst_client, environment):
    _people(environment, 4, anonymous_surveyed=1)
    month = _this_month().strftime("%Y-%m")
    response = analyst_client.get(f"{csv_url(environment)}?month={month}")
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["user_id"] or r["anonymous_id"] for r in rows) == [
        "dev-0",
        "user-0000",
        "user-0001",
        "user-0002",
        "user-0003",
    ]
    assert {r["counted_as"] for r in rows} == {"identified", "anonymous, surveyed"}


def test_usage_csv_defuses_spreadsheet_formulas(analyst_client, environment):
    """User ids, emails and anonymous ids come from callers (a visitor's `identifyUser`
    included): in the CSV, a value a spreadsheet would run as a formula is text."""
    profile_identify(environment=environment, user_id='=HYPERLINK("http://evil.test")')
    month = _this_month().strftime("%Y-%m")
    response = analyst_client.get(f"{csv_url(environment)}?month={month}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["user_id"] for r in rows] == ['\'=HYPERLINK("http://evil.test")']


def test_usage_is_404_for_an_outsider_and_bad_months(outsider_client, owner_client, environment):
    assert outsider_client.get(usage_url(environment)).status_code == 404
    assert outsider_client.get(f"{csv_url(environment)}?month=2026-01").status_code == 404
    assert owner_client.get(f"{usage_url(environment)}?month=2026-13").status_code == 404
    assert owner_client.get(f"{usage_url(environment)}?month=x").status_code == 404
    assert owner_client.get(f"{csv_url(environment)}?month=2026-00").status_code == 404


def test_usage_lists_only_this_environments_people(owner_client, environment, other_environment):
    profile_identify(environment=other_environment, user_id="theirs")
    profile_identify(environment=environment, user_id="ours")
    month = _this_month().strftime("%Y-%m")
    response = owner_client.get(f"{usage_url(environment)}?month={month}")
    assert [row.profile.user_id for row, _ in response.context["rows"]] == ["ours"]
    assert response.context["months"][0].total == 1


def test_usage_sends_anonymous_visitor_to_login(client, environment):
    response = client.get(usage_url(environment))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_erased_or_purged_person_still_counts_in_the_months_they_were_active(
    owner_client, environment, survey
):
    """MAU is what the team was measured on: erasing a contact (or the retention purge of an
    anonymous one) unlinks its months instead of deleting them. The totals and the per-source
    split stay; the drill-down and its CSV, which name people, no longer list it."""
    _people(environment, 3, anonymous_surveyed=2)
    before = usage_months(environment_id=environment.pk, current=_this_month())[0]
    erased = Profile.objects.get(environment=environment, user_id="user-0001")
    profile_erase(profile=erased)
    gone = Profile.objects.get(environment=environment, anonymous_id="dev-0")
    Profile.objects.filter(pk=gone.pk).delete()  # as the anonymous purge deletes

    after = usage_months(environment_id=environment.pk, current=_this_month())[0]
    assert (after.identified, after.anonymous, after.by_source) == (
        before.identified,
        before.anonymous,
        before.by_source,
    )
    assert not MonthlyActivity.objects.filter(profile_id__in=[erased.pk, gone.pk]).exists()
    month = _this_month().strftime("%Y-%m")
    page = owner_client.get(f"{usage_url(environment)}?month={month}")
    listed = [row.profile_id for row, _sources in page.context["rows"]]
    assert len(listed) == 3 and None not in listed and erased.pk not in listed
    body = b"".join(
        owner_client.get(f"{csv_url(environment)}?month={month}").streaming_content
    ).decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == 3
    assert "user-0001" not in body


def test_user_identified_through_the_client_api_counts_as_client(client, environment):
    """Through the web client's own endpoint (not the service): the page call that names the
    user marks the month with the client's source."""
    reply = call(
        client,
        environment,
        "/page",
        {"anonymous_id": "device-0000000042", "user": {"id": "u-page"}, "url": "https://a.test/"},
    )
    assert reply.status_code == 200, reply.content
    assert _counted(environment) == {"u-page": (True, ActivitySource.CLIENT)}


def test_person_answering_an_email_survey_counts_as_email(client, environment, survey):
    """The answer link of an email survey identifies the person by email: counted, from email."""
    url = reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
    client.get(url, {"answer": "9", "email": "eve@example.com"})
    [row] = MonthlyActivity.objects.filter(environment=environment, month=_this_month())
    assert (row.profile.email, row.identified, row.sources) == (
        "eve@example.com",
        True,
        ActivitySource.EMAIL,
    )
    assert _mau(environment) == (1, 0)


def test_month_boundary_is_in_the_environments_own_time_zone(environment, other_environment):
    """Two teams on one instance, one in New York: 03:00 UTC on March 1st is still February
    there. Identify, track (by id and by email), a survey shown and a plain activity mark all
    count in the environment's month; the other environment keeps the instance's zone."""
    environment.time_zone = "America/New_York"
    environment.save(update_fields=["time_zone"])
    at = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    for env in (environment, other_environment):
        profile_identify(environment=env, user_id="u-id", seen_at=at)
        events_track(environment=env, items=[track_item(event="Go", user_id="u-ev", timestamp=at)])
        events_track(
            environment=env, items=[track_item(event="Go", email="e@acme.test", timestamp=at)]
        )
        shown = profile_identify(environment=env, anonymous_id="dev-shown", seen_at=at)
        survey = SurveyFactory(environment=env, live=True)
        QuestionFactory(survey=survey, kind="nps", key="nps")
        response_record_view(survey=survey, profile=shown, channel=Channel.WEB, at=at)
        marked = profile_identify(environment=env, anonymous_id="dev-marked", seen_at=at)
        profile_mark_active(environment_id=env.pk, profile_id=marked.pk, at=at, surveyed=True)
    months = {
        (
            row.environment_id,
            row.profile.user_id or row.profile.email or row.profile.anonymous_id,
        ): row.month
        for row in MonthlyActivity.objects.select_related("profile")
    }
    ids = ("u-id", "u-ev", "e@acme.test", "dev-shown", "dev-marked")
    assert {months[(environment.pk, i)] for i in ids} == {date(2026, 2, 1)}
    assert {months[(other_environment.pk, i)] for i in ids} == {date(2026, 3, 1)}
    # The Usage page counts and names its months in the environment's zone.
    assert month_start(at, mau_zone(environment)) == date(2026, 2, 1)
    assert mau_zone(other_environment) == "UTC"
