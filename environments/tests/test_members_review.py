"""Team membership, roles and environment settings as a hostile or unlucky member meets them:
the last admin, concurrent changes, members removed or demoted mid-session, another
environment's slugs and ids, hostile input, and resubmitted forms. Never a 500; a form error,
403 or 404; nothing written on refusal."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from environments import services
from environments.models import ApiKey, Membership, Role
from environments.services import api_key_create, member_add
from governance.models import AuditEntry
from tests.helpers import eurl, race

pytestmark = pytest.mark.django_db

User = get_user_model()


def _client(membership: Membership) -> Client:
    # A 500 is answered as a 500 (not raised): the test client's exception signal is global, so
    # in a race one thread's exception would be raised in the other's too.
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    return client


# --- The last admin ---------------------------------------------------------------------------


def test_the_last_admin_cannot_step_down_by_any_form(owner_client, environment, owner):
    for target, data in [
        (eurl(environment, "environments:member_role", pk=owner.pk), {"role": "analyst"}),
        (eurl(environment, "environments:member_remove", pk=owner.pk), {"confirm": "yes"}),
        (
            eurl(environment, "environments:member_add"),
            {"email": "OWNER@acme.test ", "role": "manager"},
        ),
    ]:
        response = owner_client.post(target, data)
        assert response.status_code == 302, target
    owner.refresh_from_db()
    assert owner.role == Role.ADMIN


def test_re_adding_a_login_known_by_its_username_cannot_demote_the_last_admin(
    environment,
):
    """A login made with createsuperuser whose username is the email and whose email field is
    blank (or another address): "add member" with that email reaches the membership through
    member_add's username fallback, which changed the role without the last-admin check."""
    user = User.objects.create_user(username="boss@acme.test", email="", password="x-y-z-w-1")
    boss = Membership.objects.create(user=user, environment=environment, role=Role.ADMIN)
    client = Client()
    client.force_login(user)
    response = client.post(
        eurl(environment, "environments:member_add"),
        {"email": "boss@acme.test", "role": "analyst"},
    )
    assert response.status_code == 302
    boss.refresh_from_db()
    assert boss.role == Role.ADMIN
    assert Membership.objects.filter(environment=environment, role=Role.ADMIN).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(environment, owner):
    second = member_add(environment=environment, email="second@acme.test", role=Role.ADMIN)
    owner_client, second_client = _client(owner), _client(second)

    def demote(client: Client, pk: int):
        return lambda: (
            client.post(
                eurl(environment, "environments:member_role", pk=pk), {"role": "analyst"}
            ).status_code
        )

    for _ in range(3):
        Membership.objects.filter(pk__in=[owner.pk, second.pk]).update(role=Role.ADMIN)
        codes, errors = race([demote(owner_client, second.pk), demote(second_client, owner.pk)])
        # The later request may already see its sender demoted: 403, also a refusal.
        assert errors == [] and all(code in (302, 403) for code in codes), codes
        assert Membership.objects.filter(environment=environment, role=Role.ADMIN).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_each_other_at_once_leave_one_admin(environment, owner):
    for n in range(3):
        other = member_add(environment=environment, email=f"s{n}@acme.test", role=Role.ADMIN)
        owner_client, other_client = _client(owner), _client(other)

        def remove(client: Client, pk: int):
            return lambda: (
                client.post(
                    eurl(environment, "environments:member_remove", pk=pk), {"confirm": "yes"}
                ).status_code
            )

        codes, errors = race([remove(owner_client, other.pk), remove(other_client, owner.pk)])
        assert errors == [], errors
        assert all(code in (302, 403, 404) for code in codes), codes
        admins = Membership.objects.filter(environment=environment, role=Role.ADMIN)
        assert admins.count() == 1
        owner = admins.get()


def test_a_role_change_for_a_member_removed_meanwhile_is_not_a_500(
    owner_client, environment, analyst
):
    """Two admins at once: one removes a member while the other changes their role. The second
    read the membership before the first's delete committed: its save then updated no row."""
    stale = Membership.objects.select_related("user", "environment").get(pk=analyst.pk)
    Membership.objects.filter(pk=analyst.pk).delete()
    with pytest.raises(Membership.DoesNotExist):
        services.member_role_change(membership=stale, role=Role.MANAGER)
    assert not Membership.objects.filter(pk=analyst.pk).exists()


def test_removing_a_member_whose_admin_role_was_taken_meanwhile_rechecks_the_role(
    environment, owner
):
    """The guard decided on the role read before the lock: a member read as an analyst who was
    made the only admin meanwhile could be removed, leaving no admin."""
    other = member_add(environment=environment, email="other@acme.test", role=Role.ANALYST)
    stale = Membership.objects.select_related("user", "environment").get(pk=other.pk)
    Membership.objects.filter(pk=other.pk).update(role=Role.ADMIN)
    Membership.objects.filter(pk=owner.pk).update(role=Role.ANALYST)
    with pytest.raises(services.LastAdminError):
        services.member_remove(membership=stale)
    assert Membership.objects.filter(environment=environment, role=Role.ADMIN).count() == 1


# --- Members removed or demoted mid-session ---------------------------------------------------


def test_a_removed_member_is_refused_on_their_next_request(owner_client, environment, analyst):
    client = _client(analyst)
    assert client.get(eurl(environment, "environments:settings")).status_code == 200
    owner_client.post(
        eurl(environment, "environments:member_remove", pk=analyst.pk), {"confirm": "yes"}
    )
    assert client.get(eurl(environment, "environments:settings")).status_code == 404
    assert client.post(eurl(environment, "environments:api_key_create"), {}).status_code == 404
    # "/" no longer sends them to the environment they were removed from.
    assert client.get("/").status_code == 200


def test_an_admin_demoted_mid_session_cannot_post_from_the_open_page(
    owner_client, environment, owner
):
    second = member_add(environment=environment, email="second@acme.test", role=Role.ADMIN)
    client = _client(second)
    assert client.get(eurl(environment, "environments:settings")).status_code == 200
    owner_client.post(
        eurl(environment, "environments:member_role", pk=second.pk), {"role": "analyst"}
    )
    for target, data in [
        (eurl(environment, "environments:settings"), {"name": "Hijacked"}),
        (eurl(environment, "environments:api_key_create"), {"name": "mine"}),
        (eurl(environment, "environments:member_role", pk=second.pk), {"role": "admin"}),
        (eurl(environment, "environments:member_add"), {"email": "x@evil.test", "role": "admin"}),
    ]:
        assert client.post(target, data).status_code == 403, target
    environment.refresh_from_db()
    second.refresh_from_db()
    assert environment.name == "Acme" and second.role == Role.ANALYST
    assert not ApiKey.objects.filter(environment=environment).exists()
    assert not User.objects.filter(email="x@evil.test").exists()


# --- Another environment ----------------------------------------------------------------------


def test_an_admin_cannot_reach_another_environment_by_slug_or_ids(
    owner_client, environment, other_environment, outsider
):
    their_key, _ = api_key_create(environment=other_environment, name="theirs")
    before = (other_environment.name, other_environment.identity_secret)
    posts = [
        (eurl(other_environment, "environments:settings"), {"name": "Pwned"}),
        (eurl(other_environment, "environments:api_key_create"), {"name": "x"}),
        (
            eurl(other_environment, "environments:api_key_revoke", pk=their_key.pk),
            {"confirm": "yes"},
        ),
        (eurl(other_environment, "environments:identity_verification"), {"enabled": "on"}),
        (eurl(other_environment, "environments:identity_secret_regenerate"), {"confirm": "yes"}),
        (
            eurl(other_environment, "environments:member_add"),
            {"email": "a@b.test", "role": "admin"},
        ),
        (eurl(other_environment, "environments:member_role", pk=outsider.pk), {"role": "analyst"}),
        (eurl(other_environment, "environments:member_remove", pk=outsider.pk), {"confirm": "yes"}),
        # Their ids under our slug.
        (eurl(environment, "environments:api_key_revoke", pk=their_key.pk), {"confirm": "yes"}),
        (eurl(environment, "environments:member_role", pk=outsider.pk), {"role": "analyst"}),
        (eurl(environment, "environments:member_remove", pk=outsider.pk), {"confirm": "yes"}),
    ]
    for target, data in posts:
        assert owner_client.post(target, data).status_code == 404, target
        assert owner_client.get(target).status_code in (404, 405), target
    other_environment.refresh_from_db()
    outsider.refresh_from_db()
    their_key.refresh_from_db()
    assert (other_environment.name, other_environment.identity_secret) == before
    assert not other_environment.identity_verification
    assert outsider.role == Role.ADMIN and their_key.revoked_at is None
    assert ApiKey.objects.filter(environment=other_environment).count() == 1
    assert not User.objects.filter(email="a@b.test").exists()


# --- Hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "nul\x00@acme.test",
        "ctl\x01@acme.test",
        "line\nbreak@acme.test",
        "",
        "   ",
        "not-an-email",
        "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".test",  # > 254: longer than the column
        "a" * 64 + "@" + ".".join(["b" * 40] * 2) + ".test",  # 152: longer than a username
    ],
)
def test_a_bad_member_email_is_a_form_error(owner_client, environment, email):
    users, members = User.objects.count(), Membership.objects.count()
    response = owner_client.post(
        eurl(environment, "environments:member_add"), {"email": email, "role": "analyst"}
    )
    assert response.status_code == 200
    assert "member_form" in response.context and response.context["member_form"].errors
    assert (User.objects.count(), Membership.objects.count()) == (users, members)


def test_the_longest_email_a_login_holds_is_accepted(owner_client, environment):
    email = "a" * 64 + "@" + ".".join(["b" * 40] * 2) + ".tes"  # 150
    assert len(email) == 150
    response = owner_client.post(
        eurl(environment, "environments:member_add"), {"email": email, "role": "analyst"}
    )
    assert response.status_code == 302
    assert Membership.objects.filter(environment=environment, user__email=email).exists()


@pytest.mark.parametrize("role", ["owner", "", "ADMIN", "admin\x00", "x" * 1000])
def test_an_unknown_role_is_refused(owner_client, environment, analyst, role):
    owner_client.post(eurl(environment, "environments:member_role", pk=analyst.pk), {"role": role})
    response = owner_client.post(
        eurl(environment, "environments:member_add"), {"email": "n@acme.test", "role": role}
    )
    assert response.status_code == 200
    analyst.refresh_from_db()
    assert analyst.role == Role.ANALYST
    assert not User.objects.filter(email="n@acme.test").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"name": "nul\x00name"},
        {"name": "x" * 201},
        {"name": "   "},
        {"name": "Ok", "time_zone": "Mars/Olympus_Mons"},
        {"name": "Ok", "time_zone": "Europe/Paris\x00"},
        {"name": "Ok", "time_zone": "x" * 5000},
        {"name": "Ok", "time_zone": "../../etc/passwd"},
    ],
)
def test_bad_settings_are_a_form_error(owner_client, environment, data):
    response = owner_client.post(eurl(environment, "environments:settings"), data)
    assert response.status_code == 200 and response.context["name_form"].errors
    environment.refresh_from_db()
    assert environment.name == "Acme" and environment.time_zone == ""


def test_control_characters_in_a_name_render_as_text(owner_client, environment):
    name = "Acme\x1b[31m<b>\u202e"
    owner_client.post(eurl(environment, "environments:settings"), {"name": name})
    page = owner_client.get(eurl(environment, "environments:settings"))
    assert page.status_code == 200 and b"<b>" not in page.content


@pytest.mark.parametrize("name", ["nul\x00", "x" * 101])
def test_a_bad_key_name_is_a_form_error(owner_client, environment, name):
    response = owner_client.post(eurl(environment, "environments:api_key_create"), {"name": name})
    assert response.status_code == 200 and response.context["key_form"].errors
    assert not ApiKey.objects.filter(environment=environment).exists()


def test_bad_ids_in_urls_are_404(owner_client, environment):
    for name in ("member_role", "member_remove", "api_key_revoke"):
        url = eurl(environment, f"environments:{name}", pk=2**31 + 5)
        assert owner_client.post(url, {"role": "analyst", "confirm": "yes"}).status_code == 404


# --- Resubmitted forms ------------------------------------------------------------------------


def test_adding_the_same_member_twice_or_in_other_case_gives_one_member(
    owner_client, environment, mailoutbox
):
    for email in ["ann@acme.test", "ann@acme.test", " ANN@Acme.Test "]:
        response = owner_client.post(
            eurl(environment, "environments:member_add"), {"email": email, "role": "analyst"}
        )
        assert response.status_code == 302
    assert User.objects.filter(email__iexact="ann@acme.test").count() == 1
    assert (
        Membership.objects.filter(environment=environment, user__email="ann@acme.test").count() == 1
    )


@pytest.mark.django_db(transaction=True)
def test_the_same_new_member_added_twice_at_once_is_one_member(environment, owner):
    """A double click on "Add" sends the form twice at once: both found no login and both
    created one; the second's INSERT hit the unique username (a 500)."""
    clients = [_client(owner), _client(owner)]
    for n in range(3):
        email = f"twice{n}@acme.test"

        def add(client: Client, email: str = email):
            return lambda: (
                client.post(
                    eurl(environment, "environments:member_add"),
                    {"email": email, "role": "analyst"},
                ).status_code
            )

        codes, errors = race([add(c) for c in clients])
        assert errors == [] and codes == [302, 302], (codes, errors)
        assert User.objects.filter(email=email).count() == 1
        assert Membership.objects.filter(environment=environment, user__email=email).count() == 1


def test_revoking_a_key_twice_is_harmless(owner_client, environment):
    key, _ = api_key_create(environment=environment, name="k")
    url = eurl(environment, "environments:api_key_revoke", pk=key.pk)
    for _ in range(2):
        assert owner_client.post(url, {"confirm": "yes", "once": "tok"}).status_code in (200, 302)
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_removing_a_member_twice_is_404_the_second_time(owner_client, environment, analyst):
    url = eurl(environment, "environments:member_remove", pk=analyst.pk)
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 302
    assert owner_client.post(url, {"confirm": "yes"}).status_code == 404


# --- Sign-in ----------------------------------------------------------------------------------


def test_a_member_signs_in_with_their_email_in_another_case(client, owner):
    response = client.post(
        "/login/", {"username": " Owner@Acme.TEST", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(eurl(owner.environment, "environments:settings")).status_code == 200


def test_sign_out_ends_the_session(owner_client, environment):
    assert owner_client.post("/logout/").status_code == 302
    response = owner_client.get(eurl(environment, "environments:settings"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_create_member_cannot_demote_the_last_admin(environment, owner):
    with pytest.raises(CommandError, match="at least one admin"):
        call_command("create_member", environment.slug, owner.user.email, role="analyst")
    owner.refresh_from_db()
    assert owner.role == Role.ADMIN


def test_sign_in_ignoring_case_keeps_exact_names_and_passwords(client, owner):
    User.objects.create_user(username="Admin", password="pw-Admin-12345")
    User.objects.create_user(username="admin", password="pw-admin-12345")
    # Two logins match "ADMIN" ignoring case: only the exact spelling signs in.
    assert (
        client.post("/login/", {"username": "ADMIN", "password": "pw-admin-12345"}).status_code
        == 200
    )
    assert (
        client.post("/login/", {"username": "Admin", "password": "pw-Admin-12345"}).status_code
        == 302
    )
    client.logout()
    assert (
        client.post("/login/", {"username": "OWNER@acme.test", "password": "wrong-one"}).status_code
        == 200
    )


@pytest.mark.django_db(transaction=True)
def test_two_revokes_of_a_key_at_the_same_moment_are_audited_once(environment):
    """Both requests read the key unrevoked and both wrote an audit entry."""
    for n in range(3):
        key, _ = api_key_create(environment=environment, name=f"k{n}")

        def revoke(pk: int = key.pk):
            return lambda: services.api_key_revoke(api_key=ApiKey.objects.get(pk=pk))

        _, errors = race([revoke(), revoke()])
        assert errors == []
        assert (
            AuditEntry.objects.filter(action="api_key.revoke", target_id=str(key.pk)).count() == 1
        )


def test_an_admin_who_leaves_is_sent_home_not_to_a_404(environment, owner):
    second = member_add(environment=environment, email="second@acme.test", role=Role.ADMIN)
    client = _client(second)
    reply = client.post(
        eurl(environment, "environments:member_remove", pk=second.pk), {"confirm": "yes"}
    )
    assert reply.status_code == 302 and reply.url == "/"
    assert client.get(reply.url, follow=True).status_code == 200
    assert not Membership.objects.filter(pk=second.pk).exists()
