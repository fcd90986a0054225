"""The results page's roll-up gives the same page as reading every response: rolled-up days plus
the live days after the watermark equal the all-live computation, field by field (cards,
totals, funnel, timeline), for every period, after late changes, erasure, retention and question
edits; and the page's query count does not grow with the data."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from environments.services import environment_create
from governance.erasure import profile_erase
from profiles.factories import ProfileFactory
from retention.models import RetentionPolicy
from segments.models import Segment, SegmentMembership
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Response
from surveys.report_rollup import (
    DAILY_TABLE,
    RESULT_ANSWERS_TABLE,
    RESULT_PATHS_TABLE,
    STATE_TABLE,
    response_stats_rollup,
    response_stats_rollup_all,
    results_watermark,
)
from surveys.results import ResultsFilter, _rolled, survey_results
from surveys.tasks import rollup_response_stats

# The results page with the roll-up (test_query_count_stays_constant_with_the_rollup).
QUERIES = 21

PERIODS = [
    {},
    {"period": "7d"},
    {"period": "90d"},
    {"period": "365d"},
    {"period": "all"},
    {"period": "custom", "start": "{-40}", "end": "{-5}"},  # ends before the watermark
    {"period": "custom", "start": "{-20}"},  # open end: to today and after
    {"period": "custom", "start": "{0}", "end": "{0}"},  # today only: nothing rolled up
    {"period": "custom", "start": "{-70}", "end": "{-62}"},  # compared with days before any
]


def _dates(params: dict[str, str]) -> dict[str, str]:
    """ "{-40}" -> the date 40 days before today."""
    today = timezone.localdate()
    return {
        name: (today + timedelta(days=int(value[1:-1]))).isoformat()
        if value.startswith("{")
        else value
        for name, value in params.items()
    }


@pytest.fixture
def survey(environment):
    """One question of every kind, the NPS question jumping on its value and the text question
    on whether it is answered (as the benchmark's survey)."""
    survey = SurveyFactory(environment=environment, name="Everything", live=True)
    QuestionFactory(
        survey=survey,
        kind="nps",
        key="nps",
        position=1,
        logic=[{"operator": "lte", "value": 6, "goto": "why_bad"}],
    )
    QuestionFactory(survey=survey, kind="csat", key="csat", position=2, config={"points": 5})
    QuestionFactory(survey=survey, kind="ces", key="ces", position=3)
    QuestionFactory(survey=survey, kind="rating", key="stars", position=4, config={"scale": 5})
    QuestionFactory(
        survey=survey, kind="single_choice", key="plan", position=5, choices=["Free", "Pro"]
    )
    QuestionFactory(
        survey=survey,
        kind="multiple_choice",
        key="use",
        position=6,
        choices=["Reports", "Export", "Alerts"],
    )
    QuestionFactory(
        survey=survey,
        kind="text",
        key="why",
        position=7,
        required=False,
        logic=[{"operator": "answered", "goto": "contact"}],
    )
    QuestionFactory(survey=survey, kind="text", key="why_bad", position=8, required=False)
    QuestionFactory(survey=survey, kind="email", key="contact", position=9, required=False)
    QuestionFactory(survey=survey, kind="cta", key="book", position=10, required=False)
    return survey


def _answers(rng: random.Random, i: int) -> dict[str, Any]:
    """Some of every question's answers, partial ones, oddities (a value outside the options or
    the scale, a JSON null, a blank text, a key no question has)."""
    data: dict[str, Any] = {}
    for key, make in (
        ("nps", lambda: rng.choice([*range(11), 12, "7"])),
        ("csat", lambda: rng.randint(-2, 2)),
        ("ces", lambda: rng.randint(1, 7)),
        ("stars", lambda: rng.randint(1, 5)),
        ("plan", lambda: rng.choice(["Free", "Pro", "Enterprise", None])),
        ("use", lambda: rng.sample(["Reports", "Export", "Alerts", "Other"], rng.randint(0, 3))),
        ("why", lambda: rng.choice(["", f"Because {i}", "Fast"])),
        ("why_bad", lambda: f"Slow {i}"),
        ("contact", lambda: f"u{i}@example.test"),
        ("book", lambda: rng.choice([True, False])),
        ("removed_question", lambda: rng.randint(0, 3)),
    ):
        if rng.random() < 0.7:
            data[key] = make()
        elif data and rng.random() < 0.5:
            break  # stopped here: a partial response
    return data


@pytest.fixture
def history(environment, survey):
    """About 200 responses over the last 80 days (and a few in the future), views, partial,
    completed and dismissed ones, from a dozen profiles."""
    rng = random.Random(7)
    profiles = [ProfileFactory(environment=environment) for _ in range(12)]
    now = timezone.now()
    responses = []
    for i in range(200):
        at = now - timedelta(days=rng.uniform(0, 80))
        data = _answers(rng, i) if rng.random() < 0.8 else {}
        done = bool(data) and rng.random() < 0.5
        responses.append(
            ResponseFactory(
                survey=survey,
                profile=rng.choice(profiles),
                created_at=at,
                data=data,
                completed_at=at + timedelta(minutes=3) if done else None,
                dismissed_at=at if not done and rng.random() < 0.3 else None,
            )
        )
    # Today, just after midnight, and tomorrow (an odd clock): both after the watermark.
    midnight = timezone.make_aware(
        timezone.datetime.combine(timezone.localdate(), timezone.datetime.min.time())
    )
    responses.append(ResponseFactory(survey=survey, profile=profiles[0], created_at=midnight))
    responses.append(
        ResponseFactory(
            survey=survey, profile=profiles[1], created_at=now + timedelta(days=1), data={"nps": 9}
        )
    )
    # Another survey of the environment with the same keys: never in this survey's figures.
    other = SurveyFactory(environment=environment)
    QuestionFactory(survey=other, kind="nps", key="nps")
    ResponseFactory(survey=other, profile=profiles[2], created_at=now - timedelta(days=3))
    return {"profiles": profiles, "responses": responses, "other": other}


def _filter(environment, survey, params: dict[str, str]) -> ResultsFilter:
    return ResultsFilter(
        QueryDict(urlencode(_dates(params)), mutable=True), environment=environment, survey=survey
    )


def _card(card: Any) -> dict[str, Any]:
    fields = {f.name: getattr(card, f.name) for f in dataclasses.fields(card) if f.name != "texts"}
    fields["texts"] = [(t["text"], t["created_at"], t["profile"].uuid) for t in card.texts]
    return fields


def snapshot(result: dict[str, Any]) -> dict[str, Any]:
    """The page's figures as comparable values (the latest texts' respondents are unsaved
    profiles, compared by uuid)."""
    out = dict(result)
    out["cards"] = [_card(card) for card in result["cards"]]
    out["headline"] = _card(result["headline"]) if result["headline"] else None
    return out


def results(environment, survey, params, *, use_rollup=True) -> dict[str, Any]:
    return snapshot(survey_results(_filter(environment, survey, params), use_rollup=use_rollup))


def assert_same(rolled: dict[str, Any], live: dict[str, Any]) -> None:
    """Field by field, so a failure names the figure."""
    assert rolled.keys() == live.keys()
    for name in live:
        if name == "cards":
            for rolled_card, live_card in zip(rolled[name], live[name], strict=True):
                for field in live_card:
                    assert rolled_card[field] == live_card[field], (live_card["question"], field)
        else:
            assert rolled[name] == live[name], name


def _rolled_up(environment, survey, params) -> bool:
    filterset = _filter(environment, survey, params)
    return _rolled(filterset, filterset.date_range.start) is not None


@pytest.mark.parametrize("params", PERIODS)
def test_rolled_up_results_equal_live_ones(environment, survey, history, params):
    live = results(environment, survey, params, use_rollup=False)
    assert results(environment, survey, params) == live  # no watermark yet: all live
    response_stats_rollup(environment_id=environment.pk)
    assert results_watermark(environment.pk) == timezone.localdate()
    assert_same(results(environment, survey, params), live)
    if params.get("start") != "{0}":
        assert _rolled_up(environment, survey, params)


def test_the_figures_are_not_trivial(environment, survey, history):
    """The fixture exercises what the comparison is about: both periods, every card, the
    funnel's drops, and the timeline."""
    response_stats_rollup(environment_id=environment.pk)
    page = survey_results(_filter(environment, survey, {}))
    assert page["totals"]["shown"] > 50 and page["previous_totals"]["shown"] > 50
    assert page["totals"]["dismissed"] > 0 and page["totals"]["completed"] > 0
    cards = {card.question.key: card for card in page["cards"]}
    assert cards["nps"].score.n > 10 and cards["nps"].change is not None
    assert cards["use"].answered > 0 and cards["plan"].others
    assert cards["why"].texts and cards["contact"].answered > 0
    assert sum(step.dropped for step in page["funnel"]) > 0
    assert page["volume_chart"] and page["score_chart"]


def test_the_page_reads_the_rollup(environment, survey, history):
    """Not a silent fallback to live: take a rolled-up day out of the roll-up's tables and the
    page shows it."""
    live = results(environment, survey, {}, use_rollup=False)
    response_stats_rollup(environment_id=environment.pk)
    day = timezone.localdate() - timedelta(days=3)
    with connection.cursor() as cursor:
        for table in (RESULT_ANSWERS_TABLE, RESULT_PATHS_TABLE):
            cursor.execute(
                f"DELETE FROM {table} WHERE environment_id = %s AND day = %s",
                [environment.pk, day],
            )
    damaged = results(environment, survey, {})
    assert damaged["totals"] != live["totals"]
    assert damaged["funnel_shown"] < live["funnel_shown"]


def test_the_periodic_task_rolls_up_the_same_figures(environment, survey, history):
    live = {str(p): results(environment, survey, p, use_rollup=False) for p in PERIODS[:5]}
    rollup_response_stats.delay(full=True)  # eager without a broker, as in production's beat
    for params in PERIODS[:5]:
        assert_same(results(environment, survey, params), live[str(params)])


def test_a_response_continued_after_its_day_was_rolled_up_shows_after_the_recent_run(
    environment, survey, history
):
    response_stats_rollup(environment_id=environment.pk)
    two_days_ago = timezone.now() - timedelta(days=2)
    started = ResponseFactory(
        survey=survey,
        profile=history["profiles"][0],
        created_at=two_days_ago,
        data={"nps": 2},
    )
    # Rolled up as a partial detractor ...
    response_stats_rollup(environment_id=environment.pk)
    before = results(environment, survey, {})
    # ... then continued and completed (the respondent came back), after its day was rolled up.
    Response.objects.filter(pk=started.pk).update(
        data={"nps": 2, "why_bad": "Slow", "contact": "a@b.test"}, completed_at=timezone.now()
    )
    live = results(environment, survey, {}, use_rollup=False)
    assert live["totals"]["completed"] == before["totals"]["completed"] + 1
    rollup_response_stats.delay()  # the last RECENT_DAYS days
    assert_same(results(environment, survey, {}), live)


def test_erased_responses_leave_the_rolled_up_days(environment, survey, history):
    """The results page counts the responses that exist (unlike the Overview, which keeps an
    erased person's figures): erasing a respondent takes their rolled-up responses out at once."""
    response_stats_rollup(environment_id=environment.pk)
    erased = history["profiles"][3]
    assert Response.objects.filter(
        profile=erased, created_at__lt=timezone.now() - timedelta(days=1)
    )
    before = results(environment, survey, {"period": "all"})
    profile_erase(profile=erased)
    live = results(environment, survey, {"period": "all"}, use_rollup=False)
    assert live["totals"]["shown"] < before["totals"]["shown"]
    assert_same(results(environment, survey, {"period": "all"}), live)
    response_stats_rollup(environment_id=environment.pk)
    assert_same(results(environment, survey, {"period": "all"}), live)


def test_days_purged_by_retention_are_not_read_from_the_rollup(environment, survey, history):
    response_stats_rollup(environment_id=environment.pk)
    cutoff = timezone.localdate() - timedelta(days=50)
    RetentionPolicy.objects.create(
        environment_id=environment.pk, responses_days=50, responses_purged_before=cutoff
    )
    Response.objects.filter(
        environment=environment,
        created_at__lt=timezone.make_aware(
            timezone.datetime.combine(cutoff, timezone.datetime.min.time())
        ),
    ).delete()
    for params in ({"period": "all"}, {}, {"period": "90d"}):
        assert_same(
            results(environment, survey, params),
            results(environment, survey, params, use_rollup=False),
        )


@pytest.mark.parametrize("change", ["text_to_choice", "logic", "new_question"])
def test_a_question_changed_since_the_rollup_reads_live(environment, survey, history, change):
    """Rows rolled up for the survey's questions as they were do not fit a question that now
    counts values or jumps otherwise: the page reads live (until the next run), not wrong
    figures."""
    response_stats_rollup(environment_id=environment.pk)
    if change == "text_to_choice":
        survey.questions.filter(key="why").update(kind="single_choice", config={"choices": []})
    elif change == "logic":
        survey.questions.filter(key="stars").update(
            logic=[{"operator": "gte", "value": 4, "goto": "book"}]
        )
    else:  # an old key answered before it became a question
        QuestionFactory(survey=survey, kind="rating", key="removed_question", position=11)
    live = results(environment, survey, {}, use_rollup=False)
    assert_same(results(environment, survey, {}), live)
    response_stats_rollup(environment_id=environment.pk)
    assert_same(results(environment, survey, {}), live)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_days_and_weeks_follow_the_time_zone(settings, environment, survey, history, zone):
    settings.TIME_ZONE = zone
    timezone.deactivate()  # the new default zone
    try:
        live = {str(p): results(environment, survey, p, use_rollup=False) for p in PERIODS[:5]}
        response_stats_rollup(environment_id=environment.pk)
        for params in PERIODS[:5]:
            assert_same(results(environment, survey, params), live[str(params)])
    finally:
        timezone.deactivate()


@pytest.mark.parametrize(
    "params",
    [
        {"status": "completed"},
        {"channel": "web"},
        {"completed": "on"},
        {"answer": "nps", "op": "gte", "value": "9"},
        {"answer": "nps", "op": "set"},
        {"answer": "nps", "op": "promoters"},
        {"trait": "plan"},
        {"q": "slow"},
        {"start": "not-a-date"},
    ],
)
def test_any_filter_beyond_the_period_is_read_live(environment, survey, history, params):
    response_stats_rollup(environment_id=environment.pk)
    assert not _filter(environment, survey, params).whole_period
    assert not _rolled_up(environment, survey, params)
    assert_same(
        results(environment, survey, params),
        results(environment, survey, params, use_rollup=False),
    )


def test_a_segment_filter_is_read_live(environment, survey, history):
    segment = Segment.objects.create(environment=environment, name="Some", kind="manual")
    SegmentMembership.objects.create(segment=segment, profile=history["profiles"][0])
    response_stats_rollup(environment_id=environment.pk)
    params = {"segment": str(segment.uuid)}
    assert not _filter(environment, survey, params).whole_period
    assert_same(
        results(environment, survey, params),
        results(environment, survey, params, use_rollup=False),
    )


@pytest.mark.parametrize(
    "params", [{"answer": "nps", "op": "eq", "value": "  "}, {"q": "   "}, {"trait_value": "x"}]
)
def test_a_filter_that_selects_nothing_less_still_reads_the_rollup(
    environment, survey, history, params
):
    """A question chosen without a value (or a blank search) filters nothing: the page is the
    whole period and reads the roll-up."""
    response_stats_rollup(environment_id=environment.pk)
    assert _filter(environment, survey, params).whole_period
    assert _rolled_up(environment, survey, params)
    assert_same(
        results(environment, survey, params),
        results(environment, survey, params, use_rollup=False),
    )


def test_query_count_stays_constant_with_the_rollup(
    owner_client, environment, survey, history, django_assert_num_queries
):
    url = reverse("surveys:results", kwargs={"env": environment.slug, "uuid": survey.uuid})
    response_stats_rollup(environment_id=environment.pk)
    # Session, user, membership, survey, questions, the two filters' survey; the roll-up's
    # state and 4 reads of it; 6 of the responses (totals, distributions, funnel, timeline x2,
    # latest texts); the page's menus (membership, segments, traits).
    with django_assert_num_queries(QUERIES):
        assert owner_client.get(url).status_code == 200
    rng = random.Random(11)
    for i in range(60):
        at = timezone.now() - timedelta(days=rng.uniform(0, 80))
        ResponseFactory(
            survey=survey, profile=history["profiles"][0], created_at=at, data=_answers(rng, i)
        )
    response_stats_rollup(environment_id=environment.pk)
    with django_assert_num_queries(QUERIES):
        assert owner_client.get(url).status_code == 200
    with django_assert_num_queries(QUERIES):
        assert owner_client.get(url, {"period": "90d"}).status_code == 200
    # "All time" has no previous period, so no second filter to validate.
    with django_assert_num_queries(QUERIES - 1):
        assert owner_client.get(url, {"period": "all"}).status_code == 200


def test_a_survey_without_questions_or_responses(environment):
    bare = SurveyFactory(environment=environment, live=True)
    ResponseFactory(survey=bare, created_at=timezone.now() - timedelta(days=4))
    empty = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=empty, kind="nps", key="nps")
    live = {s.pk: results(environment, s, {}, use_rollup=False) for s in (bare, empty)}
    response_stats_rollup(environment_id=environment.pk)
    for s in (bare, empty):
        assert_same(results(environment, s, {}), live[s.pk])
    assert live[bare.pk]["totals"]["shown"] == 1


def test_a_full_run_drops_the_rows_of_a_deleted_environment(environment, survey, history):
    """No foreign key takes them: before the full run's tidy-up they stayed for ever."""
    gone = environment_create(name="Gone")
    gone_survey = SurveyFactory(environment=gone)
    ResponseFactory(survey=gone_survey, data={"nps": 9})
    ResponseFactory(
        survey=gone_survey, data={"nps": 9}, created_at=timezone.now() - timedelta(days=2)
    )
    response_stats_rollup_all(full=True)
    tables = (DAILY_TABLE, STATE_TABLE, RESULT_ANSWERS_TABLE, RESULT_PATHS_TABLE)

    def rows(environment_id: int) -> list[int]:
        with connection.cursor() as cursor:
            counts = []
            for table in tables:
                cursor.execute(
                    f"SELECT count(*) FROM {table} WHERE environment_id = %s", [environment_id]
                )
                counts.append(cursor.fetchone()[0])
            return counts

    gone_id = gone.pk
    assert all(rows(gone_id)) and all(rows(environment.pk))
    gone.delete()
    response_stats_rollup_all()  # a recent run leaves them
    assert all(rows(gone_id))
    response_stats_rollup_all(full=True)
    assert rows(gone_id) == [0, 0, 0, 0]
    assert all(rows(environment.pk))
