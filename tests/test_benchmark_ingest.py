"""The ingest benchmark's verdict on its goals (benchmarks/ingest.py::goal_summary): each
round's ratio is taken against the trivial run of the same round, the median decides, and any
p99 at or over 50 ms or any error fails the goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "bench_ingest", Path(__file__).resolve().parent.parent / "benchmarks" / "ingest.py"
)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def _run(case, round_, rps, p99=30.0, errors=0, events=None):
    return {
        "case": case,
        "round": round_,
        "rps": rps,
        "p99_ms": p99,
        "errors": errors,
        "events_per_s": events,
    }


def _summary(rows):
    trivial = {r["round"]: r["rps"] for r in rows if r["case"] == "trivial"}
    return bench.goal_summary(rows, trivial).splitlines()


def test_ratio_is_taken_within_each_round_and_the_median_decides():
    rows = [
        _run("trivial", 1, 1000),
        _run("track", 1, 480),  # 48%
        _run("trivial", 2, 2000),
        _run("track", 2, 1100),  # 55%
        _run("trivial", 3, 1200),
        _run("track", 3, 624),  # 52%
    ]
    [line] = _summary(rows)
    assert line.startswith("track: 52% of trivial")
    assert line.endswith("goal met")


def test_a_slow_tail_or_an_error_fails_the_goal():
    rows = [_run("trivial", 1, 1000), _run("identify", 1, 600, p99=50.0)]
    assert _summary(rows)[0].endswith("goal NOT met")
    rows = [_run("trivial", 1, 1000), _run("identify", 1, 600, errors=1)]
    assert _summary(rows)[0].endswith("goal NOT met")
    rows = [_run("trivial", 1, 1000), _run("identify", 1, 499)]
    assert _summary(rows)[0].endswith("goal NOT met")


def test_batches_need_twenty_thousand_events_a_second():
    assert _summary([_run("batch", 1, 20, events=20_000)]) == [
        "batch: 20,000 events/s, 0 errors: goal met"
    ]
    assert _summary([_run("batch", 1, 19, events=19_990)])[0].endswith("goal NOT met")


def test_paced_runs_do_not_count_toward_the_goal():
    rows = [_run("trivial", 1, 1000), _run("track", 1, 600), _run("track", None, 100, p99=9000)]
    assert _summary(rows)[0].endswith("goal met")
