"""What every command's parsing shares: the parser class, usage errors, argument types.

The words that need no parser (``PROG``, ``UsageError``, levels, the runs directory) are
in ``_basics`` and re-exported here.

A bad command line is a :class:`UsageError`: ``main`` reports it as one ``runlogger: ...``
line with exit status 2, never a traceback. The types turn text into values and their
``ValueError`` into argparse's own message (``argument_type``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ._basics import (
    DEFAULT_DIR,
    ENVIRONMENT_HELP,
    LEVELS,
    PROG,
    RUN_DIR_ENV,
    USAGE_ERROR,
    UsageError,
    parse_level,
    run_directory,
)

__all__ = [
    "DEFAULT_DIR",
    "ENVIRONMENT_HELP",
    "LEVELS",
    "PROG",
    "TIMES_HELP",
    "USAGE_ERROR",
    "Parser",
    "UsageError",
    "VersionAction",
    "add_catalog",
    "add_dir",
    "argument_type",
    "duration_ms",
    "event_level",
    "own_catalog",
    "parse_level",
    "positive_int",
    "run_directory",
    "since",
    "status_names",
    "until",
]

#: How DURATION and WHEN are written: the epilog of ``runs``, and of ``stats``.
TIMES_HELP = """\
DURATION is a number and a unit: 250ms, 5s, 1.5s, 2m, 1h, or a sum like 1h30m.
WHEN is an ISO date (2026-11-30: local midnight; with --until the whole day is included),
an ISO datetime (2026-11-30T21:30, 2026-11-30 21:30:05Z; without a zone it is local time),
how long ago (30m, 2h, 7d), or "now". --since is inclusive, --until exclusive.
Durations of running runs are as of their last checkpoint. A directory without a catalog
yet (written by an older version) is catalogued on the first query."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions, so ``main`` returns instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class VersionAction(argparse.Action):
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


def argument_type(function: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """Turn ValueError into ArgumentTypeError, whose message argparse shows unchanged."""

    def convert(text: str) -> Any:
        try:
            return function(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc))

    convert.__name__ = name
    return convert


# The duration and time parsers and the catalog's statuses are imported when a command
# line uses them: ``runlogger run`` needs none of them.


def duration_ms(text: str) -> float:
    from .._durations import parse_duration

    return parse_duration(text).total_seconds() * 1000


def since(text: str) -> float:
    from .._durations import parse_when

    return parse_when(text).timestamp()


def until(text: str) -> float:
    from .._durations import parse_when

    return parse_when(text, end_of_day=True).timestamp()


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid count {text!r}: expected a whole number")
    if value < 1:
        raise ValueError(f"invalid count {text!r}: must be at least 1")
    return value


def status_names(text: str) -> list[str]:
    from .. import _catalog

    values = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [value for value in values if value not in _catalog.STATUSES]
    if unknown or not values:
        raise ValueError(
            f"invalid status {text!r}: choose from {', '.join(_catalog.STATUSES)} "
            "(several may be given, comma-separated)"
        )
    return values


def event_level(name: object) -> int | None:
    """The number of an event's level name; None for a custom level unknown here."""
    if not isinstance(name, str):
        return None
    number = LEVELS.get(name.upper())
    if number is not None:
        return number
    prefix, _, digits = name.partition(" ")  # logging names an unnamed level "Level 15"
    if prefix == "Level" and digits.isdigit():
        return int(digits)
    return None


def add_dir(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--dir",
        metavar="D",
        help=f"{purpose} (default: ${RUN_DIR_ENV}, otherwise ./{DEFAULT_DIR})",
    )


def add_catalog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        metavar="URL",
        help="the run catalog: a SQLite file or postgresql://... (default: $RUNLOGGER_CATALOG, "
        "otherwise DIR/runlogger.sqlite3)",
    )


def own_catalog(args: argparse.Namespace) -> bool:
    """Whether the runs are read from the directory's own catalog (so it must exist)."""
    return args.catalog is None and not os.environ.get("RUNLOGGER_CATALOG")
