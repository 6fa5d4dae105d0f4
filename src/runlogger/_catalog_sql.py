"""The catalog's queries, written once in plain SQL for both backends.

A backend (:mod:`._catalog_sqlite`, :mod:`._catalog_postgres`) supplies a DB-API
connection and the few things that differ: the placeholder, how times travel, how a
name pattern is matched, the DDL of its migrations. Everything else -- the upsert that
never lets an older state overwrite a newer one, the listing, the per-name statistics,
retention -- is here, so the two cannot drift apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from ._catalog_schema import (
    COLUMNS,
    FAILED_STATUSES,
    FINAL_STATUSES,
    CatalogError,
    Row,
    StatsRow,
    derive_status,
    describe_target,
    has_wildcards,
)

__all__ = ["Filters", "SqlCatalog"]

#: Rows per statement when many are written at once (``sync``).
_BATCH = 2000


class Filters(NamedTuple):
    """What ``runs``/``stats``/``prune`` select; None means "no constraint".

    ``statuses`` are recorded statuses (``lost`` is derived by the caller from
    ``running`` rows); times are epoch seconds on ``started_at`` (``since`` inclusive,
    ``until`` exclusive); ``name`` is a run name or a shell pattern.
    """

    statuses: frozenset[str] | None = None
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    since: float | None = None
    until: float | None = None
    name: str | None = None
    host: str | None = None


_LIST_COLUMNS = COLUMNS[:-1]
IN_FINAL = "status IN ({})".format(", ".join(f"'{s}'" for s in FINAL_STATUSES))
IN_FAILED = "status IN ({})".format(", ".join(f"'{s}'" for s in FAILED_STATUSES))


class SqlCatalog:
    """One catalog connection: the shared SQL over a backend's DB-API connection.

    Thread-safe by a lock (a sink publishes from its worker thread, a command from the
    main one); one statement or transaction at a time is all either needs.
    """

    #: The DB-API placeholder of the backend.
    placeholder = "?"
    #: How ``started_at DESC`` keeps runs without a start time last.
    newest_first = "started_at DESC, run_id DESC"

    def __init__(self, target: str) -> None:
        self.target = target
        self.label = describe_target(target)
        self.lock = threading.RLock()
        self._lock_pid = os.getpid()
        #: The backend's DB-API connection, and the process that opened it.
        self._connection: Any = None
        self._pid = 0

    def _locked(self) -> threading.RLock:
        """The lock, made anew in a forked child (the parent's may be held by a thread
        that did not fork)."""
        if self._lock_pid != os.getpid():
            self.lock, self._lock_pid = threading.RLock(), os.getpid()
        return self.lock

    # -- what a backend provides ---------------------------------------------------------
    def connection(self) -> Any:
        raise NotImplementedError

    def time_param(self, epoch: float | None) -> Any:
        raise NotImplementedError

    def epoch(self, value: Any) -> float | None:
        raise NotImplementedError

    def name_match(self, pattern: str) -> tuple[str, Any]:
        """The condition and parameter matching ``name`` against a shell pattern."""
        raise NotImplementedError

    def upsert_sql(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection, never under a statement another thread is running
        (a busy one is left to be dropped with its thread)."""
        lock = self._locked()
        if not lock.acquire(timeout=2):
            return
        try:
            connection, self._connection = self._connection, None
            if connection is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):
                    connection.close()
        finally:
            lock.release()

    def failure(self, exc: BaseException) -> CatalogError:
        """``exc`` as one line naming the catalog (the connection is dropped)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _params(self, row: Row) -> tuple[Any, ...]:
        return (
            *row[:3],
            self.time_param(row.started_at),
            self.time_param(row.ended_at),
            self.time_param(row.updated_at),
            *row[6:],
        )

    def upsert(self, rows: Iterable[Row]) -> None:
        """Insert or update ``rows``; a row is never replaced by an older state of itself.

        "Older" compares ``updated_at``, so a late checkpoint delivered after the final
        state, or a ``sync`` of a stale file, leaves the newer row alone.
        """
        sql = self._sql(self.upsert_sql())
        with self._locked():
            try:
                connection = self.connection()
                batch: list[tuple[Any, ...]] = []
                with _transaction(connection):
                    cursor = connection.cursor()
                    for row in rows:
                        batch.append(self._params(row))
                        if len(batch) >= _BATCH:
                            cursor.executemany(sql, batch)
                            batch.clear()
                    if batch:
                        cursor.executemany(sql, batch)
            except CatalogError:
                raise
            except Exception as exc:
                raise self.failure(exc) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._locked():
            try:
                connection = self.connection()
                cursor = connection.cursor()
                cursor.execute(self._sql(sql), tuple(params))
                rows = list(cursor.fetchall())
                connection.commit()  # no transaction left open (PostgreSQL)
                return rows
            except CatalogError:
                raise
            except Exception as exc:
                raise self.failure(exc) from exc

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._locked():
            try:
                connection = self.connection()
                with _transaction(connection):
                    cursor = connection.cursor()
                    cursor.execute(self._sql(sql), tuple(params))
                    return int(cursor.rowcount)
            except CatalogError:
                raise
            except Exception as exc:
                raise self.failure(exc) from exc

    def updated_times(self) -> dict[str, tuple[float | None, str]]:
        """``run_id -> (updated_at, status)`` of every row (what ``sync`` compares)."""
        return {
            run_id: (self.epoch(updated), status)
            for run_id, updated, status in self._query(
                "SELECT run_id, updated_at, status FROM runs"
            )
        }

    def _where(self, filters: Filters) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if filters.statuses is not None:
            wanted = sorted(filters.statuses)
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if filters.min_duration_ms is not None:
            clauses.append("duration_ms >= ?")
            params.append(filters.min_duration_ms)
        if filters.max_duration_ms is not None:
            clauses.append("duration_ms <= ?")
            params.append(filters.max_duration_ms)
        if filters.since is not None:
            clauses.append("started_at >= ?")
            params.append(self.time_param(filters.since))
        if filters.until is not None:
            clauses.append("started_at < ?")
            params.append(self.time_param(filters.until))
        if filters.name is not None:
            if has_wildcards(filters.name):
                clause, param = self.name_match(filters.name)
                clauses.append(clause)
                params.append(param)
            else:
                clauses.append("name = ?")
                params.append(filters.name)
        if filters.host is not None:
            clauses.append("host = ?")
            params.append(filters.host)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def select(
        self, filters: Filters, *, limit: int | None = None, with_summary: bool = False
    ) -> Iterator[Row]:
        """The rows ``filters`` keep, newest first (``summary`` is "" unless asked for)."""
        where, params = self._where(filters)
        columns = COLUMNS if with_summary else _LIST_COLUMNS
        sql = f"SELECT {', '.join(columns)} FROM runs{where} ORDER BY {self.newest_first}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for values in self._query(sql, params):
            yield self._row(values, with_summary)

    def _row(self, values: Sequence[Any], with_summary: bool) -> Row:
        epoch = self.epoch
        return Row._make(
            [
                *values[:3],
                epoch(values[3]),
                epoch(values[4]),
                epoch(values[5]),
                *values[6:15],
                _text(values[15]) if with_summary else "",
            ]
        )

    def effective_status(self, row: Row, this_host: str) -> str:
        """The row's status, ``lost`` derived for a running run that cannot be running
        (its summary's heartbeat interval is read only for ``running`` rows)."""
        if row.status != "running":
            return row.status
        interval: object = None
        full = row if row.summary else self.get(row.run_id)
        if full is not None and full.summary:
            try:
                interval = json.loads(full.summary).get("checkpoint_interval_s")
            except (ValueError, AttributeError):
                interval = None
        return derive_status(
            row.status, row.host, row.pid, row.updated_at, interval, this_host=this_host
        )

    def get(self, run_id: str) -> Row | None:
        found = self._query(f"SELECT {', '.join(COLUMNS)} FROM runs WHERE run_id = ?", [run_id])
        return self._row(found[0], True) if found else None

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` run ids starting with ``prefix``, in order."""
        # A range on the key, not LIKE: ids may hold '_' and the range uses the index.
        rows = self._query(
            "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id"
            f" LIMIT {int(limit)}",
            [prefix, prefix + "\U0010ffff"],
        )
        return [run_id for (run_id,) in rows]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM runs")[0][0])

    def stats(self, filters: Filters) -> list[StatsRow]:
        """Per run name: runs, failures, nearest-rank p50/p95 and max duration of the
        ended runs, when the last success and the last failure ended."""
        where, params = self._where(filters)
        sql = f"""
SELECT name, COUNT(*), SUM(failed), SUM(timed),
       MAX(CASE WHEN timed = 1 AND k = (n + 1) / 2 THEN duration_ms END),
       MAX(CASE WHEN timed = 1 AND k = (95 * n + 99) / 100 THEN duration_ms END),
       MAX(CASE WHEN timed = 1 THEN duration_ms END),
       MAX(CASE WHEN status = 'completed' THEN ended_at END),
       MAX(CASE WHEN failed = 1 THEN ended_at END)
FROM (
  SELECT name, status, duration_ms, ended_at, failed, timed,
         ROW_NUMBER() OVER (PARTITION BY name, timed ORDER BY duration_ms) AS k,
         COUNT(*) OVER (PARTITION BY name, timed) AS n
  FROM (
    SELECT name, status, duration_ms, ended_at,
           CASE WHEN {IN_FAILED} THEN 1 ELSE 0 END AS failed,
           CASE WHEN {IN_FINAL} AND duration_ms IS NOT NULL THEN 1 ELSE 0 END AS timed
    FROM runs{where}
  ) AS picked
) AS ranked
GROUP BY name
ORDER BY name"""
        return [
            StatsRow(
                name,
                int(runs),
                int(failed or 0),
                int(ended or 0),
                _number(p50),
                _number(p95),
                _number(longest),
                self.epoch(success),
                self.epoch(failure),
            )
            for name, runs, failed, ended, p50, p95, longest, success, failure in self._query(
                sql, params
            )
        ]

    def delete(self, run_ids: Sequence[str]) -> int:
        """Remove the rows of ``run_ids``; returns how many were there."""
        removed = 0
        for start in range(0, len(run_ids), 500):
            chunk = list(run_ids[start : start + 500])
            removed += self._execute(
                f"DELETE FROM runs WHERE run_id IN ({', '.join('?' for _ in chunk)})", chunk
            )
        return removed


class _transaction:
    """Commit on success, roll back on failure, on a connection not in autocommit."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.connection.commit()
        else:
            with contextlib.suppress(Exception):
                self.connection.rollback()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
