"""The decision: may this person be shown this survey now, and why (not)?

Pure functions over plain data, no database: `evaluate(plan, facts, context)` runs every gate
of one survey for one person and returns each gate's verdict with its reason in words. The
selectors gather the data (`SurveyPlan` per survey, `Facts` per person) with a constant number
of queries; `eligible_surveys` and `explain` (selectors.py) both end here, so what is
explained is exactly what is decided.

Gates, in order: status, schedule, limits, channel, audience, segments, pages, recurrence,
throttling, sampling. The trigger is not a gate: the client arms it (the server lists the
surveys that could trigger on the page).

Sampling is sticky: a person's bucket (0..99) is a hash of the survey's salt and the person's
stable key: `user:<id>` for an identified user (else `email:<email>`), `anon:<anonymous id>`
for an anonymous device. So a user has the same bucket on every device and day; an anonymous
visitor the same on their device. When a device is identified, its bucket becomes the
user's (the device's earlier displays move with the merged profile, so recurrence still holds).
Changing the percentage keeps buckets (a user in at 25 % is in at 50 %); re-sampling changes
the salt.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import re2
from django.core.exceptions import ValidationError

GATES = (
    "status",
    "schedule",
    "limits",
    "channel",
    "audience",
    "segments",
    "pages",
    "recurrence",
    "throttling",
    "sampling",
)
PAGE_OPS = {
    "equals": "is",
    "starts_with": "starts with",
    "contains": "contains",
    "ends_with": "ends with",
    "wildcard": "matches",
    "regex": "matches the pattern",
}
PAGE_FIELDS = {"path": "path", "url": "URL"}
PAGE_RULES_MAX = 50
PAGE_VALUE_MAX = 500


# --- Inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyPlan:
    """One survey as the decision sees it (its targeting flattened, defaults filled in)."""

    id: int
    uuid: str
    name: str
    status: str
    channels: tuple[str, ...]
    audience: str = "everyone"
    segments_include: tuple[int, ...] = ()
    segment_match: str = "any"
    segments_exclude: tuple[int, ...] = ()
    page_rules: tuple[dict, ...] = ()
    trigger: str = "page"
    trigger_seconds: int | None = None
    trigger_event: str = ""
    trigger_nth: int | None = None
    trigger_percent: int | None = None
    recurrence: str = "once"
    recurrence_days: int | None = None
    recurrence_max: int | None = None
    sample_percent: int = 100
    sample_salt: str = ""
    throttle_exempt: bool = False
    priority: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    response_limit: int | None = None
    # Completed responses, counted up to response_limit (never more: a bounded count).
    completed_count: int = 0
    created_at: datetime | None = None

    @cached_property
    def page_verdicts(self) -> dict[str | None, Gate]:
        """The pages gate by page URL, as decided for this plan (its rules never change: a
        snapshot's plans decide the same few pages again and again). Bounded by _pages."""
        return {}

    @cached_property
    def passing_prefix(self) -> tuple[Gate, ...] | None:
        """The first gates (status, schedule, limits, channel) when they read the plan alone
        (no schedule dates: nothing reads the clock) and all pass: the same verdicts on every
        call, made once. None otherwise (the gates are run)."""
        if self.starts_at or self.ends_at:
            return None
        ctx = Context(now=datetime.min)
        gates = tuple(check(self, _NOBODY, ctx) for check in _PLAN_ONLY_CHECKS)
        return gates if all(g.verdict != FAIL for g in gates) else None


@dataclass(frozen=True)
class History:
    """A person's responses to one survey, summed over every channel."""

    responses: int = 0
    shows: int = 0
    last_shown_at: datetime | None = None
    completed: bool = False


@dataclass
class Facts:
    """What is known of one person: nothing but the call's anonymous id for an anonymous visitor
    who never interacted with a survey."""

    profile_id: int | None = None
    user_id: str | None = None
    email: str | None = None
    anonymous_id: str | None = None
    segment_ids: frozenset[int] = frozenset()
    history: dict[int, History] = field(default_factory=dict)
    # The latest display of each survey that counts for the throttle (not exempt).
    throttled_shows: dict[int, datetime] = field(default_factory=dict)
    # The environment's delivery cache version, read in the same query (selectors.facts_for).
    cache_version: int | None = None

    @property
    def identified(self) -> bool:
        return bool(self.user_id or self.email)

    @property
    def sampling_key(self) -> str:
        if self.user_id:
            return f"user:{self.user_id}"
        if self.email:
            return f"email:{self.email}"
        return f"anon:{self.anonymous_id or ''}"


@dataclass(frozen=True)
class Context:
    now: datetime
    url: str | None = None
    throttle_days: int = 7
    # Segment names, for reasons in words.
    segment_names: dict[int, str] = field(default_factory=dict)
    # True when the display is forced (showForm with force): targeting gates are skipped.
    force: bool = False


# --- Output -------------------------------------------------------------------------------------

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"


class Gate(NamedTuple):
    # A named tuple, not a frozen dataclass: as immutable, and made in a third of the time (a
    # page call makes some 300 of them, one per gate of each of 50 surveys).
    name: str
    verdict: str  # pass, fail, or unknown (not checkable here, e.g. no page given)
    reason: str
    eligible_at: datetime | None = None

    @property
    def passed(self) -> bool:
        return self.verdict != FAIL

    def as_dict(self) -> dict[str, Any]:
        return {
            "gate": self.name,
            "passed": self.passed,
            "verdict": self.verdict,
            "reason": self.reason,
            "eligible_at": self.eligible_at.isoformat() if self.eligible_at else None,
        }


class Decision(NamedTuple):
    """One survey decided for one person: every gate run (an explanation), or the gates up to
    the first that fails (the client API's page and event calls). A named tuple made once per
    survey of a page call (50 of them), `eligible` computed by `evaluate` as it goes."""

    plan: SurveyPlan
    gates: tuple[Gate, ...]
    eligible: bool

    @property
    def failed(self) -> Gate | None:
        return next((g for g in self.gates if not g.passed), None)

    @property
    def eligible_at(self) -> datetime | None:
        """When every failing gate that lifts with time has lifted (None when a failing gate
        never lifts by itself, or when nothing fails)."""
        failing = [g for g in self.gates if not g.passed]
        if not failing or any(g.eligible_at is None for g in failing):
            return None
        return max(g.eligible_at for g in failing if g.eligible_at)


# --- Helpers ------------------------------------------------------------------------------------


def bucket(salt: str, key: str) -> int:
    """0..99, uniform and stable for (salt, key)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _ago(now: datetime, then: datetime) -> str:
    delta = now - then
    if delta < timedelta(hours=1):
        minutes = max(int(delta.total_seconds() // 60), 0)
        return "just now" if minutes < 1 else f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    if delta < timedelta(days=1):
        hours = int(delta.total_seconds() // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = delta.days
    return f"{days} day{'s' if days != 1 else ''} ago"


def _days(n: int) -> str:
    return "every day" if n == 1 else f"every {n} days"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


# Page patterns are matched by RE2, whose time is linear in the URL whatever the pattern: the
# public key is public, so any visitor can send any URL, and with a backtracking engine a
# careless pattern (`^/(a+)+$`) lets one URL hold a web process for days. RE2 has no
# backreferences or lookarounds; such patterns are refused when the rule is saved.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is a form error, not a line on stderr
_RE2_UNSUPPORTED = re.compile(r"\\[1-9]|\(\?<?[=!]")


@lru_cache(maxsize=512)
def _regex(value: str) -> Any | None:
    """The compiled pattern, or None when it is not one RE2 accepts."""
    try:
        return re2.compile(value, _RE2_OPTIONS)
    except re2.error:
        return None


def _regex_problem(value: str) -> str | None:
    """Why a page pattern cannot be used, in words, or None."""
    if _regex(value) is not None:
        return None
    if _RE2_UNSUPPORTED.search(value):
        return (
            f"“{value}” uses backreferences or lookarounds, which page patterns do not support "
            "(use an exclude rule instead of a negative lookahead)"
        )
    return f"“{value}” is not a valid regular expression"


def page_rule_matches(rule: dict, url: str) -> bool:
    parts = urlsplit(url)
    subject = (parts.path or "/") if rule.get("field") == "path" else url
    value = str(rule.get("value") or "")
    op = rule.get("op")
    if op == "equals":
        if rule.get("field") == "path":
            return subject.rstrip("/") == value.rstrip("/") or subject == value
        return subject == value
    if op == "starts_with":
        return subject.startswith(value)
    if op == "contains":
        return value in subject
    if op == "ends_with":
        return subject.endswith(value)
    if op == "wildcard":
        return fnmatch.fnmatchcase(subject, value)
    if op == "regex":
        pattern = _regex(value)
        return bool(pattern and pattern.search(subject))
    return False


def page_rule_words(rule: dict) -> str:
    field_words = PAGE_FIELDS.get(rule.get("field", "path"), "path")
    op_words = PAGE_OPS.get(rule.get("op", ""), rule.get("op"))
    words = f"{field_words} {op_words} “{rule.get('value')}”"
    if rule.get("op") == "regex" and _regex(str(rule.get("value") or "")) is None:
        # Saved before page patterns ran on RE2 (a lookaround, a backreference).
        words += " (a pattern page rules cannot run, so it matches no page: edit the rule)"
    return words


def page_rules_clean(rules: Any) -> list[dict[str, str]]:
    """Validated page rules (ValidationError naming `page_rules`)."""
    if rules in (None, ""):
        return []
    if not isinstance(rules, list):
        raise ValidationError({"page_rules": ["must be a list of rules"]})
    if len(rules) > PAGE_RULES_MAX:
        raise ValidationError({"page_rules": [f"at most {PAGE_RULES_MAX} rules"]})
    cleaned: list[dict[str, str]] = []
    for raw in rules:
        if not isinstance(raw, dict):
            raise ValidationError({"page_rules": ["each rule is an object"]})
        kind = raw.get("kind", "include")
        field_name = raw.get("field", "path")
        op = raw.get("op")
        value = str(raw.get("value") or "").strip()
        if not value:
            continue
        if kind not in ("include", "exclude"):
            raise ValidationError({"page_rules": ["a rule includes or excludes pages"]})
        if field_name not in PAGE_FIELDS:
            raise ValidationError({"page_rules": ["a rule looks at the path or the full URL"]})
        if op not in PAGE_OPS:
            raise ValidationError({"page_rules": [f"unknown page condition {op!r}"]})
        if len(value) > PAGE_VALUE_MAX:
            raise ValidationError(
                {"page_rules": [f"a value is at most {PAGE_VALUE_MAX} characters"]}
            )
        problem = _regex_problem(value) if op == "regex" else None
        if problem:
            raise ValidationError({"page_rules": [problem]})
        cleaned.append({"kind": kind, "field": field_name, "op": op, "value": value})
    return cleaned


# --- Gates --------------------------------------------------------------------------------------


# Verdicts that do not depend on the person or the moment, made once (Gate is immutable).
_LIVE = Gate("status", PASS, "the survey is live")
_NO_SCHEDULE = Gate("schedule", PASS, "no schedule")
_IN_SCHEDULE = Gate("schedule", PASS, "within the survey's schedule")
_NO_LIMIT = Gate("limits", PASS, "no response limit")
_WEB_ON = Gate("channel", PASS, "the Web (in-product) channel is on")
_NO_SEGMENTS = Gate("segments", PASS, "no segment condition")
_NOT_EXCLUDED = Gate("segments", PASS, "in none of the excluded segments")
_EVERY_PAGE = Gate("pages", PASS, "shown on every page")
_NEVER_SHOWN_GATE = Gate("recurrence", PASS, "never shown to this person")
_THROTTLE_EXEMPT = Gate("throttling", PASS, "this survey ignores the throttle")
_NO_THROTTLE = Gate("throttling", PASS, "no throttle in this environment")
_NO_OTHER_SHOWN = Gate("throttling", PASS, "no other survey shown yet")
_FULL_SAMPLE = Gate("sampling", PASS, "shown to 100% of eligible people")
_AUDIENCE_WORDS = {
    "everyone": "everyone",
    "identified": "identified users",
    "anonymous": "anonymous visitors",
}
# (the survey's audience, the person identified): the passing verdict.
_AUDIENCE_PASS = {
    (audience, identified): Gate(
        "audience",
        PASS,
        f"{'an identified user' if identified else 'an anonymous visitor'}; "
        f"the survey is for {words}",
    )
    for audience, words in _AUDIENCE_WORDS.items()
    for identified in (True, False)
}
_FORCED = {name: Gate(name, PASS, "skipped: the display is forced") for name in GATES}


def _status(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.status == "live":
        return _LIVE
    return Gate("status", FAIL, f"the survey is {plan.status}, not live")


def _schedule(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.starts_at and ctx.now < plan.starts_at:
        return Gate(
            "schedule", FAIL, f"the survey starts on {_when(plan.starts_at)}", plan.starts_at
        )
    if plan.ends_at and ctx.now >= plan.ends_at:
        return Gate("schedule", FAIL, f"the survey ended on {_when(plan.ends_at)}")
    if plan.starts_at or plan.ends_at:
        return _IN_SCHEDULE
    return _NO_SCHEDULE


def _limits(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.response_limit is None:
        return _NO_LIMIT
    if plan.completed_count >= plan.response_limit:
        return Gate(
            "limits",
            FAIL,
            f"the survey has its {plan.response_limit} completed responses and stopped",
        )
    return Gate(
        "limits",
        PASS,
        f"{plan.completed_count} of {plan.response_limit} completed responses collected",
    )


def _channel(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if "web" in plan.channels:
        return _WEB_ON
    return Gate("channel", FAIL, "the survey's Web (in-product) channel is off")


def _audience(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.audience == "identified" and not facts.identified:
        return Gate("audience", FAIL, "an anonymous visitor; the survey is for identified users")
    if plan.audience == "anonymous" and facts.identified:
        return Gate("audience", FAIL, "an identified user; the survey is for anonymous visitors")
    return _AUDIENCE_PASS[plan.audience, facts.identified]


def _name(ctx: Context, segment_id: int) -> str:
    return ctx.segment_names.get(segment_id) or f"#{segment_id} (deleted)"


def _segments(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    inside = facts.segment_ids
    for segment_id in plan.segments_exclude:
        if segment_id in inside:
            return Gate("segments", FAIL, f"in excluded segment {_name(ctx, segment_id)}")
    if plan.segments_include:
        missing = [s for s in plan.segments_include if s not in inside]
        if plan.segment_match == "all" and missing:
            return Gate("segments", FAIL, f"not in segment {_name(ctx, missing[0])}")
        if plan.segment_match != "all" and len(missing) == len(plan.segments_include):
            names = ", ".join(_name(ctx, s) for s in missing)
            many = len(missing) > 1
            return Gate(
                "segments", FAIL, f"not in {'any of the segments' if many else 'segment'} {names}"
            )
        hit = next(s for s in plan.segments_include if s in inside)
        return Gate("segments", PASS, f"in segment {_name(ctx, hit)}")
    if plan.segments_exclude:
        return _NOT_EXCLUDED
    return _NO_SEGMENTS


# Page verdicts remembered per plan (SurveyPlan.page_verdicts), at most this many URLs each.
PAGE_VERDICTS_MAX = 256


def _pages(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if not plan.page_rules:
        return _EVERY_PAGE
    verdicts = plan.page_verdicts
    gate = verdicts.get(ctx.url)
    if gate is None:
        gate = _pages_decided(plan, ctx.url)
        if len(verdicts) < PAGE_VERDICTS_MAX:
            verdicts[ctx.url] = gate
    return gate


def _pages_decided(plan: SurveyPlan, url: str | None) -> Gate:
    includes = [r for r in plan.page_rules if r.get("kind", "include") == "include"]
    excludes = [r for r in plan.page_rules if r.get("kind") == "exclude"]
    if url is None:
        words = " or ".join(page_rule_words(r) for r in includes) or "any page"
        return Gate("pages", UNKNOWN, f"no page given; shown where the {words}")
    for rule in excludes:
        if page_rule_matches(rule, url):
            return Gate("pages", FAIL, f"the page is excluded: its {page_rule_words(rule)}")
    if includes:
        for rule in includes:
            if page_rule_matches(rule, url):
                return Gate("pages", PASS, f"the page's {page_rule_words(rule)}")
        words = " or ".join(page_rule_words(r) for r in includes)
        return Gate("pages", FAIL, f"not a targeted page: the survey needs the {words}")
    return Gate("pages", PASS, "the page is not excluded")


def _recurrence(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    history = facts.history.get(plan.id) or _NEVER_SHOWN
    last = history.last_shown_at
    if history.responses == 0:
        return _NEVER_SHOWN_GATE
    assert last is not None
    if plan.recurrence == "always":
        return Gate("recurrence", PASS, f"shown {_ago(ctx.now, last)}; the survey always shows")
    if plan.recurrence == "once":
        return Gate(
            "recurrence", FAIL, f"shown {_ago(ctx.now, last)}; this survey shows once per user"
        )
    if plan.recurrence == "every":
        days = plan.recurrence_days or 1
        due = last + timedelta(days=days)
        if ctx.now < due:
            return Gate(
                "recurrence",
                FAIL,
                f"shown {_ago(ctx.now, last)}; this survey recurs {_days(days)}",
                due,
            )
        return Gate("recurrence", PASS, f"shown {_ago(ctx.now, last)}; recurs {_days(days)}")
    # Until the user responds: again on later triggers, at most N times, D days apart.
    if history.completed:
        return Gate("recurrence", FAIL, "already responded; this survey shows until answered")
    if plan.recurrence_max and history.shows >= plan.recurrence_max:
        return Gate(
            "recurrence",
            FAIL,
            f"shown {history.shows} times; this survey shows at most {plan.recurrence_max} times",
        )
    days = plan.recurrence_days or 0
    if days and ctx.now < last + timedelta(days=days):
        return Gate(
            "recurrence",
            FAIL,
            f"shown {_ago(ctx.now, last)} without a response; shown again at most {_days(days)}",
            last + timedelta(days=days),
        )
    return Gate(
        "recurrence", PASS, f"shown {_ago(ctx.now, last)} without a response; may show again"
    )


_NEVER_SHOWN = History()


def _throttling(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.throttle_exempt:
        return _THROTTLE_EXEMPT
    if not ctx.throttle_days:
        return _NO_THROTTLE
    others = [at for sid, at in facts.throttled_shows.items() if sid != plan.id]
    if not others:
        return _NO_OTHER_SHOWN
    latest = max(others)
    due = latest + timedelta(days=ctx.throttle_days)
    words = f"at most one every {ctx.throttle_days} day{'s' if ctx.throttle_days != 1 else ''}"
    if ctx.now < due:
        return Gate(
            "throttling",
            FAIL,
            f"another survey was shown {_ago(ctx.now, latest)}; {words}",
            due,
        )
    return Gate("throttling", PASS, f"the last other survey was shown {_ago(ctx.now, latest)}")


def _sampling(plan: SurveyPlan, facts: Facts, ctx: Context) -> Gate:
    if plan.sample_percent >= 100:
        return _FULL_SAMPLE
    n = bucket(plan.sample_salt, facts.sampling_key)
    if n < plan.sample_percent:
        return Gate(
            "sampling", PASS, f"sampled in: bucket {n} of 100, sample is {plan.sample_percent}%"
        )
    return Gate(
        "sampling", FAIL, f"sampled out: bucket {n} of 100, sample is {plan.sample_percent}%"
    )


_CHECKS = (
    _status,
    _schedule,
    _limits,
    _channel,
    _audience,
    _segments,
    _pages,
    _recurrence,
    _throttling,
    _sampling,
)
# What a forced display (showForm with force) still requires.
FORCE_KEEPS = ("status", "channel")
_NAMED_CHECKS = tuple(zip(_CHECKS, GATES, strict=True))
# The gates that read the plan alone when it has no schedule dates (SurveyPlan.passing_prefix).
_PLAN_ONLY_CHECKS = (_status, _schedule, _limits, _channel)
_AFTER_PLAN_ONLY = _NAMED_CHECKS[len(_PLAN_ONLY_CHECKS) :]
_NOBODY = Facts()


def evaluate(plan: SurveyPlan, facts: Facts, ctx: Context, *, every_gate: bool = True) -> Decision:
    """The gates of `plan` for the person of `facts`. An explanation runs every gate
    (`every_gate`); the client API's page and event calls stop at the first that fails (the
    same checks in the same order, so the verdict is the same)."""
    force = ctx.force
    prefix = None if force else plan.passing_prefix
    gates: list[Gate] = [] if prefix is None else list(prefix)
    checks = _NAMED_CHECKS if prefix is None else _AFTER_PLAN_ONLY
    eligible = True
    for check, name in checks:
        gate = _FORCED[name] if force and name not in FORCE_KEEPS else check(plan, facts, ctx)
        gates.append(gate)
        if gate.verdict == FAIL:
            eligible = False
            if not every_gate:
                break
    return Decision(plan, tuple(gates), eligible)


def order(decisions: list[Decision]) -> list[Decision]:
    """Highest priority first; among equals, the oldest survey first."""
    return sorted(
        decisions,
        key=lambda d: (
            -d.plan.priority,
            d.plan.created_at.timestamp() if d.plan.created_at else 0.0,
            d.plan.id,
        ),
    )
