"""``runlogger runs`` and ``show`` read the run catalog, never a scan of the directory.

The listing is one indexed query; ``lost`` is derived for the few ``running`` rows (on
this host: the process is gone; on another: no checkpoint for longer than its heartbeat
allows). A run id prefix is a range on the catalog's key. The events file of a run is
read from the directory when it is reachable from here.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ._catalog import Problem, Query, RunColumns
from ._catalog_schema import Row
from ._catalog_sql import Filters
from ._cmd_sync import open_query_catalog, where
from ._errors import RunNotFoundError

__all__ = ["Selection", "find_run", "select_runs"]

_AMBIGUOUS_SHOWN = 10
_DERIVED = frozenset({"running", "lost"})


class Selection(NamedTuple):
    """What ``runs`` prints: the runs as columns, their summaries (``--json``), and how
    many runs the catalog holds in all (asked only when nothing matched)."""

    columns: RunColumns
    summaries: list[dict[str, Any]]
    total: int
    where: str


def _columns(rows: list[Row], statuses: list[str]) -> RunColumns:
    return RunColumns(
        [row.run_id for row in rows],
        [row.name for row in rows],
        statuses,
        [row.started_at for row in rows],
        [row.duration_ms for row in rows],
        [row.event_count for row in rows],
        [row.error_count for row in rows],
        [row.host for row in rows],
        [row.pid for row in rows],
        [row.parent_run_id for row in rows],
    )


def _document(row: Row, status: str) -> dict[str, Any]:
    document = json.loads(row.summary)
    if not isinstance(document, dict):
        document = {"run_id": row.run_id}
    if document.get("status") == "running" and status == "lost":
        document["status"] = "lost"
    return document


def select_runs(
    directory: Path,
    option: str | None,
    query: Query,
    *,
    host: str | None,
    with_summaries: bool,
    report: Callable[[Problem], None],
) -> Selection:
    """The runs ``query`` keeps, newest first, from the catalog of ``directory``."""
    catalog = open_query_catalog(directory, option, report)
    location = where(directory, option, catalog)
    try:
        wanted = query.statuses
        recorded = None
        if wanted is not None:
            recorded = frozenset(
                {status for status in wanted if status != "lost"}
                | ({"running"} if wanted & _DERIVED else set())
            )
        filters = Filters(
            statuses=recorded,
            min_duration_ms=query.min_duration_ms,
            max_duration_ms=query.max_duration_ms,
            since=query.since_ts,
            until=query.until_ts,
            name=query.name,
            host=host,
        )
        post_filter = wanted is not None and bool(wanted & _DERIVED)
        limit = None if post_filter else query.limit
        this_host = socket.gethostname()
        rows: list[Row] = []
        statuses: list[str] = []
        for row in catalog.select(filters, limit=limit, with_summary=with_summaries):
            status = catalog.effective_status(row, this_host)
            if post_filter and wanted is not None and status not in wanted:
                continue
            rows.append(row)
            statuses.append(status)
            if query.limit is not None and len(rows) >= query.limit:
                break
        summaries = (
            [_document(row, status) for row, status in zip(rows, statuses, strict=True)]
            if with_summaries
            else []
        )
        total = catalog.count() if not rows else len(rows)
    finally:
        catalog.close()
    return Selection(_columns(rows, statuses), summaries, total, location)


def find_run(
    directory: Path, option: str | None, text: str, report: Callable[[Problem], None]
) -> dict[str, Any]:
    """The summary of the run ``text`` names (its id or a unique prefix), ``lost`` derived.

    Raises RunNotFoundError for no match or an ambiguous prefix (listing candidates).
    """
    catalog = open_query_catalog(directory, option, report)
    try:
        row = catalog.get(text)
        if row is None:
            matches = catalog.ids_with_prefix(text, _AMBIGUOUS_SHOWN + 1)
            location = where(directory, option, catalog)
            if not matches:
                raise RunNotFoundError(f"no run matches {text!r} in {location}")
            if len(matches) > 1:
                shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
                more = " and more" if len(matches) > _AMBIGUOUS_SHOWN else ""
                raise RunNotFoundError(
                    f"{text!r} is ambiguous in {location}: it matches {shown}{more}; "
                    "give more of the id"
                )
            row = catalog.get(matches[0])
            if row is None:  # removed in between (a prune)
                raise RunNotFoundError(f"no run matches {text!r} in {location}")
        return _document(row, catalog.effective_status(row, socket.gethostname()))
    finally:
        catalog.close()
