"""What every command's parsing shares: the parser class, usage errors, argument types.

A bad command line is a :class:`UsageError`: ``main`` reports it as one ``runlogger: ...``
line with exit status 2, never a traceback. The types turn text into values and their
``ValueError`` into argparse's own message (``argument_type``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import _catalog
from .._context import RUN_DIR_ENV
from .._durations import parse_duration, parse_when

PROG = "runlogger"
#: Where runs go without --dir or $RUNLOGGER_DIR: ``_store.DEFAULT_DIR``, which is not
#: imported for it because the store and the summary code would come along.
DEFAULT_DIR = "runs"
USAGE_ERROR = 2

LEVELS = {
    "NOTSET": 0,
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "FATAL": 50,
    "CRITICAL": 50,
}

ENVIRONMENT_HELP = f"""\
environment:
  {RUN_DIR_ENV}   default for --dir (otherwise ./{DEFAULT_DIR})
  NO_COLOR        any non-empty value turns colour off (colour is only used on a terminal)
  COLUMNS         width the runs table fits into (default: the terminal's width; no limit
                  when the output is not a terminal)
"""

#: How DURATION and WHEN are written: the epilog of ``runs``, and of ``stats``.
TIMES_HELP = """\
DURATION is a number and a unit: 250ms, 5s, 1.5s, 2m, 1h, or a sum like 1h30m.
WHEN is an ISO date (2026-11-30: local midnight; with --until the whole day is included),
an ISO datetime (2026-11-30T21:30, 2026-11-30 21:30:05Z; without a zone it is local time),
how long ago (30m, 2h, 7d), or "now". --since is inclusive, --until exclusive.
Durations of running runs are as of their last checkpoint. A directory without a catalog
yet (written by an older version) is catalogued on the first query."""


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


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


def duration_ms(text: str) -> float:
    return parse_duration(text).total_seconds() * 1000


def since(text: str) -> float:
    return parse_when(text).timestamp()


def until(text: str) -> float:
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
    values = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [value for value in values if value not in _catalog.STATUSES]
    if unknown or not values:
        raise ValueError(
            f"invalid status {text!r}: choose from {', '.join(_catalog.STATUSES)} "
            "(several may be given, comma-separated)"
        )
    return values


def parse_level(text: str) -> int:
    """A level by name (any case) or number, as ``logging`` itself accepts it."""
    cleaned = text.strip()
    if cleaned.isdigit():
        return int(cleaned)
    number = LEVELS.get(cleaned.upper())
    if number is None:
        raise ValueError(
            f"unknown level {text!r}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number"
        )
    return number


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


def run_directory(option: str | None) -> Path:
    return Path(option or os.environ.get(RUN_DIR_ENV) or DEFAULT_DIR)


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
