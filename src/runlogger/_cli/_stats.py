"""``runlogger stats``: per run name, how often and how long it ran (engine: ``_cmd_stats``)."""

from __future__ import annotations

import argparse

from ._output import error
from ._parsing import (
    TIMES_HELP,
    Parser,
    add_catalog,
    add_dir,
    argument_type,
    run_directory,
    since,
)


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``stats`` and its options to the command line."""
    stats = commands.add_parser(
        "stats",
        help=help_text,
        description="Per run name: runs, failed (failed or terminated), failure rate over "
        "the ended runs, nearest-rank p50/p95 and max duration of the ended runs, when the "
        "last success and the last failure ended.",
        epilog=TIMES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dir(stats, "whose catalog to read")
    add_catalog(stats)
    stats.add_argument(
        "--name", metavar="GLOB", help="only run names matching this shell pattern, e.g. 'etl-*'"
    )
    stats.add_argument(
        "--since",
        metavar="WHEN",
        type=argument_type(since, "time"),
        help="only runs started since WHEN",
    )
    stats.add_argument("--json", action="store_true", help="one JSON object per run name")
    stats.add_argument("--utc", action="store_true", help="show times in UTC, not local")


def execute(args: argparse.Namespace) -> int:
    from .. import _cmd_stats  # the catalog's modules, only for the commands that use it

    return _cmd_stats.command(
        run_directory(args.dir),
        args.catalog,
        name=args.name,
        since=args.since,
        as_json=args.json,
        utc=args.utc,
        error=error,
    )
