"""What an alert says: the respondent, the survey, each answer as the Response List shows it
(surveys.report_selectors.attach_answers: question titles and answer labels), and a link to
the User Detail Panel; and the digest's figures (surveys.scores, the reports' own math). One
context per alert feeds the email templates (plain text and HTML) and the Slack message (Block
Kit with a plain `text` fallback)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile
from segments.compiler import profiles_matching
from segments.models import SegmentMembershipChange
from surveys import scores
from surveys.models import Response
from surveys.report_rollup import as_score_keys, score_keys
from surveys.report_selectors import attach_answers

from .models import AlertDigest, AlertSent, Trigger

DIGEST_DETRACTORS = 20
SLACK_MAX_ANSWERS = 45
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def base_url() -> str:
    return settings.HARK_BASE_URL or DEFAULT_BASE_URL


def panel_url(environment: Any, profile: Any) -> str:
    path = reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": profile.uuid})
    return base_url() + path


def _escape(text: Any) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def respondent(profile: Any) -> dict[str, str]:
    ids = [p for p in (profile.email, profile.user_id) if p]
    return {
        "name": profile.display_name,
        "ids": " · ".join(dict.fromkeys(str(i) for i in ids)) or str(profile.uuid),
    }


def _slack_alert(content: Mapping[str, Any]) -> dict[str, Any]:
    who = content["respondent"]
    link = f"<{content['panel_url']}|{_escape(who['name'])}>"
    headline = f"*{_escape(content['headline'])}*\n{link} ({_escape(who['ids'])})"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}}
    ]
    # One section per answer: a section's text holds at most 3,000 characters (a title is at
    # most 500, an answer's preview 280), a message at most 50 blocks.
    for answer in content["answers"][:SLACK_MAX_ANSWERS]:
        text = f"*{_escape(answer.title)}*\n{_escape(answer.text)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_escape(content['subscription'].name)} · "
                    f"<{content['panel_url']}|Open in Hark>",
                }
            ],
        }
    )
    text = "\n".join(
        [
            f"{content['headline']}: {who['name']} ({who['ids']})",
            *(f"{a.title}: {a.text}" for a in content["answers"]),
            content["panel_url"],
        ]
    )
    return {"text": text, "blocks": blocks}


def alert_contents(rows: Sequence[AlertSent]) -> dict[int, dict[str, Any]]:
    """{AlertSent id: context} for a batch: a fixed number of queries for the whole batch. An
    alert whose response was deleted since has no entry."""

    response_ids = [r.object_id for r in rows if r.kind == Trigger.RESPONSE]
    change_ids = [r.object_id for r in rows if r.kind == Trigger.SEGMENT_ENTERED]
    responses = {
        r.pk: r
        for r in Response.objects.filter(pk__in=response_ids).select_related("survey", "profile")
    }
    attach_answers(list(responses.values()))
    changes = {
        c.pk: c
        for c in SegmentMembershipChange.objects.filter(pk__in=change_ids).select_related("segment")
    }
    profiles = {
        p.pk: p
        for p in Profile.objects.filter(
            pk__in=[r.profile_id for r in rows if r.kind == Trigger.SEGMENT_ENTERED]
        )
    }
    contents = {}
    for row in rows:
        subscription = row.subscription
        environment = subscription.environment
        if row.kind == Trigger.RESPONSE:
            if row.object_id not in responses:
                continue  # deleted since: nothing to tell (services marks it)
            response = responses[row.object_id]
            profile: Profile | None = response.profile
            headline = f"New response to {response.survey.name}"
            answers = response.answers  # type: ignore[attr-defined]  # set by attach_answers
            when = response.completed_at
        else:
            change = changes.get(row.object_id)
            profile = profiles.get(row.profile_id)
            segment_name = change.segment.name if change else "a segment"
            headline = f"Entered the segment {segment_name}"
            answers = []
            when = change.at if change else row.created_at
        if profile is None:  # deleted since: the alert still says what happened
            who = {"name": f"Deleted user #{row.profile_id}", "ids": str(row.profile_id)}
            link = base_url() + reverse("profiles:list", kwargs={"env": environment.slug})
        else:
            who = respondent(profile)
            link = panel_url(environment, profile)
        content: dict[str, Any] = {
            "subscription": subscription,
            "environment": environment,
            "headline": headline,
            "subject": f"[Hark] {headline}: {who['name']}",
            "respondent": who,
            "answers": answers,
            "panel_url": link,
            "when": timezone.localtime(when) if when else None,
            "settings_url": base_url() + reverse("alerts:list", kwargs={"env": environment.slug}),
        }
        content["slack"] = _slack_alert(content)
        contents[row.pk] = content
    return contents


# --- Digests ------------------------------------------------------------------------------------


def _change(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return ""
    delta = round(current - previous, 2)
    return f"{'+' if delta > 0 else ''}{delta:g}"


def digest_figures(subscription: Any, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The period's and the previous period's NPS, CSAT and CES (surveys.scores, one query
    each), response counts per survey, and the period's new detractors."""

    environment_id = subscription.environment_id
    base = Response.objects.filter(environment_id=environment_id).exclude(data={})
    if subscription.survey_id:
        base = base.filter(survey_id=subscription.survey_id)
    if subscription.rules:
        base = base.filter(
            profile__in=profiles_matching(subscription.rules, environment_id=environment_id)
        )
    keys = as_score_keys(score_keys(environment_id, subscription.survey_id))
    previous_start = start - (end - start)
    extra = {
        "responses": Count("pk"),
        "completed": Count("pk", filter=Q(completed_at__isnull=False)),
    }
    current = scores.report_scores(
        base.filter(created_at__gte=start, created_at__lt=end), extra=extra, **keys
    )
    previous = scores.report_scores(
        base.filter(created_at__gte=previous_start, created_at__lt=start), extra=extra, **keys
    )
    metrics = []
    for name, label, field in (
        ("nps", "NPS", "score"),
        ("csat", "CSAT (% satisfied)", "score"),
        ("ces", "CES (average)", "average"),
    ):
        if keys[name] is None:
            continue
        now_value = current[name][field]
        before = previous[name][field]
        metrics.append(
            {
                "label": label,
                "value": now_value,
                "previous": before,
                "change": _change(now_value, before),
                "answers": current[name]["total"],
                "previous_answers": previous[name]["total"],
            }
        )
    per_survey = list(
        base.filter(created_at__gte=start, created_at__lt=end)
        .values("survey__name")
        .annotate(
            responses=Count("pk"), completed=Count("pk", filter=Q(completed_at__isnull=False))
        )
        .order_by("-responses", "survey__name")
    )
    detractors: list[Any] = []
    if keys["nps"] is not None:
        detractors = list(
            base.filter(created_at__gte=start, created_at__lt=end)
            .alias(_nps=scores.answer_json(keys["nps"]))
            .filter(_nps__gte=0, _nps__lte=scores.NPS_DETRACTOR_MAX)
            .select_related("survey", "profile")
            .order_by("-created_at", "-id")[:DIGEST_DETRACTORS]
        )
    return {
        "responses": current["responses"],
        "completed": current["completed"],
        "previous_responses": previous["responses"],
        "metrics": metrics,
        "per_survey": per_survey,
        "detractors": detractors,
    }


def digest_content(row: AlertDigest) -> dict[str, Any]:

    subscription = row.subscription
    environment = subscription.environment
    figures = digest_figures(subscription, row.period_start, row.period_end)
    attach_answers(figures["detractors"])
    for response in figures["detractors"]:
        response.who = respondent(response.profile)
        response.panel_url = panel_url(environment, response.profile)
    start = timezone.localtime(row.period_start)
    end = timezone.localtime(row.period_end)
    label = "Daily" if subscription.frequency == "daily" else "Weekly"
    period = f"{start:%b} {start.day}, {start:%H:%M} to {end:%b} {end.day}, {end:%H:%M}"
    content: dict[str, Any] = {
        "subscription": subscription,
        "environment": environment,
        "period": period,
        "subject": f"[Hark] {label} digest for {environment.name}: {subscription.name}",
        "settings_url": base_url() + reverse("alerts:list", kwargs={"env": environment.slug}),
        **figures,
    }
    lines = [
        f"*{_escape(label)} digest: {_escape(subscription.name)}* ({_escape(period)})",
        f"{figures['responses']} responses ({figures['completed']} completed), "
        f"previous period {figures['previous_responses']}",
    ]
    for m in figures["metrics"]:
        lines.append(
            f"{m['label']}: {m['value'] if m['value'] is not None else '—'} "
            f"(previous {m['previous'] if m['previous'] is not None else '—'}"
            f"{', ' + m['change'] if m['change'] else ''})"
        )
    for s in figures["per_survey"]:
        lines.append(f"• {_escape(s['survey__name'])}: {s['responses']} responses")
    if figures["detractors"]:
        lines.append("*New detractors*")
        for r in figures["detractors"]:
            lines.append(f"• <{r.panel_url}|{_escape(r.who['name'])}> ({_escape(r.survey.name)})")
    text = "\n".join(lines)
    content["slack"] = {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
    }
    return content
