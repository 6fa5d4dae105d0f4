"""The command line's words that need no parser: its name, exit status, usage errors, levels.

Kept apart from ``_parsing`` (which builds on argparse) so that ``runlogger run`` with plain
options, which is read without argparse (see ``_run.read_options``), does not import it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._context import RUN_DIR_ENV

__all__ = [
    "DEFAULT_DIR",
    "ENVIRONMENT_HELP",
    "LEVELS",
    "PROG",
    "RUN_DIR_ENV",
    "USAGE_ERROR",
    "UsageError",
    "parse_level",
    "run_directory",
]

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


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


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


def run_directory(option: str | None) -> Path:
    return Path(option or os.environ.get(RUN_DIR_ENV) or DEFAULT_DIR)
