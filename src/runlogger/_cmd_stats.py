"""``runlogger stats``: per run name, how often it ran, failed, and how long it took.

Answers "is my nightly job getting slower, and when did it last work?" from the
catalog in one query. Failed means ``failed`` or ``terminated``; the failure rate is
over the runs that ended; durations (nearest-rank p50, p95, max) are of ended runs;
runs still running count in RUNS only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ._catalog_schema import StatsRow
from ._catalog_sql import Filters
from ._cmd_sync import open_query_catalog
from ._durations import format_duration_ms
from ._timefmt import utc_timestamp

__all__ = ["command"]

_HEADERS = ("NAME", "RUNS", "FAILED", "FAIL%", "P50", "P95", "MAX", "LAST SUCCESS", "LAST FAILURE")


def _rate(row: StatsRow) -> float | None:
    return row.failed / row.ended if row.ended else None


def _when(epoch: float | None, utc: bool) -> str:
    if epoch is None:
        return "-"
    moment = datetime.fromtimestamp(epoch, timezone.utc if utc else None)
    return moment.strftime("%Y-%m-%d %H:%M")


def _duration(value: float | None) -> str:
    return "-" if value is None else format_duration_ms(value)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def command(
    directory: Path,
    option: str | None,
    *,
    name: str | None,
    since: float | None,
    as_json: bool,
    utc: bool,
    error: Callable[[str], None],
) -> int:
    """Print the statistics table (or one JSON object per name)."""

    def report(problem: object) -> None:
        error(f"skipped summary {getattr(problem, 'path', problem)}")

    catalog = open_query_catalog(directory, option, report)
    try:
        rows = catalog.stats(Filters(since=since, name=name))
    finally:
        catalog.close()
    out = sys.stdout
    if not rows:
        error(f"no runs in {catalog.label} match")
        return 0
    if as_json:
        for row in rows:
            rate = _rate(row)
            out.write(
                json.dumps(
                    {
                        "name": row.name,
                        "runs": row.runs,
                        "failed": row.failed,
                        "ended": row.ended,
                        "failure_rate": None if rate is None else round(rate, 4),
                        "p50_ms": row.p50_ms,
                        "p95_ms": row.p95_ms,
                        "max_ms": row.max_ms,
                        "last_success": None
                        if row.last_success is None
                        else utc_timestamp(row.last_success),
                        "last_failure": None
                        if row.last_failure is None
                        else utc_timestamp(row.last_failure),
                    }
                )
                + "\n"
            )
        return 0
    zone = "UTC" if utc else "local"
    headers = (*_HEADERS[:7], f"LAST SUCCESS ({zone})", f"LAST FAILURE ({zone})")
    table = [
        (
            "-" if row.name is None else _printable(row.name),
            str(row.runs),
            str(row.failed),
            "-" if (rate := _rate(row)) is None else f"{100 * rate:.1f}",
            _duration(row.p50_ms),
            _duration(row.p95_ms),
            _duration(row.max_ms),
            _when(row.last_success, utc),
            _when(row.last_failure, utc),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [headers, *table]) for i in range(len(headers))]
    for cells in [headers, *table]:
        parts = [
            cell.rjust(width) if 0 < i < 7 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        out.write("  ".join(parts).rstrip() + "\n")
    return 0
