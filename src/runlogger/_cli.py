"""The ``runlogger`` command line: ``run`` a script as a run, list ``runs``, ``show`` one.

Parsing and presentation live here, reading the directory in ``_catalog``, running a
script in ``_wrap``, which only ``run`` imports so that listing stays quick to start.
Every failure the user can cause ends as one ``runlogger: ...`` line and exit status 2,
never a traceback: the command is used from cron jobs and scripts that check ``$?``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, TextIO, TypeVar

from . import _catalog
from ._context import RUN_DIR_ENV
from ._durations import format_duration_ms, parse_duration, parse_timestamp, parse_when
from ._errors import RunloggerError, RunNotFoundError
from ._ids import _RUN_ID_RE, validate_run_id

__all__ = ["main"]

PROG = "runlogger"
#: Where runs go without --dir or $RUNLOGGER_DIR: ``_store.DEFAULT_DIR``, which is not
#: imported for it because the store and the summary code would come along.
DEFAULT_DIR = "runs"
_T = TypeVar("_T")
_USAGE_ERROR = 2

_LEVELS = {
    "NOTSET": 0,
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "FATAL": 50,
    "CRITICAL": 50,
}
_LEVEL_ORDER = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_STATUS_COLOURS = {
    "completed": "32",
    "failed": "31",
    "terminated": "33",
    "lost": "35",
    "running": "36",
}
_LEVEL_COLOURS = {"DEBUG": "2", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}

_ENVIRONMENT_HELP = f"""\
environment:
  {RUN_DIR_ENV}   default for --dir (otherwise ./{DEFAULT_DIR})
  NO_COLOR        any non-empty value turns colour off (colour is only used on a terminal)
  COLUMNS         width the runs table fits into (default: the terminal's width; no limit
                  when the output is not a terminal)
"""

_MAIN_EPILOG = f"""\
examples:
  runlogger run --name nightly-etl etl.py --date 2026-11-30
  runlogger run -m mypackage.job --verbose
  runlogger runs --status failed --since 1d
  runlogger runs --min-duration 5s --limit 20
  runlogger show 20261130T2134 --events --level warning

{_ENVIRONMENT_HELP}"""

_RUN_USAGE = (
    "runlogger run [-h] [--name N] [--run-id ID] [--dir D] [--level L] [--stderr-level L] "
    "[--pushgateway URL] [--otel] (SCRIPT.py | -m MODULE | -- CMD) [ARGS ...]"
)
_RUN_DESCRIPTION = """\
Run an unmodified Python script (or module, with -m) as one run: its logging records go
as JSON lines to DIR/RUN_ID.jsonl and as readable lines with the run id to stderr, and
DIR/RUN_ID.json gets the run's summary. Exits with the script's own exit status.
The program runs in a child process the wrapper waits for: if it dies (os._exit, a
crash, SIGKILL) the wrapper finishes the summary; signals sent to the wrapper are
passed on to it. Python processes it starts join the run.

With -- CMD, any command (a shell script, a binary, python -m pip ...) is run as one
run: each line it writes becomes an event (stdout at INFO, stderr at --stderr-level,
default WARNING) while its output still goes to the terminal unchanged. -- NAME.py
runs a Python script as above (the way to run a script whose name starts with '-').

runlogger's options come before the script: everything after SCRIPT.py (or after
-m MODULE, or -- CMD) is passed on unchanged, even arguments that look like options.
"""

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
DURATION is a number and a unit: 250ms, 5s, 1.5s, 2m, 1h, or a sum like 1h30m.
WHEN is an ISO date (2026-11-30: local midnight; with --until the whole day is included),
an ISO datetime (2026-11-30T21:30, 2026-11-30 21:30:05Z; without a zone it is local time),
how long ago (30m, 2h, 7d), or "now". --since is inclusive, --until exclusive.
Durations of running runs are as of their last checkpoint. A directory without a catalog
yet (written by an older version) is catalogued on the first query.

{_ENVIRONMENT_HELP}"""

_SHOW_DESCRIPTION = """\
Show one run's summary (from the run catalog), and with --events its events. RUN_ID may
be any unique prefix of a run id. A run recorded as "running" that is dead (see runs
--help) is shown as "lost" (also in --json output, where "status" becomes "lost").

Events are read from DIR/RUN_ID.jsonl, or for a nested run from the file of the run it
is nested in; events of runs nested in this one are included. With --json, --events
prints only the events, as the JSON lines they were written as (summary left out, so the
output can go straight to jq or a log shipper). --level and --event-type imply --events.
"""


class _UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions, so ``main`` returns instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for (importlib.metadata is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("runlogger")
        except PackageNotFoundError:
            text = "unknown"
        print(f"{PROG} {text}")
        parser.exit()


# --------------------------------------------------------------------------- argument types


def _type(function: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """Turn ValueError into ArgumentTypeError, whose message argparse shows unchanged."""

    def convert(text: str) -> Any:
        try:
            return function(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc))

    convert.__name__ = name
    return convert


def _duration_ms(text: str) -> float:
    return parse_duration(text).total_seconds() * 1000


def _since(text: str) -> float:
    return parse_when(text).timestamp()


def _until(text: str) -> float:
    return parse_when(text, end_of_day=True).timestamp()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid count {text!r}: expected a whole number")
    if value < 1:
        raise ValueError(f"invalid count {text!r}: must be at least 1")
    return value


def _statuses(text: str) -> list[str]:
    values = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [value for value in values if value not in _catalog.STATUSES]
    if unknown or not values:
        raise ValueError(
            f"invalid status {text!r}: choose from {', '.join(_catalog.STATUSES)} "
            "(several may be given, comma-separated)"
        )
    return values


def _level(text: str) -> int:
    """A level by name (any case) or number, as ``logging`` itself accepts it."""
    cleaned = text.strip()
    if cleaned.isdigit():
        return int(cleaned)
    number = _LEVELS.get(cleaned.upper())
    if number is None:
        raise ValueError(
            f"unknown level {text!r}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number"
        )
    return number


def _event_level(name: object) -> int | None:
    """The number of an event's level name; None for a custom level unknown here."""
    if not isinstance(name, str):
        return None
    number = _LEVELS.get(name.upper())
    if number is not None:
        return number
    prefix, _, digits = name.partition(" ")  # logging names an unnamed level "Level 15"
    if prefix == "Level" and digits.isdigit():
        return int(digits)
    return None


# --------------------------------------------------------------------------- the parser


def _build_parser() -> _Parser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Run-scoped JSON logging for batch jobs: run a script as a run, "
        "list runs, show one.",
        epilog=_MAIN_EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    run = commands.add_parser(
        "run",
        help="run a Python script or module as a run",
        description=_RUN_DESCRIPTION,
        usage=_RUN_USAGE,
        epilog=_ENVIRONMENT_HELP,
        formatter_class=formatter,
        allow_abbrev=False,  # the hand-made split of the command line knows full names only
    )
    run.add_argument("--name", metavar="N", help="the run's name (default: the script's name)")
    run.add_argument(
        "--run-id",
        metavar="ID",
        help="use this run id ([A-Za-z0-9][A-Za-z0-9._-]{0,63}; default: a new time-ordered id)",
    )
    _add_dir(run, "where the summary and the events file go")
    run.add_argument(
        "--level",
        metavar="L",
        type=_type(_level, "level"),
        help="lowest level recorded: a name (debug, INFO, ...) or a number",
    )
    run.add_argument(
        "--stderr-level",
        metavar="L",
        type=_type(_level, "level"),
        help="level of the events made of a command's stderr lines (with -- CMD; default WARNING)",
    )
    run.add_argument(
        "--pushgateway",
        metavar="URL",
        help="push the run's metrics to this Prometheus Pushgateway (sets $RUNLOGGER_PUSHGATEWAY)",
    )
    run.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as python -m")
    run.add_argument(
        "--otel",
        action="store_true",
        help="make the run an OpenTelemetry span (sets RUNLOGGER_OTEL=1; the SDK from OTEL_*)",
    )

    runs = commands.add_parser(
        "runs",
        help="list runs, newest first",
        description=_RUNS_DESCRIPTION,
        epilog=_RUNS_EPILOG,
        formatter_class=formatter,
    )
    _add_dir(runs, "where to look for runs")
    runs.add_argument(
        "--status",
        metavar="S",
        action="append",
        type=_type(_statuses, "status"),
        help=f"only runs with this status: {', '.join(_catalog.STATUSES)} "
        "(repeat or comma-separate for several)",
    )
    runs.add_argument(
        "--min-duration",
        metavar="DURATION",
        type=_type(_duration_ms, "duration"),
        help="only runs that took at least this long, e.g. 5s",
    )
    runs.add_argument(
        "--max-duration",
        metavar="DURATION",
        type=_type(_duration_ms, "duration"),
        help="only runs that took at most this long",
    )
    runs.add_argument(
        "--since",
        metavar="WHEN",
        type=_type(_since, "time"),
        help="only runs started at or after WHEN, e.g. 2026-11-30, 2h, 7d",
    )
    runs.add_argument(
        "--until",
        metavar="WHEN",
        type=_type(_until, "time"),
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
        type=_type(_positive_int, "count"),
        help="show at most K runs (the newest ones that match)",
    )
    runs.add_argument(
        "--json", action="store_true", help="print each run's summary as one JSON object per line"
    )
    runs.add_argument("--utc", action="store_true", help="show start times in UTC, not local")
    runs.add_argument("--host", metavar="H", help="only runs of this host")
    _add_catalog(runs)

    show = commands.add_parser(
        "show",
        help="show one run's summary and events",
        description=_SHOW_DESCRIPTION,
        epilog=_ENVIRONMENT_HELP,
        formatter_class=formatter,
    )
    show.add_argument("run_id", metavar="RUN_ID", help="a run id, or a unique prefix of one")
    _add_dir(show, "where to look for the run")
    show.add_argument(
        "--json", action="store_true", help="print the summary (or the events) as JSON"
    )
    show.add_argument("--events", action="store_true", help="also print the run's events")
    show.add_argument(
        "--level",
        metavar="L",
        type=_type(_level, "level"),
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
    _add_catalog(show)
    _add_catalog_commands(commands, formatter)
    return parser


def _add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        metavar="URL",
        help="the run catalog: a SQLite file or postgresql://... (default: $RUNLOGGER_CATALOG, "
        "otherwise DIR/runlogger.sqlite3)",
    )


def _add_catalog_commands(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """``sync``, ``stats`` and ``prune``: parsing only; each lives in a module of its own."""
    sync = commands.add_parser(
        "sync",
        help="catalog every summary file missing from (or newer than) the catalog",
        description="Upsert each summary in DIR whose catalog row is missing or older "
        "(runs written while the database was down, by older versions, by other tools). "
        "Idempotent: a second sync changes nothing.",
        formatter_class=formatter,
    )
    _add_dir(sync, "the summaries to catalog")
    _add_catalog(sync)
    stats = commands.add_parser(
        "stats",
        help="per run name: runs, failures, p50/p95/max duration, last success and failure",
        description="Per run name: runs, failed (failed or terminated), failure rate over "
        "the ended runs, nearest-rank p50/p95 and max duration of the ended runs, when the "
        "last success and the last failure ended.",
        epilog=_RUNS_EPILOG.split("\n\n")[0],
        formatter_class=formatter,
    )
    _add_dir(stats, "whose catalog to read")
    _add_catalog(stats)
    stats.add_argument(
        "--name", metavar="GLOB", help="only run names matching this shell pattern, e.g. 'etl-*'"
    )
    stats.add_argument(
        "--since", metavar="WHEN", type=_type(_since, "time"), help="only runs started since WHEN"
    )
    stats.add_argument("--json", action="store_true", help="one JSON object per run name")
    stats.add_argument("--utc", action="store_true", help="show times in UTC, not local")
    prune = commands.add_parser(
        "prune",
        help="remove old runs: summaries, event files and catalog rows together",
        description="Remove the runs that started more than DURATION ago: their summary "
        "and events files in DIR and their catalog rows. By default ended and lost runs "
        "only; a run that may still be running is kept unless --status names it.",
        formatter_class=formatter,
    )
    _add_dir(prune, "where the runs' files are")
    _add_catalog(prune)
    prune.add_argument(
        "--older-than",
        metavar="DURATION",
        required=True,
        type=_type(_duration_ms, "duration"),
        help="remove runs that started longer ago than this, e.g. 30d",
    )
    prune.add_argument(
        "--status",
        metavar="S",
        action="append",
        type=_type(_statuses, "status"),
        help="only runs with this status (repeat or comma-separate for several)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list what would be removed, remove nothing"
    )


def _add_dir(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--dir",
        metavar="D",
        help=f"{purpose} (default: ${RUN_DIR_ENV}, otherwise ./{DEFAULT_DIR})",
    )


def _split_run_arguments(
    arguments: Sequence[str],
) -> tuple[list[str], str | None, bool, list[str], bool]:
    """Split ``run``'s arguments into its own options, the target, and the script's arguments.

    argparse cannot be trusted with this (it would take ``--name`` after the script as
    its own), so the first token that is not one of our options, ``-m MODULE`` or the
    token after ``--`` ends our options. Returns (own, target, is_module, script_args,
    is_command): after ``--`` the target is a command unless its name ends in ``.py``.
    """
    with_value = {"--name", "--run-id", "--dir", "--level", "--stderr-level", "--pushgateway"}
    index = 0
    while index < len(arguments):
        token = arguments[index]
        if token == "--":
            own = list(arguments[:index])
            if index + 1 < len(arguments):
                target = arguments[index + 1]
                command = not target.endswith(".py")
                return own, target, False, list(arguments[index + 2 :]), command
            return own, None, False, [], False
        if token == "-m":
            if index + 1 < len(arguments):
                return (
                    list(arguments[:index]),
                    arguments[index + 1],
                    True,
                    list(arguments[index + 2 :]),
                    False,
                )
            return list(arguments), None, True, [], False
        if token.startswith("-m") and not token.startswith("--"):
            return list(arguments[:index]), token[2:], True, list(arguments[index + 1 :]), False
        if token in with_value:
            index += 2
            continue
        if token.startswith("-") and token != "-":
            index += 1  # --name=x, -h, or an unknown option argparse will report
            continue
        return list(arguments[:index]), token, False, list(arguments[index + 1 :]), False
    return list(arguments), None, False, [], False


# --------------------------------------------------------------------------- output helpers


def _error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def _write(stream: TextIO, text: str, fallback: str | None = None) -> None:
    """Write one line; on a terminal that cannot encode it, write ``fallback`` or escapes."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        if fallback is None:
            encoding = getattr(stream, "encoding", None) or "ascii"
            fallback = text.encode(encoding, "backslashreplace").decode(encoding)
        stream.write(fallback + "\n")


def _use_colour(stream: TextIO) -> bool:
    """Colour only for a person at a terminal who has not opted out (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def _table_width(stream: TextIO) -> int | None:
    """The width to fit into: the terminal's (or $COLUMNS); None (no limit) for a pipe or file."""
    if not os.environ.get("COLUMNS"):
        try:
            if not stream.isatty():
                return None
        except (AttributeError, ValueError):
            return None
    return shutil.get_terminal_size().columns


def _printable(text: str) -> str:
    """Escape control characters, so a hostile or odd name cannot move the cursor or a column."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _ellipsis(stream: TextIO) -> str:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return "\u2026" if encoding.startswith("utf") else "~"


def _truncate(text: str, width: int, mark: str) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + mark


def _format_time(epoch: float | None, utc: bool, *, precise: bool = False) -> str:
    if epoch is None:
        return "-"
    try:
        moment = datetime.fromtimestamp(epoch, timezone.utc if utc else None)
    except (OverflowError, OSError, ValueError):
        return "-"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if precise:
        text += f".{moment.microsecond // 1000:03d}"
    return text


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- commands


def _directory(option: str | None) -> Path:
    return Path(option or os.environ.get(RUN_DIR_ENV) or DEFAULT_DIR)


def _cmd_run(
    args: argparse.Namespace,
    target: str | None,
    module: bool,
    rest: list[str],
    command: bool = False,
) -> int:
    if not target:
        raise _UsageError(
            "run needs a script path or -m MODULE or -- COMMAND (see 'runlogger run --help')"
        )
    if args.run_id is not None:
        validate_run_id(args.run_id)
    _check_run_directory(_directory(args.dir))
    if args.pushgateway is not None:
        _use_pushgateway(args.pushgateway)
    if args.otel:
        # The program's process reads it where it configures its summary handler; children
        # inherit it, as they inherit the run.
        os.environ["RUNLOGGER_OTEL"] = "1"
    if command:
        from ._command import run_command

        return run_command(
            [target, *rest],
            name=args.name,
            run_id=args.run_id,
            directory=args.dir,
            level=args.level if args.level is not None else logging.INFO,
            stderr_level=args.stderr_level if args.stderr_level is not None else logging.WARNING,
        )
    if args.stderr_level is not None:
        raise _UsageError("--stderr-level is for commands run with -- COMMAND")
    # Imported here, not at the top: listing and showing runs never need the wrapper.
    from ._wrap import run_target

    return run_target(
        target,
        rest,
        module=module,
        name=args.name,
        run_id=args.run_id,
        directory=args.dir,
        level=args.level,
    )


def _use_pushgateway(url: str) -> None:
    """Check ``--pushgateway`` now (one line, exit 2) and hand it to the run's processes
    through the environment, where the summary handler of every process looks for it."""
    from ._http import check_url
    from ._prometheus import require_client

    try:
        check_url(url, "--pushgateway")
        require_client()
    except (ValueError, ImportError) as exc:
        raise _UsageError(str(exc).rstrip(".")) from None
    os.environ["RUNLOGGER_PUSHGATEWAY"] = url


def _check_run_directory(directory: Path) -> None:
    """Make sure the runs directory takes files (or can be created), before the script runs.

    Found out later, an unwritable directory costs a traceback per record and a run
    without a summary; found out here, it is one line and exit status 2. Nothing is
    created here: a usage error found after this (no such script) leaves no directory.
    """
    from ._rundir import unwritable

    directory = Path(os.path.abspath(directory))
    if directory.is_dir():
        problem = unwritable(directory)
        if problem is not None:
            raise _UsageError(f"cannot write to the runs directory {directory}: {problem.strerror}")
        return
    existing = directory.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if directory.exists() or not existing.is_dir():
        reason = "File exists" if directory.exists() else "Not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = "Permission denied"
    else:
        return
    raise _UsageError(f"cannot create the runs directory {directory}: {reason}")


def _cmd_runs(args: argparse.Namespace) -> int:
    from . import _cmd_query  # the catalog's modules, only for the commands that read it

    directory = _directory(args.dir)
    if _own_catalog(args) and not directory.is_dir():
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


def _own_catalog(args: argparse.Namespace) -> bool:
    """Whether the runs are read from the directory's own catalog (so it must exist)."""
    return args.catalog is None and not os.environ.get("RUNLOGGER_CATALOG")


def _ignore_problem(_problem: _catalog.Problem) -> None:
    pass


def _report_problem(problem: _catalog.Problem) -> None:
    kind = "unreadable" if problem.unreadable else "corrupt"
    _error(f"skipped {kind} summary {problem.path}: {problem.reason}")


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
            _error(f"no runs in {selection.where} match ({selection.total} runs in all)")
        else:
            _error(f"no runs in {selection.where} yet")
        return 0
    out = sys.stdout
    if args.json:
        for document in selection.summaries:
            _write(out, json.dumps(document))
        return 0
    _write(out, "\n".join(_runs_table(selected, utc=args.utc, stream=out)))
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
        _rendered(runs.status, _printable),
        _Texts.of(_start_texts(runs.start_ts, time.gmtime if utc else time.localtime)),
        _rendered(runs.duration_ms, format_duration_ms),
        _rendered(runs.event_count, _number),
        _rendered(runs.error_count, _number),
    ]
    columns = [column.cells for column in texts]
    natural = [
        max(len(header), column.widest) for header, column in zip(headers, texts, strict=True)
    ]
    widths = list(natural)
    limit = _table_width(stream)
    if limit is not None:
        excess = sum(widths) + 2 * (len(widths) - 1) - limit
        for column, minimum in ((1, len(headers[1])), (0, 12)):
            cut = min(max(excess, 0), max(widths[column] - minimum, 0))
            widths[column] -= cut
            excess -= cut
    mark = _ellipsis(stream)
    colour = _use_colour(stream)
    titles = list(headers)
    # Each row is one %-format, which pads every cell as ljust/rjust would.
    title_formats: list[str] = []
    row_formats: list[str] = []
    for i, width in enumerate(widths):
        if width < natural[i]:
            titles[i] = _truncate(titles[i], width, mark)
            columns[i] = [_truncate(cell, width, mark) for cell in columns[i]]
        if right_aligned[i]:
            title_formats.append(f"%{width}s")
            row_formats.append(f"%{width}s")
        elif i == 2 and colour:
            title_formats.append(f"%-{width}s")
            row_formats.append("%s")  # padded here: the colour codes take no columns
            columns[i] = [
                _paint(cell, _STATUS_COLOURS.get(cell), colour) + " " * (width - len(cell))
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
    return "-" if name is None else _printable(name)


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


def _cmd_show(args: argparse.Namespace) -> int:
    from . import _cmd_query

    directory = _directory(args.dir)
    if _own_catalog(args) and not directory.is_dir():
        raise FileNotFoundError(2, "no such directory", str(directory))
    try:
        # Damaged files met while cataloguing are not this command's news ...
        document = _cmd_query.find_run(directory, args.catalog, args.run_id, _ignore_problem)
    except RunNotFoundError:
        # ... unless it is the one asked for: say why it is not a run.
        named = directory / f"{args.run_id}.json"
        if _own_catalog(args) and _RUN_ID_RE.fullmatch(args.run_id) and named.is_file():
            # A damaged summary: CorruptSummaryError says why; some other JSON file: no run.
            with contextlib.suppress(_catalog.NotASummaryError):
                _catalog.load_summary(named)
        raise
    run_id = str(document.get("run_id"))
    show_events = args.events or args.level is not None or args.event_type is not None
    # Find the events before printing anything, so a missing file is a clean error.
    events_file = _catalog.find_events_file(directory, run_id, document) if show_events else None
    out = sys.stdout
    colour = _use_colour(out)
    if args.json and events_file is None:
        _write(out, json.dumps(document))
        return 0
    if not args.json:
        for line in _summary_lines(run_id, document, utc=args.utc, colour=colour):
            _write(out, line)
    if events_file is not None:
        _print_events(args, directory, run_id, events_file, out, colour=colour)
    return 0


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
        _write(out, "")
        _write(out, f"events ({path}):")

    def report(line_no: int, file: Path) -> None:
        out.flush()  # keep the report next to the lines around it on a terminal
        _error(f"skipped corrupt line {line_no} of {file}")

    wanted_types = set(args.event_type) if args.event_type else None
    shown = 0
    for event in _catalog.read_events(
        path, run_id, whole_file=whole_file, directory=directory, on_corrupt=report
    ):
        data = event.data
        if args.level is not None:
            level = _event_level(data.get("level"))
            if level is not None and level < args.level:
                continue
        if wanted_types is not None:
            event_type = data.get("event_type")  # any JSON value: only a string can match
            if not isinstance(event_type, str) or event_type not in wanted_types:
                continue
        shown += 1
        if args.json:
            _write(out, event.text, fallback=json.dumps(data))
        else:
            for line in _event_lines(data, run_id, colour=colour):
                _write(out, line)
    if not shown and not args.json:
        _write(out, "  (no events match)")


def _summary_lines(
    run_id: str, document: dict[str, Any], *, utc: bool, colour: bool
) -> Iterable[str]:
    """The summary as aligned ``label: value`` lines, most telling facts first."""
    zone = "UTC" if utc else "local"

    def text(value: object) -> str:
        if value is None:
            return "-"
        return _printable(value if isinstance(value, str) else json.dumps(value))

    def when(key: str) -> str:
        raw = document.get(key)
        epoch = parse_timestamp(raw)
        if epoch is None:
            return text(raw)
        return f"{_format_time(epoch, utc, precise=True)} ({zone})"

    status = text(document.get("status"))
    if status == "lost":
        status += " (recorded as running; its process is gone)"
    duration = document.get("duration_ms")
    duration_text = format_duration_ms(duration) if isinstance(duration, (int, float)) else "-"
    if isinstance(duration, (int, float)) and duration >= 1000:
        duration_text += f" ({_number(duration)} ms)"
    end = when("end_time") if document.get("end_time") is not None else "- (not ended)"

    lines = [
        ("run id", text(document.get("run_id", run_id))),
        ("name", text(document.get("name"))),
        ("status", _paint(status, _STATUS_COLOURS.get(str(document.get("status"))), colour)),
    ]
    if document.get("parent_run_id") is not None:
        lines.append(("parent run", text(document.get("parent_run_id"))))
    lines += [
        ("started", when("start_time")),
        ("ended", end),
        ("updated", when("updated_at")),
        ("duration", duration_text),
        ("events", _number(document.get("event_count"))),
        ("errors", _number(document.get("error_count"))),
        ("warnings", _number(document.get("warning_count"))),
        ("exit code", _number(document.get("exit_code"))),
        ("signal", text(document.get("signal"))),
        ("exception", _exception_text(document.get("exception"))),
        ("logging errors", _number(document.get("logging_errors"))),
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
            f"{_format_time(epoch, utc, precise=True)} ({zone})"
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
        return "-" if value is None else _printable(json.dumps(value))
    return ("\n" + " " * indent).join(_printable(line) for line in value.splitlines() or [""])


def _exception_text(value: object) -> str:
    if not isinstance(value, dict):
        return "-"
    kind, message = value.get("type"), value.get("message")
    head = _printable(str(kind)) if kind is not None else "exception"
    return f"{head}: {_indented(message, 4)}" if message else head


def _progress_text(value: object) -> str:
    if not isinstance(value, dict):
        return "-"
    done, total, rate = value.get("done"), value.get("total"), value.get("rate")
    text = _number(done)
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        text += f"/{_number(total)}"
        if isinstance(done, (int, float)) and total > 0:
            text += f" ({100 * done / total:.0f}%)"
    if isinstance(rate, (int, float)) and not isinstance(rate, bool):
        text += f", {rate:.3g}/s"
    return text


def _host_text(document: dict[str, Any]) -> str:
    host, pid = document.get("host"), document.get("pid")
    text = _printable(host) if isinstance(host, str) else "-"
    if pid is not None:
        text += f" (pid {_number(pid)})"
    return text


def _argv_text(value: object) -> str:
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        import shlex  # only ``show`` quotes an argv

        return _printable(shlex.join(value))
    return "-" if value is None else _printable(json.dumps(value))


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
    width = max(len(_printable(key)) for key in keys) + 2
    yield f"{title}:"
    for key in keys:
        yield f"  {_printable(key):<{width}}{_number(counts[key])}"


def _sort_number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _event_lines(data: dict[str, Any], run_id: str, *, colour: bool) -> Iterable[str]:
    """``timestamp level logger message [event_type]``, then any traceback, indented."""
    level = data.get("level")
    level_text = _printable(str(level)) if level is not None else "-"
    message = data.get("message", "")
    lines = message.splitlines() or [""] if isinstance(message, str) else [json.dumps(message)]
    first, *more = lines
    parts = [
        _printable(str(data.get("timestamp", "-"))),
        _paint(f"{level_text:<8}", _LEVEL_COLOURS.get(level_text), colour),
        _printable(str(data.get("logger", "-"))),
        _printable(first),
    ]
    if data.get("event_type") is not None:
        parts.append(f"[{_printable(str(data['event_type']))}]")
    event_run = data.get("run_id")
    if event_run is not None and event_run != run_id:
        parts.append(f"(run {_printable(str(event_run))})")
    yield " ".join(parts)
    for line in more:
        yield "    " + _printable(line)
    traceback = data.get("exc_info")
    if isinstance(traceback, str) and traceback:
        yield "    " + _indented(traceback.rstrip("\n"), 4)


# --------------------------------------------------------------------------- entry point


def _describe_os_error(exc: OSError) -> str:
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc)


def _silence_stdout() -> None:
    """After a closed pipe (``runlogger runs | head``), keep interpreter exit from complaining."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _run_main(arguments: list[str]) -> int:
    parser = _build_parser()
    target: str | None = None
    module = False
    rest: list[str] = []
    command = False
    if arguments and arguments[0] == "run":
        own, target, module, rest, command = _split_run_arguments(arguments[1:])
        arguments = ["run", *own]
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.command == "run":
        if args.module is not None:  # -m given in a form the split did not see, e.g. --m
            target, module = args.module, True
        return _cmd_run(args, target, module, rest, command)
    if args.command == "runs":
        return _cmd_runs(args)
    if args.command == "show":
        return _cmd_show(args)
    if args.command in ("sync", "stats", "prune"):
        return _cmd_catalog(args)
    raise _UsageError(
        f"a command is needed: run, runs, show, stats, sync or prune (see '{PROG} --help')"
    )


def _cmd_catalog(args: argparse.Namespace) -> int:
    """Dispatch to the catalog commands, imported only when used."""
    directory = _directory(args.dir)
    if args.command == "sync":
        from . import _cmd_sync

        return _cmd_sync.command(directory, args.catalog, _error)
    if args.command == "stats":
        from . import _cmd_stats

        return _cmd_stats.command(
            directory,
            args.catalog,
            name=args.name,
            since=args.since,
            as_json=args.json,
            utc=args.utc,
            error=_error,
        )
    from . import _cmd_prune

    statuses = args.status and frozenset(status for group in args.status for status in group)
    return _cmd_prune.command(
        directory,
        args.catalog,
        older_than_s=args.older_than / 1000,
        statuses=statuses or None,
        dry_run=args.dry_run,
        error=_error,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (0 ok, 2 bad input or unknown run).

    ``argv`` excludes the program name; None means ``sys.argv[1:]``.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run_main(arguments)
    except _UsageError as exc:
        _error(str(exc))
    except RunloggerError as exc:
        _error(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 141  # what a shell reports for a writer killed by SIGPIPE
    except OSError as exc:
        _error(_describe_os_error(exc))
    except KeyboardInterrupt:
        return 130
    return _USAGE_ERROR
