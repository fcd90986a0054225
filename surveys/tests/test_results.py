"""A survey's results page and the survey list's figures: every figure against the same figure
computed by hand from the responses, the funnel through branching, the previous-period
comparison, segment comparison, access, and query counts flat in questions and responses."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from profiles.factories import ProfileFactory
from segments.models import Segment, SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Response
from surveys.report_rollup import response_stats_rollup
from surveys.results import ResultsFilter, _funnel_groups, build_card, nps_score, survey_results
from tests.helpers import HTMX


def results_url(environment, survey, query=""):
    url = reverse("surveys:results", kwargs={"env": environment.slug, "uuid": survey.uuid})
    return f"{url}?{query}" if query else url


def list_url(environment, query=""):
    url = reverse("surveys:list", kwargs={"env": environment.slug})
    return f"{url}?{query}" if query else url


@pytest.fixture
def survey(environment):
    """One question of every kind the builder offers."""
    survey = SurveyFactory(environment=environment, name="Everything", live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps", position=1)
    QuestionFactory(survey=survey, kind="csat", key="csat", position=2, config={"points": 5})
    QuestionFactory(survey=survey, kind="ces", key="ces", position=3)
    QuestionFactory(survey=survey, kind="rating", key="stars", position=4, config={"scale": 5})
    QuestionFactory(
        survey=survey, kind="single_choice", key="plan", position=5, choices=["Free", "Pro"]
    )
    QuestionFactory(
        survey=survey,
        kind="multiple_choice",
        key="features",
        position=6,
        choices=["Reports", "Export", "Alerts"],
    )
    QuestionFactory(survey=survey, kind="text", key="why", position=7, required=False)
    QuestionFactory(survey=survey, kind="email", key="contact", position=8, required=False)
    QuestionFactory(survey=survey, kind="cta", key="book", position=9, required=False)
    return survey


def _respond(survey, profile=None, *, days_ago=1.0, completed=False, dismissed=False, **data):
    at = timezone.now() - timedelta(days=days_ago)
    return ResponseFactory(
        survey=survey,
        profile=profile or ProfileFactory(environment=survey.environment),
        created_at=at,
        data=data,
        completed_at=at if completed else None,
        dismissed_at=at if dismissed else None,
    )


@pytest.fixture
def answered(survey):
    """Five responses this period (completed, partial, a view, a dismissal) and three in the
    previous 30 days; the figures below are worked out by hand from these."""
    r = {}
    r["a"] = _respond(
        survey,
        completed=True,
        nps=10,
        csat=2,
        ces=2,
        stars=5,
        plan="Pro",
        features=["Reports", "Export"],
        why="Love <b>the</b> export",
        contact="a@x.test",
        book=True,
    )
    r["b"] = _respond(
        survey,
        days_ago=2,
        completed=True,
        nps=3,
        csat=-1,
        ces=6,
        stars=2,
        plan="Enterprise",  # not an option any more: listed under "other"
        features=["Alerts"],
        why="Too slow",
    )
    r["c"] = _respond(survey, days_ago=3, nps=8, csat=1, ces=4)  # partial
    r["view"] = _respond(survey, days_ago=4)
    r["gone"] = _respond(survey, days_ago=5, dismissed=True)
    # The previous period (31 to 60 days ago).
    r["p1"] = _respond(survey, days_ago=35, completed=True, nps=9, csat=2, plan="Free")
    r["p2"] = _respond(survey, days_ago=40, completed=True, nps=0, csat=-2, plan="Free")
    r["p3"] = _respond(survey, days_ago=45)
    # Older than both periods: in neither.
    r["old"] = _respond(survey, days_ago=100, completed=True, nps=10)
    return r


def _cards(response):
    return {card.question.key: card for card in response.context["cards"]}


def test_every_card_matches_the_hand_computed_figures(owner_client, environment, survey, answered):
    response = owner_client.get(results_url(environment, survey, "period=30d"))
    assert response.status_code == 200
    ctx = response.context
    assert ctx["totals"] == {"shown": 5, "responses": 3, "completed": 2, "dismissed": 1}
    assert ctx["previous_totals"] == {"shown": 3, "responses": 2, "completed": 2, "dismissed": 0}
    assert ctx["response_rate"] == 40.0  # 2 completed of 5 shown
    assert ctx["previous_response_rate"] == 66.7
    cards = _cards(response)

    nps = cards["nps"]
    assert nps.answered == 3 and nps.previous_answered == 2
    # 10 promoter, 3 detractor, 8 passive: (1 - 1) / 3 = 0.
    assert nps.score.value == 0.0 and nps.score.n == 3
    assert [(g.label, g.count) for g in nps.groups] == [
        ("Promoters", 1),
        ("Passives", 1),
        ("Detractors", 1),
    ]
    assert {b.value: b.count for b in nps.bars if b.count} == {3: 1, 8: 1, 10: 1}
    assert len(nps.bars) == 11
    # Previous: 9 and 0 -> (1 - 1) / 2 = 0: no change.
    assert nps.change.delta == 0 and nps.change.previous_n == 2
    assert not nps.change.readable  # n < 30 on both sides

    csat = cards["csat"]
    # 2 and 1 are satisfied, -1 is not: 2 of 3.
    assert csat.score.value == 66.7 and csat.score.n == 3
    assert [(b.label, b.count) for b in csat.bars] == [
        ("Very unsatisfied", 0),
        ("Unsatisfied", 1),
        ("Neutral", 0),
        ("Satisfied", 1),
        ("Very satisfied", 1),
    ]
    assert csat.change.delta == 16.7  # previous: 1 of 2 = 50%

    ces = cards["ces"]
    assert ces.score.value == 4.0 and ces.score.n == 3  # (2 + 6 + 4) / 3
    assert [b.count for b in ces.bars] == [0, 1, 0, 1, 0, 1, 0]

    stars = cards["stars"]
    assert stars.score.value == 3.5 and stars.scale_max == 5  # (5 + 2) / 2
    assert [b.count for b in stars.bars] == [0, 1, 0, 0, 1]

    plan = cards["plan"]
    assert plan.answered == 2
    assert [(b.label, b.count, b.percent) for b in plan.bars] == [
        ("Free", 0, 0.0),
        ("Pro", 1, 50.0),
    ]
    assert [(b.label, b.count) for b in plan.others] == [("Enterprise", 1)]

    features = cards["features"]
    assert features.answered == 2
    # Percent of the respondents answering (a multiple choice adds up past 100%).
    assert [(b.label, b.count, b.percent) for b in features.bars] == [
        ("Reports", 1, 50.0),
        ("Export", 1, 50.0),
        ("Alerts", 1, 50.0),
    ]

    why = cards["why"]
    assert why.answered == 2
    assert [t["text"] for t in why.texts] == ["Love <b>the</b> export", "Too slow"]
    assert cards["contact"].answered == 1
    assert cards["book"].answered == 1 and cards["book"].bars[0].count == 1
    # Text answers are escaped on the page.
    assert b"Love &lt;b&gt;the&lt;/b&gt; export" in response.content


def test_completed_only_counts_only_completed_responses(
    owner_client, environment, survey, answered
):
    response = owner_client.get(results_url(environment, survey, "period=30d&completed=true"))
    cards = _cards(response)
    assert response.context["totals"]["shown"] == 2
    assert cards["nps"].score.value == 0.0 and cards["nps"].score.n == 2  # 10 and 3
    assert cards["ces"].score.value == 4.0  # 2 and 6
    assert b"partial responses included" not in response.content


def test_figures_agree_with_an_independent_count_over_random_responses(
    owner_client, environment, survey
):
    """A few hundred random responses: each card's figures against a plain Python pass over
    the same rows read back from the table."""
    rng = random.Random(7)
    profiles = [ProfileFactory(environment=environment) for _ in range(20)]
    for _ in range(240):
        data = {}
        if rng.random() < 0.8:
            data["nps"] = rng.randint(0, 10)
        if rng.random() < 0.6:
            data["csat"] = rng.choice([-2, -1, 0, 1, 2])
        if rng.random() < 0.5:
            data["ces"] = rng.randint(1, 7)
        if rng.random() < 0.5:
            data["features"] = rng.sample(["Reports", "Export", "Alerts"], rng.randint(1, 3))
        if rng.random() < 0.4:
            data["plan"] = rng.choice(["Free", "Pro", "Other"])
        _respond(
            survey,
            rng.choice(profiles),
            days_ago=rng.uniform(0, 29),
            completed=rng.random() < 0.5,
            **data,
        )
    rows = [r.data for r in Response.objects.filter(survey=survey)]
    cards = _cards(owner_client.get(results_url(environment, survey, "period=30d")))

    nps = [d["nps"] for d in rows if "nps" in d]
    promoters = sum(v >= 9 for v in nps)
    detractors = sum(v <= 6 for v in nps)
    assert cards["nps"].score.value == round((promoters - detractors) * 100 / len(nps), 1)
    for value in range(11):
        assert cards["nps"].bars[value].count == nps.count(value)
    csat = [d["csat"] for d in rows if "csat" in d]
    assert cards["csat"].score.value == round(sum(v > 0 for v in csat) * 100 / len(csat), 1)
    ces = [d["ces"] for d in rows if "ces" in d]
    assert cards["ces"].score.value == round(sum(ces) / len(ces), 2)
    picked = [c for d in rows if "features" in d for c in d["features"]]
    for bar in cards["features"].bars:
        assert bar.count == picked.count(bar.label)
    assert cards["features"].answered == sum("features" in d for d in rows)
    plans = [d["plan"] for d in rows if "plan" in d]
    assert {b.label: b.count for b in cards["plan"].others} == {"Other": plans.count("Other")}


# --- The funnel ----------------------------------------------------------------------------------


@pytest.fixture
def branching(environment):
    """Q1 NPS; a detractor (0-6) jumps to "bad", anyone else goes on to "good", which ends the
    survey. So "bad" is not on a promoter's path and "good" not on a detractor's."""
    survey = SurveyFactory(environment=environment, name="Branching", live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="score",
        position=1,
        logic=[{"operator": "lte", "value": 6, "goto": "bad"}],
    )
    QuestionFactory(
        survey=survey,
        kind="text",
        key="good",
        position=2,
        logic=[{"operator": "answered", "goto": "end"}],
    )
    QuestionFactory(survey=survey, kind="text", key="bad", position=3)
    return survey


def test_funnel_follows_branching(owner_client, environment, branching):
    s = branching
    _respond(s, completed=True, score=9, good="Fast")  # Q1 -> good -> end
    _respond(s, completed=True, score=3, bad="Slow")  # Q1 -> bad (good skipped by the jump)
    _respond(s, score=3)  # stopped at "bad"
    _respond(s, score=10)  # stopped at "good"
    _respond(s)  # a view: stopped at Q1
    _respond(s, dismissed=True)  # dismissed at Q1
    response = owner_client.get(results_url(environment, s, "period=30d"))
    steps = {step.question.key: step for step in response.context["funnel"]}
    assert response.context["funnel_shown"] == 6
    assert (steps["score"].reached, steps["score"].answered, steps["score"].dropped) == (6, 4, 2)
    assert (steps["good"].reached, steps["good"].answered, steps["good"].dropped) == (2, 1, 1)
    assert (steps["bad"].reached, steps["bad"].answered, steps["bad"].dropped) == (2, 1, 1)
    assert response.context["funnel_completed"] == 2
    assert response.context["funnel_dismissed"] == 1
    # Reached = answered + stopped here + went past: nobody is lost or counted twice.
    total_dropped = sum(step.dropped for step in steps.values())
    assert total_dropped + response.context["funnel_completed"] == 6


def test_a_free_text_jump_groups_by_blankness_not_by_text(owner_client, environment, branching):
    """ "good" jumps to the end when answered: its 30 different texts take one path, so they make
    one group (they made 30: the Results page walked a path per response on a real survey),
    and a blank answer is not "answered" (it goes on to "bad")."""
    s = branching
    for i in range(30):
        _respond(s, completed=True, score=9, good=f"Reason {i}")
    _respond(s, score=8, good="")  # blank: no jump, on to "bad", and stopped there
    _respond(s, score=8, good="   ")  # not blank for the logic: "answered", to the end
    questions = list(s.questions.order_by("position"))
    groups = _funnel_groups(
        Response.objects.filter(survey=s), [q.key for q in questions], [questions[0], questions[1]]
    )
    assert len(groups) == 3  # completed with a text, partial blank, partial "   "
    response = owner_client.get(results_url(environment, s, "period=30d"))
    steps = {step.question.key: step for step in response.context["funnel"]}
    assert (steps["good"].reached, steps["good"].answered, steps["good"].dropped) == (32, 32, 0)
    assert (steps["bad"].reached, steps["bad"].answered, steps["bad"].dropped) == (1, 0, 1)
    assert response.context["funnel_completed"] == 30


def test_funnel_counts_a_skipped_optional_question_as_reached_not_dropped(
    owner_client, environment
):
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="q1", position=1)
    QuestionFactory(survey=survey, kind="text", key="q2", position=2, required=False)
    QuestionFactory(survey=survey, kind="ces", key="q3", position=3)
    _respond(survey, q1=9, q3=2, completed=True)  # left q2 blank, went on
    _respond(survey, q1=9, q3=2)  # the same, not marked completed yet
    response = owner_client.get(results_url(environment, survey, "period=30d"))
    steps = {step.question.key: step for step in response.context["funnel"]}
    assert (steps["q2"].reached, steps["q2"].answered, steps["q2"].dropped) == (2, 0, 0)
    assert (steps["q3"].reached, steps["q3"].answered, steps["q3"].dropped) == (2, 2, 0)


# --- Comparisons ----------------------------------------------------------------------------------


def test_change_is_significant_only_when_it_is_larger_than_chance(survey):
    nps = survey.questions.get(key="nps")
    # 100 promoters against 50 promoters and 50 detractors: +100 points on 100 answers each.
    card = build_card(nps, {10: 100}, 100, {10: 50, 0: 50}, 100)
    assert card.change.delta == 100 and card.change.significant and card.change.readable
    # 52% against 50% promoters (the rest passives) on 40 answers: noise.
    card = build_card(nps, {10: 21, 8: 19}, 40, {10: 20, 8: 20}, 40)
    assert card.change.readable and not card.change.significant
    assert card.change.delta == 2.5


def test_nps_score_counts_only_answers_in_range():
    assert nps_score({10: 1, 0: 1, "10": 5, 11: 3, True: 2}).value == 0.0


def test_segment_comparison_side_by_side(owner_client, environment, survey):
    big = Segment.objects.create(environment=environment, name="Enterprise", kind="manual")
    trial = Segment.objects.create(environment=environment, name="Trial", kind="manual")
    for score in (10, 10, 9):
        r = _respond(survey, nps=score)
        SegmentMembership.objects.create(segment=big, profile=r.profile)
    for score in (2, 10):
        r = _respond(survey, nps=score)
        SegmentMembership.objects.create(segment=trial, profile=r.profile)
    _respond(survey, nps=0)  # in neither
    response = owner_client.get(
        results_url(environment, survey, f"period=30d&compare={big.uuid}&compare={trial.uuid}")
    )
    rows = {row.question.key: row for row in response.context["comparison"]}
    big_nps, trial_nps = rows["nps"].columns
    assert (big_nps.score.value, big_nps.score.n) == (100.0, 3)
    assert (trial_nps.score.value, trial_nps.score.n) == (0.0, 2)
    assert "why" not in rows  # free text is not compared
    assert b"Enterprise" in response.content and b"Trial" in response.content


def test_compare_ignores_other_environments_segments(
    owner_client, environment, other_environment, survey
):
    theirs = Segment.objects.create(environment=other_environment, name="Theirs", kind="manual")
    response = owner_client.get(results_url(environment, survey, f"compare={theirs.uuid}"))
    assert response.status_code == 200
    assert response.context["comparison"] == []
    assert b"Theirs" not in response.content


# --- Text answers -----------------------------------------------------------------------------


def test_text_answers_are_searchable_and_link_to_the_respondent(owner_client, environment, survey):
    alice = ProfileFactory(environment=environment, email="alice@acme.test")
    _respond(survey, alice, why="The export is slow")
    _respond(survey, why="Great reports")
    response = owner_client.get(results_url(environment, survey, "text=export"))
    why = _cards(response)["why"]
    assert [t["text"] for t in why.texts] == ["The export is slow"]
    panel = reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": alice.uuid})
    assert panel.encode() in response.content


def test_text_answer_search_ignores_a_nul_character(owner_client, environment, survey):
    """Searched as typed, a NUL (which PostgreSQL text cannot hold) was a 500."""
    _respond(survey, why="The export is slow")
    _respond(survey, why="Great reports")
    response = owner_client.get(results_url(environment, survey, "text=exp%00ort"))
    assert response.status_code == 200
    assert [t["text"] for t in _cards(response)["why"].texts] == ["The export is slow"]
    response = owner_client.get(results_url(environment, survey, "text=%00"))
    assert len(_cards(response)["why"].texts) == 2


# --- Export -----------------------------------------------------------------------------------


def test_export_link_gives_exactly_the_filtered_responses(
    owner_client, environment, survey, answered
):
    page = owner_client.get(results_url(environment, survey, "period=30d&completed=true"))
    export = page.context["responses_query"]
    response = owner_client.get(
        reverse("surveys:responses_export", kwargs={"env": environment.slug}) + "?" + export
    )
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    ids = {row["response_id"] for row in csv.DictReader(io.StringIO(body))}
    assert ids == {str(answered["a"].uuid), str(answered["b"].uuid)}


# --- Access and shape ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, environment, survey):
    response = client.get(results_url(environment, survey))
    assert response.status_code == 302


def test_another_environments_survey_is_404(owner_client, environment, other_environment):
    theirs = SurveyFactory(environment=other_environment)
    assert owner_client.get(results_url(environment, theirs)).status_code == 404


def test_outsider_gets_404(outsider_client, environment, survey):
    assert outsider_client.get(results_url(environment, survey)).status_code == 404


def test_analyst_can_read_results(analyst_client, environment, survey, answered):
    assert analyst_client.get(results_url(environment, survey)).status_code == 200


def test_htmx_request_gets_the_report_fragment(owner_client, environment, survey, answered):
    response = owner_client.get(results_url(environment, survey, "period=7d"), headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="report"')
    assert "<html" not in body


def test_bad_filter_says_so_and_matches_nothing(owner_client, environment, survey, answered):
    response = owner_client.get(results_url(environment, survey, "start=not-a-date"))
    assert response.status_code == 200
    assert response.context["totals"]["shown"] == 0
    assert b"not understood" in response.content


def test_no_previous_period_before_the_calendars_first_day(
    owner_client, environment, survey, answered
):
    """A period of the same length before one that starts in year 1 would start before it (the
    subtraction was a 500): the page has no comparison rather than a wrong one."""
    for query in ("start=0001-01-01", "start=0001-01-05&end=0001-03-01"):
        response = owner_client.get(results_url(environment, survey, query))
        assert response.status_code == 200
        assert response.context["previous_span"] is None
        assert response.context["previous_totals"] is None
    response = owner_client.get(results_url(environment, survey, "start=0001-01-01"))
    assert response.context["totals"]["shown"] == 9


@pytest.mark.parametrize(
    "query",
    ["start=9000-01-01", "end=9999-12-31&start=9000-01-01", "start=2026-03-10&end=2026-03-01"],
)
def test_no_previous_period_for_a_range_that_ends_before_it_starts(
    owner_client, environment, survey, answered, query
):
    """A start in the far future without an end runs to today, backwards: the same length
    before it reached past year 9999 (a 500). An empty range has nothing to compare with."""
    response = owner_client.get(results_url(environment, survey, query))
    assert response.status_code == 200
    assert response.context["totals"]["shown"] == 0
    assert response.context["previous_span"] is None


def test_a_range_in_the_far_future_compares_with_the_period_before_it(
    owner_client, environment, survey
):
    response = owner_client.get(results_url(environment, survey, "start=9000-01-11&end=9000-01-20"))
    previous = response.context["previous_span"]
    assert (previous.start_date.isoformat(), previous.end_date.isoformat()) == (
        "9000-01-01",
        "9000-01-10",
    )


def test_results_to_the_calendars_last_day_include_every_response(
    owner_client, environment, survey, answered
):
    response = owner_client.get(results_url(environment, survey, "start=2000-01-01&end=9999-12-31"))
    assert response.status_code == 200
    assert response.context["totals"]["shown"] == 9


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_query_count_is_flat_in_questions_and_responses(owner_client, environment):
    small = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=small, kind="nps", key="n", position=1)
    QuestionFactory(survey=small, kind="text", key="t", position=2)
    _respond(small, n=9, t="ok")
    big = SurveyFactory(environment=environment, live=True)
    kinds = ["nps", "csat", "ces", "rating", "single_choice", "multiple_choice", "text", "text"]
    for i, kind in enumerate(kinds):
        QuestionFactory(
            survey=big,
            kind=kind,
            key=f"k{i}",
            position=i + 1,
            choices=["A", "B"] if "choice" in kind else None,
            logic=[{"operator": "answered", "goto": f"k{i + 2}"}] if i == 1 else [],
        )
    for n in range(40):
        _respond(big, k0=n % 11, k1=1, k2=3, k3=4, k4="A", k5=["A", "B"], k6="x", k7="y")
    seg = Segment.objects.create(environment=environment, name="S", kind="manual")
    compare = f"&compare={seg.uuid}"
    few = _count_queries(owner_client, results_url(environment, small, "period=30d" + compare))
    many = _count_queries(owner_client, results_url(environment, big, "period=30d" + compare))
    assert few == many


def test_results_filter_keeps_the_survey_of_the_url(environment, survey, answered):
    other = SurveyFactory(environment=environment)
    filterset = ResultsFilter({"survey": str(other.uuid)}, environment=environment, survey=survey)
    assert set(filterset.qs.values_list("survey_id", flat=True)) == {survey.pk}
    report = survey_results(filterset)
    assert report["survey"] == survey


# --- The survey list ------------------------------------------------------------------------------


def _list_row(response, survey):
    return next(s for s in response.context["surveys"] if s.pk == survey.pk).figures


def test_survey_list_shows_counts_rate_and_score(owner_client, environment, survey, answered):
    response = owner_client.get(list_url(environment, "period=30d"))
    figures = _list_row(response, survey)
    assert (figures["views"], figures["responses"], figures["completed"]) == (5, 3, 2)
    assert figures["rate"] == 40.0
    assert figures["headline"] == ("NPS", 0.0, 3)
    assert reverse("surveys:results", kwargs={"env": environment.slug, "uuid": survey.uuid}) in (
        response.content.decode()
    )


def test_survey_list_reads_the_rollup_and_adds_the_live_days(
    owner_client, environment, survey, answered
):
    """Days before the roll-up's watermark come from the daily rows: the same figures whether
    they are rolled up or not."""
    live = _list_row(owner_client.get(list_url(environment, "period=all")), survey)
    response_stats_rollup(environment_id=environment.pk)
    # A response the roll-up has not seen (today, after the watermark) still counts.
    _respond(survey, days_ago=0, completed=True, nps=10)
    rolled = _list_row(owner_client.get(list_url(environment, "period=all")), survey)
    assert rolled["views"] == live["views"] + 1
    assert rolled["completed"] == live["completed"] + 1
    assert rolled["headline"][0] == "NPS"


def test_survey_list_query_count_is_flat_in_surveys(owner_client, environment):
    for _ in range(2):
        s = SurveyFactory(environment=environment, live=True)
        QuestionFactory(survey=s, kind="nps", key="nps", position=1)
        _respond(s, nps=9)
    few = _count_queries(owner_client, list_url(environment))
    for _ in range(5):
        s = SurveyFactory(environment=environment, live=True)
        QuestionFactory(survey=s, kind="csat", key="c", position=1)
        _respond(s, c=2)
    assert _count_queries(owner_client, list_url(environment)) == few
