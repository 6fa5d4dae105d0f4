"""Benchmark the SQLite run catalog against issue 14's targets.

Generates a catalog of N runs (default 1,000,000: 200 job names, 20 of them etl-*, 5%
failed, durations exponential with a mean of 2 s, start times over 60 days) straight
through the catalog's own upsert, then times, each as the median of several repetitions
in this process:

- the listing queries behind ``runs --limit 20``, ``runs --status failed --since 1d`` and
  ``runs --min-duration 5s --name 'etl-*'`` (targets < 100 ms, < 300 ms, < 300 ms);
- ``stats`` over all runs (target < 1 s);
- what the catalog adds to one run's start + finish: the two upserts the catalog sink
  does, measured end to end on a fresh connection's steady state (target <= 5 ms);
- ``runlogger sync`` of M summary files (default 100,000) into an empty catalog
  (target < 30 s), and a second, idempotent sync.

Wall clock throughout (the work is I/O and SQLite's C code). Run
``python bench/bench_catalog.py`` (``--quick`` for a smoke run with small sizes). Timings
are reported, never asserted; the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from runlogger._catalog_schema import Row, row_from_summary
from runlogger._catalog_sql import Filters
from runlogger._catalog_sqlite import SQLiteCatalog
from runlogger._cmd_sync import sync_directory
from runlogger._timefmt import utc_timestamp

DAY = 86400.0


def _summary(i: int, now: float, rng: random.Random) -> dict[str, object]:
    job = i % 200  # 200 jobs, 20 of them (10% of the runs) named etl-*
    name = f"etl-{job:02d}" if job < 20 else f"job-{job:03d}"
    start = now - rng.random() * 60 * DAY
    duration_ms = int(rng.expovariate(1 / 2000))  # mean 2 s: 8% take 5 s or more
    status = "failed" if rng.random() < 0.05 else "completed"
    end = start + duration_ms / 1000
    return {
        "schema": "runlogger.summary/1",
        "run_id": f"{utc_timestamp(start).replace(':', '').replace('-', '')[:-1]}-{i:010x}",
        "name": name,
        "parent_run_id": None,
        "status": status,
        "start_time": utc_timestamp(start),
        "end_time": utc_timestamp(end),
        "updated_at": utc_timestamp(end),
        "duration_ms": duration_ms,
        "event_count": 120,
        "counts_by_level": {"INFO": 118, "ERROR": 2 if status == "failed" else 0},
        "counts_by_event_type": {"item_processed": 100},
        "error_count": 2 if status == "failed" else 0,
        "warning_count": 0,
        "first_error": None,
        "exception": None,
        "signal": None,
        "logging_errors": 0,
        "suppressed_by_event_type": {},
        "progress": None,
        "exit_code": 0,
        "host": f"host-{i % 7}",
        "pid": 1000 + i % 30000,
        "argv": ["job.py"],
    }


def _median_ms(function: Callable[[], object], repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build_catalog(path: Path, count: int) -> float:
    rng = random.Random(14)
    now = time.time()
    catalog = SQLiteCatalog(str(path))
    start = time.perf_counter()
    batch: list[Row] = []
    for i in range(count):
        batch.append(row_from_summary(_summary(i, now, rng)))
        if len(batch) == 50_000:
            catalog.upsert(batch)
            batch.clear()
    if batch:
        catalog.upsert(batch)
    catalog.connection().execute("ANALYZE")
    catalog.close()
    return time.perf_counter() - start


def row(label: str, value_ms: float, limit_ms: float) -> str:
    verdict = "PASS" if value_ms < limit_ms else "FAIL"
    return f"| {label} | {value_ms:,.1f} ms | < {limit_ms:,.0f} ms | {verdict} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.files, args.repetitions = 2000, 500, 3
    with tempfile.TemporaryDirectory(prefix="runlogger-bench-catalog-") as work:
        workdir = Path(work)
        built = build_catalog(workdir / "catalog.sqlite3", args.runs)
        print(f"catalog of {args.runs:,} runs built in {built:.1f} s")
        catalog = SQLiteCatalog(str(workdir / "catalog.sqlite3"), create=False)
        now = time.time()
        queries = [
            ("runs --limit 20", lambda: list(catalog.select(Filters(), limit=20)), 100),
            (
                "runs --status failed --since 1d",
                lambda: list(
                    catalog.select(Filters(statuses=frozenset({"failed"}), since=now - DAY))
                ),
                300,
            ),
            (
                "runs --min-duration 5s --name 'etl-*'",
                lambda: list(
                    catalog.select(Filters(min_duration_ms=5000, name="etl-*"), limit=None)
                ),
                300,
            ),
            ("stats (all runs)", lambda: catalog.stats(Filters()), 1000),
        ]
        print("| query | median | target | |")
        print("| --- | --- | --- | --- |")
        for label, function, limit in queries:
            function()  # warm the page cache once
            print(row(label, _median_ms(function, args.repetitions), limit))
        catalog.close()

        # What a run's start + finish costs the sink: two upserts of a real summary.
        sink_catalog = SQLiteCatalog(str(workdir / "catalog.sqlite3"))
        rng = random.Random(1)
        documents = [_summary(args.runs + i, now, rng) for i in range(50)]
        sink_catalog.upsert([row_from_summary(documents[0])])  # connected, migrated

        def start_and_finish() -> None:
            document = documents.pop()
            sink_catalog.upsert([row_from_summary({**document, "status": "running"})])
            sink_catalog.upsert([row_from_summary(document)])

        print(row("catalog per run (start + finish)", _median_ms(start_and_finish, 40), 5))
        sink_catalog.close()

        summaries = workdir / "summaries"
        summaries.mkdir()
        rng = random.Random(2)
        for i in range(args.files):
            document = _summary(i, now, rng)
            (summaries / f"{document['run_id']}.json").write_text(
                json.dumps(document, indent=2), encoding="utf-8"
            )
        fresh = SQLiteCatalog(str(workdir / "synced.sqlite3"))
        start = time.perf_counter()
        result = sync_directory(summaries, fresh)
        first = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        again = sync_directory(summaries, fresh)
        second = (time.perf_counter() - start) * 1000
        fresh.close()
        print(row(f"sync of {args.files:,} files ({result.catalogued:,} rows)", first, 30_000))
        print(row(f"sync again ({again.unchanged:,} unchanged)", second, 30_000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
