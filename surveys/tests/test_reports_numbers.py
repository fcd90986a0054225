"""Numbers on the report pages say what they are: answers read as words, partial responses
named, parts that add up, totals that match the filter, context and locale shown, filters by
question title."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from profiles.factories import ProfileFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.report_rollup import response_stats_rollup
from tests.helpers import HTMX, eurl
from traits.models import Trait

from . import test_reports as base

# The Response List's fixtures (a survey of every score kind, two respondents, a response of
# each status), shared rather than copied.
survey, alice, bob, responses = base.survey, base.alice, base.bob, base.responses
listed = base.listed


def _export(client, environment, params=None):
    response = client.get(eurl(environment, "surveys:responses_export"), params or {})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _card(html: str, stat: str) -> str:
    match = re.search(rf'data-stat="{stat}">(.*?)</div>\s*</div>', html, re.S)
    assert match, stat
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


# --- The Overview's parts add up ---------------------------------------------------------------


def test_overview_response_card_parts_add_up_to_the_total(owner_client, environment, responses):
    now = timezone.now()
    # A view dismissed without an answer, and one completed with every (optional) question
    # skipped: neither is a response, so neither may appear among the responses' parts.
    ResponseFactory(survey=responses["promoter"].survey, dismissed_at=now)
    ResponseFactory(survey=responses["promoter"].survey, completed=True)
    html = owner_client.get(eurl(environment, "surveys:overview")).content.decode()
    text = _card(html, "responses")
    total, *parts = (int(n) for n in re.findall(r"\d+", text))
    assert total == 3
    assert sum(parts) == total, text
    assert "2 completed · 1 partial" in text
    # Dismissals are of views, and said so there.
    assert "2 dismissed" in _card(html, "views")


# --- Partial responses in the scores ------------------------------------------------------------


def test_overview_says_scores_include_partial_answers(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:overview"))
    # The passive (NPS 7) stopped half-way: counted, and the page says so.
    assert response.context["figures"]["nps"]["total"] == 3
    note = re.sub(r"\s+", " ", response.content.decode())
    assert "include answers from 1 partial response (started, not completed)" in note
    assert "completed=true" in note


def test_overview_completed_only_scores_completed_responses(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:overview"), {"completed": "true"})
    figures = response.context["figures"]
    assert figures["nps"]["total"] == 2  # the promoter and the detractor; not the passive
    assert figures["responses"] == 2
    html = re.sub(r"\s+", " ", response.content.decode())
    assert "count completed responses only" in html
    assert 'name="completed" id="id_completed" value="true" checked' in html
    # The link to the list keeps the filter.
    assert "completed=true" in html.split("All responses")[0].rsplit("href=", 1)[1]


def test_overview_completed_only_is_computed_live_past_the_rollup(
    owner_client, environment, responses
):

    response_stats_rollup(environment_id=environment.pk)  # rolls up the older days
    old_partial = ResponseFactory(
        survey=responses["promoter"].survey,
        created_at=timezone.now() - timedelta(days=10),
        data={"nps": 1},
    )
    response_stats_rollup(environment_id=environment.pk)
    every = owner_client.get(eurl(environment, "surveys:overview")).context["figures"]
    done = owner_client.get(eurl(environment, "surveys:overview"), {"completed": "true"})
    assert every["nps"]["total"] == 4
    assert done.context["figures"]["nps"]["total"] == 2
    assert old_partial.completed_at is None


def test_response_list_completed_only(owner_client, environment, responses):
    response = owner_client.get(eurl(environment, "surveys:responses"), {"completed": "true"})
    assert listed(response) == [
        str(responses[name].uuid) for name in ("promoter", "detractor", "old")
    ]
    export = _export(owner_client, environment, {"completed": "true"})
    assert {row["status"] for row in export} == {"completed"}


# --- Totals -------------------------------------------------------------------------------------


def test_response_list_says_how_many_match(owner_client, environment, responses):
    html = owner_client.get(eurl(environment, "surveys:responses")).content.decode()
    assert re.search(r'<strong class="total">6</strong> responses', html)
    html = owner_client.get(
        eurl(environment, "surveys:responses"), {"status": "completed"}
    ).content.decode()
    assert re.search(r'<strong class="total">3</strong> responses match', html)


def test_response_list_total_is_capped(owner_client, environment, survey, monkeypatch):
    monkeypatch.setattr("core.totals.COUNT_CAP", 10)
    for i in range(12):
        ResponseFactory(survey=survey, data={"nps": i % 11})
    # All on one page: the page holds the count, exact, without counting.
    response = owner_client.get(eurl(environment, "surveys:responses"))
    assert '<strong class="total">12</strong> responses' in response.content.decode()
    # Beyond a page the count is loaded after the page, and capped.
    for i in range(20):
        ResponseFactory(survey=survey, data={"nps": i % 11})
    response = owner_client.get(eurl(environment, "surveys:responses"))
    assert response.context["total"] is None
    counted = owner_client.get(eurl(environment, "surveys:responses_count"))
    assert counted.content.decode().strip() == '<strong class="total">10+</strong> responses'


def test_response_list_count_loads_after_the_page(
    owner_client, environment, other_environment, survey
):
    """The bounded count read up to 10,000 rows: most of the page's time (40-100 ms of a 2-3 ms
    list on 280,000 responses). A page that holds every match says how many without it; a page
    with more after it asks for the count once it shows (htmx), with its filters."""
    for i in range(30):
        ResponseFactory(survey=survey, data={"nps": i % 11}, completed=i % 2 == 0)
    theirs = SurveyFactory(environment=other_environment)
    ResponseFactory(survey=theirs, data={"nps": 1})
    url = eurl(environment, "surveys:responses")
    html = owner_client.get(url, {"size": "25", "status": "completed"}).content.decode()
    assert (
        '<strong class="total">15</strong> responses match' in html and "data-counting" not in html
    )
    with CaptureQueriesContext(connection) as listed_only:
        html = owner_client.get(url, {"size": "25"}).content.decode()
    assert not any("COUNT(*)" in q["sql"] for q in listed_only.captured_queries)
    count_url = eurl(environment, "surveys:responses_count")
    assert f'hx-get="{count_url}?size=25"' in html and 'hx-trigger="load"' in html
    counted = owner_client.get(count_url, {"size": "25"}, headers=HTMX)
    assert counted.content.decode().strip() == '<strong class="total">30</strong> responses'
    counted = owner_client.get(count_url, {"status": "completed"}, headers=HTMX)
    assert counted.content.decode().strip() == '<strong class="total">15</strong> responses match'
    # Without JavaScript, ?count=1 counts in the page.
    html = owner_client.get(url, {"size": "25", "count": "1"}).content.decode()
    assert '<strong class="total">30</strong> responses' in html


# --- Labels, context and locale -----------------------------------------------------------------


def test_list_and_panel_show_context_and_locale(owner_client, environment, survey, alice):
    ResponseFactory(
        survey=survey,
        profile=alice,
        data={"csat": 2},
        context={"plan_page": "pricing", "ref": "newsletter"},
        locale="pt-BR",
    )
    html = owner_client.get(eurl(environment, "surveys:responses")).content.decode()
    assert 'Locale <span class="ctx-key">pt-BR</span>' in html
    assert '<span class="ctx-key">plan_page</span>: pricing' in html
    panel = owner_client.get(
        reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": alice.uuid}),
        headers=HTMX,
    ).content.decode()
    assert '<dt>Locale</dt><dd class="mono">pt-BR</dd>' in panel
    assert '<dt class="mono">ref</dt><dd>newsletter</dd>' in panel
    row = _export(owner_client, environment)[0]
    assert row["locale"] == "pt-BR"
    assert json.loads(row["context"]) == {"plan_page": "pricing", "ref": "newsletter"}


def test_panel_reads_csat_answers_as_words(owner_client, environment, survey, alice):
    ResponseFactory(survey=survey, profile=alice, data={"csat": 2, "nps": 9}, completed=True)
    ResponseFactory(survey=survey, profile=alice, data={"csat": -2})
    html = owner_client.get(
        reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": alice.uuid})
    ).content.decode()
    answers = re.findall(r"<dd>([^<]*)</dd>", html)
    assert "Very satisfied" in answers and "Very unsatisfied" in answers
    assert "2" not in answers and "-2" not in answers
    assert "9" in answers  # NPS stays a number: that is how people read it


def test_export_gives_csat_value_and_label(owner_client, environment, responses):
    rows = {row["response_id"]: row for row in _export(owner_client, environment)}
    detractor = rows[str(responses["detractor"].uuid)]
    assert (detractor["csat"], detractor["csat_label"]) == ("-1", "Unsatisfied")
    passive = rows[str(responses["passive"].uuid)]
    assert (passive["csat"], passive["csat_label"]) == ("", "")


# --- The answer filter --------------------------------------------------------------------------


def test_answer_filter_offers_question_titles_of_the_chosen_survey(
    owner_client,
    environment,
    survey,
):
    other = SurveyFactory(environment=environment, name="Onboarding")
    QuestionFactory(survey=other, kind="text", key="first_impression", title="First impression?")
    QuestionFactory(survey=other, kind="nps", key="nps", title="Recommend us?")
    html = owner_client.get(eurl(environment, "surveys:responses")).content.decode()
    select = html.split('id="id_answer"', 1)[1].split("</select>", 1)[0]
    assert "nps (nps)" not in select
    assert ">First impression?</option>" in select
    assert re.search(r">[^<]+ \(2 surveys\)</option>", select)  # the key both surveys share
    html = owner_client.get(
        eurl(environment, "surveys:responses"), {"survey": survey.uuid}
    ).content.decode()
    select = html.split('id="id_answer"', 1)[1].split("</select>", 1)[0]
    hidden = re.search(r'value="first_impression"[^>]*>', select).group(0)
    assert " hidden disabled" in hidden  # not a question of the chosen survey
    shown = re.search(r'value="why"[^>]*>', select).group(0)
    assert "hidden" not in shown


def test_csat_filter_accepts_labels(owner_client, environment, responses):
    for text, expected in [
        ("Very satisfied", ["promoter"]),
        ("unsatisfied", ["detractor"]),
        ("2", ["promoter"]),
    ]:
        response = owner_client.get(
            eurl(environment, "surveys:responses"), {"answer": "csat", "op": "eq", "value": text}
        )
        assert listed(response) == [str(responses[n].uuid) for n in expected], text
    response = owner_client.get(
        eurl(environment, "surveys:responses"), {"answer": "csat", "op": "gte", "value": "Neutral"}
    )
    assert listed(response) == [str(responses["promoter"].uuid)]
    html = response.content.decode()
    assert '<datalist id="answer-values"><option value="Very unsatisfied">' in html


def test_trait_filter_offers_labels(owner_client, environment, alice):

    Trait.objects.filter(environment=environment, key="plan").update(label="Billing plan")
    if not Trait.objects.filter(environment=environment, key="plan").exists():
        Trait.objects.create(environment=environment, key="plan", label="Billing plan")
    html = owner_client.get(eurl(environment, "surveys:responses")).content.decode()
    assert '<option value="plan">Billing plan</option>' in html


@pytest.mark.parametrize("value", ["", "x" * 300, "Very satisfied\x00"])
def test_answer_filter_hostile_values_never_fail(owner_client, environment, responses, value):
    response = owner_client.get(
        eurl(environment, "surveys:responses"), {"answer": "csat", "op": "eq", "value": value}
    )
    assert response.status_code in (200, 400)


def test_profile_without_label_keeps_raw_values(owner_client, environment, survey):
    profile = ProfileFactory(environment=environment)
    ResponseFactory(survey=survey, profile=profile, data={"gone_key": 3})
    html = owner_client.get(
        reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": profile.uuid})
    ).content.decode()
    assert "<dt>gone_key</dt><dd>3</dd>" in html


def test_overview_counts_read_in_the_singular(owner_client, environment, responses):
    html = owner_client.get(eurl(environment, "surveys:overview")).content.decode()
    assert "1 promoter" in _card(html, "nps") and "1 promoters" not in html
    assert _card(html, "ces").endswith("2 answers")
