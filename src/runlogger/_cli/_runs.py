"""``runlogger runs``: the runs of a directory, newest first, as a table or JSON lines.

Kept quick to start: it imports the catalog reader and nothing that writes summaries.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO, TypeVar

from .. import _catalog
from .._durations import format_duration_ms
from ._output import (
    STATUS_COLOURS,
    ellipsis_mark,
    error,
    number,
    paint,
    printable,
    table_width,
    truncate,
    use_colour,
    write_line,
)
from ._parsing import (
    ENVIRONMENT_HELP,
    TIMES_HELP,
    Parser,
    add_catalog,
    add_dir,
    argument_type,
    duration_ms,
    own_catalog,
    positive_int,
    run_directory,
    since,
    status_names,
    until,
)

_T = TypeVar("_T")

_RUNS_DESCRIPTION = """\
List runs, newest first (by start time), as a table or as JSON lines.

Runs are read from the run catalog (DIR/runlogger.sqlite3, or --catalog), which the runs
write themselves; "runlogger sync" brings in summary files it missed.

A run recorded as "running" whose process no longer exists on this host, or whose last
checkpoint is older than three heartbeat intervals, is shown with status "lost" (it was
killed, or its machine rebooted): --status lost selects such runs, and with --json its
summary object is printed with "status": "lost" in place of the recorded "running";
nothing else in the object is changed.
"""

_RUNS_EPILOG = f"""\
{TIMES_HELP}

{ENVIRONMENT_HELP}"""


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``runs`` and its filters to the command line."""
    formatter = argparse.RawDescriptionHelpFormatter
    runs = commands.add_parser(
        "runs",
        help=help_text,
        description=_RUNS_DESCRIPTION,
        epilog=_RUNS_EPILOG,
        formatter_class=formatter,
    )
    add_dir(runs, "where to look for runs")
    runs.add_argument(
        "--status",
        metavar="S",
        action="append",
        type=argument_type(status_names, "status"),
        help=f"only runs with this status: {', '.join(_catalog.STATUSES)} "
        "(repeat or comma-separate for several)",
    )
    runs.add_argument(
        "--min-duration",
        metavar="DURATION",
        type=argument_type(duration_ms, "duration"),
        help="only runs that took at least this long, e.g. 5s",
    )
    runs.add_argument(
        "--max-duration",
        metavar="DURATION",
        type=argument_type(duration_ms, "duration"),
        help="only runs that took at most this long",
    )
    runs.add_argument(
        "--since",
        metavar="WHEN",
        type=argument_type(since, "time"),
        help="only runs started at or after WHEN, e.g. 2026-11-30, 2h, 7d",
    )
    runs.add_argument(
        "--until",
        metavar="WHEN",
        type=argument_type(until, "time"),
        help="only runs started before WHEN",
    )
    runs.add_argument(
        "--name",
        metavar="N",
        help="only runs with this name; a shell pattern such as 'etl-*' also works",
    )
    runs.add_argument(
        "--limit",
        metavar="K",
        type=argument_type(positive_int, "count"),
        help="show at most K runs (the newest ones that match)",
    )
    runs.add_argument(
        "--json", action="store_true", help="print each run's summary as one JSON object per line"
    )
    runs.add_argument("--utc", action="store_true", help="show start times in UTC, not local")
    runs.add_argument("--host", metavar="H", help="only runs of this host")
    add_catalog(runs)


def execute(args: argparse.Namespace) -> int:
    from .. import _cmd_query  # the catalog's modules, only for the commands that read it

    directory = run_directory(args.dir)
    if own_catalog(args) and not directory.is_dir():
        if directory.exists():
            raise NotADirectoryError(20, "not a directory", str(directory))
        raise FileNotFoundError(2, "no such directory", str(directory))
    statuses = args.status and frozenset(status for group in args.status for status in group)
    query = _catalog.Query(
        statuses=statuses or None,
        min_duration_ms=args.min_duration,
        max_duration_ms=args.max_duration,
        since_ts=args.since,
        until_ts=args.until,
        name=args.name,
        limit=args.limit,
    )
    with _collector_paused():
        selection = _cmd_query.select_runs(
            directory,
            args.catalog,
            query,
            host=args.host,
            with_summaries=args.json,
            report=_report_problem,
        )
        return _print_runs(args, selection)


def _report_problem(problem: _catalog.Problem) -> None:
    kind = "unreadable" if problem.unreadable else "corrupt"
    error(f"skipped {kind} summary {problem.path}: {problem.reason}")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, which a listing only slows down.

    A listing of 100,000 runs allocates a few hundred thousand objects that form no
    reference cycles, and each burst of allocations makes the collector walk all of
    them again: about a tenth of a query's time, for nothing to collect.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _print_runs(args: argparse.Namespace, selection: Any) -> int:
    selected = selection.columns
    if not selected:
        if selection.total:
            error(f"no runs in {selection.where} match ({selection.total} runs in all)")
        else:
            error(f"no runs in {selection.where} yet")
        return 0
    out = sys.stdout
    if args.json:
        for document in selection.summaries:
            write_line(out, json.dumps(document))
        return 0
    write_line(out, "\n".join(_runs_table(selected, utc=args.utc, stream=out)))
    return 0


def _runs_table(runs: _catalog.RunColumns, *, utc: bool, stream: TextIO) -> list[str]:
    """The ``runs`` table, fitted to the terminal: the name column gives way first, then the id.

    Built column by column, since a listing may have tens of thousands of rows, and each
    distinct value is rendered once: names, statuses, durations and counts repeat a lot.
    """
    zone = "UTC" if utc else "local"
    headers = ("RUN ID", "NAME", "STATUS", f"START ({zone})", "DURATION", "EVENTS", "ERRORS")
    right_aligned = (False, False, False, False, True, True, True)
    texts = [
        _Texts.of(runs.run_id),
        _rendered(runs.name, _name_text),
        _rendered(runs.status, printable),
        _Texts.of(_start_texts(runs.start_ts, time.gmtime if utc else time.localtime)),
        _rendered(runs.duration_ms, format_duration_ms),
        _rendered(runs.event_count, number),
        _rendered(runs.error_count, number),
    ]
    columns = [column.cells for column in texts]
    natural = [
        max(len(header), column.widest) for header, column in zip(headers, texts, strict=True)
    ]
    widths = list(natural)
    limit = table_width(stream)
    if limit is not None:
        excess = sum(widths) + 2 * (len(widths) - 1) - limit
        for column, minimum in ((1, len(headers[1])), (0, 12)):
            cut = min(max(excess, 0), max(widths[column] - minimum, 0))
            widths[column] -= cut
            excess -= cut
    mark = ellipsis_mark(stream)
    colour = use_colour(stream)
    titles = list(headers)
    # Each row is one %-format, which pads every cell as ljust/rjust would.
    title_formats: list[str] = []
    row_formats: list[str] = []
    for i, width in enumerate(widths):
        if width < natural[i]:
            titles[i] = truncate(titles[i], width, mark)
            columns[i] = [truncate(cell, width, mark) for cell in columns[i]]
        if right_aligned[i]:
            title_formats.append(f"%{width}s")
            row_formats.append(f"%{width}s")
        elif i == 2 and colour:
            title_formats.append(f"%-{width}s")
            row_formats.append("%s")  # padded here: the colour codes take no columns
            columns[i] = [
                paint(cell, STATUS_COLOURS.get(cell), colour) + " " * (width - len(cell))
                for cell in columns[i]
            ]
        else:
            title_formats.append(f"%-{width}s")
            row_formats.append(f"%-{width}s")
    row_format = "  ".join(row_formats)
    return [
        ("  ".join(title_formats) % tuple(titles)).rstrip(),
        *[(row_format % row).rstrip() for row in zip(*columns, strict=True)],
    ]


class _Texts(NamedTuple):
    """A column of the table as text, and the length of its longest cell."""

    cells: list[str]
    widest: int

    @classmethod
    def of(cls, cells: list[str]) -> _Texts:
        return cls(cells, max(map(len, cells), default=0))


def _rendered(values: list[_T], render: Callable[[_T], str]) -> _Texts:
    """``render`` of each value, calling ``render`` (and measuring) once per distinct value."""
    texts = {value: render(value) for value in set(values)}
    return _Texts([texts[value] for value in values], max(map(len, texts.values()), default=0))


def _name_text(name: str | None) -> str:
    return "-" if name is None else printable(name)


#: "00" to "59": the seconds of a start time, appended to its minute's text.
_SECONDS = tuple(f"{second:02d}" for second in range(60))


def _start_texts(
    epochs: Sequence[float | None], to_struct: Callable[[float], time.struct_time]
) -> list[str]:
    """Start times as ``YYYY-MM-DD HH:MM:SS``, formatted once per minute rather than per run.

    A minute's text is reused for its seconds only where the zone's clock runs in step
    with it through the minute (see :func:`_minute_text`); elsewhere each second is
    formatted alone. Like ``time.localtime``, a fraction of a second is dropped.
    """
    minutes: dict[int, str | None] = {}
    texts: list[str] = []
    append = texts.append
    for epoch in epochs:
        if epoch is None:
            append("-")
            continue
        minute, second = divmod(math.floor(epoch), 60)
        prefix = minutes.get(minute, "")
        if prefix == "":
            prefix = minutes[minute] = _minute_text(minute, to_struct)
        if prefix is None:
            append(_start_text(minute * 60 + second, to_struct))
        else:
            append(prefix + _SECONDS[second])
    return texts


def _minute_text(minute: int, to_struct: Callable[[float], time.struct_time]) -> str | None:
    """``YYYY-MM-DD HH:MM:`` for every second of ``minute`` (since the epoch), or None.

    None where the seconds do not share it: a zone whose offset is not whole minutes
    (local mean time before 1900, say), an offset change within the minute, leap
    seconds (a ``right/`` zone), or a time the platform cannot convert.
    """
    first = minute * 60
    try:
        start, end = to_struct(first), to_struct(first + 59)
        if start.tm_sec != 0 or end.tm_sec != 59 or start[:5] != end[:5]:
            return None
        return time.strftime("%Y-%m-%d %H:%M:", start)
    except (OverflowError, OSError, ValueError):
        return None


def _start_text(epoch: float, to_struct: Callable[[float], time.struct_time]) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", to_struct(epoch))
    except (OverflowError, OSError, ValueError):
        return "-"
