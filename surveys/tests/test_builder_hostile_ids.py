"""The builder and the survey page with hostile numbers: ids of thousands of digits (Python
refuses to parse an int of more than 4,300 digits), ids beyond PostgreSQL's bigint, and digits
that are not ASCII ("²" is a digit to str.isdigit() and not to int()). Never a 500."""

import pytest
from django.urls import reverse

from surveys.factories import QuestionFactory, SurveyFactory
from surveys.models import Question, Response

pytestmark = pytest.mark.django_db

HOSTILE_IDS = ["9" * 4301, "9" * 20, "²", "١٢", "-1", "1e3", " 1", "0"]
NAMES = [
    "4301-digits",
    "beyond-bigint",
    "superscript",
    "arabic-indic",
    "negative",
    "exp",
    "space",
    "0",
]


@pytest.fixture
def survey(environment):
    # Anonymous mode: the survey page answers a link without an identity.
    survey = SurveyFactory(environment=environment, live=True, mode="anonymous")
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


def _builder(survey, name="detail", **kwargs):
    return reverse(
        f"surveys:{name}", kwargs={"env": survey.environment.slug, "uuid": survey.uuid, **kwargs}
    )


@pytest.mark.parametrize("value", HOSTILE_IDS, ids=NAMES)
def test_edit_parameter_with_a_hostile_id_shows_the_builder(owner_client, survey, value):
    page = owner_client.get(_builder(survey), {"edit": value})
    assert page.status_code == 200


@pytest.mark.parametrize("value", HOSTILE_IDS, ids=NAMES)
def test_reorder_with_hostile_ids_changes_nothing(owner_client, survey, value):
    before = list(Question.objects.order_by("position").values_list("pk", flat=True))
    response = owner_client.post(_builder(survey, "question_reorder"), {"order": [value]})
    assert response.status_code < 500
    assert list(Question.objects.order_by("position").values_list("pk", flat=True)) == before


def test_question_url_with_an_id_beyond_bigint_is_404(owner_client, survey):
    url = _builder(survey, "question", question_id=10**19)
    assert owner_client.get(url).status_code == 404
    assert owner_client.get(url.replace(str(10**19), "9" * 5000)).status_code == 404


@pytest.mark.parametrize("value", ["²", "9" * 5000, "-²"], ids=["sup", "5000", "neg-sup"])
def test_logic_value_with_hostile_digits_is_not_a_500(owner_client, survey, value):
    question = survey.questions.get(key="nps")
    url = _builder(survey, "question", question_id=question.pk)
    response = owner_client.post(
        url,
        {
            "kind": "nps",
            "key": "nps",
            "title": "How likely?",
            "logic_0_operator": "eq",
            "logic_0_value": value,
            "logic_0_goto": "end",
        },
    )
    assert response.status_code < 500


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000], ids=["sup", "arabic", "5000"])
def test_survey_page_answer_with_hostile_digits_is_a_form_error(client, survey, value):
    url = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    client.get(url)
    response = Response.objects.get()
    page = client.post(url, {"r": str(response.uuid), "q": "nps", "answer": value})
    assert page.status_code == 200
    assert b"whole number" in page.content
    response.refresh_from_db()
    assert response.data == {}


@pytest.mark.parametrize("value", ["1e5000", "9" * 5000, "1e-5000", "-1E+400"])
def test_response_filters_with_huge_numbers_are_not_a_500(owner_client, environment, value):
    url = reverse("surveys:responses", kwargs={"env": environment.slug})
    for params in ({"trait": "plan", "trait_value": value}, {"answer": "nps", "value": value}):
        assert owner_client.get(url, params).status_code == 200
