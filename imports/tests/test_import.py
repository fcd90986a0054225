"""Contact import: a 200,000-row file with bad rows mixed in, checked row by row; re-import;
the upload limit; tenancy and roles."""

from __future__ import annotations

import csv
import io
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from imports.models import ContactImport, ImportStatus, RejectedRow
from imports.services import import_create, import_run, import_start, mapping_default
from profiles.models import Profile
from profiles.services import profiles_gin_merge
from segments.factories import SegmentFactory
from segments.models import SegmentMembership
from tests.helpers import HTMX
from traits.models import Trait

pytestmark = pytest.mark.django_db

ROWS = 200_000


@pytest.fixture(autouse=True)
def import_dir(tmp_path, settings):
    settings.HARK_IMPORT_DIR = str(tmp_path / "imports")
    settings.HARK_IMPORT_CHUNK_ROWS = 50_000


def _upload(text: str, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def report_lines(client, environment, contact_import) -> list[list[str]]:
    """The rejected-rows report's CSV, read through its view."""
    report = client.get(
        reverse("imports:report", kwargs={"env": environment.slug, "uuid": contact_import.uuid})
    )
    return list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))


def _big_file(rows: int, *, version: int = 1):
    """The CSV text, the rows expected stored {user id: traits}, and the expected rejections
    {row number: reason fragment}. Every 97th row is bad, in one of four ways."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user_id", "email", "plan", "seats", "vip"])
    good: dict[str, dict] = {}
    bad: dict[int, str] = {}
    kinds = ["email", "missing", "type", "duplicate"]
    rnd = random.Random(version)
    for n in range(1, rows + 1):
        uid, email = f"u{n:06d}", f"person{n}@example.com"
        plan, seats, vip = rnd.choice(["free", "pro"]), str(n % 50 + version), "yes"
        if n % 97 == 0:
            kind = kinds[(n // 97) % 4]
            if kind == "email":
                email, bad[n] = "not-an-email", "is not a valid address"
            elif kind == "missing":
                uid, bad[n] = "", "the user id is missing"
            elif kind == "type":
                seats, bad[n] = "lots", "seats: 'lots' is not a number"
            else:
                uid, bad[n] = f"u{n - 1:06d}", f"is repeated (first on row {n - 1})"
        writer.writerow([uid, email, plan, seats, vip])
        if n not in bad:
            good[uid] = {"email": email, "plan": plan, "seats": int(seats), "vip": True}
    return out.getvalue(), good, bad


def _run(environment, owner, text: str) -> ContactImport:
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    mapping = mapping_default(contact_import)
    # Inferred from the first rows (vip a boolean); seats is overridden to a number (on a first
    # import its sample holds a "lots", so it was inferred a string): the rows whose value does
    # not fit are rejected.
    assert [(c["role"], c["key"]) for c in mapping] == [
        ("user_id", ""),
        ("email", ""),
        ("trait", "plan"),
        ("trait", "seats"),
        ("trait", "vip"),
    ]
    assert (mapping[2]["type"], mapping[4]["type"]) == ("string", "boolean")
    mapping[3]["type"] = "number"
    import_start(contact_import=contact_import, mapping=mapping)
    import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    return contact_import


def test_200k_rows_with_bad_rows_are_checked_row_by_row(environment, owner, other_environment):
    text, good, bad = _big_file(ROWS)
    contact_import = _run(environment, owner, text)
    assert contact_import.status == ImportStatus.DONE
    assert contact_import.total_rows == ROWS == contact_import.processed_rows
    assert contact_import.created_count == len(good)
    assert contact_import.rejected_count == len(bad)

    rejected = dict(
        RejectedRow.objects.filter(contact_import=contact_import).values_list("row", "reason")
    )
    assert rejected.keys() == bad.keys()
    for n, fragment in bad.items():
        assert fragment in rejected[n], (n, rejected[n])

    stored = {
        uid: {"email": email, **traits}
        for uid, email, traits in Profile.objects.filter(environment=environment).values_list(
            "user_id", "email", "traits"
        )
    }
    assert stored == good  # every good row, with the right traits, and nothing else
    assert not Profile.objects.filter(environment=other_environment).exists()
    types = dict(Trait.objects.filter(environment=environment).values_list("key", "data_type"))
    assert types == {"plan": "string", "seats": "number", "vip": "boolean"}


def test_reimport_updates_and_never_duplicates(environment, owner):
    Profile.objects.create(environment=environment, user_id="u000001", traits={"kept": 1})
    text, _, _ = _big_file(500, version=1)
    first = _run(environment, owner, text)
    assert first.created_count == 500 - 500 // 97 - 1  # u000001 existed
    text2, good2, _ = _big_file(500, version=2)
    second = _run(environment, owner, text2)
    assert second.created_count == 0
    assert second.updated_count == len(good2)
    assert Profile.objects.filter(environment=environment).count() == len(good2)
    assert Profile.objects.get(user_id="u000002").traits["seats"] == 2 % 50 + 2
    assert Profile.objects.get(user_id="u000001").traits["kept"] == 1
    # The same file again changes nothing and writes nothing.
    third = _run(environment, owner, text2)
    assert (third.created_count, third.updated_count) == (0, 0)


def test_email_only_import_matches_on_email(environment, owner):
    Profile.objects.create(environment=environment, email="a@example.com", traits={})
    text = "email,plan\na@example.com,pro\nb@example.com,free\nA@example.com,team\n"
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    assert (contact_import.created_count, contact_import.updated_count) == (1, 1)
    assert contact_import.rejected_count == 1  # A@example.com is a@example.com again
    assert dict(Profile.objects.values_list("email", "traits__plan")) == {
        "a@example.com": "pro",
        "b@example.com": "free",
    }


def test_imported_contacts_are_evaluated_against_segments(environment, owner):
    segment = SegmentFactory(
        environment=environment,
        rules={
            "op": "and",
            "conditions": [{"type": "trait", "key": "plan", "operator": "equals", "value": "pro"}],
        },
    )
    text = "user_id,plan\nx1,pro\nx2,free\n"
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)
    members = SegmentMembership.objects.filter(segment=segment)
    assert [m.profile.user_id for m in members] == ["x1"]


# --- Pages -----------------------------------------------------------------------------------


def list_url(environment) -> str:
    return reverse("imports:list", kwargs={"env": environment.slug})


def test_upload_map_preview_and_run_through_the_pages(
    owner_client, environment, django_capture_on_commit_callbacks
):
    text = "id,email,age\n1,a@example.com,30\n2,bad,31\n3,c@example.com,old\n"
    response = owner_client.post(list_url(environment), {"file": _upload(text)})
    assert response.status_code == 302
    contact_import = ContactImport.objects.get()
    detail = response["Location"]
    page = owner_client.get(detail)
    assert page.status_code == 200
    problems = [reason for _, reason in page.context["preview"].problems]
    assert problems == ["the email 'bad' is not a valid address"]
    # The age column is inferred a string (one value is not a number): make it a number.
    form = {"role_0": "user_id", "role_1": "email", "role_2": "trait", "key_2": "age"}
    form |= {"type_0": "string", "type_1": "string", "type_2": "number", "action": "preview"}
    page = owner_client.post(detail, form)
    assert [n for n, _ in page.context["preview"].problems] == [2, 3]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(detail, {**form, "action": "start"})
    assert response.status_code == 302
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.DONE
    assert (contact_import.created_count, contact_import.rejected_count) == (1, 2)
    progress = owner_client.get(detail, headers=HTMX)
    assert b"3 of 3 rows (100%)" in progress.content
    lines = report_lines(owner_client, environment, contact_import)
    assert lines == [
        ["row", "reason", "id", "email", "age"],
        ["2", "the email 'bad' is not a valid address", "2", "bad", "31"],
        ["3", "age: 'old' is not a number", "3", "c@example.com", "old"],
    ]


def test_mapping_errors_are_form_errors(owner_client, owner, environment):
    contact_import = import_create(
        environment=environment, user=owner.user, upload=_upload("a,b\n1,2\n")
    )
    url = reverse("imports:detail", kwargs={"env": environment.slug, "uuid": contact_import.uuid})
    form = {"role_0": "trait", "key_0": "a b", "type_0": "string"}
    form |= {"role_1": "trait", "key_1": "b", "type_1": "string", "action": "start"}
    response = owner_client.post(url, form)
    assert response.status_code == 400
    assert b"letters, digits" in response.content
    form["key_0"] = "a"
    response = owner_client.post(url, form)
    assert response.status_code == 400 and b"map a column to the user id" in response.content
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.MAPPING


def test_upload_over_the_size_limit_is_a_form_error(owner_client, environment):
    with override_settings(HARK_IMPORT_MAX_BYTES=100):
        response = owner_client.post(list_url(environment), {"file": _upload("id\n" + "x\n" * 100)})
    assert response.status_code == 400
    assert b"larger than the limit of 100 bytes" in response.content
    assert not ContactImport.objects.exists()


def test_a_file_without_header_is_a_form_error(owner_client, environment):
    response = owner_client.post(list_url(environment), {"file": _upload("")})
    assert response.status_code == 400 and not ContactImport.objects.exists()


def test_analyst_cannot_import(analyst_client, owner, environment):
    response = analyst_client.post(list_url(environment), {"file": _upload("id\n1\n")})
    assert response.status_code == 403
    contact_import = import_create(
        environment=environment, user=owner.user, upload=_upload("id\n1\n")
    )
    url = reverse("imports:detail", kwargs={"env": environment.slug, "uuid": contact_import.uuid})
    form = {"role_0": "user_id", "type_0": "string", "action": "start"}
    assert analyst_client.post(url, form).status_code == 403
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.MAPPING
    page = analyst_client.get(list_url(environment))
    assert page.status_code == 200 and b"Only admins can import" in page.content


def test_imports_of_another_environment_are_404(
    outsider_client, owner_client, owner, environment, other_environment
):
    contact_import = import_create(
        environment=environment, user=owner.user, upload=_upload("id\n1\n")
    )
    url = reverse("imports:detail", kwargs={"env": environment.slug, "uuid": contact_import.uuid})
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.get(list_url(environment)).status_code == 404
    # Its uuid under the owner's other environment's URL: not found either.
    member_url = reverse(
        "imports:detail", kwargs={"env": other_environment.slug, "uuid": contact_import.uuid}
    )
    assert owner_client.get(member_url).status_code == 404


def test_values_are_trimmed_alike_in_checks_and_storage(environment, owner):
    text = 'user_id,email,seats\n" u1\t",  A@Example.com ,\t3 \nu1,b@example.com,4\n'
    contact_import = import_create(environment=environment, user=owner.user, upload=_upload(text))
    import_start(contact_import=contact_import, mapping=mapping_default(contact_import))
    import_run(import_id=contact_import.pk)
    assert list(Profile.objects.values_list("user_id", "email", "traits")) == [
        ("u1", "a@example.com", {"seats": 3})
    ]
    [(row, reason)] = RejectedRow.objects.values_list("row", "reason")
    assert row == 2 and "'u1' is repeated (first on row 1)" in reason


@pytest.mark.django_db(transaction=True)
def test_chunks_written_by_parallel_workers_give_the_same_result(
    environment, owner, other_environment, settings
):
    """Outside a transaction the chunks run on HARK_IMPORT_WORKERS connections at once: every
    row is checked and stored as by one connection, the counts add up, the staging table goes,
    and new profiles get time-ordered (version 7) uuids."""
    settings.HARK_IMPORT_WORKERS = 3
    settings.HARK_IMPORT_CHUNK_ROWS = 700
    text, good, bad = _big_file(5_000)
    contact_import = _run(environment, owner, text)
    assert contact_import.status == ImportStatus.DONE
    assert contact_import.processed_rows == contact_import.total_rows == 5_000
    assert (contact_import.created_count, contact_import.updated_count) == (len(good), 0)
    assert contact_import.rejected_count == len(bad)
    rejected = dict(
        RejectedRow.objects.filter(contact_import=contact_import).values_list("row", "reason")
    )
    assert rejected.keys() == bad.keys()
    stored = {
        uid: {"email": email, **traits}
        for uid, email, traits in Profile.objects.filter(environment=environment).values_list(
            "user_id", "email", "traits"
        )
    }
    assert stored == good
    assert not Profile.objects.filter(environment=other_environment).exists()
    assert {p.version for p in Profile.objects.values_list("uuid", flat=True)} == {7}
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"imports_stage_{contact_import.pk}"])
        assert cursor.fetchone() == (None,)

    text2, good2, _ = _big_file(5_000, version=2)
    second = _run(environment, owner, text2)
    assert (second.created_count, second.updated_count) == (0, len(good2))
    assert Profile.objects.filter(environment=environment).count() == len(good2)


def test_pending_gin_entries_of_an_import_are_merged_by_its_second_step(environment, owner):
    """The chunks leave the profile GIN indexes' new entries pending (a search reads a pending
    list through); the background step queued after the import merges them."""

    profiles_gin_merge()  # what other tests left
    text, _, _ = _big_file(3_000)
    _run(environment, owner, text)
    assert profiles_gin_merge() > 0
    assert profiles_gin_merge() == 0
    assert Profile.objects.filter(environment=environment, traits__contains={"vip": True}).exists()


def test_the_report_of_rejected_rows_defuses_spreadsheet_formulas(owner_client, owner, environment):
    """The file's values come back in the report, which people open in a spreadsheet: a cell
    starting with =, +, -, @ (or a tab or carriage return) is prefixed with ' so it is text."""
    contact_import = import_create(
        environment=environment, user=owner.user, upload=_upload("id,email\n1,x\n")
    )
    RejectedRow.objects.create(
        contact_import=contact_import,
        row=1,
        reason="the email '=HYPERLINK(\"http://evil.test\")' is not a valid address",
        values=["1", '=HYPERLINK("http://evil.test")'],
    )
    RejectedRow.objects.create(
        contact_import=contact_import, row=2, reason="-bad", values=["@SUM(A1)", "+1", "\tx"]
    )
    lines = report_lines(owner_client, environment, contact_import)
    assert lines[1][3] == '\'=HYPERLINK("http://evil.test")'
    assert lines[2][1:] == ["'-bad", "'@SUM(A1)", "'+1", "'\tx"]
