"""Contact import: a NUL character (0x00) in the file. Python's csv reader passes it through,
and PostgreSQL's text and jsonb cannot store it: a NUL in a value rejects that row only (it
failed the whole import), a NUL in the header is a form error (it was a 500)."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.urls import reverse

from imports.models import ContactImport, ImportStatus, RejectedRow
from imports.services import import_create, import_run, import_start, mapping_default
from profiles.models import Profile

from .test_import import _upload, report_lines

pytestmark = pytest.mark.django_db

NUL = "\x00"


@pytest.fixture(autouse=True)
def import_dir(tmp_path, settings):
    settings.HARK_IMPORT_DIR = str(tmp_path / "imports")


def _file(rows: int, *, nul_row: int) -> str:
    lines = ["user_id,email,plan"]
    for n in range(1, rows + 1):
        plan = f"pr{NUL}o" if n == nul_row else "pro"
        lines.append(f"u{n:04d},person{n}@example.com,{plan}")
    return "\n".join(lines) + "\n"


def test_a_nul_in_a_value_rejects_its_row_and_imports_every_other(environment, owner):
    contact_import = import_create(
        environment=environment, user=owner.user, upload=_upload(_file(1000, nul_row=500))
    )
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)  # the Celery task's body
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.DONE, contact_import.error
    assert (contact_import.total_rows, contact_import.created_count) == (1000, 999)
    assert contact_import.rejected_count == 1
    # The report keeps the row, its values without the NUL (jsonb cannot hold one).
    [(row, reason, values)] = RejectedRow.objects.values_list("row", "reason", "values")
    assert (row, reason) == (500, "the value in column 3 contains a NUL character (0x00)")
    assert values == ["u0500", "person500@example.com", "pro"]
    assert Profile.objects.filter(environment=environment).count() == 999
    assert not Profile.objects.filter(user_id="u0500").exists()
    assert Profile.objects.get(user_id="u0501").traits == {"plan": "pro"}


def test_a_nul_in_a_value_is_a_problem_in_the_preview_and_a_rejected_row(
    owner_client, environment, django_capture_on_commit_callbacks
):
    """Through the pages, tasks inline (no Redis): the Start POST ran the import and was a 500."""
    text = f"id,email,plan\n1,a@example.com,pr{NUL}o\n2,b@example.com,free\n"
    response = owner_client.post(
        reverse("imports:list", kwargs={"env": environment.slug}), {"file": _upload(text)}
    )
    assert response.status_code == 302
    detail = response["Location"]
    page = owner_client.get(detail)
    assert page.status_code == 200
    assert page.context["preview"].problems == [
        (1, "the value in column 3 contains a NUL character (0x00)")
    ]
    form = {"role_0": "user_id", "role_1": "email", "role_2": "trait", "key_2": "plan"}
    form |= {"type_0": "string", "type_1": "string", "type_2": "string", "action": "start"}
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(detail, form)
    assert response.status_code == 302
    contact_import = ContactImport.objects.get()
    assert contact_import.status == ImportStatus.DONE, contact_import.error
    assert (contact_import.created_count, contact_import.rejected_count) == (1, 1)
    lines = report_lines(owner_client, environment, contact_import)
    assert lines == [
        ["row", "reason", "id", "email", "plan"],
        ["1", "the value in column 3 contains a NUL character (0x00)", "1", "a@example.com", "pro"],
    ]


def test_a_nul_in_the_header_is_a_form_error_and_stores_nothing(
    owner_client, environment, settings
):
    response = owner_client.post(
        reverse("imports:list", kwargs={"env": environment.slug}),
        {"file": _upload(f"id,pl{NUL}an\n1,pro\n")},
    )
    assert response.status_code == 400
    assert b"has a NUL character (0x00) in its header row, in column 2" in response.content
    assert not ContactImport.objects.exists()
    assert os.listdir(settings.HARK_IMPORT_DIR) == []  # the upload is removed


def test_a_run_that_fails_with_tasks_inline_shows_its_reason_not_a_500(
    owner_client, environment, django_capture_on_commit_callbacks
):
    """The stored file goes missing between Start and the run (a cleaned import folder): the
    run fails, and with tasks inline (no Redis) the error reached the Start POST as a 500; the
    import's page says why."""
    response = owner_client.post(
        reverse("imports:list", kwargs={"env": environment.slug}),
        {"file": _upload("id,email\n1,a@example.com\n")},
    )
    detail = response["Location"]
    form = {"role_0": "user_id", "role_1": "email", "type_0": "string", "type_1": "string"}
    with django_capture_on_commit_callbacks() as started:
        assert owner_client.post(detail, form | {"action": "start"}).status_code == 302
    os.remove(ContactImport.objects.get().path)
    for run in started:
        run()  # the task, inline: what the POST's commit ran
    contact_import = ContactImport.objects.get()
    assert contact_import.status == ImportStatus.FAILED
    assert "No such file" in contact_import.error
    assert "No such file" in owner_client.get(detail).content.decode()


def test_an_email_repeated_as_postgresql_lowercases_it_is_rejected(environment, owner):
    """By email, a repeat is found as the write compares emails (PostgreSQL's lower()), not only
    as Python's str.lower() does: "İ@x.com" and "i@x.com" differ in one and may be one email in
    the other, and were then stored as two profiles with the same email."""
    text = "email,plan\nİ@x.com,pro\ni@x.com,free\nA@x.com,team\na@x.com,free\n"
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.DONE, contact_import.error
    stored = list(Profile.objects.filter(environment=environment).values_list("email", flat=True))
    assert len(stored) == len(set(stored)), stored  # never one email twice
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT lower(e)) FROM unnest(%s::text[]) AS e",
            [["İ@x.com", "i@x.com", "A@x.com", "a@x.com"]],
        )
        people = cursor.fetchone()[0]
    assert contact_import.created_count == people
    assert contact_import.rejected_count == 4 - people
    reasons = list(RejectedRow.objects.values_list("row", "reason"))
    assert (4, "the email 'a@x.com' is repeated (first on row 3)") in reasons


def test_a_user_id_with_a_control_character_is_a_rejected_row(environment, owner):
    """As the API refuses it: "u1\x1b" stored as an id is a person no API call can name."""
    text = "user_id,plan\nu1,pro\nu\x1b2,pro\n\tu3\t,pro\nu\x074,pro\n"
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    assert (contact_import.created_count, contact_import.rejected_count) == (2, 2)
    assert sorted(RejectedRow.objects.values_list("row", "reason")) == [
        (2, "the user id contains control characters"),
        (4, "the user id contains control characters"),
    ]
    # Blanks around an id are trimmed, as before.
    assert sorted(Profile.objects.values_list("user_id", flat=True)) == ["u1", "u3"]
