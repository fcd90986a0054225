"""Public survey pages (no login): the survey link, its call-to-action redirect and the
answer links of email surveys.

One question per step. Every step is a plain form post (answer buttons submit the form), so
the page works without JavaScript; htmx (hx-boost) swaps only the step when it is there. The
response travels as its uuid in the page (`r`): unguessable, and checked to belong to the
survey of the URL.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from profiles.models import ActivitySource
from profiles.services import profile_identify

from . import answers as answer_rules
from .link import (
    ANONYMOUS_COOKIE,
    ANONYMOUS_ID_RE,
    LinkError,
    LinkParams,
    parse_link_params,
)
from .logic import next_question, path, resume_question
from .models import (
    Channel,
    Question,
    QuestionKind,
    Response,
    Survey,
    SurveyMode,
    SurveyStatus,
)
from .selectors import response_for_link, survey_for_link
from .services import response_dismiss, response_record_view, response_save_answers

COOKIE_MAX_AGE = 365 * 24 * 3600
DONE = "done"


def _message(
    request: HttpRequest, title: str, message: str, status: int, survey: Survey | None = None
) -> HttpResponse:
    response = render(
        request,
        "surveys/link_message.html",
        {"title": title, "message": message, "survey": survey},
        status=status,
    )
    add_never_cache_headers(response)
    return response


def _unavailable(request: HttpRequest, survey: Survey | None) -> HttpResponse | None:
    if survey is None:
        return _message(
            request,
            "Survey not found",
            "This link does not lead to a survey. Check that it was copied completely.",
            404,
        )
    if survey.status == SurveyStatus.LIVE:
        return None
    if survey.status == SurveyStatus.ARCHIVED:
        return _message(
            request, "This survey has closed", "It no longer accepts answers. Thank you!", 410
        )
    return _message(
        request,
        "This survey is not open",
        "It does not accept answers right now. Please try again later.",
        403,
        survey,
    )


def _anonymous_id(request: HttpRequest) -> tuple[str, bool]:
    """The device id from the cookie, or a new one (True when it must be set)."""
    current = request.COOKIES.get(ANONYMOUS_COOKIE, "")
    if ANONYMOUS_ID_RE.match(current):
        return current, False
    return secrets.token_urlsafe(18), True


def _identify(
    request: HttpRequest, survey: Survey, params: LinkParams, channel: str
) -> tuple[Any, str | None]:
    """The respondent's profile (and a device id to store in the cookie, if new).

    A link that names the respondent identifies by what it names, never by the device: a link
    can be forwarded, so whoever opens it is not proven to be the person named, and merging the
    device's anonymous profile (its answers, its traits) into that person would hand one
    person's history to another. The device id only recognises anonymous respondents."""

    anonymous_id, is_new = _anonymous_id(request)
    try:
        profile = profile_identify(
            environment=survey.environment,
            user_id=params.user_id,
            email=params.email,
            anonymous_id=None if params.identified else anonymous_id,
            traits=params.traits,
            source=ActivitySource.for_channel(channel),
        )
    except ValidationError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise LinkError("This link is not valid", f"A parameter is not valid ({detail}).") from None
    return profile, anonymous_id if is_new else None


def _with_cookie(response: HttpResponse, anonymous_id: str | None, request: HttpRequest) -> None:
    add_never_cache_headers(response)
    if anonymous_id:
        response.set_cookie(
            ANONYMOUS_COOKIE,
            anonymous_id,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )


def step_url(survey: Survey, response: Response, step: str) -> str:
    base = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    return f"{base}?{urlencode({'r': str(response.uuid), 'q': step})}"


def _steps(questions: list[Question], data: dict, current: Question) -> tuple[list[Question], int]:
    """The respondent's path (surveys/logic.py decides it) and the index of `current` on it.
    A question off the path (reached through an old link) is placed after the questions
    before it in plain order."""
    steps = path(questions, data)
    keys = [q.key for q in steps]
    if current.key in keys:
        return steps, keys.index(current.key)
    index = [q.key for q in questions].index(current.key)
    steps = [*questions[:index], current, *questions[index + 1 :]]
    return steps, index


def _render_step(
    request: HttpRequest,
    survey: Survey,
    response: Response,
    question: Question,
    *,
    error: str = "",
    notice: str = "",
    value: Any = None,
    status: int = 200,
) -> HttpResponse:
    questions = list(survey.questions.all())
    # Progress, Back and the button's label follow the path the answers take: after a jump the
    # step count is along that path, and its last step says "Submit".
    steps, index = _steps(questions, response.data, question)
    previous = steps[index - 1] if index > 0 else None
    current_value = value if value is not None else response.data.get(question.key)
    context = {
        "survey": survey,
        "response": response,
        "question": question,
        "value": current_value,
        "error": error,
        "notice": notice,
        "step_number": index + 1,
        "step_total": len(steps),
        "last_step": index == len(steps) - 1,
        "progress": int(100 * index / max(len(steps), 1)),
        "back_url": step_url(survey, response, previous.key) if previous else "",
        "action": reverse("surveys:link", kwargs={"public_id": survey.public_id}),
        "cta_url": (
            reverse("surveys:link_cta", kwargs={"public_id": survey.public_id})
            + "?"
            + urlencode({"r": str(response.uuid), "q": question.key})
        ),
        **question_context(question, current_value),
    }
    return render(request, "surveys/link.html", context, status=status)


def question_context(question: Question, value: Any) -> dict[str, Any]:
    """What the question partial needs to draw a question of any kind (used by the builder's
    preview too)."""
    options: list[dict[str, Any]] = []
    allowed = answer_rules.allowed_values(question)
    selected = value if isinstance(value, list) else [value]
    if allowed is not None:
        for option in allowed:
            label = str(option)
            if question.kind == QuestionKind.CSAT:
                label = answer_rules.CSAT_EMOJI.get(option, label)
            options.append(
                {
                    "value": option,
                    "label": label,
                    "title": answer_rules.value_label(question, option),
                    "selected": option in selected,
                }
            )
    elif question.kind == QuestionKind.MULTIPLE_CHOICE:
        options = [
            {"value": c, "label": c, "title": c, "selected": c in selected}
            for c in answer_rules.choices(question)
        ]
    config = question.config or {}
    return {
        "options": options,
        "text_max_length": answer_rules.TEXT_MAX_LENGTH,
        "stars": question.kind == QuestionKind.RATING and config.get("style") != "numbers",
        "scale_labels": (config.get("low_label", ""), config.get("high_label", "")),
    }


def _render_done(
    request: HttpRequest, survey: Survey, *, already: bool = False, status: int = 200
) -> HttpResponse:
    """The thank-you step; `already` when a completed response was opened again (within the
    reuse window it is the same response: it is not asked again)."""
    return render(
        request,
        "surveys/link.html",
        {"survey": survey, "done": True, "already": already},
        status=status,
    )


STALE_STEP = (
    "Your last answer was not saved: the survey changed since that page was shown (an answer "
    "given in another window, or an edit to the survey). Please go on from here."
)


def _stale_step(
    request: HttpRequest, survey: Survey, response: Response, questions: list[Question]
) -> HttpResponse:
    """A step posted from a page that the path no longer goes through: another tab changed an
    earlier answer, or the team changed the logic. Its answer would be dropped at once (answers
    off the path are removed) and the steps after it with it, so nothing is written: 409, with
    the step the respondent's answers lead to now, or the thank-you step when none is left."""
    current = resume_question(questions, response.data)
    if current is None and response.completed_at:
        return _render_done(request, survey, already=True, status=409)
    current = current or path(questions, response.data)[-1]
    return _render_step(request, survey, response, current, notice=STALE_STEP, status=409)


def _channel_closed(request: HttpRequest, survey: Survey, channel: str) -> HttpResponse | None:
    """The survey's Channels setting: a channel that is off does not answer (and nothing is
    recorded)."""
    if channel in (survey.channels or []):
        return None
    places: dict[str, str] = {Channel.LINK: "its survey link", Channel.EMAIL: "email"}
    where = places.get(channel, channel)
    return _message(
        request,
        "This survey is not available here",
        f"It does not take answers through {where}. If someone sent you this link, ask them "
        "for another way to answer.",
        403,
        survey,
    )


def _needs_identity(
    request: HttpRequest, survey: Survey, params: LinkParams
) -> HttpResponse | None:
    """An "Identified users" survey answers only a link that says who the respondent is."""
    if survey.mode != SurveyMode.IDENTIFIED or params.identified:
        return None
    return _message(
        request,
        "This survey is for invited respondents",
        "This link does not say who you are, and this survey only takes answers from known "
        "people. Open the survey from the email or the app that invited you.",
        403,
        survey,
    )


def _open_response(
    request: HttpRequest, survey: Survey, channel: str
) -> tuple[Response, str | None] | HttpResponse:
    """Read the link's parameters, identify the respondent and count a view: the response and
    the device id to set as a cookie, or the clear error page for a bad parameter."""
    closed = _channel_closed(request, survey, channel)
    if closed is not None:
        return closed
    try:
        params = parse_link_params(request.GET, environment=survey.environment)
        refused = _needs_identity(request, survey, params)
        if refused is not None:
            return refused
        profile, new_cookie = _identify(request, survey, params, channel)
    except LinkError as exc:
        return _message(request, exc.title, exc.message, exc.status, survey)
    response = response_record_view(
        survey=survey,
        profile=profile,
        channel=channel,
        context=params.context,
        locale=params.locale,
    )
    return response, new_cookie


@require_http_methods(["GET", "HEAD", "POST"])
def survey_link(request: HttpRequest, public_id: str) -> HttpResponse:
    """`/s/<public_id>/`: the survey link."""
    survey = survey_for_link(public_id=public_id)
    unavailable = _unavailable(request, survey)
    if unavailable is not None:
        return unavailable
    assert survey is not None
    if request.method == "HEAD":
        # Link checkers and unfurlers: the link exists, and nothing is recorded.
        return HttpResponse(content_type="text/html; charset=utf-8")
    questions = list(survey.questions.all())
    if not questions:
        return _message(request, "This survey is empty", "It has no questions yet.", 404, survey)
    if request.method == "POST":
        return _link_post(request, survey, questions)

    token = request.GET.get("r")
    if token is not None:
        response = response_for_link(survey=survey, token=token)
        if response is None:
            return _message(
                request,
                "This link is not valid",
                "The response it continues does not exist. Open the survey link again.",
                400,
                survey,
            )
        closed = _channel_closed(request, survey, response.channel)
        if closed is not None:
            return closed
        step = request.GET.get("q", "")
        by_key = {q.key: q for q in questions}
        if response.completed_at and step not in by_key:
            # The thank-you step, or a completed response opened without a step (Back still
            # reaches each step by its own link).
            page = _render_done(request, survey)
        else:
            question = by_key.get(step) or resume_question(questions, response.data) or questions[0]
            page = _render_step(request, survey, response, question)
        _with_cookie(page, None, request)
        return page

    opened = _open_response(request, survey, Channel.LINK)
    if isinstance(opened, HttpResponse):
        return opened
    response, new_cookie = opened
    # A returning respondent continues where they left off; one who completed the survey within
    # the reuse window is told so (the thank-you step), not asked again.
    if response.completed_at:
        page = _render_done(request, survey, already=True)
    else:
        question = resume_question(questions, response.data) or questions[0]
        page = _render_step(request, survey, response, question)
    _with_cookie(page, new_cookie, request)
    return page


def _link_post(request: HttpRequest, survey: Survey, questions: list[Question]) -> HttpResponse:
    response = response_for_link(survey=survey, token=request.POST.get("r", ""))
    if response is None:
        return _message(
            request,
            "This form is out of date",
            "The response it belongs to does not exist. Open the survey link again.",
            400,
            survey,
        )
    closed = _channel_closed(request, survey, response.channel)
    if closed is not None:
        return closed
    by_key = {q.key: q for q in questions}
    question = by_key.get(request.POST.get("q", ""))
    if question is None and questions:
        # Deleted while the respondent was on it (or a forged key): nothing is written, and
        # the page goes on from the step the answers lead to (a dead end for an email
        # respondent before: "open the link again").
        return _stale_step(request, survey, response, questions)
    if question is None:
        return _message(
            request,
            "This question no longer exists",
            "The survey changed while you were answering. Open the survey link again.",
            400,
            survey,
        )
    action = request.POST.get("action", "answer")
    if action == "dismiss":
        response_dismiss(response=response)
        page = render(request, "surveys/link.html", {"survey": survey, "closed": True})
        _with_cookie(page, None, request)
        return page

    if question.key not in {q.key for q in path(questions, response.data)}:
        return _stale_step(request, survey, response, questions)

    raw = request.POST.getlist("answer")
    if action == "skip":
        raw = []
    # Two answers to a one-answer question (a forged form: the page's buttons send one) stay a
    # list, which the question refuses, rather than one of them being picked.
    single = question.kind != QuestionKind.MULTIPLE_CHOICE and len(raw) < 2
    value: Any = (raw[0] if raw else None) if single else raw
    try:
        cleaned = answer_rules.answer_clean(question, value)
        if cleaned is None and question.required and question.kind != QuestionKind.CTA:
            raise ValidationError({question.key: ["Please answer this question to continue."]})
        following = next_question(questions, question, cleaned)
        response_save_answers(
            response=response,
            answers={question.key: cleaned} if cleaned is not None else {},
            complete=following is None,
            # An answer emptied or skipped on going back is taken back (a call to action's
            # "Continue" keeps the click its button recorded).
            clear=[question.key] if cleaned is None and question.kind != QuestionKind.CTA else [],
        )
    except ValidationError as exc:
        messages = exc.message_dict.get(question.key) or exc.messages
        error = " ".join(messages)
        if not error.endswith("."):
            error = f"This answer {error}."
        return _render_step(request, survey, response, question, error=error, value=value)
    target = step_url(survey, response, following.key if following else DONE)
    return HttpResponseRedirect(target)


@require_GET
def survey_link_cta(request: HttpRequest, public_id: str) -> HttpResponse:
    """A call to action's button: record the click, then go to its address."""
    survey = survey_for_link(public_id=public_id)
    unavailable = _unavailable(request, survey)
    if unavailable is not None:
        return unavailable
    assert survey is not None
    response = response_for_link(survey=survey, token=request.GET.get("r", ""))
    question = next(
        (
            q
            for q in survey.questions.all()
            if q.key == request.GET.get("q") and q.kind == QuestionKind.CTA
        ),
        None,
    )
    if response is None or question is None:
        return _message(
            request,
            "This link is not valid",
            "It does not belong to a call to action of this survey.",
            400,
            survey,
        )
    closed = _channel_closed(request, survey, response.channel)
    if closed is not None:
        return closed
    response_save_answers(response=response, answers={question.key: True})
    url = (question.config or {}).get("url") or step_url(survey, response, question.key)
    return HttpResponseRedirect(url)


@require_GET
def survey_email_answer(request: HttpRequest, public_id: str) -> HttpResponse:
    """An answer link of an email survey: record the answer to the first question at once (a
    partial response on the email channel), then continue on the survey link."""
    survey = survey_for_link(public_id=public_id)
    unavailable = _unavailable(request, survey)
    if unavailable is not None:
        return unavailable
    assert survey is not None
    questions = list(survey.questions.all())
    first = questions[0] if questions else None
    if first is None or first.kind not in answer_rules.ONE_CLICK_KINDS:
        return _message(
            request,
            "This link is not valid",
            "The survey's first question cannot be answered from an email any more.",
            400,
            survey,
        )
    given = request.GET.getlist("answer")
    try:
        # An answer link carries one answer: two (a tampered link) are refused, not one picked.
        cleaned = answer_rules.answer_clean(first, given[0] if len(given) == 1 else given)
    except ValidationError:
        cleaned = None
    if cleaned is None:
        return _message(
            request,
            "This answer is not valid",
            "The link carries an answer the survey does not accept. Open the survey instead.",
            400,
            survey,
        )
    opened = _open_response(request, survey, Channel.EMAIL)
    if isinstance(opened, HttpResponse):
        return opened
    response, new_cookie = opened
    if response.completed_at:
        # A second click in the same email after finishing: already answered, nothing changes.
        page = _render_done(request, survey, already=True)
        _with_cookie(page, new_cookie, request)
        return page
    following = next_question(questions, first, cleaned)
    response_save_answers(
        response=response, answers={first.key: cleaned}, complete=following is None
    )
    redirect = HttpResponseRedirect(
        step_url(survey, response, following.key if following else DONE)
    )
    _with_cookie(redirect, new_cookie, request)
    return redirect


def survey_link_not_found(request: HttpRequest, rest: str) -> HttpResponse:
    return _unavailable(request, None) or HttpResponse(status=404)
