"""The reports: Project Overview, Response List and CSV export (access, filters, pagination,
query counts, escaping)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from profiles.factories import MonthlyActivityFactory, ProfileFactory
from segments.models import Segment, SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.filters import ResponseFilter
from surveys.models import Response
from surveys.report_rollup import response_stats_rollup
from tests.helpers import HTMX, eurl

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def survey(environment):
    survey = SurveyFactory(environment=environment, name="Product NPS", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", position=1)
    QuestionFactory(survey=survey, kind="csat", key="csat", position=2)
    QuestionFactory(survey=survey, kind="ces", key="effort", position=3)
    QuestionFactory(
        survey=survey,
        kind="multiple_choice",
        key="features",
        position=4,
        choices=["Reports", "Export", "Alerts"],
    )
    QuestionFactory(survey=survey, kind="text", key="why", position=5, required=False)
    return survey


@pytest.fixture
def alice(environment):
    return ProfileFactory(
        environment=environment,
        user_id="alice",
        email="alice@acme.test",
        traits={"name": "Alice Liddell", "plan": "pro", "seats": 5},
    )


@pytest.fixture
def bob(environment):
    return ProfileFactory(
        environment=environment,
        user_id="bob",
        email="bob@acme.test",
        traits={"name": "Bob", "plan": "free"},
    )


@pytest.fixture
def responses(survey, alice, bob):
    now = timezone.now()
    return {
        "promoter": ResponseFactory(
            survey=survey,
            profile=alice,
            completed=True,
            created_at=now - timedelta(hours=1),
            data={
                "nps": 10,
                "csat": 2,
                "effort": 2,
                "features": ["Reports", "Export"],
                "why": "Love the export",
            },
        ),
        "detractor": ResponseFactory(
            survey=survey,
            profile=bob,
            completed=True,
            created_at=now - timedelta(hours=2),
            data={"nps": 3, "csat": -1, "effort": 6, "features": ["Alerts"], "why": "Too slow"},
        ),
        "passive": ResponseFactory(
            survey=survey, profile=bob, created_at=now - timedelta(hours=3), data={"nps": 7}
        ),
        "view": ResponseFactory(survey=survey, profile=alice, created_at=now - timedelta(hours=4)),
        "dismissed": ResponseFactory(
            survey=survey,
            profile=bob,
            created_at=now - timedelta(hours=5),
            dismissed_at=now - timedelta(hours=5),
        ),
        "old": ResponseFactory(
            survey=survey,
            profile=alice,
            completed=True,
            created_at=now - timedelta(days=60),
            data={"nps": 0},
        ),
    }


def listed(response) -> list[str]:
    """The uuids of the responses a Response List page shows, in order."""
    return [str(r.uuid) for r in response.context["page"].items]


# --- Access -------------------------------------------------------------------------------------

PAGES = ["surveys:overview", "surveys:responses", "surveys:responses_export"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, environment, name):
    response = client.get(eurl(environment, name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("environments:login"))


@pytest.mark.parametrize("name", PAGES)
def test_outsider_gets_404(outsider_client, environment, name):
    assert outsider_client.get(eurl(environment, name)).status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_analyst_can_read_reports(analyst_client, environment, responses, name):
    assert analyst_client.get(eurl(environment, name)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_reports_are_read_only(owner_client, environment, name):
    assert owner_client.post(eurl(environment, name)).status_code == 405


def test_reports_are_in_the_navigation(owner_client, environment):
    page = owner_client.get(eurl(environment, "surveys:overview")).content.decode()
    assert eurl(environment, "surveys:responses") in page
    assert 'aria-current="page">Overview' in page


# --- Overview -----------------------------------------------------------------------------------


def test_overview_cards_for_the_last_30_days(owner_client, environment, responses, alice, bob):
    this_month = timezone.localdate().replace(day=1)
    MonthlyActivityFactory(profile=alice, month=this_month, identified=True)
    MonthlyActivityFactory(profile=bob, month=this_month, surveyed=True)
    # A visitor who only browsed is active but not counted (the MAU rule, as on Usage).
    MonthlyActivityFactory(profile=ProfileFactory(environment=environment), month=this_month)
    response = owner_client.get(eurl(environment, "surveys:overview"))
    assert response.status_code == 200
    figures = response.context["figures"]
    # The 60-day-old response is outside the default range.
    assert figures["views"] == 5
    assert figures["responses"] == 3
    assert figures["completed"] == 2
    assert figures["dismissed"] == 1
    assert figures["completion_rate"] == 40.0
    assert figures["nps"]["score"] == 0.0  # 1 promoter, 1 passive, 1 detractor
    assert (figures["nps"]["promoters"], figures["nps"]["detractors"]) == (1, 1)
    assert figures["csat"] == {"score": 50.0, "satisfied": 1, "total": 2}
    assert figures["ces"]["average"] == 4.0
    assert response.context["mau"] == 2
    html = response.content.decode()
    assert "<svg" in html and "NPS by week" in html
    assert "Alice Liddell" in html  # the latest responses name their respondent
    assert reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": alice.uuid}) in html


def test_overview_links_to_the_same_responses(owner_client, environment, responses):
    html = owner_client.get(eurl(environment, "surveys:overview")).content.decode()
    assert f'{eurl(environment, "surveys:responses")}?period=30d"' in html


def test_overview_all_time_includes_old_responses(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:overview"), {"period": "all"})
    assert response.context["figures"]["views"] == 6
    assert response.context["figures"]["nps"]["detractors"] == 2


def test_overview_custom_range(owner_client, environment, responses):
    day = (timezone.localtime(responses["old"].created_at)).date()
    response = owner_client.get(
        eurl(environment, "surveys:overview"), {"start": day.isoformat(), "end": day.isoformat()}
    )
    assert response.context["span"].period == "custom"
    assert response.context["figures"]["views"] == 1


def test_overview_segment_filter(owner_client, environment, responses, alice):
    segment = Segment.objects.create(environment=environment, name="Pro", kind="manual")
    SegmentMembership.objects.create(segment=segment, profile=alice)
    response = owner_client.get(eurl(environment, "surveys:overview"), {"segment": segment.uuid})
    figures = response.context["figures"]
    assert figures["views"] == 2  # alice's promoter response and view
    assert figures["nps"]["score"] == 100.0


# Answers of every JSON type: only numbers count towards a score (True is not 1, "9" is not 9).
ODD_ANSWERS = [10, 9.5, 9, 7, 6, 0, -1, 10.5, "9", True, None, [10], {"nps": 10}, 1.0, 1.5, 2]


def _by_hand(responses, keys):
    """The Overview's figures of `responses`, computed in Python from the definitions."""
    numbers = []
    for r in responses:
        values = {}
        for kind, by_survey in keys.items():
            value = (r.data or {}).get(by_survey.get(r.survey_id))
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            values[kind] = value if is_number else None
        numbers.append(values)

    def count(kind, low, high):
        return sum(1 for v in numbers if v[kind] is not None and low <= v[kind] <= high)

    ces = [v["ces"] for v in numbers if v["ces"] is not None and 1 <= v["ces"] <= 7]
    return {
        "views": len(responses),
        "responses": sum(1 for r in responses if r.data),
        "completed": sum(1 for r in responses if r.completed_at),
        "dismissed": sum(1 for r in responses if not r.completed_at and r.dismissed_at),
        "nps": (count("nps", 0, 10), count("nps", 9, 10), count("nps", 0, 6)),
        "csat": (count("csat", -2, 2), sum(1 for v in numbers if v["csat"] in (1, 2))),
        "ces": (len(ces), round(sum(ces) / len(ces), 2) if ces else None),
    }


def test_overview_segment_figures_match_a_computation_by_hand(owner_client, environment):
    """The segment-filtered figures (computed live, member-driven) against the definitions:
    members' responses of the period only, every JSON type of answer, two surveys scoring
    under different keys."""
    nps = SurveyFactory(environment=environment)
    QuestionFactory(survey=nps, kind="nps", key="nps", position=1)
    mixed = SurveyFactory(environment=environment)
    QuestionFactory(survey=mixed, kind="nps", key="recommend", position=1)
    QuestionFactory(survey=mixed, kind="csat", key="happy", position=2)
    QuestionFactory(survey=mixed, kind="ces", key="effort", position=3)
    members = [ProfileFactory(environment=environment) for _ in range(3)]
    others = [ProfileFactory(environment=environment) for _ in range(2)]
    segment = Segment.objects.create(environment=environment, name="Some", kind="manual")
    for profile in members:
        SegmentMembership.objects.create(segment=segment, profile=profile)
    now = timezone.now()
    for i, value in enumerate(ODD_ANSWERS):
        for j, profile in enumerate(members + others):
            at = now - timedelta(days=(i * 5 + j * 3) % 45, hours=1)  # some outside 30 days
            ResponseFactory(survey=nps, profile=profile, created_at=at, data={"nps": value})
            ResponseFactory(
                survey=mixed,
                profile=profile,
                created_at=at,
                data={"recommend": value, "happy": value, "effort": value, "nps": 0},
                completed_at=at if (i + j) % 3 == 0 else None,
                dismissed_at=at if (i + j) % 3 == 1 else None,
            )
            ResponseFactory(survey=mixed, profile=profile, created_at=at)  # a view
    start = timezone.make_aware(
        datetime.combine(timezone.localdate() - timedelta(days=29), datetime.min.time())
    )
    mine = list(Response.objects.filter(profile__in=members, created_at__gte=start))
    keys = {
        "nps": {nps.pk: "nps", mixed.pk: "recommend"},
        "csat": {mixed.pk: "happy"},
        "ces": {mixed.pk: "effort"},
    }
    expected = _by_hand(mine, keys)

    response = owner_client.get(eurl(environment, "surveys:overview"), {"segment": segment.uuid})
    figures = response.context["figures"]
    assert expected["views"] < Response.objects.count() // 2  # the filter kept a part
    assert {name: figures[name] for name in ("views", "responses", "completed", "dismissed")} == {
        name: expected[name] for name in ("views", "responses", "completed", "dismissed")
    }
    assert (
        figures["nps"]["total"],
        figures["nps"]["promoters"],
        figures["nps"]["detractors"],
    ) == expected["nps"]
    assert (figures["csat"]["total"], figures["csat"]["satisfied"]) == expected["csat"]
    assert (figures["ces"]["total"], figures["ces"]["average"]) == expected["ces"]


def test_overview_survey_filter_ignores_other_environments(
    owner_client, environment, other_environment, responses
):
    foreign = SurveyFactory(environment=other_environment)
    ResponseFactory(survey=foreign, data={"nps": 0})
    response = owner_client.get(eurl(environment, "surveys:overview"), {"survey": foreign.uuid})
    assert response.context["filter"].errors  # not a valid choice here
    assert response.context["figures"]["views"] == 0  # matches nothing, leaks nothing
    assert "were not understood" in response.content.decode()


def test_overview_fragment(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:overview"), headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report"')
    assert "<html" not in html


def test_overview_without_data(owner_client, environment):
    response = owner_client.get(eurl(environment, "surveys:overview"))
    assert response.status_code == 200
    assert "No NPS question" in response.content.decode()


def test_overview_query_count_is_constant(
    owner_client, environment, survey, django_assert_max_num_queries
):
    for i in range(30):
        ResponseFactory(survey=survey, data={"nps": i % 11, "csat": 1})
    with django_assert_max_num_queries(16) as few:
        owner_client.get(eurl(environment, "surveys:overview"))
    for i in range(30):
        ResponseFactory(survey=survey, data={"nps": i % 11, "effort": 3})
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(eurl(environment, "surveys:overview"))


# --- Response List ------------------------------------------------------------------------------


def test_response_list_newest_first(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:responses"))
    order = ["promoter", "detractor", "passive", "view", "dismissed", "old"]
    assert listed(response) == [str(responses[name].uuid) for name in order]
    html = response.content.decode()
    assert "Alice Liddell" in html
    assert "Love the export" in html
    assert "Reports, Export" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "completed"}, ["promoter", "detractor", "old"]),
        ({"status": "partial"}, ["passive"]),
        ({"status": "view"}, ["view"]),
        ({"status": "dismissed"}, ["dismissed"]),
        ({"period": "30d"}, ["promoter", "detractor", "passive", "view", "dismissed"]),
        ({"answer": "nps", "op": "detractors"}, ["detractor", "old"]),
        ({"answer": "nps", "op": "passives"}, ["passive"]),
        ({"answer": "nps", "op": "promoters"}, ["promoter"]),
        ({"answer": "nps", "op": "gte", "value": "7"}, ["promoter", "passive"]),
        ({"answer": "nps", "op": "lt", "value": "3"}, ["old"]),
        ({"answer": "nps", "op": "eq", "value": "7"}, ["passive"]),
        ({"answer": "features", "op": "eq", "value": "Alerts"}, ["detractor"]),
        ({"answer": "features", "op": "ne", "value": "Alerts"}, ["promoter"]),
        ({"answer": "why", "op": "contains", "value": "SLOW"}, ["detractor"]),
        ({"answer": "why", "op": "set"}, ["promoter", "detractor"]),
        ({"answer": "csat", "op": "eq", "value": "-1"}, ["detractor"]),
        ({"trait": "plan", "trait_value": "pro"}, ["promoter", "view", "old"]),
        ({"trait": "seats", "trait_value": "5"}, ["promoter", "view", "old"]),
        ({"trait": "seats"}, ["promoter", "view", "old"]),
        ({"q": "export"}, ["promoter"]),
        ({"q": "bob@acme"}, ["detractor", "passive", "dismissed"]),
        ({"q": "nps"}, []),  # keys are not searched, only answer values
        ({"q": "100%"}, []),  # LIKE wildcards are literal
        (
            {"status": "completed", "answer": "nps", "op": "detractors", "period": "30d"},
            ["detractor"],
        ),
    ],
)
def test_response_list_filters(owner_client, environment, responses, params, expected):
    response = owner_client.get(eurl(environment, "surveys:responses"), params)
    assert response.status_code == 200
    assert listed(response) == [str(responses[name].uuid) for name in expected]


def test_response_list_survey_and_segment_filters(owner_client, environment, responses, bob):
    other = SurveyFactory(environment=environment, name="Other")
    extra = ResponseFactory(survey=other, profile=bob, data={})
    response = owner_client.get(eurl(environment, "surveys:responses"), {"survey": other.uuid})
    assert listed(response) == [str(extra.uuid)]
    segment = Segment.objects.create(environment=environment, name="Bobs", kind="manual")
    SegmentMembership.objects.create(segment=segment, profile=bob)
    response = owner_client.get(
        eurl(environment, "surveys:responses"), {"segment": segment.uuid, "status": "dismissed"}
    )
    assert listed(response) == [str(responses["dismissed"].uuid)]


def test_response_filter_reads_every_row_like_the_overview(environment, responses, bob):
    """The Response List's filter takes `every_row` as its base does (it used to refuse it: a
    TypeError for any caller reading all rows), and keeps its own filters on that path."""
    segment = Segment.objects.create(environment=environment, name="Bobs", kind="manual")
    SegmentMembership.objects.create(segment=segment, profile=bob)
    filterset = ResponseFilter(
        QueryDict(f"segment={segment.uuid}&status=dismissed&period=all"), environment=environment
    )
    assert filterset.is_valid(), filterset.errors
    every_row = filterset.filter_queryset(filterset.queryset.all(), every_row=True)
    assert [r.pk for r in every_row] == [responses["dismissed"].pk]
    assert list(every_row) == list(filterset.qs)


def test_response_list_fragment_is_the_results_partial(owner_client, environment, responses):
    response = owner_client.get(
        eurl(environment, "surveys:responses"), {"status": "view"}, headers=HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html
    # A partial rendered alone records no context: its rows are counted in the HTML, and the
    # full page (whose context is recorded) says which response that row is.
    assert html.count('data-label="Respondent"') == 1
    full = owner_client.get(eurl(environment, "surveys:responses"), {"status": "view"})
    assert listed(full) == [str(responses["view"].uuid)]


def test_history_restore_gets_the_full_page(owner_client, environment, responses):
    response = owner_client.get(
        eurl(environment, "surveys:responses"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()


def test_keyset_pages_cover_everything_once(owner_client, environment, survey):
    base = timezone.now()
    created = [
        ResponseFactory(survey=survey, created_at=base - timedelta(minutes=i // 2))
        for i in range(60)  # pairs share a timestamp: the id breaks the tie
    ]
    seen: list[str] = []
    params: dict[str, str] = {"size": "25"}
    pages = 0
    while True:
        response = owner_client.get(eurl(environment, "surveys:responses"), params)
        seen += listed(response)
        pages += 1
        older = response.context["page"].next_cursor
        if not older:
            break
        params = {"size": "25", "after": older}
    assert pages == 3
    expected = sorted(created, key=lambda r: (r.created_at, r.pk), reverse=True)
    assert seen == [str(r.uuid) for r in expected]
    # Back from the last page with the "newer" cursor gives the middle page again.
    back = owner_client.get(
        eurl(environment, "surveys:responses"),
        {"size": "25", "before": response.context["page"].previous_cursor},
    )
    assert listed(back) == seen[25:50]
    assert back.context["page"].previous_cursor  # and there are newer ones still


def test_response_list_invalid_filter_lists_nothing(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:responses"), {"start": "31/02/2026"})
    assert listed(response) == []
    assert "were not understood" in response.content.decode()


@pytest.mark.parametrize("rolled_up", [False, True])
def test_a_range_ending_on_the_calendars_last_day_has_no_end(
    owner_client, environment, responses, rolled_up
):
    """9999-12-31 is the last day a date can hold: the day after it (the range's exclusive
    end) cannot be computed, which was a 500 on every report; ending there leaves nothing out."""
    if rolled_up:
        response_stats_rollup(environment_id=environment.pk)
    everything = {"start": "0001-01-01", "end": "9999-12-31"}
    response = owner_client.get(eurl(environment, "surveys:responses"), {"end": "9999-12-31"})
    assert response.status_code == 200
    assert len(listed(response)) == 6
    overview = owner_client.get(
        eurl(environment, "surveys:overview"), {"period": "custom", **everything}
    )
    assert overview.status_code == 200
    assert overview.context["figures"]["views"] == 6
    assert len(export(owner_client, environment, everything)) == 6


def test_response_list_ignores_a_bad_cursor(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:responses"), {"after": "garbage"})
    assert len(listed(response)) == 6


def test_response_list_query_count_does_not_grow_with_page_size(
    owner_client, environment, survey, django_assert_max_num_queries
):
    for i in range(120):
        ResponseFactory(survey=survey, data={"nps": i % 11, "why": f"answer {i}"})
    with django_assert_max_num_queries(16) as small:
        response = owner_client.get(eurl(environment, "surveys:responses"), {"size": "25"})
    assert len(listed(response)) == 25
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = owner_client.get(eurl(environment, "surveys:responses"), {"size": "100"})
    assert len(listed(response)) == 100


def test_user_supplied_values_render_as_text(owner_client, environment, survey):
    profile = ProfileFactory(environment=environment, traits={"name": XSS})
    ResponseFactory(survey=survey, profile=profile, data={"why": XSS}, completed=True)
    for name in ("surveys:responses", "surveys:overview"):
        html = owner_client.get(eurl(environment, name)).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


# --- CSV export ---------------------------------------------------------------------------------


def export(client, environment, params=None):
    response = client.get(eurl(environment, "surveys:responses_export"), params or {})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_has_a_column_per_question(owner_client, environment, responses):
    rows = export(owner_client, environment, {"status": "completed"})
    assert [row["response_id"] for row in rows] == [
        str(responses[name].uuid) for name in ("promoter", "detractor", "old")
    ]
    first = rows[0]
    assert list(first)[-6:] == ["nps", "csat", "csat_label", "effort", "features", "why"]
    assert first["nps"] == "10"
    assert (first["csat"], first["csat_label"]) == ("2", "Very satisfied")
    assert first["features"] == "Reports; Export"
    assert first["user_id"] == "alice"
    assert first["status"] == "completed"
    assert first["survey"] == "Product NPS"


def test_export_columns_of_the_selected_survey(owner_client, environment, responses):
    other = SurveyFactory(environment=environment)
    QuestionFactory(survey=other, kind="text", key="comment")
    rows = export(owner_client, environment, {"survey": other.uuid})
    assert rows == []
    response = owner_client.get(
        eurl(environment, "surveys:responses_export"), {"survey": other.uuid}
    )
    header = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.endswith(",comment")
    assert "nps" not in header


def test_export_defuses_spreadsheet_formulas(owner_client, environment, survey):
    ResponseFactory(survey=survey, data={"why": '=HYPERLINK("http://evil")', "csat": -2})
    rows = export(owner_client, environment)
    assert rows[0]["why"].startswith("'=")
    assert rows[0]["csat"] == "-2"


def test_export_never_includes_other_environments(
    owner_client, environment, other_environment, responses
):
    foreign = SurveyFactory(environment=other_environment)
    ResponseFactory(survey=foreign, data={"nps": 1})
    assert len(export(owner_client, environment)) == 6


def test_export_query_count_is_constant(
    owner_client, environment, survey, django_assert_max_num_queries
):
    for i in range(50):
        ResponseFactory(survey=survey, data={"nps": i % 11})
    with django_assert_max_num_queries(12):
        assert len(export(owner_client, environment)) == 50


@pytest.mark.parametrize("term", ['say "hi"', "back\\slash", "50%", "a_b"])
def test_search_finds_answers_with_special_characters(owner_client, environment, survey, term):
    match = ResponseFactory(survey=survey, data={"why": f"I {term} daily"})
    ResponseFactory(survey=survey, data={"why": "nothing special"})
    response = owner_client.get(eurl(environment, "surveys:responses"), {"q": term})
    assert listed(response) == [str(match.uuid)]


def test_search_by_respondent_id(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:responses"), {"q": "ALIC"})
    assert listed(response) == [str(responses[name].uuid) for name in ("promoter", "view", "old")]


def test_search_by_respondent_name(owner_client, environment, responses):
    """The respondent's name, as the Users search finds it (profiles/search.py)."""
    response = owner_client.get(eurl(environment, "surveys:responses"), {"q": "liddell"})
    assert listed(response) == [str(responses[name].uuid) for name in ("promoter", "view", "old")]


def test_export_status_of_every_kind_of_response(owner_client, environment, responses):
    rows = {row["response_id"]: row for row in export(owner_client, environment)}
    expected = {
        "promoter": "completed",
        "passive": "partial",
        "view": "view",
        "dismissed": "dismissed",
    }
    for name, status in expected.items():
        assert rows[str(responses[name].uuid)]["status"] == status
    assert rows[str(responses["dismissed"].uuid)]["dismissed_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"survey": "!!!"}, "survey"),
        ({"segment": "not-a-segment"}, "segment"),
        ({"period": "-1"}, "period"),
    ],
)
def test_export_with_filters_that_do_not_validate_is_a_400_naming_them(
    owner_client, environment, responses, params, field
):
    """A tampered export URL: the page would show the form's errors; the file says which filter
    is wrong (it was a 500: a filter that does not validate has no SQL to export from)."""
    response = owner_client.get(eurl(environment, "surveys:responses_export"), params)
    assert response.status_code == 400
    assert response.content.decode().startswith(f"The filters are not valid: {field}:")


def test_survey_list_search_with_a_nul_character_is_not_a_500(owner_client, environment, survey):
    page = owner_client.get(eurl(environment, "surveys:list"), {"q": "\x00" + survey.name[:4]})
    assert page.status_code == 200
    assert survey.name in page.content.decode()
