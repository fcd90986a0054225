"""The survey builder: thin views over surveys.services and surveys.selectors.

Every change is a plain form post that redirects back to the builder (works without
JavaScript); with htmx the same post returns only the changed part of the page (the
questions list, one question, the header), named after its template partial.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from core.http import HarkRequest, confirm_page, confirmed, htmx_fragment, parse_id
from core.ingest import clean_text
from core.once import once_repeated
from core.urls import env_reverse
from environments.permissions import editor_required

from . import services
from .email import IDENTIFY_BY, PROVIDERS, EmailSurveyError, email_block_html, email_problem
from .filters import PERIODS, date_range
from .forms import QuestionForm, SurveyForm, ThankYouForm
from .models import Question, QuestionKind, Survey, SurveyStatus
from .public_views import question_context
from .results import survey_list_figures
from .selectors import survey_for_builder, survey_response_count
from .selectors import survey_list as select_surveys

# The survey list's figures cover a preset period (no custom range on this page).
LIST_PERIODS = [(value, label) for value, label in PERIODS if value != "custom"]
LIST_DEFAULT_PERIOD = "30d"

# The button (label, style) of each status change the service allows (STATUS_CHANGES).
STATUS_BUTTONS: dict[tuple[str, str], tuple[str, str]] = {
    (SurveyStatus.DRAFT, SurveyStatus.LIVE): ("Publish", "primary"),
    (SurveyStatus.LIVE, SurveyStatus.PAUSED): ("Pause", ""),
    (SurveyStatus.LIVE, SurveyStatus.ARCHIVED): ("Archive", "danger"),
    (SurveyStatus.PAUSED, SurveyStatus.LIVE): ("Resume", "primary"),
    (SurveyStatus.PAUSED, SurveyStatus.ARCHIVED): ("Archive", "danger"),
    (SurveyStatus.ARCHIVED, SurveyStatus.DRAFT): ("Restore as draft", ""),
}


def _status_actions(status: str) -> list[tuple[str, str, str]]:
    """(new status, label, style) of the buttons a survey in `status` shows."""
    return [(to, *STATUS_BUTTONS[(status, to)]) for to in services.STATUS_CHANGES[status]]


def _survey(request: HarkRequest, uuid: Any) -> Survey:
    return survey_for_builder(environment=request.environment, uuid=uuid)


def _question(survey: Survey, question_id: int) -> Question:
    question = next((q for q in survey.questions.all() if q.pk == question_id), None)
    if question is None:
        return get_object_or_404(Question, pk=question_id, survey=survey)
    return question


def _detail_url(request: HarkRequest, survey: Survey, anchor: str = "") -> str:
    url = env_reverse(request, "surveys:detail", uuid=survey.uuid)
    return f"{url}#{anchor}" if anchor else url


def _later_keys(survey: Survey, question: Question) -> list[tuple[str, str]]:
    return [
        (q.key, f"{q.position}. {q.title[:50]}")
        for q in survey.questions.all()
        if q.position > question.position
    ]


def _question_form(survey: Survey, question: Question, data: Any = None) -> QuestionForm:
    return QuestionForm(data, question=question, later_keys=_later_keys(survey, question))


def _builder_context(request: HarkRequest, survey: Survey, **extra: Any) -> dict[str, Any]:
    questions = list(survey.questions.all())
    editing = extra.pop("editing", None)
    forms_by_id = extra.pop("forms_by_id", {})
    items = []
    for index, question in enumerate(questions):
        form = forms_by_id.get(question.pk)
        if form is None and editing == question.pk:
            form = _question_form(survey, question)
        items.append(
            {
                "question": question,
                "first": index == 0,
                "last": index == len(questions) - 1,
                "form": form,
            }
        )
    preview_question = extra.pop("preview_question", None) or (questions[0] if questions else None)
    return {
        "survey": survey,
        "items": items,
        "can_edit": request.membership.can_edit,
        "kinds": QuestionKind.choices,
        "status_actions": _status_actions(survey.status),
        "settings_form": extra.pop("settings_form", None)
        or SurveyForm(
            initial={"name": survey.name, "mode": survey.mode, "channels": survey.channels}
        ),
        "thank_you_form": extra.pop("thank_you_form", None)
        or ThankYouForm(initial=survey.thank_you),
        "link_url": request.build_absolute_uri(
            reverse("surveys:link", kwargs={"public_id": survey.public_id})
        ),
        "preview": _preview_context(preview_question) if preview_question else None,
        "email_problem": email_problem(survey),
        "response_count": survey_response_count(survey=survey),  # (number, words)
        **extra,
    }


def _preview_context(question: Question) -> dict[str, Any]:
    return {"question": question, "preview": True, **question_context(question, None)}


def _render_builder(
    request: HarkRequest, survey: Survey, partial: str = "", status: int = 200, **extra: Any
) -> HttpResponse:
    template = "surveys/detail.html" + (f"#{partial}" if partial and htmx_fragment(request) else "")
    context = _builder_context(request, survey, **extra)
    response = render(request, template, context, status=status)
    if partial == "questions" and htmx_fragment(request):
        # The preview shows one of the questions: after the list changed (a question added,
        # removed, renamed) it is redrawn beside it, out of band, so it never says "Add a
        # question" next to a list that has one, nor shows a removed question.
        oob = render(request, "surveys/detail.html#preview", {**context, "preview_oob": True})
        response.content += oob.content
    return response


# --- Surveys --------------------------------------------------------------------------------


@require_GET
def survey_list(request: HarkRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    search = clean_text(request.GET.get("q", "")).strip()[:100]
    surveys = list(
        select_surveys(environment=request.environment, status=status, search=search)[:200]
    )
    period = request.GET.get("period", LIST_DEFAULT_PERIOD)
    if period not in dict(LIST_PERIODS):
        period = LIST_DEFAULT_PERIOD
    figures = survey_list_figures(
        environment_id=request.environment.pk,
        survey_ids=[s.pk for s in surveys],
        span=date_range(period, None, None),
    )
    for survey in surveys:
        survey.figures = figures.get(survey.pk)  # type: ignore[attr-defined]
    context = {
        "surveys": surveys,
        "status": status,
        "search": search,
        "period": period,
        "periods": LIST_PERIODS,
        "statuses": SurveyStatus.choices,
        "can_edit": request.membership.can_edit,
    }
    template = "surveys/list.html#results" if htmx_fragment(request) else "surveys/list.html"
    return render(request, template, context)


@editor_required(read_only="surveys:list")
@require_http_methods(["GET", "HEAD", "POST"])
def survey_new(request: HarkRequest) -> HttpResponse:
    if request.method == "POST" and once_repeated(request):
        # The form sent again (a double click, Back then Submit): one survey, not two.
        messages.info(request, "That form was already sent: the survey was created once.")
        return HttpResponseRedirect(env_reverse(request, "surveys:list"))
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        survey = services.survey_create(
            environment=request.environment,
            name=form.cleaned_data["name"],
            mode=form.cleaned_data["mode"],
            channels=form.cleaned_data["channels"],
            created_by=request.user,
        )
        messages.success(request, "Survey created: add its first question.")
        return HttpResponseRedirect(_detail_url(request, survey))
    return render(request, "surveys/new.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
def survey_detail(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    return _render_builder(request, survey, editing=parse_id(request.GET.get("edit")))


@editor_required
@require_POST
def survey_settings(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    form = SurveyForm(request.POST)
    if not form.is_valid():
        return _render_builder(request, survey, "settings", status=400, settings_form=form)
    services.survey_update(
        survey=survey,
        name=form.cleaned_data["name"],
        mode=form.cleaned_data["mode"],
        channels=form.cleaned_data["channels"],
    )
    if htmx_fragment(request):
        return _render_builder(request, survey, "settings", saved=True)
    messages.success(request, "Settings saved.")
    return HttpResponseRedirect(_detail_url(request, survey))


@editor_required
@require_POST
def survey_status(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    try:
        # Decided from the status as read here: a stale page's button changes nothing.
        services.survey_set_status(
            survey=survey,
            status=request.POST.get("status", ""),
            by=request.user,
            expected=survey.status,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The survey is {survey.get_status_display().lower()}.")
    # The status changes the header, the email card and the link's availability: reload all.
    return HttpResponseRedirect(_detail_url(request, survey))


@editor_required
@require_POST
def survey_duplicate_view(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    if once_repeated(request):
        messages.info(request, "That form was already sent: the survey was duplicated once.")
        return HttpResponseRedirect(env_reverse(request, "surveys:list"))
    copy = services.survey_duplicate(survey=survey, by=request.user)
    messages.success(request, "Survey duplicated: this is the copy (a draft).")
    return HttpResponseRedirect(_detail_url(request, copy))


@editor_required
@require_POST
def survey_thank_you(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    form = ThankYouForm(request.POST)
    if not form.is_valid():
        return _render_builder(request, survey, "thank_you", status=400, thank_you_form=form)
    services.survey_update(survey=survey, thank_you=form.cleaned_data)
    if htmx_fragment(request):
        return _render_builder(request, survey, "thank_you", thank_you_saved=True)
    messages.success(request, "Thank-you step saved.")
    return HttpResponseRedirect(_detail_url(request, survey, "thank_you"))


# --- Questions ------------------------------------------------------------------------------


def _questions_changed(request: HarkRequest, survey: Survey, **extra: Any) -> HttpResponse:
    """After a change to the list: the list partial for htmx, else back to the builder."""
    if htmx_fragment(request):
        survey = _survey(request, survey.uuid)  # re-read the order
        return _render_builder(request, survey, "questions", **extra)
    return HttpResponseRedirect(_detail_url(request, survey, "questions"))


@editor_required
@require_POST
def question_create(request: HarkRequest, uuid: Any) -> HttpResponse:
    survey = _survey(request, uuid)
    try:
        question = services.question_add(survey=survey, kind=request.POST.get("kind", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(_detail_url(request, survey, "questions"))
    if htmx_fragment(request):
        survey = _survey(request, survey.uuid)
        return _render_builder(
            request, survey, "questions", editing=question.pk, preview_question=question
        )
    return HttpResponseRedirect(
        _detail_url(request, survey) + f"?edit={question.pk}#question-{question.pk}"
    )


@editor_required
@require_http_methods(["GET", "HEAD", "POST"])
def question_edit(request: HarkRequest, uuid: Any, question_id: int) -> HttpResponse:
    """GET: the question's edit form (htmx) or the builder with it open. POST: save it."""
    survey = _survey(request, uuid)
    question = _question(survey, question_id)
    if request.method != "POST":
        if htmx_fragment(request):
            can_edit = request.membership.can_edit
            editing = request.GET.get("mode", "edit") == "edit" and can_edit
            item = _item(survey, question, _question_form(survey, question) if editing else None)
            return render(
                request,
                "surveys/_builder_question.html",
                {"item": item, "survey": survey, "can_edit": can_edit},
            )
        return _render_builder(request, survey, editing=question.pk)
    form = _question_form(survey, question, request.POST)
    if form.is_valid():
        try:
            services.question_update(
                question=question,
                title=form.cleaned_data["title"],
                key=form.cleaned_data["key"],
                description=form.cleaned_data["description"],
                required=form.cleaned_data["required"],
                config=form.config(),
                logic=form.logic(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        except Question.DoesNotExist as exc:
            raise Http404("the question was removed") from exc
    if form.errors:
        question.refresh_from_db()
        if htmx_fragment(request):
            item = _item(survey, question, form)
            return render(
                request,
                "surveys/_builder_question.html",
                {"item": item, "survey": survey, "can_edit": True},
                status=422,
            )
        return _render_builder(request, survey, status=400, forms_by_id={question.pk: form})
    if htmx_fragment(request):
        # The key may have changed jumps of other questions: redraw the whole list.
        return retarget(
            _questions_changed(request, survey, preview_question=question), "#questions"
        )
    messages.success(request, "Question saved.")
    return HttpResponseRedirect(_detail_url(request, survey, f"question-{question.pk}"))


def _item(survey: Survey, question: Question, form: QuestionForm | None) -> dict[str, Any]:
    questions = list(survey.questions.all())
    return {
        "question": question,
        "first": questions[0].pk == question.pk,
        "last": questions[-1].pk == question.pk,
        "form": form,
    }


@editor_required
@require_POST
def question_move_view(request: HarkRequest, uuid: Any, question_id: int) -> HttpResponse:
    survey = _survey(request, uuid)
    services.question_move(
        question=_question(survey, question_id), direction=request.POST.get("direction", "")
    )
    return _questions_changed(request, survey)


@editor_required
@require_POST
def question_reorder(request: HarkRequest, uuid: Any) -> HttpResponse:
    """Drag and drop (static/hark/builder.js) posts the new order of question ids."""
    survey = _survey(request, uuid)
    ids = [i for i in map(parse_id, request.POST.getlist("order")) if i is not None]
    services.questions_reorder(survey=survey, ordered_ids=ids)
    return _questions_changed(request, survey)


@require_http_methods(["GET", "POST"])
@editor_required(read_only="surveys:detail")
def question_delete_view(request: HarkRequest, uuid: Any, question_id: int) -> HttpResponse:
    """GET: a confirmation page (the <dialog>'s fallback). POST with confirm: remove the
    question (htmx: the question list again)."""
    survey = _survey(request, uuid)
    question = _question(survey, question_id)
    if not confirmed(request):
        context = {"survey": survey, "question": question}
        back = _detail_url(request, survey, "questions")
        return confirm_page(
            request, "surveys/question_delete.html", context, back=back, back_label=survey.name
        )
    services.question_delete(question=question)
    if not htmx_fragment(request):
        messages.success(request, "Question removed.")
    return _questions_changed(request, survey)


@require_GET
def question_preview(request: HarkRequest, uuid: Any, question_id: int) -> HttpResponse:
    """The respondent's view of a question. With form values in the query (the edit form's
    live preview), they are drawn instead of the saved ones; nothing is written."""
    survey = _survey(request, uuid)
    question = _question(survey, question_id)
    if "title" in request.GET:
        form = _question_form(survey, question, request.GET)
        if form.is_valid():
            question = Question(
                pk=question.pk,
                survey=survey,
                kind=question.kind,
                key=question.key,
                position=question.position,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                required=form.cleaned_data["required"],
                config=_preview_config(question.kind, form.config()),
            )
    if not htmx_fragment(request):
        target = env_reverse(request, "surveys:preview", uuid=survey.uuid)
        return HttpResponseRedirect(f"{target}?q={question.key}")
    context = {"survey": survey, "preview": _preview_context(question)}
    return render(request, "surveys/detail.html#preview", context)


@require_GET
def survey_preview(request: HarkRequest, uuid: Any) -> HttpResponse:
    """The whole survey as respondents see it, step by step, for any status (nothing is
    recorded: the answer controls are inert; Next/Back walk the questions in order)."""
    survey = _survey(request, uuid)
    questions = list(survey.questions.all())
    keys = [q.key for q in questions]
    step = request.GET.get("q", keys[0] if keys else "done")
    base = env_reverse(request, "surveys:preview", uuid=survey.uuid)
    context: dict[str, Any] = {"survey": survey, "builder_url": _detail_url(request, survey)}
    if step in keys:
        index = keys.index(step)
        context.update(
            preview=_preview_context(questions[index]),
            step_number=index + 1,
            step_total=len(keys),
            back_url=f"{base}?q={keys[index - 1]}" if index else "",
            next_url=f"{base}?q={keys[index + 1]}" if index + 1 < len(keys) else f"{base}?q=done",
        )
    else:
        context.update(done=True, back_url=f"{base}?q={keys[-1]}" if keys else "")
    return render(request, "surveys/preview_page.html", context)


def _preview_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        return services.question_config_clean(kind, config)
    except (ValidationError, ValueError, TypeError):
        return services.DEFAULT_CONFIG.get(QuestionKind(kind), {})


# --- Email surveys --------------------------------------------------------------------------


@require_GET
def survey_email(request: HarkRequest, uuid: Any) -> HttpResponse:
    """Generate the HTML block of an email survey (a GET form: nothing is stored)."""
    survey = _survey(request, uuid)
    provider = request.GET.get("provider", "none")
    identify_by = request.GET.get("identify_by", "email")
    signature_tag = request.GET.get("signature_tag", "")[:200]
    problem = email_problem(survey)
    html, error = "", ""
    if not problem:
        base_url = request.build_absolute_uri(
            reverse("surveys:email_answer", kwargs={"public_id": survey.public_id})
        )
        try:
            html = email_block_html(
                survey=survey,
                base_url=base_url,
                provider=provider,
                identify_by=identify_by,
                signature_tag=signature_tag,
            )
        except EmailSurveyError as exc:
            error = str(exc)
    context = {
        "survey": survey,
        "providers": [(key, p.label) for key, p in PROVIDERS.items()],
        "identify_options": IDENTIFY_BY,
        "provider": provider if provider in PROVIDERS else "none",
        "identify_by": identify_by,
        "signature_tag": signature_tag,
        "problem": problem,
        "error": error,
        "html": html,
        "verification": request.environment.identity_verification,
    }
    template = "surveys/email.html#generated" if htmx_fragment(request) else "surveys/email.html"
    return render(request, template, context)
