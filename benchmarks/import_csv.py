"""Contact import throughput: a 200,000-row CSV imported into a fresh environment, then the same
contacts imported again with changed values (every row updated), then a third time unchanged.

Runs the import service in-process (the Celery task's body; no worker needed), and prints per
run the rows per second and the time of each phase: COPY into the staging table (including
Python's csv reading and the in-stream checks), the chunk statements (checks, rejected rows,
profile upsert, segment queue), and the finish (trait definitions). Before the runs it prints
the indexes of profiles_profile, each one a cost per new row. Each run also prints the CPU
time it used, in this process and on the whole machine, and the load average: on a
shared machine compare those (the wall time is the share of the cores the run got).

With --floor it measures instead what the table's indexes alone cost on this machine: a plain
INSERT ... SELECT of rows computed beforehand (nothing parsed, checked or built; no ON CONFLICT)
into a copy of profiles_profile with every one of its indexes (CREATE TABLE ... LIKE ... INCLUDING
ALL), the way the import's chunks write (synchronous_commit off, the GIN pending lists raised,
rows in user-id order, time-ordered uuids). It is the upper bound of any import of new contacts
into that table: on one connection, on two at once (as the import's two workers), and again
without the search's trigram index and without either GIN index, to show what each costs.

Usage (DEBUG=true for a local SECRET_KEY):
    DEBUG=true DATABASE_URL=postgres://postgres@127.0.0.1:5432/hark_bench \\
        .venv/bin/python benchmarks/import_csv.py [--rows 200000] [--chunk 50000] [--floor]
The database must be migrated (manage.py migrate).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
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


class _Cpu:
    """CPU seconds used by this process (all threads) and by the whole machine during a run
    (/proc/stat: the database must run on this machine). The whole machine's figure includes
    PostgreSQL's backends and its own processes (WAL writer, autovacuum), and anything else
    running: on a quiet machine it is the run's cost; on a shared one the wall time measures the
    share of the cores a run got. (An earlier version summed the CPU of the run's database
    connections as they committed; it missed some of the chunk threads' connections, and read
    about half the database's time.)"""

    @staticmethod
    def _machine() -> float:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.python = usage.ru_utime + usage.ru_stime
        self.machine = self._machine()

    def stop(self) -> tuple[float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime - self.python, self._machine() - self.machine


class _Upload:
    def __init__(self, path: Path) -> None:
        self.path, self.name, self.size = path, path.name, path.stat().st_size

    def chunks(self):
        with open(self.path, "rb") as handle:
            while block := handle.read(1 << 20):
                yield block


_FLOOR_TABLE = "bench_import_floor"


def _floor_insert(lo: int, hi: int) -> float:
    """Insert rows (lo, hi] of the precomputed contacts into the floor table on a connection of
    its own (a thread's), as one transaction; returns its seconds."""
    from django.conf import settings
    from django.db import connection, transaction

    from profiles.sql import UUID7_SQL

    try:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")
            cursor.execute(
                "SELECT set_config('gin_pending_list_limit', %s, true)",
                [str(settings.HARK_IMPORT_GIN_PENDING_KB)],
            )
            cursor.execute(
                f"INSERT INTO {_FLOOR_TABLE} (uuid, environment_id, user_id, email, traits, "
                f"first_seen_at, last_seen_at) SELECT {UUID7_SQL}, 1, uid, email, traits, now(), "
                f"now() FROM bench_import_rows WHERE n > %s AND n <= %s ORDER BY uid",
                [lo, hi],
            )
        return time.perf_counter() - started
    finally:
        connection.close()


def floor(rows: int) -> None:
    """The --floor measurement (the module's docstring)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    cpu = _Cpu()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_import_rows")
        # The rows the benchmark's CSV holds, already as the import writes them.
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_import_rows AS SELECT i AS n, "
            "'user-' || lpad(i::text, 7, '0') AS uid, 'person' || i || '@example.com' AS email, "
            "jsonb_build_object('name', 'Person ' || i || ' v1', 'plan', 'pro', 'seats', i %% 500, "
            "'active', i %% 3 > 0, 'signed_up_at', '2024-01-01') AS traits "
            "FROM generate_series(1, %s) i",
            [rows],
        )
        cursor.execute("ANALYZE bench_import_rows")
    half = rows // 2
    variants = (
        ("every index", []),
        ("without the trigram index", ["profile_search_trgm"]),
        ("without either GIN index", ["profile_search_trgm", "profile_traits_gin"]),
    )
    print(f"A plain INSERT of {rows:,} new contacts into a copy of profiles_profile:")
    for label, dropped in variants:
        for connections in (1, 2):
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {_FLOOR_TABLE}")
                cursor.execute(f"CREATE TABLE {_FLOOR_TABLE} (LIKE profiles_profile INCLUDING ALL)")
                # LIKE names the copies after their columns; find them by their definition.
                for name in dropped:
                    cursor.execute(
                        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE i.indrelid = %s::regclass AND pg_get_indexdef(i.indexrelid) LIKE "
                        "'%%' || substring(pg_get_indexdef(%s::regclass) FROM ' USING .*')",
                        [_FLOOR_TABLE, name],
                    )
                    (index,) = cursor.fetchone()
                    cursor.execute(f'DROP INDEX "{index}"')
                cursor.execute("CHECKPOINT")
            connection.close()
            cpu.start()
            started = time.perf_counter()
            if connections == 1:
                _floor_insert(0, rows)
            else:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    list(pool.map(_floor_insert, (0, half), (half, rows)))
            elapsed = time.perf_counter() - started
            _, machine_cpu = cpu.stop()
            print(
                f"  {label:28} {connections} connection{'s' if connections > 1 else ' '}: "
                f"{elapsed:.2f} s = {rows / elapsed:,.0f} rows/s (CPU {machine_cpu:.2f} s)"
            )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_FLOOR_TABLE}, bench_import_rows")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--floor", action="store_true", help="the indexes' cost alone")
    args = parser.parse_args()
    os.environ["HARK_IMPORT_CHUNK_ROWS"] = str(args.chunk)

    import django

    django.setup()
    if args.floor:
        floor(args.rows)
        return
    from django.db import connection

    from environments.services import environment_create
    from imports.models import ImportStatus
    from imports.services import import_create, import_run, mapping_default
    from profiles.models import Profile

    cpu = _Cpu()
    environment = environment_create(name=f"Import bench {time.time():.0f}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, amname FROM pg_indexes i JOIN pg_class c ON c.relname = "
            "i.indexname JOIN pg_am a ON a.oid = c.relam WHERE tablename = 'profiles_profile'"
        )
        print("profiles_profile indexes:", ", ".join(f"{n} ({a})" for n, a in cursor.fetchall()))
        cursor.execute("SELECT count(*) FROM profiles_profile")
        print(f"profiles already in the table: {cursor.fetchone()[0]:,}")

    def gin_merge() -> float:
        """Merge the GIN indexes' pending lists into the indexes (autovacuum does it, in the
        background, after an import's chunks put their entries there); returns the time."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT gin_clean_pending_list(c.oid) FROM pg_index i JOIN pg_class c "
                "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "WHERE i.indrelid = 'profiles_profile'::regclass AND a.amname = 'gin'"
            )
        return time.perf_counter() - started

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
        gin_merge()  # a run does not pay for the entries an earlier one left pending
        connection.close()  # the run's own connection is opened (and its CPU counted) anew
        cpu.start()
        started = time.perf_counter()
        timing = import_run(import_id=contact_import.pk)
        elapsed = time.perf_counter() - started
        python_cpu, machine_cpu = cpu.stop()
        merged = gin_merge()
        contact_import.refresh_from_db()
        print(
            f"{label:20} {timing.rows:,} rows in {elapsed:.2f} s = {timing.rows / elapsed:,.0f} "
            f"rows/s (copy {timing.copy:.2f} s, chunks {timing.chunks:.2f} s, finish "
            f"{timing.finish:.2f} s); created {contact_import.created_count:,}, updated "
            f"{contact_import.updated_count:,}, rejected {contact_import.rejected_count:,}"
        )
        print(
            f"{'':20} CPU: python {python_cpu:.2f} s, whole machine {machine_cpu:.2f} s "
            f"({timing.rows / max(machine_cpu, 0.01):,.0f} rows per core-second); "
            f"load average {os.getloadavg()[0]:.1f}; then the GIN pending lists' merge "
            f"(autovacuum's work, after the run) {merged:.2f} s"
        )
    print("profiles in the environment:", Profile.objects.filter(environment=environment).count())


if __name__ == "__main__":
    main()
