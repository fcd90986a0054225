from datetime import timedelta

import pytest
from django.utils import timezone

from events.factories import EventFactory
from events.models import Event
from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from segments.models import SegmentMembership
from surveys.factories import ResponseFactory, SurveyFactory
from surveys.models import Response


def _profiles(environment, n):
    now = timezone.now()
    return [
        ProfileFactory(
            environment=environment,
            user_id=f"u{i}",
            first_seen_at=now - timedelta(days=100 - i),
            last_seen_at=now - timedelta(minutes=i),
        )
        for i in range(n)
    ]


def test_contacts_pages_with_cursor(api, environment, other_environment):
    profiles = _profiles(environment, 5)
    ProfileFactory(environment=other_environment)
    first = api.get("/api/v1/contacts", {"page_length": 2})
    assert first.status_code == 200
    body = first.json()
    assert [c["id"] for c in body["items"]] == ["u0", "u1"]
    assert body["next_cursor"]
    seen = [c["id"] for c in body["items"]]
    cursor = body["next_cursor"]
    while cursor:
        page = api.get("/api/v1/contacts", {"page_length": 2, "cursor": cursor}).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [p.user_id for p in profiles]
    item = body["items"][0]
    assert set(item) == {
        "uuid",
        "id",
        "email",
        "anonymous_id",
        "traits",
        "first_seen_at",
        "last_seen_at",
    }


def test_contacts_order_by_first_seen(api, environment):
    _profiles(environment, 3)
    body = api.get("/api/v1/contacts", {"order": "first_seen"}).json()
    assert [c["id"] for c in body["items"]] == ["u2", "u1", "u0"]


def test_contacts_search_segment_and_survey_filters(api, environment):
    _a, b, c = _profiles(environment, 3)
    segment = ManualSegmentFactory(environment=environment)
    SegmentMembershipFactory(segment=segment, profile=b)
    survey = SurveyFactory(environment=environment)
    ResponseFactory(survey=survey, profile=c)
    found = api.get("/api/v1/contacts", {"search": "u0@example"}).json()["items"]
    assert [x["id"] for x in found] == ["u0"]
    members = api.get("/api/v1/contacts", {"segment": str(segment.uuid)}).json()["items"]
    assert [x["id"] for x in members] == ["u1"]
    respondents = api.get("/api/v1/contacts", {"survey": str(survey.uuid)}).json()["items"]
    assert [x["id"] for x in respondents] == ["u2"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"page_length": 0}, 400, "page_length"),
        ({"page_length": 1001}, 400, "page_length"),
        ({"order": "name"}, 400, "order"),
        ({"segment": "not-a-uuid"}, 400, "segment"),
    ],
)
def test_contacts_bad_parameters(api, params, status, field):
    response = api.get("/api/v1/contacts", params)
    assert response.status_code == status
    assert response.json()["field"] == field


def test_contacts_unknown_or_foreign_segment_is_404(api, other_environment):
    foreign = ManualSegmentFactory(environment=other_environment)
    response = api.get("/api/v1/contacts", {"segment": str(foreign.uuid)})
    assert response.status_code == 404
    assert "error" in response.json()


def test_contacts_list_queries_do_not_grow_with_page(
    api, environment, django_assert_max_num_queries
):
    _profiles(environment, 30)
    with django_assert_max_num_queries(3):
        assert len(api.get("/api/v1/contacts", {"page_length": 30}).json()["items"]) == 30


@pytest.mark.parametrize("by", ["id", "email", "uuid"])
def test_get_contact_by_id_email_or_uuid(api, environment, by):
    profile = ProfileFactory(environment=environment, user_id="u1", email="a@x.test")
    segment = ManualSegmentFactory(environment=environment, name="VIP")
    SegmentMembershipFactory(segment=segment, profile=profile)
    value = {"id": "u1", "email": "a@x.test", "uuid": str(profile.uuid)}[by]
    response = api.get("/api/v1/contact", {by: value})
    assert response.status_code == 200
    body = response.json()
    assert body["uuid"] == str(profile.uuid) and body["id"] == "u1"
    assert body["segments"] == [{"uuid": str(segment.uuid), "name": "VIP"}]


def test_get_contact_missing_is_404_and_no_lookup_is_400(api):
    assert api.get("/api/v1/contact", {"id": "nobody"}).status_code == 404
    response = api.get("/api/v1/contact")
    assert response.status_code == 400 and response.json()["field"] == "id"


def test_key_of_one_environment_cannot_reach_another(api, other_api, environment):
    """B's key sends A's uuid, id and email: it can neither read, change nor delete A's contact."""
    profile = ProfileFactory(environment=environment, user_id="u1", email="a@x.test")
    for params in ({"uuid": str(profile.uuid)}, {"id": "u1"}, {"email": "a@x.test"}):
        assert other_api.get("/api/v1/contact", params).status_code == 404
        assert other_api.delete("/api/v1/contact", params).status_code == 404
    assert other_api.get("/api/v1/contacts").json()["items"] == []
    # Identifying the same user id with B's key creates B's own profile, A's is untouched.
    other_api.post("/api/v1/identify-user", {"id": "u1", "plan": "hacked"})
    profile.refresh_from_db()
    assert profile.traits == {}
    assert Profile.objects.filter(user_id="u1").count() == 2


def test_delete_contact_removes_events_responses_memberships(api, environment):
    profile = ProfileFactory(environment=environment, user_id="u1")
    keep = ProfileFactory(environment=environment)
    EventFactory.create_batch(2, profile=profile)
    EventFactory(profile=keep)
    ResponseFactory(survey=SurveyFactory(environment=environment), profile=profile)
    SegmentMembershipFactory(segment=ManualSegmentFactory(environment=environment), profile=profile)
    response = api.delete("/api/v1/contact", {"id": "u1"})
    assert response.status_code == 200
    assert response.json() == {"message": "Contact deleted"}
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert Event.objects.count() == 1
    assert not Response.objects.exists()
    assert not SegmentMembership.objects.exists()


@pytest.mark.parametrize("text", ["plan:nan", "plan:inf", "plan:1e999", "a\x00b", "%_", "x" * 3000])
def test_contacts_odd_search_never_500(api, environment, text):
    ProfileFactory(environment=environment, traits={"plan": "pro"})
    assert api.get("/api/v1/contacts", {"search": text}).status_code == 200
