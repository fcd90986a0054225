"""The Settings page: roles (admins change, everyone else reads), API keys shown once, identity
verification, team members, and the last admin guard."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from environments.models import ApiKey, Membership, Role
from environments.services import api_key_authenticate, api_key_create, member_add
from governance.models import AuditEntry
from tests.helpers import eurl

pytestmark = pytest.mark.django_db


def post_urls(environment, owner) -> list[tuple[str, dict]]:
    key, _ = api_key_create(environment=environment, name="k")
    return [
        (eurl(environment, "environments:settings"), {"name": "Renamed"}),
        (eurl(environment, "environments:api_key_create"), {"name": "x"}),
        (eurl(environment, "environments:api_key_revoke", pk=key.pk), {"confirm": "yes"}),
        (eurl(environment, "environments:identity_verification"), {"enabled": "on"}),
        (eurl(environment, "environments:identity_secret_regenerate"), {"confirm": "yes"}),
        (eurl(environment, "environments:member_add"), {"email": "new@acme.test", "role": "admin"}),
        (eurl(environment, "environments:member_role", pk=owner.pk), {"role": "analyst"}),
        (eurl(environment, "environments:member_remove", pk=owner.pk), {"confirm": "yes"}),
    ]


def test_settings_anonymous_and_outsider(client, outsider_client, environment):
    assert client.get(eurl(environment, "environments:settings"))["Location"].startswith("/login/")
    assert outsider_client.get(eurl(environment, "environments:settings")).status_code == 404


def test_analyst_sees_settings_without_controls_and_gets_403_everywhere(
    analyst_client, environment, owner
):
    response = analyst_client.get(eurl(environment, "environments:settings"))
    assert response.status_code == 200
    html = response.content.decode()
    assert environment.public_key in html
    assert '<form method="post"' not in html.split('id="general"')[1]
    assert environment.identity_secret not in html
    for target, data in post_urls(environment, owner):
        assert analyst_client.post(target, data).status_code == 403, target
    environment.refresh_from_db()
    assert environment.name == "Acme" and not environment.identity_verification


def test_non_admin_editors_cannot_change_settings(environment, owner):
    manager = member_add(environment=environment, email="m@acme.test", role=Role.MANAGER)
    client = Client()
    client.force_login(manager.user)
    assert client.get(eurl(environment, "environments:settings")).status_code == 200
    for target, data in post_urls(environment, owner):
        assert client.post(target, data).status_code == 403, target


def test_admin_renames_the_environment(owner_client, environment):
    response = owner_client.post(eurl(environment, "environments:settings"), {"name": "Acme EU"})
    assert response.status_code == 302
    environment.refresh_from_db()
    assert environment.name == "Acme EU"


def test_admin_sets_the_time_zone_and_a_bad_one_is_refused(owner_client, environment):
    url = eurl(environment, "environments:settings")
    page = owner_client.get(url).content.decode()
    assert '<option value="UTC" selected>UTC</option>' in page
    assert owner_client.post(url, {"name": "Acme", "time_zone": "Asia/Tokyo"}).status_code == 302
    environment.refresh_from_db()
    assert environment.time_zone == "Asia/Tokyo" and environment.zone == "Asia/Tokyo"
    entry = AuditEntry.objects.get(action="environment.update")
    assert (entry.before, entry.after) == ({"time_zone": ""}, {"time_zone": "Asia/Tokyo"})
    assert 'value="Asia/Tokyo" selected' in owner_client.get(url).content.decode()
    # Not a zone (nor SQL): a form error, nothing written.
    response = owner_client.post(url, {"name": "Other", "time_zone": "Mars/Olympus'; --"})
    assert response.status_code == 200
    assert "time_zone" in response.context["name_form"].errors
    environment.refresh_from_db()
    assert (environment.name, environment.time_zone) == ("Acme", "Asia/Tokyo")
    # Back to the instance's zone: stored as "follow the instance".
    owner_client.post(url, {"name": "Acme", "time_zone": "UTC"})
    environment.refresh_from_db()
    assert environment.time_zone == "" and environment.zone == "UTC"


def test_api_key_is_shown_once_then_revoked(owner_client, environment):
    response = owner_client.post(
        eurl(environment, "environments:api_key_create"), {"name": "backend"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-api-key"[^>]*>([^<]+)<', response.content.decode()).group(1)
    key = api_key_authenticate(secret=secret)
    assert key is not None and key.name == "backend" and key.environment == environment
    again = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert secret not in again and key.prefix in again
    owner_client.post(
        eurl(environment, "environments:api_key_revoke", pk=key.pk), {"confirm": "yes"}
    )
    assert api_key_authenticate(secret=secret) is None


def test_a_resubmitted_new_key_form_creates_one_key(owner_client, environment):
    """Reload on the page showing the new key sends its form again: it made a second key (whose
    secret the admin may never have copied)."""
    page = owner_client.get(eurl(environment, "environments:settings"))
    once = re.search(rb'api-keys/.*?name="once" value="([^"]+)"', page.content, re.DOTALL).group(1)
    body = {"name": "backend", "once": once.decode()}
    first = owner_client.post(eurl(environment, "environments:api_key_create"), body)
    assert first.status_code == 200 and b"Copy your new key" in first.content
    again = owner_client.post(eurl(environment, "environments:api_key_create"), body)
    assert again.status_code == 302
    assert ApiKey.objects.filter(environment=environment).count() == 1


def test_key_of_another_environment_cannot_be_revoked(owner_client, environment, other_environment):
    key, _secret = api_key_create(environment=other_environment)
    response = owner_client.post(
        eurl(environment, "environments:api_key_revoke", pk=key.pk), {"confirm": "yes"}
    )
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_identity_verification_toggle_and_secret_regeneration(owner_client, environment):
    page = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert environment.identity_secret in page
    owner_client.post(eurl(environment, "environments:identity_verification"), {"enabled": "on"})
    environment.refresh_from_db()
    assert environment.identity_verification
    owner_client.post(eurl(environment, "environments:identity_verification"), {})
    environment.refresh_from_db()
    assert not environment.identity_verification
    old = environment.identity_secret
    owner_client.post(
        eurl(environment, "environments:identity_secret_regenerate"), {"confirm": "yes"}
    )
    environment.refresh_from_db()
    assert environment.identity_secret != old and len(environment.identity_secret) == 64


def test_install_section_shows_the_public_key_and_working_snippets(owner_client, environment):
    html = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert environment.public_key in html
    assert "http://testserver/api/v1/identify-user" in html
    assert "http://testserver/segment" in html


def test_admin_adds_a_member_who_sets_a_password_with_the_emailed_link(
    owner_client, environment, mailoutbox
):
    response = owner_client.post(
        eurl(environment, "environments:member_add"), {"email": "New@Acme.test", "role": "analyst"}
    )
    assert response.status_code == 302
    # The link is emailed to the member, never shown to the admin.
    assert "set-password" not in owner_client.get(response["Location"]).content.decode()
    assert mailoutbox[0].to == ["new@acme.test"]
    link = re.search(r"http://testserver(/set-password/\S+)", mailoutbox[0].body).group(1)
    membership = Membership.objects.get(environment=environment, user__email="new@acme.test")
    assert membership.role == Role.ANALYST
    invited = Client()
    form_page = invited.get(link, follow=True)
    assert form_page.status_code == 200 and b"new_password1" in form_page.content
    done = invited.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"new_password1": "a-Long-passphrase-42", "new_password2": "a-Long-passphrase-42"},
    )
    assert done.status_code == 302
    user = get_user_model().objects.get(email="new@acme.test")
    assert user.check_password("a-Long-passphrase-42")


def test_adding_an_existing_member_changes_their_role(owner_client, environment, analyst):
    owner_client.post(
        eurl(environment, "environments:member_add"),
        {"email": analyst.user.email, "role": "manager"},
    )
    analyst.refresh_from_db()
    assert analyst.role == Role.MANAGER


def test_change_role_and_remove_member(owner_client, environment, analyst):
    owner_client.post(
        eurl(environment, "environments:member_role", pk=analyst.pk), {"role": "contributor"}
    )
    analyst.refresh_from_db()
    assert analyst.role == Role.CONTRIBUTOR
    owner_client.post(
        eurl(environment, "environments:member_remove", pk=analyst.pk), {"confirm": "yes"}
    )
    assert not Membership.objects.filter(pk=analyst.pk).exists()


def test_the_last_admin_cannot_be_removed_or_demoted(owner_client, environment, owner):
    owner_client.post(
        eurl(environment, "environments:member_role", pk=owner.pk), {"role": "analyst"}
    )
    owner_client.post(
        eurl(environment, "environments:member_remove", pk=owner.pk), {"confirm": "yes"}
    )
    owner_client.post(
        eurl(environment, "environments:member_add"), {"email": owner.user.email, "role": "analyst"}
    )
    owner.refresh_from_db()
    assert owner.role == Role.ADMIN
    page = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert "at least one admin" in page
    # With a second admin, the first may step down.
    member_add(environment=environment, email="second@acme.test", role=Role.ADMIN)
    owner_client.post(
        eurl(environment, "environments:member_role", pk=owner.pk), {"role": "manager"}
    )
    owner.refresh_from_db()
    assert owner.role == Role.MANAGER


# --- Confirmation without JavaScript ---------------------------------------------------------


def test_revoking_a_key_without_confirmation_changes_nothing_and_asks_again(
    owner_client, environment
):
    key, secret = api_key_create(environment=environment, name="backend")
    revoke = eurl(environment, "environments:api_key_revoke", pk=key.pk)
    # Without JavaScript the Revoke link leads to a confirmation page.
    settings_page = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert f'href="{revoke}" data-dialog-open="revoke-key-{key.pk}"' in settings_page
    page = owner_client.get(revoke)
    assert page.status_code == 200
    assert f"Revoke key {key.prefix}…?" in page.content.decode()
    assert 'name="confirm" value="yes"' in page.content.decode()
    # A POST without confirm=yes revokes nothing and says so.
    response = owner_client.post(revoke)
    assert response.status_code == 200
    assert "Nothing was changed" in response.content.decode()
    assert api_key_authenticate(secret=secret) is not None
    # Confirmed (the page's form, or the dialog's), it is revoked.
    assert owner_client.post(revoke, {"confirm": "yes"}).status_code == 302
    assert api_key_authenticate(secret=secret) is None


def test_removing_a_member_without_confirmation_changes_nothing_and_asks_again(
    owner_client, environment, analyst
):
    remove = eurl(environment, "environments:member_remove", pk=analyst.pk)
    settings_page = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert f'href="{remove}" data-dialog-open="remove-member-{analyst.pk}"' in settings_page
    page = owner_client.get(remove).content.decode()
    assert f"Remove {analyst.user.email}?" in page
    response = owner_client.post(remove)
    assert response.status_code == 200
    assert "Nothing was changed" in response.content.decode()
    assert Membership.objects.filter(pk=analyst.pk).exists()
    assert owner_client.post(remove, {"confirm": "yes"}).status_code == 302
    assert not Membership.objects.filter(pk=analyst.pk).exists()


def test_regenerating_the_secret_without_confirmation_changes_nothing(owner_client, environment):
    old = environment.identity_secret
    regenerate = eurl(environment, "environments:identity_secret_regenerate")
    assert "Regenerate the identity secret?" in owner_client.get(regenerate).content.decode()
    assert "Nothing was changed" in owner_client.post(regenerate).content.decode()
    environment.refresh_from_db()
    assert environment.identity_secret == old


def test_the_dialogs_send_the_confirmation(owner_client, environment, analyst):
    key, _secret = api_key_create(environment=environment)
    html = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    for dialog_id, action in [
        (f"revoke-key-{key.pk}", eurl(environment, "environments:api_key_revoke", pk=key.pk)),
        (
            f"remove-member-{analyst.pk}",
            eurl(environment, "environments:member_remove", pk=analyst.pk),
        ),
        ("regenerate-secret", eurl(environment, "environments:identity_secret_regenerate")),
    ]:
        dialog = html.split(f'<dialog id="{dialog_id}"', 1)[1].split("</dialog>", 1)[0]
        assert f'action="{action}"' in dialog
        assert '<input type="hidden" name="confirm" value="yes">' in dialog


def test_analyst_cannot_confirm_either(analyst_client, environment, owner):
    key, secret = api_key_create(environment=environment)
    revoke = eurl(environment, "environments:api_key_revoke", pk=key.pk)
    assert analyst_client.post(revoke, {"confirm": "yes"}).status_code == 403
    assert analyst_client.post(revoke).status_code == 403
    remove = eurl(environment, "environments:member_remove", pk=owner.pk)
    assert analyst_client.post(remove, {"confirm": "yes"}).status_code == 403
    assert api_key_authenticate(secret=secret) is not None
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_member_of_another_environment_is_404(owner_client, environment, outsider):
    remove = eurl(environment, "environments:member_remove", pk=outsider.pk)
    assert owner_client.post(remove, {"confirm": "yes"}).status_code == 404
    assert Membership.objects.filter(pk=outsider.pk).exists()


def test_settings_values_render_as_text(owner_client, environment):
    payload = "<script>window.__pwned=1</script>"
    owner_client.post(eurl(environment, "environments:settings"), {"name": payload})
    api_key_create(environment=environment, name=payload)
    html = owner_client.get(eurl(environment, "environments:settings")).content.decode()
    assert "<script>window" not in html and "&lt;script&gt;window" in html
