"""Email surveys: the HTML block pasted into an email, one answer link per value of the
survey's first question, with the email provider's merge tag identifying the respondent.

The merge tag goes into the link as it is (not URL-encoded), because the provider replaces the
literal tag when it sends. The survey link page turns a space back into "+" in emails, which is
what an unencoded "+" becomes in a query string.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.template.loader import render_to_string

from . import answers as answer_rules
from .models import Channel, Question, QuestionKind, Survey, SurveyMode, SurveyStatus


@dataclass(frozen=True)
class Provider:
    label: str
    email_tag: str | None
    user_id_tag: str | None


# Merge tags for the respondent's email address and user id, per provider.
PROVIDERS: dict[str, Provider] = {
    "none": Provider("No provider (anonymous answers)", None, None),
    "mailchimp": Provider("Mailchimp", "*|EMAIL|*", None),
    "hubspot": Provider("HubSpot", "{{ contact.email }}", None),
    "customerio": Provider("Customer.io", "{{ customer.email }}", "{{ customer.id }}"),
    "intercom": Provider("Intercom", "{{ email }}", "{{ user_id }}"),
    "sendgrid": Provider("SendGrid (dynamic templates)", "{{email}}", None),
    "sendgrid_legacy": Provider("SendGrid (legacy substitution tags)", "-email-", None),
    "braze": Provider("Braze", "{{${email_address}}}", "{{${user_id}}}"),
    "klaviyo": Provider("Klaviyo", "{{ email }}", None),
}
IDENTIFY_BY = (("email", "Email address"), ("user_id", "User id"))


class EmailSurveyError(ValueError):
    pass


def email_question(survey: Survey) -> Question | None:
    """The first question, when an email can carry its answers (one click per value)."""
    first = next(iter(survey.questions.all()), None)
    if first is None or first.kind not in answer_rules.ONE_CLICK_KINDS:
        return None
    return first


def email_problem(survey: Survey) -> str:
    """Why the survey cannot be sent by email ("" when it can)."""
    if survey.status != SurveyStatus.LIVE:
        return "Publish the survey first: answer links only work for a live survey."
    if Channel.EMAIL not in (survey.channels or []):
        return (
            "Turn on the Email channel in the survey's settings: until then its answer links "
            "do not answer."
        )
    if email_question(survey) is None:
        return (
            "The first question must be NPS, CSAT, CES, a rating or a single choice, so that "
            "each answer fits one link."
        )
    return ""


SIGNATURE_TAG_MAX_LENGTH = 100


def signature_tag_clean(tag: str) -> str:
    """The merge tag of a per-contact signature field, as typed (stripped); EmailSurveyError
    when it could break out of the link (quotes, angle brackets, "&", "#", control chars)."""
    tag = (tag or "").strip()
    if len(tag) > SIGNATURE_TAG_MAX_LENGTH:
        raise EmailSurveyError(
            f"The signature merge tag is longer than {SIGNATURE_TAG_MAX_LENGTH} characters."
        )
    if any(ch in "\"'<>&#?" or ord(ch) < 32 for ch in tag):
        raise EmailSurveyError(
            "The signature merge tag may not contain quotes, <, >, &, # or ?: use your "
            "provider's tag for a custom field, such as {{ contact.hark_signature }}."
        )
    return tag


def answer_links(
    *, survey: Survey, base_url: str, provider: str, identify_by: str, signature_tag: str = ""
) -> list[tuple[str, str, str]]:
    """(value, label, href) for every answer of the first question. `signature_tag`: the
    provider's merge tag for a custom field holding each contact's link signature (made by
    your backend: see README, "Identity verification"), for environments that verify
    identity."""
    question = email_question(survey)
    if question is None:
        raise EmailSurveyError(email_problem(survey))
    chosen = PROVIDERS.get(provider)
    if chosen is None:
        raise EmailSurveyError("Unknown email provider.")
    tag_param = ""
    if provider == "none" and survey.mode == SurveyMode.IDENTIFIED:
        raise EmailSurveyError(
            "This survey takes answers from identified users only: choose your email provider, "
            "so that each link carries the respondent's email or user id."
        )
    if provider != "none":
        tag = chosen.email_tag if identify_by == "email" else chosen.user_id_tag
        if tag is None:
            raise EmailSurveyError(f"{chosen.label} has no merge tag for the user id: use email.")
        tag_param = f"&{'email' if identify_by == 'email' else 'id'}={tag}"
        signature = signature_tag_clean(signature_tag)
        if signature:
            tag_param += f"&signature={signature}"
    links = []
    for value in answer_rules.allowed_values(question) or []:
        query = urlencode({"answer": value})
        label = str(value)
        if question.kind == QuestionKind.CSAT:
            label = answer_rules.CSAT_EMOJI.get(value, label)
        links.append((str(value), label, f"{base_url}?{query}{tag_param}"))
    return links


def email_block_html(
    *,
    survey: Survey,
    base_url: str,
    provider: str,
    identify_by: str = "email",
    signature_tag: str = "",
) -> str:
    """The HTML to paste: a table of links, inline styles only, no script."""
    question = email_question(survey)
    links = answer_links(
        survey=survey,
        base_url=base_url,
        provider=provider,
        identify_by=identify_by,
        signature_tag=signature_tag,
    )
    assert question is not None
    vertical = question.kind == QuestionKind.SINGLE_CHOICE
    config = question.config or {}
    html = render_to_string(
        "surveys/email_block.html",
        {
            "question": question,
            "links": [
                {
                    "value": v,
                    "label": label,
                    "href": href,
                    "title": answer_rules.value_label(question, _typed(question, v)),
                }
                for v, label, href in links
            ],
            "vertical": vertical,
            "low_label": config.get("low_label", ""),
            "high_label": config.get("high_label", ""),
        },
    )
    # Compact the template's indentation: email editors keep every byte.
    return "\n".join(line.strip() for line in html.splitlines() if line.strip())


def _typed(question: Question, value: str) -> object:
    if question.kind in answer_rules.NUMERIC_KINDS:
        return int(value)
    return value
