"""``runlogger run``: a script, a module or any command as one run.

The wrapper (``_wrap``, ``_command``) and the metrics client are imported only when a
run starts, so listing and showing runs never load them. A command line whose options
are all plain (``--name N``, ``--dir=D``, ``--otel``, ...) is read by hand
(:func:`read_options`), without building argparse's parser; anything else -- ``--help``,
an unknown or misspelt option, a missing or odd value -- goes to argparse, which reports
it as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._ids import validate_run_id
from ._basics import UsageError, parse_level, run_directory

if TYPE_CHECKING:
    import argparse

    from ._parsing import Parser

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


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``run`` and its options to the command line."""
    import argparse

    from ._parsing import ENVIRONMENT_HELP, add_dir, argument_type

    formatter = argparse.RawDescriptionHelpFormatter
    run = commands.add_parser(
        "run",
        help=help_text,
        description=_RUN_DESCRIPTION,
        usage=_RUN_USAGE,
        epilog=ENVIRONMENT_HELP,
        formatter_class=formatter,
        allow_abbrev=False,  # the hand-made split of the command line knows full names only
    )
    run.add_argument("--name", metavar="N", help="the run's name (default: the script's name)")
    run.add_argument(
        "--run-id",
        metavar="ID",
        help="use this run id ([A-Za-z0-9][A-Za-z0-9._-]{0,63}; default: a new time-ordered id)",
    )
    add_dir(run, "where the summary and the events file go")
    run.add_argument(
        "--level",
        metavar="L",
        type=argument_type(parse_level, "level"),
        help="lowest level recorded: a name (debug, INFO, ...) or a number",
    )
    run.add_argument(
        "--stderr-level",
        metavar="L",
        type=argument_type(parse_level, "level"),
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


#: ``run``'s options that take a value, and the attribute each sets.
_WITH_VALUE = {
    "--name": "name",
    "--run-id": "run_id",
    "--dir": "dir",
    "--level": "level",
    "--stderr-level": "stderr_level",
    "--pushgateway": "pushgateway",
}
_LEVEL_OPTIONS = frozenset({"level", "stderr_level"})


class RunOptions:
    """``run``'s options as :func:`read_options` read them: the attributes argparse sets."""

    command = "run"

    def __init__(self) -> None:
        self.name: str | None = None
        self.run_id: str | None = None
        self.dir: str | None = None
        self.level: int | None = None
        self.stderr_level: int | None = None
        self.pushgateway: str | None = None
        self.module: str | None = None
        self.otel = False


def read_options(own: Sequence[str]) -> RunOptions | None:
    """``run``'s own options (as :func:`split_arguments` separated them) read without
    argparse, or None when argparse must read them.

    Building the parser costs more than the rest of the command line's start, and a
    wrapped job pays it on every run. Only the plain forms are read here: each option
    spelt in full, ``--opt VALUE`` or ``--opt=VALUE`` with a value that does not start
    with ``-``, levels that parse, ``--otel`` alone; the last of a repeated option wins,
    as with argparse. Everything else (``-h``, an abbreviation, a missing value, a bad
    level, ``--otel=x``) returns None, so argparse gives its usual help or message.
    """
    options = RunOptions()
    index = 0
    while index < len(own):
        token = own[index]
        index += 1
        if token == "--otel":
            options.otel = True
            continue
        option, equals, value = token.partition("=")
        attribute = _WITH_VALUE.get(option)
        if attribute is None:
            return None
        if not equals:
            if index >= len(own):
                return None
            value = own[index]
            index += 1
        if value.startswith("-"):
            return None
        if attribute in _LEVEL_OPTIONS:
            try:
                setattr(options, attribute, parse_level(value))
            except ValueError:
                return None
        else:
            setattr(options, attribute, value)
    return options


def split_arguments(
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


def execute(
    args: argparse.Namespace | RunOptions,
    target: str | None,
    module: bool,
    rest: list[str],
    command: bool = False,
) -> int:
    if not target:
        raise UsageError(
            "run needs a script path or -m MODULE or -- COMMAND (see 'runlogger run --help')"
        )
    if args.run_id is not None:
        validate_run_id(args.run_id)
    _check_run_directory(run_directory(args.dir))
    if args.pushgateway is not None:
        _use_pushgateway(args.pushgateway)
    if args.otel:
        # The program's process reads it where it configures its summary handler; children
        # inherit it, as they inherit the run.
        os.environ["RUNLOGGER_OTEL"] = "1"
    if command:
        from .._command import run_command

        return run_command(
            [target, *rest],
            name=args.name,
            run_id=args.run_id,
            directory=args.dir,
            level=args.level if args.level is not None else logging.INFO,
            stderr_level=args.stderr_level if args.stderr_level is not None else logging.WARNING,
        )
    if args.stderr_level is not None:
        raise UsageError("--stderr-level is for commands run with -- COMMAND")
    # Imported here, not at the top: listing and showing runs never need the wrapper.
    from .._wrap import run_target

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
    from .._http import check_url
    from .._prometheus import require_client

    try:
        check_url(url, "--pushgateway")
        require_client()
    except (ValueError, ImportError) as exc:
        raise UsageError(str(exc).rstrip(".")) from None
    os.environ["RUNLOGGER_PUSHGATEWAY"] = url


def _check_run_directory(directory: Path) -> None:
    """Make sure the runs directory takes files (or can be created), before the script runs.

    Found out later, an unwritable directory costs a traceback per record and a run
    without a summary; found out here, it is one line and exit status 2. Nothing is
    created here: a usage error found after this (no such script) leaves no directory.
    """
    from .._rundir import unwritable

    directory = Path(os.path.abspath(directory))
    if directory.is_dir():
        problem = unwritable(directory)
        if problem is not None:
            raise UsageError(f"cannot write to the runs directory {directory}: {problem.strerror}")
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
    raise UsageError(f"cannot create the runs directory {directory}: {reason}")
