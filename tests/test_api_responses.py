from datetime import UTC, datetime

import pytest

from profiles.factories import ProfileFactory
from profiles.models import Profile
from segments.factories import ManualSegmentFactory, SegmentFactory, SegmentMembershipFactory
from segments.models import SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Response


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="score")
    QuestionFactory(survey=survey, kind="single_choice", key="color", choices=["Red", "Blue"])
    return survey


def test_list_responses_filters_and_pages(api, environment, other_environment, survey):
    profile = ProfileFactory(environment=environment, user_id="u1")
    other_survey = SurveyFactory(environment=environment)
    done = [
        ResponseFactory(
            survey=survey,
            profile=profile,
            data={"score": i},
            completed=True,
            created_at=datetime(2024, 5, i + 1, tzinfo=UTC),
        )
        for i in range(3)
    ]
    partial = ResponseFactory(survey=survey, profile=profile, data={"score": 5})
    ResponseFactory(survey=survey, profile=profile)  # a view: never listed
    ResponseFactory(survey=other_survey, profile=profile, data={"x": 1}, completed=True)
    ResponseFactory(survey=SurveyFactory(environment=other_environment), data={"x": 1})

    body = api.get("/api/v1/responses", {"survey": str(survey.uuid), "page_length": 2}).json()
    assert [r["uuid"] for r in body["items"]] == [str(done[2].uuid), str(done[1].uuid)]
    rest = api.get(
        "/api/v1/responses",
        {"survey": str(survey.uuid), "page_length": 2, "cursor": body["next_cursor"]},
    ).json()
    assert [r["uuid"] for r in rest["items"]] == [str(done[0].uuid)]
    assert rest["next_cursor"] is None
    item = body["items"][0]
    assert item["survey"] == str(survey.uuid) and item["contact"]["id"] == "u1"
    assert item["data"] == {"score": 2} and item["status"] == "completed"

    partials = api.get("/api/v1/responses", {"include": "partials"}).json()["items"]
    assert [r["uuid"] for r in partials] == [str(partial.uuid)]
    everything = api.get("/api/v1/responses", {"include": "all"}).json()["items"]
    assert len(everything) == 5
    dated = api.get(
        "/api/v1/responses",
        {"survey": str(survey.uuid), "date_from": "2024-05-02", "date_to": "2024-05-02"},
    ).json()["items"]
    assert [r["uuid"] for r in dated] == [str(done[1].uuid)]


def test_list_responses_by_segment(api, environment, survey):
    member, other = ProfileFactory(environment=environment), ProfileFactory(environment=environment)
    segment = ManualSegmentFactory(environment=environment)
    SegmentMembershipFactory(segment=segment, profile=member)
    mine = ResponseFactory(survey=survey, profile=member, data={"score": 1}, completed=True)
    ResponseFactory(survey=survey, profile=other, data={"score": 1}, completed=True)
    items = api.get("/api/v1/responses", {"segment": str(segment.uuid)}).json()["items"]
    assert [r["uuid"] for r in items] == [str(mine.uuid)]


def test_foreign_survey_is_404(api, other_environment):
    foreign = SurveyFactory(environment=other_environment)
    assert api.get("/api/v1/responses", {"survey": str(foreign.uuid)}).status_code == 404
    response = api.post(
        "/api/v1/responses", {"survey": str(foreign.uuid), "id": "u1", "answers": {}}
    )
    assert response.status_code == 404


def test_store_response_with_duplicate_prevention(api, environment, survey):
    body = {
        "survey": str(survey.uuid),
        "id": "u1",
        "answers": {"score": 9, "color": "Red"},
        "external_id": "ext-1",
        "context": {"source": "crm"},
    }
    first = api.post("/api/v1/responses", body)
    assert first.status_code == 201, first.content
    second = api.post("/api/v1/responses", body)
    assert second.status_code == 200
    assert second.json()["created"] is False
    assert second.json()["response_uuid"] == first.json()["response_uuid"]
    response = Response.objects.get()
    assert response.data == {"score": 9, "color": "Red"}
    assert response.completed_at is not None and response.channel == "api"
    assert response.profile == Profile.objects.get(environment=environment, user_id="u1")


@pytest.mark.parametrize(
    ("answers", "field"),
    [({"score": 11}, "score"), ({"color": "Green"}, "color")],
)
def test_store_response_rejects_bad_answer_naming_key(api, survey, answers, field):
    response = api.post(
        "/api/v1/responses", {"survey": str(survey.uuid), "id": "u1", "answers": answers}
    )
    assert response.status_code == 400
    assert field in response.json()["field"]


def test_store_response_needs_a_respondent(api, survey):
    response = api.post("/api/v1/responses", {"survey": str(survey.uuid), "answers": {}})
    assert response.status_code == 400 and response.json()["field"] == "id"


def test_forms_lists_surveys_with_questions_and_link(api, environment, survey, other_environment):
    SurveyFactory(environment=other_environment)
    draft = SurveyFactory(environment=environment, name="Draft")
    forms = api.get("/api/v1/forms").json()
    assert {f["name"] for f in forms} == {"NPS", "Draft"}
    live = api.get("/api/v1/forms", {"status": "live"}).json()
    assert [f["uuid"] for f in live] == [str(survey.uuid)]
    [form] = live
    assert form["questions"][0] == {
        "key": "score",
        "type": "nps",
        "title": form["questions"][0]["title"],
        "required": True,
        "choices": None,
    }
    assert form["questions"][1]["choices"] == ["Red", "Blue"]
    assert form["link"].startswith("http://testserver/") and survey.public_id in form["link"]
    assert draft.uuid


def test_segments_list(api, environment, other_environment):
    ManualSegmentFactory(environment=environment, name="Beta")
    SegmentFactory(environment=environment, name="Active")
    ManualSegmentFactory(environment=other_environment, name="Theirs")
    body = api.get("/api/v1/segments").json()
    assert [(s["name"], s["kind"]) for s in body] == [("Active", "dynamic"), ("Beta", "manual")]


def test_sync_segment_add_and_remove(api, environment):
    segment = ManualSegmentFactory(environment=environment)
    added = api.post("/api/v1/sync-segment", {"segment": str(segment.uuid), "id": "u1"})
    assert added.status_code == 200, added.content
    assert added.json()["changed"] is True
    profile = Profile.objects.get(environment=environment, user_id="u1")
    assert SegmentMembership.objects.filter(segment=segment, profile=profile).exists()
    again = api.post("/api/v1/sync-segment", {"segment": str(segment.uuid), "id": "u1"})
    assert again.json()["changed"] is False
    removed = api.delete("/api/v1/sync-segment", {"segment": str(segment.uuid), "id": "u1"})
    assert removed.status_code == 200 and removed.json()["changed"] is True
    assert not SegmentMembership.objects.exists()
    missing = api.delete("/api/v1/sync-segment", {"segment": str(segment.uuid), "id": "nobody"})
    assert missing.status_code == 404


def test_sync_segment_refuses_dynamic_and_foreign_segments(api, environment, other_environment):
    dynamic = SegmentFactory(environment=environment)
    response = api.post("/api/v1/sync-segment", {"segment": str(dynamic.uuid), "id": "u1"})
    assert response.status_code == 400 and response.json()["field"] == "segment"
    foreign = ManualSegmentFactory(environment=other_environment)
    response = api.post("/api/v1/sync-segment", {"segment": str(foreign.uuid), "id": "u1"})
    assert response.status_code == 404
    assert not SegmentMembership.objects.exists()
