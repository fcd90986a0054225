"""Dashboard pages for delivery: the builder's "Web (in-product)" targeting with its sentence,
audience estimate, translations and "Test targeting"; the User Detail Panel's "Surveys"
section; Settings → Web client & appearance. Thin: parse, call a service or selector, render.
Each URL renders a full page, and its fragment for htmx."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from core.http import HarkRequest, htmx_fragment
from core.urls import env_reverse
from environments.permissions import admin_required, editor_required
from profiles.models import Profile
from profiles.selectors import profile_search_q
from segments.models import Segment
from surveys.models import Survey, SurveyStatus

from . import selectors, services, summary
from .forms import DeliverySettingsForm, TargetingForm
from .models import SurveyTargeting, SurveyTranslation
from .services import Refused
from .targeting import SurveyPlan

USER_SEARCH_LIMIT = 8


def _survey(request: HarkRequest, uuid: UUID) -> Survey:
    return get_object_or_404(Survey, uuid=uuid, environment=request.environment)


def _segments(request: HarkRequest) -> list[tuple[int, str]]:

    return list(
        Segment.objects.filter(environment=request.environment)
        .order_by("name")
        .values_list("pk", "name")
    )


def _plan(survey: Survey) -> SurveyPlan:
    [plan] = selectors.plans_for(
        selectors.surveys_with_targeting(
            environment_id=survey.environment_id, survey_ids=[survey.pk], live_web_only=False
        )
    )
    return plan


def _errors_text(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _targeting_context(
    request: HarkRequest, survey: Survey, form: TargetingForm | None = None, **extra: Any
) -> dict[str, Any]:
    targeting = SurveyTargeting.objects.filter(survey=survey).first() or SurveyTargeting(
        survey=survey
    )
    segments = _segments(request)
    plan = _plan(survey)
    names = dict(segments)
    return {
        "survey": survey,
        "form": form
        or TargetingForm(initial=TargetingForm.initial_from(targeting), segments=segments),
        "targeting": targeting,
        "sentence": summary.sentence(plan, names),
        "estimate": summary.audience_estimate(environment_id=survey.environment_id, plan=plan),
        "web_on": "web" in (survey.channels or []),
        "translations": list(SurveyTranslation.objects.filter(survey=survey).order_by("locale")),
        "can_edit": request.membership.can_edit,
        **extra,
    }


@editor_required
@require_http_methods(["GET", "HEAD", "POST"])
def targeting(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """The survey's Web (in-product) targeting: GET shows it, POST saves it (htmx swaps
    #targeting; without JavaScript the page redirects back)."""
    survey = _survey(request, uuid)
    status = 200
    form = None
    saved = False
    if request.method == "POST":
        form = TargetingForm(request.POST, segments=_segments(request))
        if form.is_valid():
            try:
                services.targeting_update(survey=survey, values=form.values())
            except ValidationError as exc:
                for field, errors in _errors_text(exc).items():
                    form.add_error(field if field in form.fields else None, errors)
                status = 400
            else:
                if not htmx_fragment(request):
                    messages.success(request, "Targeting saved.")
                    return HttpResponseRedirect(
                        env_reverse(request, "delivery:targeting", uuid=uuid)
                    )
                form, saved = None, True
        else:
            status = 400
    context = _targeting_context(request, survey, form, saved=saved)
    template = (
        "delivery/targeting.html#targeting" if htmx_fragment(request) else "delivery/targeting.html"
    )
    response = render(request, template, context, status=status)
    if saved:
        trigger_client_event(response, "targetingSaved", {"survey": str(survey.uuid)})
    return response


@editor_required
@require_http_methods(["POST"])
def resample(request: HarkRequest, uuid: UUID) -> HttpResponse:
    survey = _survey(request, uuid)
    services.targeting_resample(survey=survey)
    messages.success(request, "Everyone will be drawn again for the sample.")
    return HttpResponseRedirect(env_reverse(request, "delivery:targeting", uuid=uuid))


@require_GET
def test_targeting(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """ "Test targeting": search a user as you type, pick a page URL, see every gate."""

    survey = _survey(request, uuid)
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    url = request.GET.get("url", "").strip()
    url_error = ""
    if url:
        try:
            url = services.url_clean(url) or ""
        except Refused as exc:
            url_error, url = exc.detail, ""
    matches: list[Profile] = []
    if query:
        matches = list(
            Profile.objects.filter(environment=request.environment)
            .filter(profile_search_q(environment_id=request.environment.pk, text=query))
            .order_by("-last_seen_at")[:USER_SEARCH_LIMIT]
        )
    picked = None
    decision = None
    user = request.GET.get("user", "")
    if user:
        try:
            picked = Profile.objects.filter(
                environment=request.environment, uuid=UUID(user)
            ).first()
        except ValueError:
            picked = None
    if picked is not None:
        decision = selectors.explain(
            survey=survey, facts=selectors.facts_for_profile(picked), url=url or None
        )
    context = {
        "survey": survey,
        "q": query,
        "url": request.GET.get("url", ""),
        "url_error": url_error,
        "matches": matches,
        "picked": picked,
        "decision": decision,
    }
    template = "delivery/test.html#test-result" if htmx_fragment(request) else "delivery/test.html"
    return render(request, template, context)


@editor_required
@require_http_methods(["GET", "HEAD", "POST"])
def translation(request: HarkRequest, uuid: UUID, locale: str) -> HttpResponse:
    """A survey's texts in one language. POST saves them (empty: default language). The page
    of "pt_BR" is the page of "pt-br", the form translations are stored under (a GET is
    redirected there): it read, saved and removed under different names."""
    survey = _survey(request, uuid)
    canonical = services.translation_locale(locale)
    if canonical != locale and request.method in ("GET", "HEAD"):
        return HttpResponseRedirect(
            env_reverse(request, "delivery:translation", uuid=uuid, locale=canonical)
        )
    locale = canonical
    questions = list(survey.questions.order_by("position", "id"))
    existing = selectors.translation_of(survey=survey, locale=locale)
    texts = existing.texts if existing else {}
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            services.translation_delete(survey=survey, locale=locale)
            messages.success(request, f"The {locale} translation was removed.")
            return HttpResponseRedirect(env_reverse(request, "delivery:targeting", uuid=uuid))
        posted: dict[str, Any] = {"questions": {}, "thank_you": {}}
        for question in questions:
            item: dict[str, Any] = {
                key: request.POST.get(f"{question.key}__{key}", "")
                for key in ("title", "description", "low_label", "high_label", "placeholder")
            }
            choices = request.POST.get(f"{question.key}__choices", "")
            if choices.strip():
                item["choices"] = choices.splitlines()
            posted["questions"][question.key] = item
        for key in ("title", "message", "button_label"):
            posted["thank_you"][key] = request.POST.get(f"thank_you__{key}", "")
        try:
            services.translation_set(survey=survey, locale=locale, texts=posted)
        except ValidationError as exc:
            error = " ".join(exc.messages)
            texts = posted
        else:
            messages.success(request, f"Translation ({locale}) saved.")
            return HttpResponseRedirect(
                env_reverse(request, "delivery:translation", uuid=uuid, locale=locale)
            )
    rows = []
    for question in questions:
        item = (texts.get("questions") or {}).get(question.key) or {}
        rows.append(
            {
                "question": question,
                "texts": item,
                "choices": "\n".join(item.get("choices") or []),
                "default_choices": "\n".join((question.config or {}).get("choices") or []),
            }
        )
    context = {
        "survey": survey,
        "locale": locale,
        "rows": rows,
        "thank_you": texts.get("thank_you") or {},
        "error": error,
        "can_edit": request.membership.can_edit,
    }
    return render(request, "delivery/translation.html", context, status=400 if error else 200)


@require_GET
def translation_pick(request: HarkRequest, uuid: UUID) -> HttpResponse:
    _survey(request, uuid)  # another environment's survey: 404
    locale = services.translation_locale(request.GET.get("locale"))[:20] or "de"
    return HttpResponseRedirect(
        env_reverse(request, "delivery:translation", uuid=uuid, locale=locale)
    )


@require_GET
def profile_surveys(request: HarkRequest, profile_uuid: UUID) -> HttpResponse:
    """The User Detail Panel's "Surveys" section (hx-get on load): each live web survey,
    shown / would show now / would not, with the reason and when it becomes eligible."""
    profile = get_object_or_404(Profile, uuid=profile_uuid, environment=request.environment)
    facts = selectors.facts_for_profile(profile)
    evaluation = selectors.evaluate_all(
        environment_id=request.environment.pk, facts=facts, url=None
    )
    rows = []
    for decision in evaluation.decisions:
        history = facts.history.get(decision.plan.id)
        if decision.eligible:
            state = "would_show"
        elif history and history.responses:
            state = "shown"
        else:
            state = "would_not"
        rows.append(
            {
                "survey": evaluation.surveys[decision.plan.id],
                "state": state,
                "decision": decision,
                "failed": decision.failed,
                "history": history,
            }
        )
    context = {"profile": profile, "rows": rows}
    return render(request, "delivery/_profile_surveys.html", context)


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def settings_page(request: HarkRequest) -> HttpResponse:
    """Settings → Web client & appearance: theme, throttle, allowed origins, page views."""
    current = selectors.delivery_settings(request.environment.pk)
    status = 200
    if request.method == "POST":
        form = DeliverySettingsForm(request.POST)
        if form.is_valid():
            try:
                services.delivery_settings_update(
                    environment=request.environment, values=form.cleaned_data
                )
            except ValidationError as exc:
                for field, errors in _errors_text(exc).items():
                    form.add_error(field if field in form.fields else None, errors)
                status = 400
            else:
                messages.success(request, "Web client settings saved.")
                return HttpResponseRedirect(env_reverse(request, "delivery:settings"))
        else:
            status = 400
    else:
        form = DeliverySettingsForm(
            initial={
                **{f: getattr(current, f) for f in DeliverySettingsForm.base_fields},
                "allowed_origins": "\n".join(current.allowed_origins or []),
            }
        )
    context = {
        "form": form,
        "settings": current,
        "is_admin": request.membership.is_admin,
        "live_web": Survey.objects.filter(
            environment=request.environment, status=SurveyStatus.LIVE, channels__contains=["web"]
        ).count(),
    }
    return render(request, "delivery/settings.html", context, status=status)
