"""Contact import throughput: a 200,000-row CSV imported into a fresh environment, then the same
contacts imported again with changed values (every row updated), then a third time unchanged.

Runs the import service in-process (the Celery task's body; no worker needed), and prints per
run the rows per second and the time of each phase: COPY into the staging table (including
Python's csv reading and the in-stream checks), the chunk statements (checks, rejected rows,
profile upsert, segment queue), and the finish (trait definitions). Before the runs it prints
the indexes of profiles_profile, each one a cost per new row.

Usage (DEBUG=true for a local SECRET_KEY):
    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/hark_bench \\
        .venv/bin/python benchmarks/import_csv.py [--rows 200000] [--chunk 50000]
The database must be migrated (manage.py migrate).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def write_csv(path: Path, rows: int, *, version: int) -> None:
    plans = ["free", "pro", "team", "enterprise"]
    rnd = random.Random(version)
    with open(path, "w", encoding="utf-8") as out:
        out.write("user_id,email,name,plan,seats,active,signed_up_at\n")
        for i in range(rows):
            out.write(
                f"user-{i:07d},person{i}@example.com,Person {i} v{version},"
                f"{rnd.choice(plans)},{rnd.randint(1, 500)},{'true' if i % 3 else 'false'},"
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
            )


class _Upload:
    def __init__(self, path: Path) -> None:
        self.path, self.name, self.size = path, path.name, path.stat().st_size

    def chunks(self):
        with open(self.path, "rb") as handle:
            while block := handle.read(1 << 20):
                yield block


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    os.environ["HARK_IMPORT_CHUNK_ROWS"] = str(args.chunk)

    import django

    django.setup()
    from django.db import connection

    from environments.services import environment_create
    from imports.models import ImportStatus
    from imports.services import import_create, import_run, mapping_default
    from profiles.models import Profile

    environment = environment_create(name=f"Import bench {time.time():.0f}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, amname FROM pg_indexes i JOIN pg_class c ON c.relname = "
            "i.indexname JOIN pg_am a ON a.oid = c.relam WHERE tablename = 'profiles_profile'"
        )
        print("profiles_profile indexes:", ", ".join(f"{n} ({a})" for n, a in cursor.fetchall()))
        cursor.execute("SELECT count(*) FROM profiles_profile")
        print(f"profiles already in the table: {cursor.fetchone()[0]:,}")
    tmp = Path(tempfile.mkdtemp(prefix="hark-import-bench-"))
    for label, version in (("new", 1), ("re-import, changed", 2), ("re-import, same", 2)):
        path = tmp / f"contacts-{version}.csv"
        if not path.exists():
            write_csv(path, args.rows, version=version)
        contact_import = import_create(environment=environment, user=None, upload=_Upload(path))
        # As import_start, without queueing the task: the run is timed here.
        contact_import.mapping = mapping_default(contact_import)
        contact_import.status = ImportStatus.QUEUED
        contact_import.save(update_fields=["mapping", "status"])
        started = time.perf_counter()
        timing = import_run(import_id=contact_import.pk)
        elapsed = time.perf_counter() - started
        contact_import.refresh_from_db()
        print(
            f"{label:20} {timing.rows:,} rows in {elapsed:.2f} s = {timing.rows / elapsed:,.0f} "
            f"rows/s (copy {timing.copy:.2f} s, chunks {timing.chunks:.2f} s, finish "
            f"{timing.finish:.2f} s); created {contact_import.created_count:,}, updated "
            f"{contact_import.updated_count:,}, rejected {contact_import.rejected_count:,}"
        )
    print("profiles in the environment:", Profile.objects.filter(environment=environment).count())


if __name__ == "__main__":
    main()
