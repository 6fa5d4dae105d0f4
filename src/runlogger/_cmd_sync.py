"""``runlogger sync``: bring every summary file of a directory into the catalog.

The summary files are the record of truth; the catalog is written by the runs
themselves, but it misses what happened while it was unreachable, what older versions
or other tools wrote, and the runs of a directory that had none. ``sync`` reads each
summary whose row is missing or older than the file and upserts it; run twice, it
changes nothing the second time. Only files that claim the summary schema are runs
(the rule of ``_catalog``); damaged ones are reported and skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from ._catalog import Problem, decode_summary
from ._catalog_schema import CATALOG_ENV, CATALOG_FILE, Row, resolve_target, row_from_summary
from ._catalog_sink import open_catalog
from ._catalog_sql import SqlCatalog
from ._catalog_sqlite import MEMORY
from ._durations import parse_timestamp
from ._ids import RUN_ID_RE

__all__ = ["SyncResult", "open_query_catalog", "sync_directory", "where"]

#: The cache file older versions kept beside the summaries; a catalog replaces it.
LEGACY_INDEX = ".runlogger-index"
#: How a summary states when it was written and its status, found without decoding it
#: (both come before any user data in the writer's key order).
_UPDATED = re.compile(rb'"updated_at"\s*:\s*"([^"\\]{1,64})"')
_STATUS = re.compile(rb'"status"\s*:\s*"([^"\\]{1,64})"')


class SyncResult(NamedTuple):
    """What a sync did: rows written, files already catalogued, files skipped."""

    catalogued: int
    unchanged: int
    problems: list[Problem]


def _same(known: tuple[float | None, str] | None, raw: bytes) -> bool:
    """Whether the row ``known`` already holds the state in ``raw`` (a cheap check)."""
    if known is None:
        return False
    found_updated, found_status = _UPDATED.search(raw), _STATUS.search(raw)
    if found_updated is None or found_status is None:
        return False
    epoch = parse_timestamp(found_updated.group(1).decode("ascii", "replace"))
    return _matches(known, epoch, found_status.group(1).decode("utf-8", "replace"))


def _matches(known: tuple[float | None, str] | None, updated: float | None, status: str) -> bool:
    """Whether a row (``updated_at``, ``status``) already holds this state (to the µs)."""
    if known is None or known[0] is None or updated is None:
        return False
    return known[1] == status and abs(known[0] - updated) < 1e-5


def sync_directory(
    directory: Path, catalog: SqlCatalog, *, remove_legacy: bool = True
) -> SyncResult:
    """Upsert into ``catalog`` each summary in ``directory`` it lacks or has older.

    Also removes a legacy ``.runlogger-index`` (the catalog supersedes it).
    """
    known = catalog.updated_times()
    rows: list[Row] = []
    problems: list[Problem] = []
    unchanged = 0
    with os.scandir(directory) as scan:
        entries = [entry for entry in scan if entry.name.endswith(".json")]
    for entry in entries:
        stem = entry.name[:-5]
        if not RUN_ID_RE.fullmatch(stem):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            with open(entry.path, "rb") as stream:
                raw = stream.read()
        except OSError as exc:
            problems.append(Problem(Path(entry.path), exc.strerror or str(exc), unreadable=True))
            continue
        if _same(known.get(stem), raw):
            unchanged += 1
            continue
        document, reason = decode_summary(raw, stem)
        if document is None:
            if reason:
                problems.append(Problem(Path(entry.path), reason))
            continue
        row = row_from_summary(document)
        if _matches(known.get(stem), row.updated_at, row.status):
            unchanged += 1
            continue
        rows.append(row)
    if rows:
        catalog.upsert(rows)
    legacy = directory / LEGACY_INDEX
    if remove_legacy and legacy.is_file():
        with contextlib.suppress(OSError):
            legacy.unlink()
    problems.sort()
    return SyncResult(len(rows), unchanged, problems)


def default_target(directory: Path, option: str | None) -> str:
    """The catalog a command uses: ``--catalog``, ``$RUNLOGGER_CATALOG``, else the
    directory's SQLite file."""
    return resolve_target(option, directory)


def open_query_catalog(
    directory: Path, option: str | None, report: Callable[[Problem], None]
) -> SqlCatalog:
    """The catalog a query command reads.

    A directory's own SQLite catalog that does not exist yet (a directory written by an
    older version, or with the catalog turned off) is created and catalogued from the
    summary files first, so the first query after an upgrade sees every run. Any other
    catalog must exist.
    """
    target = default_target(directory, option)
    own = option is None and not os.environ.get(CATALOG_ENV)
    if own and target == str(directory / CATALOG_FILE) and not os.path.exists(target):
        if not directory.is_dir():
            if directory.exists():
                raise NotADirectoryError(20, "not a directory", str(directory))
            raise FileNotFoundError(2, "no such directory", str(directory))
        # A directory this user cannot write to (another user's, a read-only mount) is
        # catalogued in memory for this one query.
        writable = os.access(directory, os.W_OK | os.X_OK)
        catalog = open_catalog(target if writable else MEMORY)
        for problem in sync_directory(directory, catalog, remove_legacy=writable).problems:
            report(problem)
        return catalog
    return open_catalog(target, create=False)


def where(directory: Path, option: str | None, catalog: SqlCatalog) -> str:
    """How messages name where runs were looked for: the directory for its own catalog."""
    own = option is None and not os.environ.get(CATALOG_ENV)
    return str(directory) if own else catalog.label


def command(directory: Path, option: str | None, error: Callable[[str], None]) -> int:
    """``runlogger sync``: print what was done; damaged summaries go to stderr."""
    if not directory.is_dir():
        if directory.exists():
            raise NotADirectoryError(20, "not a directory", str(directory))
        raise FileNotFoundError(2, "no such directory", str(directory))
    catalog = open_catalog(default_target(directory, option))
    try:
        result = sync_directory(directory, catalog)
    finally:
        catalog.close()
    for problem in result.problems:
        kind = "unreadable" if problem.unreadable else "corrupt"
        error(f"skipped {kind} summary {problem.path}: {problem.reason}")
    print(
        f"catalogued {result.catalogued} run{'s' if result.catalogued != 1 else ''} "
        f"from {directory} into {catalog.label} ({result.unchanged} already up to date)"
    )
    return 0
