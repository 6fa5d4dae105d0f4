"""``runlogger prune``: remove old runs with their files and catalog rows (see ``_cmd_prune``)."""

from __future__ import annotations

import argparse

from ._output import error
from ._parsing import (
    Parser,
    add_catalog,
    add_dir,
    argument_type,
    duration_ms,
    run_directory,
    status_names,
)


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``prune`` and its options to the command line."""
    prune = commands.add_parser(
        "prune",
        help=help_text,
        description="Remove the runs that started more than DURATION ago: their summary "
        "and events files in DIR and their catalog rows. By default ended and lost runs "
        "only; a run that may still be running is kept unless --status names it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dir(prune, "where the runs' files are")
    add_catalog(prune)
    prune.add_argument(
        "--older-than",
        metavar="DURATION",
        required=True,
        type=argument_type(duration_ms, "duration"),
        help="remove runs that started longer ago than this, e.g. 30d",
    )
    prune.add_argument(
        "--status",
        metavar="S",
        action="append",
        type=argument_type(status_names, "status"),
        help="only runs with this status (repeat or comma-separate for several)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="list what would be removed, remove nothing"
    )


def execute(args: argparse.Namespace) -> int:
    from .. import _cmd_prune  # the catalog's modules, only for the commands that use it

    statuses = args.status and frozenset(status for group in args.status for status in group)
    return _cmd_prune.command(
        run_directory(args.dir),
        args.catalog,
        older_than_s=args.older_than / 1000,
        statuses=statuses or None,
        dry_run=args.dry_run,
        error=error,
    )
