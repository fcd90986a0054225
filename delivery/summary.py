"""The builder's sentence for a survey's targeting ("Shown to 25% of identified users in Trial
users, on /billing pages, 10 seconds after the page loads, once per user") and its estimated
audience, from stored segment membership and monthly activity (index lookups, never a scan of
profiles)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from profiles.services import mau_zone
from profiles.sql import activity_month_sql

from .targeting import SurveyPlan, page_rule_words


def _pages(plan: SurveyPlan) -> str:
    includes = [r for r in plan.page_rules if r.get("kind", "include") == "include"]
    excludes = [r for r in plan.page_rules if r.get("kind") == "exclude"]
    words = []
    for rule in includes:
        if rule.get("field") == "path" and rule.get("op") == "starts_with":
            words.append(f"{rule['value']} pages")
        elif rule.get("field") == "path" and rule.get("op") == "equals":
            words.append(f"the page {rule['value']}")
        else:
            words.append(f"pages whose {page_rule_words(rule)}")
    text = "on " + " or ".join(words) if words else "on every page"
    if excludes:
        text += " except where the " + " or ".join(page_rule_words(r) for r in excludes)
    return text


def _trigger(plan: SurveyPlan) -> str:
    seconds = plan.trigger_seconds or 0
    return {
        "page": "when the page loads",
        "delay": f"{seconds} second{'s' if seconds != 1 else ''} after the page loads",
        "session_delay": f"{seconds} second{'s' if seconds != 1 else ''} into the session",
        "event": (
            f"the {_nth(plan.trigger_nth)} time “{plan.trigger_event}” is tracked"
            if plan.trigger_nth
            else f"when “{plan.trigger_event}” is tracked"
        ),
        "exit_intent": "when the visitor is about to leave",
        "scroll": f"after scrolling past {plan.trigger_percent or 50}% of the page",
        "manual": "only when your code calls showForm",
    }.get(plan.trigger, plan.trigger)


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _recurrence(plan: SurveyPlan) -> str:
    days = plan.recurrence_days or 0
    if plan.recurrence == "every":
        return f"again every {days} day{'s' if days != 1 else ''}"
    if plan.recurrence == "until_responded":
        text = "until the user responds"
        if plan.recurrence_max:
            text += f" (at most {plan.recurrence_max} times"
            text += f", {days} days apart)" if days else ")"
        elif days:
            text += f" (at most every {days} days)"
        return text
    if plan.recurrence == "always":
        return "every time (testing)"
    return "once per user"


def sentence(plan: SurveyPlan, segment_names: dict[int, str]) -> str:
    who = {
        "everyone": "everyone",
        "identified": "identified users",
        "anonymous": "anonymous visitors",
    }[plan.audience]
    if plan.segments_include:
        names = [segment_names.get(s, "a deleted segment") for s in plan.segments_include]
        joiner = " and " if plan.segment_match == "all" else " or "
        who += " in " + joiner.join(names)
    if plan.segments_exclude:
        who += " not in " + " or ".join(
            segment_names.get(s, "a deleted segment") for s in plan.segments_exclude
        )
    share = "" if plan.sample_percent >= 100 else f"{plan.sample_percent}% of "
    return f"Shown to {share}{who}, {_pages(plan)}, {_trigger(plan)}, {_recurrence(plan)}."


def audience_estimate(*, environment_id: int, plan: SurveyPlan) -> dict[str, Any]:
    """People the audience holds before pages and triggers: members of the included segments
    (any/all) minus the excluded, from stored membership; without segments, the people active
    this month. Then the sample's share."""
    params: dict[str, Any] = {"env": environment_id}
    if plan.segments_include:
        params["inc"] = list(plan.segments_include)
        params["exc"] = list(plan.segments_exclude) or [0]
        having = (
            "HAVING count(DISTINCT m.segment_id) = %(n)s" if plan.segment_match == "all" else ""
        )
        params["n"] = len(set(plan.segments_include))
        sql = f"""
            SELECT count(*) FROM (
              SELECT m.profile_id FROM segments_segmentmembership m
              WHERE m.segment_id = ANY(%(inc)s)
                AND NOT EXISTS (SELECT 1 FROM segments_segmentmembership x
                                WHERE x.profile_id = m.profile_id AND x.segment_id = ANY(%(exc)s))
              GROUP BY m.profile_id {having}
            ) people
        """
        basis = "members of the segments"
    else:
        # The month as monthly activity rows count it (in the environment's time zone).
        params.update(now=timezone.now(), tz=mau_zone())
        sql = f"""
            SELECT count(*) FROM profiles_monthlyactivity
            WHERE environment_id = %(env)s AND month = {activity_month_sql("%(now)s")}
        """
        basis = "people active this month"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        people = cursor.fetchone()[0]
    return {
        "people": people,
        "sampled": round(people * plan.sample_percent / 100),
        "basis": basis,
    }
