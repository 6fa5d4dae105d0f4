"""``runlogger sync``: catalog the summary files the catalog missed (engine: ``_cmd_sync``)."""

from __future__ import annotations

import argparse

from ._output import error
from ._parsing import Parser, add_catalog, add_dir, run_directory


def register(commands: argparse._SubParsersAction[Parser], help_text: str) -> None:
    """Add ``sync`` and its options to the command line."""
    sync = commands.add_parser(
        "sync",
        help=help_text,
        description="Upsert each summary in DIR whose catalog row is missing or older "
        "(runs written while the database was down, by older versions, by other tools). "
        "Idempotent: a second sync changes nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_dir(sync, "the summaries to catalog")
    add_catalog(sync)


def execute(args: argparse.Namespace) -> int:
    from .. import _cmd_sync  # the catalog's modules, only for the commands that use it

    return _cmd_sync.command(run_directory(args.dir), args.catalog, error)
