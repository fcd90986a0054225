"""Contact import in a real browser, run by a real Celery worker: the file is uploaded, mapped,
and the progress bar is seen moving (htmx polling) until the import is done."""

from __future__ import annotations

import time

import psycopg
import pytest
from playwright.sync_api import expect
from psycopg.pq import TransactionStatus

from imports.models import ContactImport, ImportStatus
from profiles.models import Profile
from segments.tests.celery_fixtures import (  # noqa: F401 (fixtures)
    database_url_for_tests,
    new_queue,
    publishing_to,
    redis_server,
    redis_url,
    start_worker,
    worker_env,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 30_000
CHUNK = 300


@pytest.fixture
def import_worker(redis_url, settings, tmp_path):  # noqa: F811
    """A worker importing in small chunks, so the run lasts long enough to be watched."""
    settings.HARK_IMPORT_DIR = str(tmp_path / "imports")
    queue = new_queue()
    worker = start_worker(worker_env(redis_url, queue, HARK_IMPORT_CHUNK_ROWS=str(CHUNK)))
    try:
        with publishing_to(redis_url, queue, settings):
            yield worker
    finally:
        worker.stop()


def test_progress_bar_moves_while_a_worker_imports(
    import_worker, logged_in_page, live_server, environment, tmp_path, request
):
    path = tmp_path / "contacts.csv"
    lines = ["user_id,email,plan"] + [
        f"u{n},person{n}@example.com,{'pro' if n % 2 else 'free'}" for n in range(ROWS)
    ]
    path.write_text("\n".join(lines) + "\n")
    page = logged_in_page
    page.goto(f"{live_server.url}/e/{environment.slug}/settings/imports/")
    page.set_input_files("#id_file", str(path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(page.locator("#problems")).to_contain_text("None found.")
    # A contact in the middle of the file held by another transaction (uncommitted): the chunk
    # writing it waits on its unique index until the bar has been seen between empty and full,
    # however fast this machine imports (the page polls once a second).
    blocker = psycopg.connect(database_url_for_tests())
    blocker.execute(
        "INSERT INTO profiles_profile (uuid, environment_id, user_id, traits, first_seen_at,"
        " last_seen_at) VALUES (gen_random_uuid(), %s, %s, '{}', now(), now())",
        [environment.pk, f"u{ROWS // 2}"],
    )
    request.addfinalizer(blocker.close)
    page.get_by_role("button", name="Import", exact=True).click()

    bar = page.locator("progress.import-progress")
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        value = int(bar.get_attribute("value") or 0)
        if not seen or seen[-1] != value:
            seen.append(value)
        if 0 < value < 100 and blocker.info.transaction_status != TransactionStatus.IDLE:
            blocker.rollback()  # seen mid-way: the held chunk goes on
        if value == 100:
            break
        time.sleep(0.1)
    assert seen[-1] == 100, (seen, import_worker.log()[-3000:])
    # The bar was seen between empty and full, rising.
    assert any(0 < v < 100 for v in seen), seen
    assert seen == sorted(seen)
    expect(page.locator("[data-progress]")).to_contain_text(f"{ROWS} of {ROWS} rows (100%)")
    contact_import = ContactImport.objects.get()
    assert contact_import.status == ImportStatus.DONE
    assert Profile.objects.filter(environment=environment).count() == ROWS
