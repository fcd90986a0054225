"""Invitations: a set-password link reaches the owner of the email only (by email), never the
admin who adds them, and the add-member form answers the same whether or not a login exists.

The attack these guard against: an admin of environment B adds pending@example.com, who was
invited to A and has not chosen a password yet; the page used to show B's admin a set-password
link for that login, and with it B's admin got into A."""

from __future__ import annotations

import re
import socket
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from environments.models import Membership, Role
from environments.services import member_add

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s\"'<]+/set-password/[^\s\"'<]+")


def _add_url(environment) -> str:
    return reverse("environments:member_add", kwargs={"env": environment.slug})


def _settings_url(environment) -> str:
    return reverse("environments:settings", kwargs={"env": environment.slug})


def _message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _set_password_from_email(message, password: str) -> Client:
    """Follow the link of an invitation email as its recipient would, and choose a password."""
    found = LINK.search(message.body)
    assert found is not None, message.body
    link = found.group(0)
    client = Client()
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200 and b"new_password1" in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": password, "new_password2": password},
    )
    assert done.status_code == 302
    return client


def test_admin_of_another_environment_gets_no_link_for_a_pending_login(
    owner_client, environment, outsider_client, other_environment, mailoutbox
):
    # A's admin invites pending@example.com, who has not chosen a password yet.
    owner_client.post(_add_url(environment), {"email": "pending@example.com", "role": "admin"})
    assert not get_user_model().objects.get(email="pending@example.com").has_usable_password()
    mailoutbox.clear()

    # B's admin adds the same address: nothing they can read carries a set-password link.
    response = outsider_client.post(
        _add_url(other_environment), {"email": "pending@example.com", "role": "analyst"}
    )
    seen = [response.content.decode()]
    assert response.status_code == 302
    followed = outsider_client.get(response["Location"])
    seen.append(followed.content.decode())
    seen.append(outsider_client.get(_settings_url(other_environment)).content.decode())
    for page in seen:
        assert "/set-password/" not in page
    assert not any("set-password" in value for _, value in response.items())

    # The link went to the address, and only there.
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["pending@example.com"]
    assert LINK.search(mailoutbox[0].body)

    # Without it, B's admin cannot sign in as the invitee (no password is usable yet).
    attacker = Client().post(
        reverse("environments:login"), {"username": "pending@example.com", "password": ""}
    )
    assert attacker.status_code == 200 and "_auth_user_id" not in attacker.wsgi_request.session
    # The owner of the email uses it and reaches both environments.
    invitee = _set_password_from_email(mailoutbox[0], "a-Long-passphrase-42")
    for env in (environment, other_environment):
        home = reverse("environments:home", kwargs={"env": env.slug})
        assert invitee.get(home).status_code in (200, 302)


def _answer(client, environment, email: str) -> tuple[int, str, list[str], str]:
    response = client.post(_add_url(environment), {"email": email, "role": "contributor"})
    # The page the redirect leads to shows (and so uses up) the message.
    page = client.get(response["Location"])
    texts = [str(m).replace(email, "EMAIL") for m in page.context["messages"]]
    return response.status_code, response["Location"], texts, response.content.decode()


def test_the_form_answers_the_same_whether_or_not_a_login_exists(
    owner_client, environment, other_environment, mailoutbox
):
    member_add(environment=other_environment, email="active@example.com", password=PASSWORD)
    member_add(environment=other_environment, email="pending@example.com")
    answers = {
        email: _answer(owner_client, environment, email)
        for email in ("active@example.com", "pending@example.com", "nobody@example.com")
    }
    first = answers["nobody@example.com"]
    assert first[0] == 302 and first[1].endswith("#team")
    assert all(answer == first for answer in answers.values()), answers
    # Every add sent one email to its address; only the logins without a password got a link.
    assert sorted(m.to[0] for m in mailoutbox) == sorted(answers)
    with_link = {m.to[0] for m in mailoutbox if LINK.search(m.body)}
    assert with_link == {"pending@example.com", "nobody@example.com"}
    # The active login's password was left alone.
    assert get_user_model().objects.get(email="active@example.com").check_password(PASSWORD)


def test_re_adding_a_pending_member_resends_the_invitation(owner_client, environment, mailoutbox):
    owner_client.post(_add_url(environment), {"email": "new@acme.test", "role": "analyst"})
    owner_client.post(_add_url(environment), {"email": "new@acme.test", "role": "manager"})
    assert [m.to for m in mailoutbox] == [["new@acme.test"], ["new@acme.test"]]
    assert Membership.objects.get(user__email="new@acme.test").role == Role.MANAGER
    _set_password_from_email(mailoutbox[1], "a-Long-passphrase-42")
    # Used once: the other link (and this one) no longer work.
    link = LINK.search(mailoutbox[0].body).group(0).split("testserver", 1)[1]
    page = Client().get(link, follow=True)
    assert b"new_password1" not in page.content and b"already used or has expired" in page.content


def test_links_use_hark_base_url_not_the_request_host(
    owner_client, environment, settings, mailoutbox
):
    settings.HARK_BASE_URL = "https://hark.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    owner_client.post(
        _add_url(environment),
        {"email": "new@acme.test", "role": "analyst"},
        HTTP_HOST="attacker.example",
    )
    link = LINK.search(mailoutbox[0].body).group(0)
    assert link.startswith("https://hark.example.com/set-password/")
    assert "attacker.example" not in mailoutbox[0].body


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_mail_server_that_refuses_is_reported_not_a_500(owner_client, environment, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()
    response = owner_client.post(_add_url(environment), {"email": "x@acme.test", "role": "analyst"})
    assert response.status_code == 302
    assert any("could not be sent" in t for t in _message_texts(response))
    assert Membership.objects.filter(environment=environment, user__email="x@acme.test").exists()


def test_a_mail_server_that_never_answers_is_reported_not_waited_for(
    owner_client, environment, settings
):
    """The server takes the connection and never greets: EMAIL_TIMEOUT ends the wait (Django's
    own default waits forever, holding the page), the member is added, the email reported
    unsent."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
        settings.EMAIL_TIMEOUT = 1
        response = owner_client.post(
            _add_url(environment), {"email": "y@acme.test", "role": "analyst"}
        )
    assert response.status_code == 302
    assert any("could not be sent" in t for t in _message_texts(response))
    assert Membership.objects.filter(environment=environment, user__email="y@acme.test").exists()


def test_create_member_emails_the_link_and_never_prints_it(environment, mailoutbox):
    out, err = StringIO(), StringIO()
    call_command(
        "create_member", environment.slug, "ops@example.com", "--base-url",
        "https://hark.example.com", stdout=out, stderr=err,
    )  # fmt: skip
    assert "/set-password/" not in out.getvalue() + err.getvalue()
    assert mailoutbox[0].to == ["ops@example.com"]
    assert LINK.search(mailoutbox[0].body).group(0).startswith("https://hark.example.com/")


def test_create_member_without_an_address_says_how_to_invite(environment, mailoutbox):
    out, err = StringIO(), StringIO()
    call_command("create_member", environment.slug, "ops@example.com", stdout=out, stderr=err)
    assert "--base-url" in err.getvalue() and "/set-password/" not in out.getvalue()
    assert mailoutbox == []
