"""Identity verification on survey links, tried as an attacker would: from outside, through the
test client, with links an attacker can make from a link signed for themselves."""

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from profiles.models import Profile
from surveys import link as survey_link
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from surveys.models import Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(environment):
    environment.identity_verification = True
    environment.save()
    survey = SurveyFactory(environment=environment, live=True)
    QuestionFactory(survey=survey, kind="nps", key="nps")
    QuestionFactory(survey=survey, kind="text", key="why", required=False)
    return survey


@pytest.fixture
def victim(environment, survey):
    profile = Profile.objects.create(
        environment=environment, email="victim@example.com", traits={"plan": "enterprise"}
    )
    ResponseFactory(survey=survey, profile=profile, data={"nps": 2})
    return profile


def url(survey, query: str = "") -> str:
    base = reverse("surveys:link", kwargs={"public_id": survey.public_id})
    return f"{base}?{query}" if query else base


def snapshot(environment):
    return (
        sorted(
            Profile.objects.filter(environment=environment).values_list("pk", "user_id", "email")
        ),
        sorted(Response.objects.values_list("pk", "profile_id", "show_count")),
    )


@pytest.mark.parametrize("email_param", ["contact_email", "email"])
def test_link_signed_for_an_id_cannot_bring_an_unsigned_email(
    client, environment, survey, victim, email_param
):
    """The attack this prevents: a link signed for `u-attacker` plus the victim's email attached
    the attacker's id to the victim's profile, with her traits and half-finished response."""
    before = snapshot(environment)
    signature = survey_link.sign(environment.identity_secret, "u-attacker")
    for email in ("victim@example.com", "VICTIM@example.com", "victim%40example.com"):
        page = client.get(url(survey, f"id=u-attacker&{email_param}={email}&signature={signature}"))
        assert page.status_code == 403, page.content
        assert b"could not be verified" in page.content
    assert snapshot(environment) == before
    victim.refresh_from_db()
    assert victim.user_id is None and victim.traits == {"plan": "enterprise"}


def test_link_signed_for_an_id_cannot_rewrite_the_stored_email(client, environment, survey):
    user = Profile.objects.create(environment=environment, user_id="u-7", email="old@example.com")
    signature = survey_link.sign(environment.identity_secret, "u-7")
    page = client.get(url(survey, f"id=u-7&email=new@example.com&signature={signature}"))
    assert page.status_code == 403
    user.refresh_from_db()
    assert user.email == "old@example.com"


def test_without_verification_a_signature_still_covers_every_identifier(
    client, environment, survey, victim
):
    environment.identity_verification = False
    environment.save()
    signature = survey_link.sign(environment.identity_secret, "u-attacker")
    page = client.get(url(survey, f"id=u-attacker&email=victim@example.com&signature={signature}"))
    assert page.status_code == 403
    victim.refresh_from_db()
    assert victim.user_id is None


def test_id_and_email_signed_together_are_accepted(client, environment, survey):
    signature = survey_link.link_signature(
        environment.identity_secret, user_id="u-9", email="Ann@Example.com"
    )
    assert signature == survey_link.sign(environment.identity_secret, "u-9\nann@example.com")
    page = client.get(url(survey, f"id=u-9&email=ANN@example.com&signature={signature}"))
    assert page.status_code == 200, page.content
    profile = Profile.objects.get(user_id="u-9")
    assert profile.email == "ann@example.com"


def test_an_email_is_signed_in_its_canonical_form(client, environment, survey):
    good = survey_link.sign(environment.identity_secret, "ann@example.com")
    page = client.get(url(survey, f"email=%20Ann@Example.COM%20&signature={good}"))
    assert page.status_code == 200
    assert Profile.objects.get(environment=environment).email == "ann@example.com"
    as_typed = survey_link.sign(environment.identity_secret, "Ann@Example.COM")
    page = client.get(url(survey, f"email=Ann@Example.COM&signature={as_typed}"))
    assert page.status_code == 403


def test_a_signed_email_does_not_let_an_id_ride_along(client, environment, survey):
    signature = survey_link.sign(environment.identity_secret, "ann@example.com")
    page = client.get(url(survey, f"email=ann@example.com&id=u-victim&signature={signature}"))
    assert page.status_code == 403
    assert not Profile.objects.exists()


def test_a_link_that_has_expired_is_refused_and_writes_nothing(client, environment, survey):
    past = int(time.time()) - 60
    signature = survey_link.link_signature(environment.identity_secret, user_id="u-1", expires=past)
    page = client.get(url(survey, f"id=u-1&expires={past}&signature={signature}"))
    assert page.status_code == 410
    assert b"has expired" in page.content
    assert not Profile.objects.exists() and not Response.objects.exists()


def test_a_link_within_its_expiry_is_accepted(client, environment, survey):
    future = int(time.time()) + 3600
    signature = survey_link.link_signature(
        environment.identity_secret, user_id="u-1", expires=future
    )
    assert signature == survey_link.sign(environment.identity_secret, f"u-1\n{future}")
    page = client.get(url(survey, f"id=u-1&expires={future}&signature={signature}"))
    assert page.status_code == 200
    assert Profile.objects.filter(user_id="u-1").exists()


def test_the_expiry_is_covered_by_the_signature(client, environment, survey):
    soon = int(time.time()) + 60
    signature = survey_link.link_signature(environment.identity_secret, user_id="u-1", expires=soon)
    for query in (
        f"id=u-1&expires={soon + 10**9}&signature={signature}",  # pushed later
        f"id=u-1&signature={signature}",  # removed
    ):
        assert client.get(url(survey, query)).status_code == 403
    # A link signed without an expiry cannot be given one by its holder either.
    plain = survey_link.sign(environment.identity_secret, "u-1")
    assert client.get(url(survey, f"id=u-1&expires={soon}&signature={plain}")).status_code == 403
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    "expires",
    ["tomorrow", "-5", "1.5", "1" * 13, "9" * 5000, "%EF%BC%91%EF%BC%92", "1%0A"],
    ids=["word", "negative", "decimal", "13-digits", "5000-digits", "fullwidth", "newline"],
)
def test_a_malformed_expiry_is_a_clear_page(client, environment, survey, expires):
    page = client.get(url(survey, f"expires={expires}"))
    assert page.status_code == 400
    assert b"<h1>" in page.content
    assert not Response.objects.exists()


@pytest.mark.parametrize("value", ["u%0A1", "u%091", "u%7F1"])
def test_an_id_with_a_control_character_is_refused(client, environment, survey, value):
    """A newline would let one signed message pose as another (id + email)."""
    environment.identity_verification = False
    environment.save()
    page = client.get(url(survey, f"id={value}"))
    assert page.status_code == 400
    assert not Profile.objects.exists()


def test_unsigned_contact_traits_ride_on_a_signed_link_to_that_person_only(
    client, environment, survey, victim
):
    signature = survey_link.sign(environment.identity_secret, "u-attacker")
    page = client.get(url(survey, f"id=u-attacker&contact_plan=free&signature={signature}"))
    assert page.status_code == 200
    assert Profile.objects.get(user_id="u-attacker").traits == {"plan": "free"}
    victim.refresh_from_db()
    assert victim.traits == {"plan": "enterprise"}


def test_a_signed_link_does_not_take_over_the_devices_anonymous_history(
    client, environment, survey
):
    """Someone forwards their signed link; it is opened on a device with an anonymous history
    (an answer given through an anonymous link): that history stays with the device."""
    survey.mode = "anonymous"  # it answers links without an identity, and signed ones too
    survey.save()
    anonymous = client.get(url(survey))
    assert anonymous.status_code == 200
    device_profile = Profile.objects.get(environment=environment)
    response = Response.objects.get(profile=device_profile)
    response.data = {"nps": 0}
    response.save()
    signature = survey_link.sign(environment.identity_secret, "u-forwarded")
    assert client.get(url(survey, f"id=u-forwarded&signature={signature}")).status_code == 200
    signed = Profile.objects.get(user_id="u-forwarded")
    assert signed.anonymous_id is None
    assert list(Response.objects.filter(profile=signed).values_list("data", flat=True)) == [{}]
    device_profile.refresh_from_db()
    assert Response.objects.get(pk=response.pk).profile_id == device_profile.pk


def test_the_readme_signing_example_makes_accepted_signatures(client, environment, survey):
    """The Python example in README is the one third parties copy: run it."""
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    block = re.search(r"```python\n([^`]*?def hark_link_signature.*?)```", readme, re.S)
    assert block is not None, "README lost its signing example"
    namespace: dict = {}
    exec(block.group(1), namespace)  # our own README
    make = namespace["hark_link_signature"]
    secret = environment.identity_secret
    expires = int(time.time()) + 600
    cases = [
        ({"user_id": "u-1"}, "id=u-1"),
        ({"email": " Ann@Example.com"}, "email=ann@example.com"),
        ({"user_id": "u-1", "email": "Ann@Example.com"}, "id=u-1&email=ann@example.com"),
        ({"user_id": "u-1", "expires": expires}, f"id=u-1&expires={expires}"),
    ]
    for kwargs, query in cases:
        made = make(secret, **kwargs)
        assert made == survey_link.link_signature(secret, **kwargs)
        page = client.get(url(survey, f"{query}&signature={made}"))
        assert page.status_code == 200, (kwargs, page.content)


def test_signed_message_parts_cannot_pose_as_each_other():
    assert survey_link.signed_message(user_id="u") == "u"
    assert survey_link.signed_message(email="A@B.co") == "a@b.co"
    assert survey_link.signed_message(user_id="u", email="a@b.co", expires=5) == "u\na@b.co\n5"
    # "u\n5" is an id and an expiry, never an id and an email: an email holds "@", an expiry
    # is digits, and an id holds no newline (test_an_id_with_a_control_character_is_refused).
    assert survey_link.signed_message(user_id="u", expires=5) == "u\n5"


def _email_block(owner_client, survey, **params):
    url = reverse("surveys:email", kwargs={"env": survey.environment.slug, "uuid": survey.uuid})
    return owner_client.get(url, {"provider": "hubspot", "identify_by": "email", **params})


def test_email_survey_under_verification_carries_a_signature_merge_tag(
    owner_client, client, environment, survey
):
    """The email provider replaces the merge tags when it sends: the contact's email, and a
    contact field holding the signature the team's backend computed once for that contact."""
    page = _email_block(owner_client, survey, signature_tag="{{ contact.hark_signature }}")
    html = page.context["html"]
    assert "signature={{ contact.hark_signature }}" in html
    assert b"identified links will be refused" not in page.content
    href = html.split('href="')[10].split('"')[0].replace("&amp;", "&")
    signature = survey_link.link_signature(environment.identity_secret, email="Eve@Example.com")
    sent = href.replace("{{ contact.email }}", "Eve@Example.com").replace(
        "{{ contact.hark_signature }}", signature
    )
    reply = client.get(sent)
    assert reply.status_code == 302, reply.content
    response = Response.objects.get()
    assert response.profile.email == "eve@example.com" and response.channel == "email"
    # Someone editing the email in a received link is refused.
    forged = sent.replace("Eve@Example.com", "victim@example.com")
    assert client.get(forged).status_code == 403
    assert Response.objects.count() == 1


def test_email_block_without_signature_tag_warns_under_verification(owner_client, survey):
    page = _email_block(owner_client, survey)
    assert b"identified links will be refused" in page.content


@pytest.mark.parametrize("tag", ['x" onmouseover="alert(1)', "<b>", "a&email=victim", "a#b"])
def test_a_signature_tag_that_could_break_out_of_the_link_is_refused(owner_client, survey, tag):
    page = _email_block(owner_client, survey, signature_tag=tag)
    assert page.status_code == 200
    assert page.context["html"] == ""
    assert b"signature merge tag may not contain" in page.content
