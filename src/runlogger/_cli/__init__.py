"""The ``runlogger`` command line: ``run`` a script as a run, list ``runs``, ``show`` one.

This package only builds the parser and dispatches: each command is a module of its own
(``_run``, ``_runs``, ``_show``) that registers its options and does its work, with
parsing helpers in ``_parsing`` and everything printed in ``_output``. Only the module of
the command being run is imported (the others appear in ``--help`` by name and help line
alone), and it imports what only it needs when it runs: ``run`` the wrapper, so that
listing stays quick to start.
Every failure the user can cause ends as one ``runlogger: ...`` line and exit status 2,
never a traceback: the command is used from cron jobs and scripts that check ``$?``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from .._errors import RunloggerError
from ._basics import PROG, USAGE_ERROR, UsageError
from ._output import error

if TYPE_CHECKING:
    import argparse

    from ._parsing import Parser

__all__ = ["main"]

#: Every command with its line in ``--help``, in the order listed there.
_COMMANDS = {
    "run": "run a Python script or module as a run",
    "runs": "list runs, newest first",
    "show": "show one run's summary and events",
    "sync": "catalog every summary file missing from (or newer than) the catalog",
    "stats": "per run name: runs, failures, p50/p95/max duration, last success and failure",
    "prune": "remove old runs: summaries, event files and catalog rows together",
}


class _Command(Protocol):
    """A command module other than ``run`` (whose command line is split by hand)."""

    def register(self, commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
        """Add the command's subparser and options."""

    def execute(self, args: argparse.Namespace) -> int:
        """Do the command's work; returns the exit status."""


_MAIN_EXAMPLES = """\
examples:
  runlogger run --name nightly-etl etl.py --date 2026-11-30
  runlogger run -m mypackage.job --verbose
  runlogger runs --status failed --since 1d
  runlogger runs --min-duration 5s --limit 20
  runlogger show 20261130T2134 --events --level warning
"""


def _build_parser(chosen: str | None) -> Parser:
    """The parser, with the options of the ``chosen`` command only.

    argparse picks the command by the first word that is not an option (the top level has
    no option that takes a value), which is ``chosen``: the other commands never parse
    anything, so a name and a help line are all they need.
    """
    import argparse

    from ._parsing import ENVIRONMENT_HELP, Parser, VersionAction

    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog=PROG,
        description="Run-scoped JSON logging for batch jobs: run a script as a run, "
        "list runs, show one.",
        epilog=f"{_MAIN_EXAMPLES}\n{ENVIRONMENT_HELP}",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action=VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, help_text in _COMMANDS.items():
        if name != chosen:
            commands.add_parser(name, help=help_text)
        elif name == "run":
            from . import _run

            _run.register(commands, help_text)
        else:
            _command(name).register(commands, help_text)
    return parser


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
    target: str | None = None
    module = False
    rest: list[str] = []
    command = False
    if arguments and arguments[0] == "run":
        from . import _run

        own, target, module, rest, command = _run.split_arguments(arguments[1:])
        options = _run.read_options(own) if target else None
        if options is not None:  # plain options: no parser to build (see read_options)
            return _run.execute(options, target, module, rest, command)
        arguments = ["run", *own]
    parser = _build_parser(next((word for word in arguments if not word.startswith("-")), None))
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.command == "run":
        from . import _run

        if args.module is not None:  # -m given in a form the split did not see, e.g. --m
            target, module = args.module, True
        return _run.execute(args, target, module, rest, command)
    if args.command in _COMMANDS:
        return _command(args.command).execute(args)
    raise UsageError(
        f"a command is needed: run, runs, show, stats, sync or prune (see '{PROG} --help')"
    )


def _command(name: str) -> _Command:
    """The module of command ``name`` (not ``run``), imported now: only the one being run is."""
    if name == "runs":
        from . import _runs

        return _runs
    if name == "show":
        from . import _show

        return _show
    if name == "sync":
        from . import _sync

        return _sync
    if name == "stats":
        from . import _stats

        return _stats
    from . import _prune

    return _prune


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status (0 ok, 2 bad input or unknown run).

    ``argv`` excludes the program name; None means ``sys.argv[1:]``.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run_main(arguments)
    except UsageError as exc:
        error(str(exc))
    except RunloggerError as exc:
        error(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 141  # what a shell reports for a writer killed by SIGPIPE
    except OSError as exc:
        error(_describe_os_error(exc))
    except KeyboardInterrupt:
        return 130
    return USAGE_ERROR
