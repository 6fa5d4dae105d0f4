"""``runlogger show``: one run's summary as aligned lines, and its events."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .. import _catalog
from .._durations import format_duration_ms, parse_timestamp
from .._errors import RunNotFoundError
from .._ids import RUN_ID_RE
from ._output import (
    LEVEL_COLOURS,
    STATUS_COLOURS,
    error,
    format_time,
    number,
    paint,
    printable,
    use_colour,
    write_line,
)
from ._parsing import (
    ENVIRONMENT_HELP,
    Parser,
    add_catalog,
    add_dir,
    argument_type,
    event_level,
    own_catalog,
    parse_level,
    run_directory,
)

_LEVEL_ORDER = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_SHOW_DESCRIPTION = """\
Show one run's summary (from the run catalog), and with --events its events. RUN_ID may
be any unique prefix of a run id. A run recorded as "running" that is dead (see runs
--help) is shown as "lost" (also in --json output, where "status" becomes "lost").

Events are read from DIR/RUN_ID.jsonl, or for a nested run from the file of the run it
is nested in; events of runs nested in this one are included. With --json, --events
prints only the events, as the JSON lines they were written as (summary left out, so the
output can go straight to jq or a log shipper). --level and --event-type imply --events.
"""


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``show`` and its options to the command line."""
    formatter = argparse.RawDescriptionHelpFormatter
    show = commands.add_parser(
        "show",
        help=help_text,
        description=_SHOW_DESCRIPTION,
        epilog=ENVIRONMENT_HELP,
        formatter_class=formatter,
    )
    show.add_argument("run_id", metavar="RUN_ID", help="a run id, or a unique prefix of one")
    add_dir(show, "where to look for the run")
    show.add_argument(
        "--json", action="store_true", help="print the summary (or the events) as JSON"
    )
    show.add_argument("--events", action="store_true", help="also print the run's events")
    show.add_argument(
        "--level",
        metavar="L",
        type=argument_type(parse_level, "level"),
        help="only events of this level or above: a name (any case) or a number; events "
        "of a custom level this tool cannot rank are kept",
    )
    show.add_argument(
        "--event-type",
        metavar="T",
        action="append",
        help="only events with this event_type (repeat for several)",
    )
    show.add_argument("--utc", action="store_true", help="show times in UTC, not local")
    add_catalog(show)


def execute(args: argparse.Namespace) -> int:
    from .. import _cmd_query  # the catalog's modules, only for the commands that read it

    directory = run_directory(args.dir)
    if own_catalog(args) and not directory.is_dir():
        raise FileNotFoundError(2, "no such directory", str(directory))
    try:
        # Damaged files met while cataloguing are not this command's news ...
        document = _cmd_query.find_run(directory, args.catalog, args.run_id, _ignore_problem)
    except RunNotFoundError:
        # ... unless it is the one asked for: say why it is not a run.
        named = directory / f"{args.run_id}.json"
        if own_catalog(args) and RUN_ID_RE.fullmatch(args.run_id) and named.is_file():
            # A damaged summary: CorruptSummaryError says why; some other JSON file: no run.
            with contextlib.suppress(_catalog.NotASummaryError):
                _catalog.load_summary(named)
        raise
    run_id = str(document.get("run_id"))
    show_events = args.events or args.level is not None or args.event_type is not None
    # Find the events before printing anything, so a missing file is a clean error.
    events_file = _catalog.find_events_file(directory, run_id, document) if show_events else None
    out = sys.stdout
    colour = use_colour(out)
    if args.json and events_file is None:
        write_line(out, json.dumps(document))
        return 0
    if not args.json:
        for line in _summary_lines(run_id, document, utc=args.utc, colour=colour):
            write_line(out, line)
        later = _later_attempts(directory, run_id)
        if later:
            write_line(out, f"later attempts: {', '.join(later)}")
    if events_file is not None:
        _print_events(args, directory, run_id, events_file, out, colour=colour)
    return 0


def _later_attempts(directory: Path, run_id: str) -> list[str]:
    """The re-runs of ``run_id`` recorded as its attempts (``<run_id>.<n>``), in order."""
    attempt = re.compile(re.escape(run_id) + r"\.([2-9]|[1-9][0-9]+)\.json")
    found: list[tuple[int, str]] = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            matched = attempt.fullmatch(entry.name)
            if matched:
                found.append((int(matched.group(1)), entry.name[: -len(".json")]))
    return [name for _, name in sorted(found)]


def _print_events(
    args: argparse.Namespace,
    directory: Path,
    run_id: str,
    events_file: tuple[Path, bool],
    out: TextIO,
    *,
    colour: bool,
) -> None:
    """The run's events, filtered by --level and --event-type, readable or as written."""
    path, whole_file = events_file
    if not args.json:
        write_line(out, "")
        write_line(out, f"events ({path}):")

    def report(line_no: int, file: Path) -> None:
        out.flush()  # keep the report next to the lines around it on a terminal
        error(f"skipped corrupt line {line_no} of {file}")

    wanted_types = set(args.event_type) if args.event_type else None
    shown = 0
    for event in _catalog.read_events(
        path, run_id, whole_file=whole_file, directory=directory, on_corrupt=report
    ):
        data = event.data
        if args.level is not None:
            level = event_level(data.get("level"))
            if level is not None and level < args.level:
                continue
        if wanted_types is not None:
            event_type = data.get("event_type")  # any JSON value: only a string can match
            if not isinstance(event_type, str) or event_type not in wanted_types:
                continue
        shown += 1
        if args.json:
            write_line(out, event.text, fallback=json.dumps(data))
        else:
            for line in _event_lines(data, run_id, colour=colour):
                write_line(out, line)
    if not shown and not args.json:
        write_line(out, "  (no events match)")


def _ignore_problem(_problem: _catalog.Problem) -> None:
    pass


def _summary_lines(
    run_id: str, document: dict[str, Any], *, utc: bool, colour: bool
) -> Iterable[str]:
    """The summary as aligned ``label: value`` lines, most telling facts first."""
    zone = "UTC" if utc else "local"

    def text(value: object) -> str:
        if value is None:
            return "-"
        return printable(value if isinstance(value, str) else json.dumps(value))

    def when(key: str) -> str:
        raw = document.get(key)
        epoch = parse_timestamp(raw)
        if epoch is None:
            return text(raw)
        return f"{format_time(epoch, utc, precise=True)} ({zone})"

    status = text(document.get("status"))
    if status == "lost":
        status += " (recorded as running; its process is gone)"
    duration = document.get("duration_ms")
    duration_text = format_duration_ms(duration) if isinstance(duration, (int, float)) else "-"
    if isinstance(duration, (int, float)) and duration >= 1000:
        duration_text += f" ({number(duration)} ms)"
    end = when("end_time") if document.get("end_time") is not None else "- (not ended)"

    lines = [
        ("run id", text(document.get("run_id", run_id))),
        ("name", text(document.get("name"))),
        ("status", paint(status, STATUS_COLOURS.get(str(document.get("status"))), colour)),
    ]
    if document.get("parent_run_id") is not None:
        lines.append(("parent run", text(document.get("parent_run_id"))))
    if document.get("attempt") is not None:  # a re-run under a finished run's id
        lines.append(
            ("attempt", f"{text(document['attempt'])} of {text(document.get('attempt_of'))}")
        )
    lines += [
        ("started", when("start_time")),
        ("ended", end),
        ("updated", when("updated_at")),
        ("duration", duration_text),
        ("events", number(document.get("event_count"))),
        ("errors", number(document.get("error_count"))),
        ("warnings", number(document.get("warning_count"))),
        ("exit code", number(document.get("exit_code"))),
        ("signal", text(document.get("signal"))),
        ("exception", _exception_text(document.get("exception"))),
        ("logging errors", number(document.get("logging_errors"))),
        ("progress", _progress_text(document.get("progress"))),
        ("host", _host_text(document)),
        ("argv", _argv_text(document.get("argv"))),
    ]
    width = max(len(label) for label, _ in lines) + 2
    for label, value in lines:
        yield f"{label + ':':<{width}}{value}"
    yield from _counts_lines("counts by level", document.get("counts_by_level"), by_level=True)
    yield from _counts_lines("counts by event type", document.get("counts_by_event_type"))
    yield from _counts_lines("suppressed by event type", document.get("suppressed_by_event_type"))
    first_error = document.get("first_error")
    if isinstance(first_error, dict):
        yield "first error:"
        epoch = parse_timestamp(first_error.get("timestamp"))
        at = (
            f"{format_time(epoch, utc, precise=True)} ({zone})"
            if epoch is not None
            else text(first_error.get("timestamp"))
        )
        yield f"  at:       {at}"
        yield f"  logger:   {text(first_error.get('logger'))}"
        if first_error.get("exc_type") is not None:
            yield f"  exc_type: {text(first_error.get('exc_type'))}"
        yield f"  message:  {_indented(first_error.get('message'), 12)}"
    else:
        yield f"{'first error:':<{width}}-"


def _indented(value: object, indent: int) -> str:
    """A possibly multi-line message, continuation lines indented under the first."""
    if not isinstance(value, str):
        return "-" if value is None else printable(json.dumps(value))
    return ("\n" + " " * indent).join(printable(line) for line in value.splitlines() or [""])


def _exception_text(value: object) -> str:
    if not isinstance(value, dict):
        return "-"
    kind, message = value.get("type"), value.get("message")
    head = printable(str(kind)) if kind is not None else "exception"
    return f"{head}: {_indented(message, 4)}" if message else head


def _progress_text(value: object) -> str:
    if not isinstance(value, dict):
        return "-"
    done, total, rate = value.get("done"), value.get("total"), value.get("rate")
    text = number(done)
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        text += f"/{number(total)}"
        if isinstance(done, (int, float)) and total > 0:
            text += f" ({100 * done / total:.0f}%)"
    if isinstance(rate, (int, float)) and not isinstance(rate, bool):
        text += f", {rate:.3g}/s"
    return text


def _host_text(document: dict[str, Any]) -> str:
    host, pid = document.get("host"), document.get("pid")
    text = printable(host) if isinstance(host, str) else "-"
    if pid is not None:
        text += f" (pid {number(pid)})"
    return text


def _argv_text(value: object) -> str:
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        import shlex  # only ``show`` quotes an argv

        return printable(shlex.join(value))
    return "-" if value is None else printable(json.dumps(value))


def _counts_lines(title: str, counts: object, *, by_level: bool = False) -> Iterable[str]:
    """A counts object as indented rows: levels by severity, event types most frequent first."""
    if not isinstance(counts, dict) or not counts:
        yield f"{title}: -"
        return
    if by_level:
        known = [level for level in _LEVEL_ORDER if level in counts]
        keys = known + sorted(key for key in counts if key not in _LEVEL_ORDER)
    else:
        keys = sorted(counts, key=lambda key: (-_sort_number(counts[key]), key))
    width = max(len(printable(key)) for key in keys) + 2
    yield f"{title}:"
    for key in keys:
        yield f"  {printable(key):<{width}}{number(counts[key])}"


def _sort_number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _event_lines(data: dict[str, Any], run_id: str, *, colour: bool) -> Iterable[str]:
    """``timestamp level logger message [event_type]``, then any traceback, indented."""
    level = data.get("level")
    level_text = printable(str(level)) if level is not None else "-"
    message = data.get("message", "")
    lines = message.splitlines() or [""] if isinstance(message, str) else [json.dumps(message)]
    first, *more = lines
    parts = [
        printable(str(data.get("timestamp", "-"))),
        paint(f"{level_text:<8}", LEVEL_COLOURS.get(level_text), colour),
        printable(str(data.get("logger", "-"))),
        printable(first),
    ]
    if data.get("event_type") is not None:
        parts.append(f"[{printable(str(data['event_type']))}]")
    event_run = data.get("run_id")
    if event_run is not None and event_run != run_id:
        parts.append(f"(run {printable(str(event_run))})")
    yield " ".join(parts)
    for line in more:
        yield "    " + printable(line)
    traceback = data.get("exc_info")
    if isinstance(traceback, str) and traceback:
        yield "    " + _indented(traceback.rstrip("\n"), 4)
