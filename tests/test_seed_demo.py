"""seed_demo: consistent, complete and reproducible demo data (at a small size)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Q, Sum
from django.test import RequestFactory  # the login throttle needs a request

from demo import seed as seed_demo
from demo.vocabulary import PROFILE_TRAITS
from environments.models import Environment, Membership, Role
from environments.services import member_add
from events.models import Event, EventDailyCount, EventDefinition
from events.services import event_counts_rollup
from profiles.models import MonthlyActivity, Profile
from segments.models import Segment, SegmentMembership
from surveys.answers import answer_clean
from surveys.models import Question, QuestionKind, Response, Survey
from traits.models import Trait
from traits.services import infer_data_type

pytestmark = pytest.mark.django_db

ANCHOR = "2026-03-15T12:00:00Z"
SMALL = {"profiles": 60, "events": 700, "responses": 90, "anchor": ANCHOR}


def _seed(**options: Any) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **{**SMALL, **options})
    return out.getvalue()


def _demo() -> Environment:
    return Environment.objects.get(slug=seed_demo.DEMO_SLUG)


def _snapshot(environment: Environment) -> dict[str, list]:
    """Everything the seed decides, in a stable order (ids and sequences aside)."""
    return {
        "profiles": list(
            Profile.objects.filter(environment=environment)
            .order_by("uuid")
            .values_list("uuid", "user_id", "email", "anonymous_id", "traits", "first_seen_at")
        ),
        "events": list(
            Event.objects.filter(environment=environment)
            .order_by("timestamp", "profile__uuid", "definition__name")
            .values_list("profile__uuid", "definition__name", "timestamp", "properties")
        ),
        "responses": list(
            Response.objects.filter(environment=environment)
            .order_by("uuid")
            .values_list(
                "uuid", "profile__uuid", "survey__name", "data", "completed_at", "dismissed_at"
            )
        ),
        "segment_members": sorted(
            SegmentMembership.objects.filter(segment__environment=environment).values_list(
                "segment__name", "profile__uuid"
            )
        ),
    }


def test_seed_demo_creates_the_demo_environment_with_its_logins():
    output = _seed()
    environment = _demo()
    assert seed_demo.DEMO_ADMIN_EMAIL in output and seed_demo.DEMO_PASSWORD in output
    roles = dict(
        Membership.objects.filter(environment=environment).values_list("user__email", "role")
    )
    assert roles == {
        seed_demo.DEMO_ADMIN_EMAIL: Role.ADMIN,
        seed_demo.DEMO_ANALYST_EMAIL: Role.ANALYST,
    }
    user = authenticate(
        RequestFactory().post("/login/"),
        username=seed_demo.DEMO_ADMIN_EMAIL,
        password=seed_demo.DEMO_PASSWORD,
    )
    assert user is not None
    assert Profile.objects.filter(environment=environment).count() == SMALL["profiles"]
    assert Event.objects.filter(environment=environment).count() == SMALL["events"]


def test_every_row_points_into_the_same_environment():
    _seed()
    other = Environment.objects.create(name="Bystander", slug="bystander")
    environment = _demo()
    responses = Response.objects.filter(environment=environment)
    assert responses.exists()
    assert not responses.exclude(profile__environment=environment).exists()
    assert not responses.exclude(survey__environment=environment).exists()
    events = Event.objects.filter(environment=environment)
    assert not events.exclude(profile__environment=environment).exists()
    assert not events.exclude(definition__environment=environment).exists()
    assert (
        not MonthlyActivity.objects.filter(environment=environment)
        .exclude(profile__environment=environment)
        .exists()
    )
    assert (
        not SegmentMembership.objects.filter(segment__environment=environment)
        .exclude(profile__environment=environment)
        .exists()
    )
    assert not Profile.objects.filter(environment=other).exists()


def test_definitions_describe_every_trait_key_and_event_name():
    _seed()
    environment = _demo()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(traits) FROM profiles_profile "
            "WHERE environment_id = %s",
            [environment.pk],
        )
        profile_keys = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(data) FROM surveys_response "
            "WHERE environment_id = %s",
            [environment.pk],
        )
        response_keys = {row[0] for row in cursor.fetchall()}
    traits = Trait.objects.filter(environment=environment)
    assert set(traits.filter(scope="profile").values_list("key", flat=True)) == profile_keys
    assert set(traits.filter(scope="response").values_list("key", flat=True)) == response_keys
    # Traits of every type, and the documented demo keys.
    assert set(traits.values_list("data_type", flat=True)) == {
        "string",
        "number",
        "boolean",
        "date",
    }
    assert set(PROFILE_TRAITS) <= profile_keys
    # Every event kind has a definition whose total and daily counts match the events.
    for definition in EventDefinition.objects.filter(environment=environment).annotate(
        stored=Count("events")
    ):
        assert definition.total_count == definition.stored
    # The periodic roll-up has nothing left to add: no event is counted twice.
    assert event_counts_rollup() == 0
    counted = EventDailyCount.objects.filter(definition__environment=environment).aggregate(
        total=Sum("count")
    )["total"]
    assert counted == SMALL["events"]
    names = set(
        Event.objects.filter(environment=environment).values_list("definition__name", flat=True)
    )
    assert len(names) >= 5


def test_trait_types_are_the_ones_ingestion_would_infer():
    _seed()
    environment = _demo()
    types = {
        (scope, key): data_type
        for scope, key, data_type in Trait.objects.filter(environment=environment).values_list(
            "scope", "key", "data_type"
        )
    }
    for traits in Profile.objects.filter(environment=environment).values_list("traits", flat=True):
        for key, value in traits.items():
            assert types[("profile", key)] == infer_data_type(key, value), (key, value)
    for data in Response.objects.filter(environment=environment).values_list("data", flat=True):
        for key, value in data.items():
            assert types[("response", key)] == infer_data_type(key, value), (key, value)


def test_profiles_are_identified_and_anonymous_and_seen_within_the_window():
    _seed()
    profiles = Profile.objects.filter(environment=_demo())
    assert profiles.filter(user_id__isnull=False, email__isnull=False).exists()
    anonymous = profiles.filter(user_id__isnull=True, email__isnull=True)
    assert anonymous.exists()
    assert not anonymous.filter(anonymous_id__isnull=True).exists()
    for profile in profiles:
        assert profile.first_seen_at <= profile.last_seen_at
    # Events happen while their profile was around.
    events = Event.objects.filter(environment=_demo()).select_related("profile")
    for event in events:
        assert event.profile.first_seen_at <= event.timestamp <= event.profile.last_seen_at


def test_four_surveys_with_every_response_status_and_valid_answers():
    _seed(responses=200)
    environment = _demo()
    surveys = Survey.objects.filter(environment=environment)
    first_kinds = {s.questions.order_by("position").first().kind for s in surveys}
    assert first_kinds == {
        QuestionKind.NPS,
        QuestionKind.CSAT,
        QuestionKind.CES,
        QuestionKind.MULTIPLE_CHOICE,
    }
    responses = list(Response.objects.filter(environment=environment))
    assert {r.status for r in responses} == {"completed", "partial", "dismissed", "view"}
    questions = {(q.survey_id, q.key): q for q in Question.objects.filter(survey__in=surveys)}
    seen_kinds = set()
    for response in responses:
        for key, value in response.data.items():
            question = questions[(response.survey_id, key)]
            # Stored exactly as the surveys app would have stored the answer.
            assert answer_clean(question, value) == value
            seen_kinds.add(question.kind)
            if question.kind == QuestionKind.CSAT:
                assert value in range(-2, 3)
        if response.completed_at:
            assert response.first_data_at <= response.completed_at
        assert response.first_shown_at <= response.last_shown_at
    assert QuestionKind.TEXT in seen_kinds


def test_monthly_activity_covers_every_month_with_events():
    _seed()
    environment = _demo()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM (
                   SELECT DISTINCT profile_id,
                          date_trunc('month', timestamp AT TIME ZONE 'UTC')::date
                   FROM events_event WHERE environment_id = %s
                   EXCEPT SELECT profile_id, month FROM profiles_monthlyactivity
               ) AS missing""",
            [environment.pk],
        )
        assert cursor.fetchone()[0] == 0
    assert MonthlyActivity.objects.filter(environment=environment).exists()


def test_segments_are_created_with_members(django_capture_on_commit_callbacks):
    # Dynamic segments compute their members after commit (inline without Redis).
    with django_capture_on_commit_callbacks(execute=True):
        _seed()
    environment = _demo()
    segments = Segment.objects.filter(environment=environment).annotate(
        members=Count("memberships")
    )
    assert segments.count() >= 3
    for segment in segments:
        assert segment.members == segment.member_count, segment.name
    manual = segments.get(kind="manual")
    assert manual.members > 0
    assert not SegmentMembership.objects.filter(
        segment=manual, profile__user_id__isnull=True
    ).exists()
    enterprise = segments.get(name="Enterprise customers")
    expected = Profile.objects.filter(environment=environment, traits__plan="enterprise")
    assert enterprise.members == expected.count() > 0
    assert set(enterprise.memberships.values_list("profile_id", flat=True)) == set(
        expected.values_list("pk", flat=True)
    )


def test_same_seed_gives_the_same_data():
    _seed(seed=7)
    first = _snapshot(_demo())
    _seed(seed=7)
    second = _snapshot(_demo())
    assert first == second
    assert len(first["events"]) == SMALL["events"]
    _seed(seed=8)
    assert _snapshot(_demo())["profiles"] != first["profiles"]


def test_reseeding_replaces_the_demo_data():
    _seed()
    _seed(profiles=30, events=100, responses=20)
    environment = _demo()
    assert Profile.objects.filter(environment=environment).count() == 30
    assert Event.objects.filter(environment=environment).count() == 100
    assert Survey.objects.filter(environment=environment).count() == 4
    assert Environment.objects.filter(slug__startswith="demo").count() == 1


def test_if_empty_leaves_existing_data_alone():
    _seed()
    before = _snapshot(_demo())
    output = _seed(profiles=10, events=5, if_empty=True, seed=99)
    assert "already has data" in output
    assert seed_demo.DEMO_PASSWORD in output
    assert _snapshot(_demo()) == before


def test_if_empty_seeds_an_empty_demo_environment():
    Environment.objects.create(name="Demo", slug="demo")
    _seed(if_empty=True)
    assert Profile.objects.filter(environment=_demo()).count() == SMALL["profiles"]


def test_bad_sizes_are_refused():
    with pytest.raises(CommandError, match="--profiles"):
        _seed(profiles=0)
    with pytest.raises(CommandError, match="--anchor"):
        _seed(anchor="yesterday")


def test_survey_statuses_query_counts_match():
    """Completed, partial, dismissed and view-only responses can be told apart in SQL too."""
    _seed(responses=200)
    counts = Response.objects.filter(environment=_demo()).aggregate(
        completed=Count("pk", filter=Q(completed_at__isnull=False)),
        dismissed=Count("pk", filter=Q(dismissed_at__isnull=False)),
        views=Count("pk", filter=Q(data={}, dismissed_at__isnull=True)),
    )
    assert all(counts.values()), counts


def test_an_environment_with_other_members_is_not_replaced_without_force():
    _seed()
    environment = _demo()
    member_add(environment=environment, email="real@acme.test", role=Role.ADMIN)
    before = _snapshot(environment)
    with pytest.raises(CommandError, match="members besides the demo logins"):
        _seed(seed=5)
    assert _snapshot(environment) == before
    _seed(seed=5, force=True)
    assert _snapshot(environment) != before
