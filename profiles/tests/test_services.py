from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from events.factories import EventFactory
from events.models import Event
from governance.erasure import profile_erase
from profiles.factories import MonthlyActivityFactory, ProfileFactory
from profiles.models import MonthlyActivity, Profile
from profiles.services import profile_identify, profile_mark_active
from segments.models import Segment, SegmentMembership
from surveys.models import Response, Survey
from traits.models import Trait


def test_identify_creates_profile_with_traits_and_definitions(environment):
    profile = profile_identify(
        environment=environment, user_id="u1", email="ada@example.test", traits={"plan": "pro"}
    )
    assert profile.created is True
    stored = Profile.objects.get(environment=environment, user_id="u1")
    assert stored.pk == profile.pk
    assert stored.email == "ada@example.test"
    assert stored.traits == {"plan": "pro"}
    assert Trait.objects.filter(environment=environment, key="plan", scope="profile").exists()
    assert MonthlyActivity.objects.filter(profile=stored).count() == 1


def test_identify_merges_traits_and_advances_last_seen_only(environment):
    first = datetime(2024, 1, 1, tzinfo=UTC)
    profile_identify(environment=environment, user_id="u1", traits={"a": 1, "b": 1}, seen_at=first)
    later = first + timedelta(days=3)
    profile = profile_identify(
        environment=environment, user_id="u1", traits={"b": 2, "c": 3}, seen_at=later
    )
    assert profile.created is False
    assert profile.traits == {"a": 1, "b": 2, "c": 3}
    assert profile.first_seen_at == first
    assert profile.last_seen_at == later
    # An out-of-order older call does not move last_seen_at back.
    profile = profile_identify(environment=environment, user_id="u1", seen_at=first)
    assert profile.last_seen_at == later
    assert Profile.objects.filter(environment=environment).count() == 1


def test_identify_replace_mode_replaces_all_traits(environment):
    profile_identify(environment=environment, user_id="u1", traits={"a": 1, "b": 1})
    profile = profile_identify(
        environment=environment, user_id="u1", traits={"c": 3}, mode="replace"
    )
    assert profile.traits == {"c": 3}


def test_identify_by_email_only_then_user_id_adopts_profile(environment):
    first = profile_identify(environment=environment, email="ada@example.test")
    second = profile_identify(environment=environment, user_id="u1", email="ada@example.test")
    assert second.pk == first.pk
    assert Profile.objects.get(pk=first.pk).user_id == "u1"


def test_identify_with_only_anonymous_id(environment):
    profile = profile_identify(environment=environment, anonymous_id="dev-1")
    again = profile_identify(environment=environment, anonymous_id="dev-1", traits={"x": 1})
    assert again.pk == profile.pk
    assert again.user_id is None and not again.is_identified
    assert again.traits == {"x": 1}


def test_identify_device_becomes_identified_without_merge(environment):
    anon = profile_identify(environment=environment, anonymous_id="dev-1")
    profile = profile_identify(environment=environment, user_id="u1", anonymous_id="dev-1")
    assert profile.pk == anon.pk
    assert profile.user_id == "u1"


def test_identify_merges_anonymous_profile(environment):
    survey = Survey.objects.create(environment=environment, name="NPS")
    segment = Segment.objects.create(environment=environment, name="Trial", kind="manual")
    both = Segment.objects.create(environment=environment, name="Both", kind="manual")
    identified = ProfileFactory(
        environment=environment,
        user_id="u1",
        traits={"plan": "pro", "name": "Ada"},
        first_seen_at=timezone.now() - timedelta(days=2),
    )
    anon = ProfileFactory(
        environment=environment,
        anonymous=True,
        anonymous_id="dev-1",
        traits={"plan": "free", "utm": "ads"},
        first_seen_at=timezone.now() - timedelta(days=10),
    )
    EventFactory.create_batch(3, profile=anon)
    EventFactory(profile=identified)
    response = Response.objects.create(environment=environment, survey=survey, profile=anon)
    SegmentMembership.objects.create(segment=segment, profile=anon)
    SegmentMembership.objects.create(segment=both, profile=anon)
    SegmentMembership.objects.create(segment=both, profile=identified)
    MonthlyActivityFactory(profile=anon, month=date(2024, 1, 1))
    MonthlyActivityFactory(profile=anon)
    MonthlyActivityFactory(profile=identified)

    profile = profile_identify(
        environment=environment, user_id="u1", anonymous_id="dev-1", traits={"seats": 3}
    )

    assert profile.pk == identified.pk
    assert not Profile.objects.filter(pk=anon.pk).exists()
    assert Event.objects.filter(profile=identified).count() == 4
    response.refresh_from_db()
    assert response.profile_id == identified.pk
    assert set(
        SegmentMembership.objects.filter(profile=identified).values_list("segment__name", flat=True)
    ) == {"Trial", "Both"}
    assert SegmentMembership.objects.filter(profile=identified).count() == 2
    months = MonthlyActivity.objects.filter(profile=identified).values_list("month", flat=True)
    assert sorted(months) == [date(2024, 1, 1), timezone.now().date().replace(day=1)]
    # Anonymous traits fill gaps; the identified values win; incoming values win over both.
    assert profile.traits == {"plan": "pro", "name": "Ada", "utm": "ads", "seats": 3}
    assert profile.first_seen_at == anon.first_seen_at
    assert profile.anonymous_id == "dev-1"


def test_identify_does_not_merge_device_of_another_identified_user(environment):
    other = ProfileFactory(environment=environment, user_id="u2", anonymous_id="dev-1")
    EventFactory(profile=other)
    profile = profile_identify(environment=environment, user_id="u1", anonymous_id="dev-1")
    assert profile.pk != other.pk
    assert profile.anonymous_id is None
    assert Profile.objects.get(pk=other.pk).anonymous_id == "dev-1"
    assert Event.objects.filter(profile=other).count() == 1


def test_identify_email_from_traits(environment):
    profile = profile_identify(
        environment=environment, anonymous_id="dev-9", traits={"email": "x@example.test"}
    )
    assert profile.email == "x@example.test"


def test_identify_is_scoped_to_environment(environment, other_environment):
    theirs = profile_identify(environment=other_environment, user_id="u1", traits={"a": 1})
    ours = profile_identify(environment=environment, user_id="u1", traits={"b": 2})
    assert theirs.pk != ours.pk
    assert Profile.objects.get(pk=theirs.pk).traits == {"a": 1}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "id"),
        ({"user_id": "  "}, "id"),
        ({"user_id": "x" * 256}, "id"),
        ({"user_id": {"a": 1}}, "id"),
        ({"user_id": "u", "mode": "upsert"}, "mode"),
        ({"user_id": "u", "traits": {"bad key": 1}}, "traits.bad key"),
    ],
)
def test_identify_rejects_bad_input_naming_field(environment, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        profile_identify(environment=environment, **kwargs)
    assert field in exc.value.message_dict


def test_identify_protected_fields_cannot_be_set_through_traits(environment):
    profile = profile_identify(
        environment=environment,
        user_id="u1",
        traits={"uuid": "00000000-0000-0000-0000-000000000000", "first_seen_at": "2001-01-01"},
    )
    stored = Profile.objects.get(pk=profile.pk)
    assert str(stored.uuid) != "00000000-0000-0000-0000-000000000000"
    assert stored.first_seen_at.year != 2001
    assert stored.traits == {}


def test_identify_nul_bytes_in_traits_are_stored_without_error(environment):
    profile = profile_identify(environment=environment, user_id="u1", traits={"n": "a\x00b"})
    assert Profile.objects.get(pk=profile.pk).traits == {"n": "ab"}


@pytest.mark.parametrize("user_id", ["u\x001", "u1\x00", "\x00", "u\x1b1", "u\x7f1"])
def test_identify_refuses_an_id_with_a_control_character(environment, user_id):
    # Cleaned, "u\x001" was stored as "u1": another person's profile, adopted silently.
    existing = profile_identify(environment=environment, user_id="u1", traits={"plan": "pro"})
    with pytest.raises(ValidationError) as caught:
        profile_identify(environment=environment, user_id=user_id, traits={"plan": "free"})
    assert caught.value.message_dict == {"id": ["contains control characters"]}
    assert Profile.objects.get(pk=existing.pk).traits == {"plan": "pro"}
    assert Profile.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "statements"),
    [
        # savepoint, commit mode, one statement (upsert, trait definitions, MAU), release
        ({"user_id": "u1"}, 4),
        ({"anonymous_id": "d1"}, 4),
        ({"user_id": "u1", "email": "a@b.c"}, 4),
        # savepoint, commit mode, the identifiers' lock, lookup, update, trait definitions,
        # MAU, release
        ({"user_id": "u1", "anonymous_id": "d1"}, 8),
    ],
)
def test_identify_runs_constant_queries(
    environment, django_assert_max_num_queries, kwargs, statements
):
    profile_identify(environment=environment, **kwargs)
    for n in (1, 150):
        traits = {f"trait_{n}_{i}": i for i in range(n)}
        with django_assert_max_num_queries(statements):
            profile_identify(environment=environment, traits=traits, **kwargs)
    assert Trait.objects.filter(environment=environment).count() == 151


def test_identify_calls_segment_seam_after_commit(
    environment, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr(
        "profiles.services.segment_profiles_changed",
        lambda **kw: calls.append(kw),
    )
    with django_capture_on_commit_callbacks(execute=True):
        profile = profile_identify(environment=environment, user_id="u1")
    # Inside a transaction identify takes the general path, which does not queue the profile
    # in its statement (marked=False): the seam does.
    assert calls == [
        {"environment_id": environment.pk, "profile_ids": [profile.pk], "marked": False}
    ]


def test_profile_mark_active_once_per_month(environment):
    profile = ProfileFactory(environment=environment)
    at = datetime(2024, 3, 31, 23, 59, tzinfo=UTC)
    profile_mark_active(environment_id=environment.pk, profile_id=profile.pk, at=at)
    profile_mark_active(environment_id=environment.pk, profile_id=profile.pk, at=at)
    profile_mark_active(
        environment_id=environment.pk, profile_id=profile.pk, at=at + timedelta(minutes=2)
    )
    assert sorted(MonthlyActivity.objects.values_list("month", flat=True)) == [
        date(2024, 3, 1),
        date(2024, 4, 1),
    ]


def test_profile_erase_removes_everything(environment):
    survey = Survey.objects.create(environment=environment, name="NPS")
    segment = Segment.objects.create(environment=environment, name="S", kind="manual")
    profile = ProfileFactory(environment=environment)
    keep = ProfileFactory(environment=environment)
    EventFactory.create_batch(2, profile=profile)
    EventFactory(profile=keep)
    Response.objects.create(environment=environment, survey=survey, profile=profile)
    SegmentMembership.objects.create(segment=segment, profile=profile)
    MonthlyActivityFactory(profile=profile)
    profile_erase(profile=profile)
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert Event.objects.count() == 1
    assert not Response.objects.exists()
    assert not SegmentMembership.objects.exists()
    # The month stays for MAU, unlinked.
    assert list(MonthlyActivity.objects.values_list("profile_id", flat=True)) == [None]
