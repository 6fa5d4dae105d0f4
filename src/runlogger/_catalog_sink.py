"""The SQL run catalog as a run sink: each run's row upserted at start, checkpoint, end.

The summary file is written first (by the lifecycle, in the job's thread); the catalog
gets the same document afterwards on the sink's own thread, so a locked, unreachable or
broken database never fails, slows or hangs the job: its failure is counted in the run's
``logging_errors``, reported once on stderr, and ``runlogger sync`` repairs the row later.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._catalog_schema import (
    CATALOG_ENV,
    CatalogError,
    is_postgres_url,
    resolve_target,
    row_from_summary,
)
from ._catalog_sql import SqlCatalog

__all__ = ["CatalogSink", "catalog_sinks", "open_catalog"]

#: Values of ``$RUNLOGGER_CATALOG`` (or ``catalog=``) that turn the catalog off.
_OFF = frozenset({"off", "none", "no", "false", "0"})


def open_catalog(target: str, *, create: bool = True, file_mode: int = 0o600) -> SqlCatalog:
    """The catalog ``target`` names: a ``postgresql://`` URL or a SQLite file path.

    Nothing is connected yet: the first query or write connects (and migrates).
    """
    if is_postgres_url(target):
        from ._catalog_postgres import PostgresCatalog

        return PostgresCatalog(target)
    from ._catalog_sqlite import SQLiteCatalog

    return SQLiteCatalog(target, create=create, file_mode=file_mode)


class CatalogSink:
    """Upserts each published summary into one catalog (a :class:`RunSink`)."""

    name = "catalog"

    def __init__(self, target: str, *, file_mode: int = 0o600) -> None:
        self.target = target
        self.catalog = open_catalog(target, file_mode=file_mode)

    def publish(self, event: str, summary: Mapping[str, Any]) -> None:
        try:
            row = row_from_summary(summary)
        except ValueError as exc:
            raise CatalogError(str(exc)) from exc
        self.catalog.upsert([row])

    def close(self) -> None:
        self.catalog.close()

    def __repr__(self) -> str:
        return f"<CatalogSink {self.catalog.label}>"


_sinks: dict[str, CatalogSink] = {}
_lock = threading.Lock()


def catalog_sinks(
    catalog: str | os.PathLike[str] | bool | None, directory: Path, file_mode: int
) -> list[CatalogSink]:
    """The catalog sink of a summaries ``directory``: none, or one per catalog target.

    ``catalog`` is the handler's argument: None means ``$RUNLOGGER_CATALOG``, else
    ``<directory>/runlogger.sqlite3``; False (or ``"off"``) means no catalog. The same
    target always gives the same sink object, so handlers that ``dictConfig`` replaces
    mid-run do not publish twice. An explicit PostgreSQL catalog without psycopg
    installed raises MissingBackendError at once; one named by the environment is a
    sink that fails (reported on stderr, counted), since the job must not fail for it.
    """
    if catalog is False:
        return []
    if catalog is True:
        catalog = None
    text = os.fspath(catalog) if catalog is not None else os.environ.get(CATALOG_ENV, "")
    if text.strip().lower() in _OFF:
        return []
    target = resolve_target(catalog, directory)
    if catalog is not None and is_postgres_url(target):
        from ._catalog_postgres import PostgresCatalog

        PostgresCatalog.check_driver()
    with _lock:
        sink = _sinks.get(target)
        if sink is None:
            sink = _sinks[target] = CatalogSink(target, file_mode=file_mode)
    return [sink]


def reset() -> None:
    """Close and forget every catalog sink (for tests)."""
    with _lock:
        sinks = list(_sinks.values())
        _sinks.clear()
    for sink in sinks:
        sink.close()
