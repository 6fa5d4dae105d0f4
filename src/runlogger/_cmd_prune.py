"""``runlogger prune``: retention -- old summaries, event files and catalog rows go together.

A run is old when it started before ``--older-than`` ago. By default only ended runs
(``completed``, ``failed``, ``terminated``) and ``lost`` ones are removed, never one
that may still be running; ``--status`` narrows (or widens) that. The directory is
catalogued first, so summary files the catalog missed are pruned too. Files go first,
the row after, so a file that cannot be removed keeps its row (and is reported).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ._catalog_schema import FINAL_STATUSES, Row
from ._catalog_sink import open_catalog
from ._catalog_sql import Filters
from ._cmd_sync import default_target, sync_directory
from ._ids import RUN_ID_RE
from ._timefmt import utc_timestamp

__all__ = ["command"]

_DEFAULT_STATUSES = frozenset({*FINAL_STATUSES, "lost"})


def _remove(path: Path) -> None:
    """Remove ``path``; one already gone (another prune) is fine."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def command(
    directory: Path,
    option: str | None,
    *,
    older_than_s: float,
    statuses: frozenset[str] | None,
    dry_run: bool,
    error: Callable[[str], None],
) -> int:
    wanted = statuses if statuses is not None else _DEFAULT_STATUSES
    recorded = {status for status in wanted if status != "lost"}
    if "lost" in wanted:
        recorded.add("running")
    cutoff = time.time() - older_than_s
    catalog = open_catalog(default_target(directory, option))
    try:
        if directory.is_dir():
            for problem in sync_directory(directory, catalog).problems:
                error(f"skipped summary {problem.path}: {problem.reason}")
        this_host = socket.gethostname()
        chosen: list[Row] = []
        for row in catalog.select(Filters(statuses=frozenset(recorded), until=cutoff)):
            if catalog.effective_status(row, this_host) in wanted:
                chosen.append(row)
        out = sys.stdout
        verb = "would remove" if dry_run else "removed"
        removed: list[str] = []
        files = 0
        for row in chosen:
            status = catalog.effective_status(row, this_host)
            started = "-" if row.started_at is None else utc_timestamp(row.started_at)
            paths = [directory / f"{row.run_id}{suffix}" for suffix in (".json", ".jsonl")]
            present = [path for path in paths if path.exists() or path.is_symlink()]
            if not RUN_ID_RE.fullmatch(row.run_id):
                present = []  # never a path built from an id that is no file name
            if not dry_run:
                try:
                    for path in present:
                        _remove(path)
                except OSError as exc:
                    error(f"could not remove {exc.filename}: {exc.strerror}; run {row.run_id} kept")
                    continue
            files += len(present)
            removed.append(row.run_id)
            out.write(f"{verb} {row.run_id}  {status}  started {started}  ({len(present)} files)\n")
        if not dry_run:
            catalog.delete(removed)
        noun = "run" if len(removed) == 1 else "runs"
        out.write(
            f"{verb} {len(removed)} {noun} older than {utc_timestamp(cutoff)} "
            f"({files} files in {directory}, rows in {catalog.label})\n"
        )
    finally:
        catalog.close()
    return 0
