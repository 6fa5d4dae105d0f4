"""The SQLite catalog: ``<dir>/runlogger.sqlite3`` beside the summaries (stdlib sqlite3).

Many processes of one host write it at once (every run upserts its row at start, at
each checkpoint and at its end), so it runs in WAL mode -- readers never wait for a
writer -- and each write is one short ``BEGIN IMMEDIATE`` transaction behind a busy
timeout. The file is created with the summaries' file mode (0600 by default): it holds
the same documents.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import datetime
from typing import Any

from ._catalog_schema import (
    COLUMNS,
    INDEXES,
    SCHEMA_VERSION,
    CatalogError,
    StatsRow,
    sqlite_glob,
)
from ._catalog_sql import IN_FAILED, IN_FINAL, Filters, SqlCatalog
from ._durations import parse_timestamp
from ._timefmt import utc_timestamp

__all__ = ["SQLiteCatalog"]

#: The path of a catalog held in memory (a query of a directory it cannot write to).
MEMORY = ":memory:"
#: How long a writer waits for another one's transaction before giving up.
DEFAULT_BUSY_TIMEOUT = 10.0

_DDL = [
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    status TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    updated_at TEXT,
    duration_ms INTEGER,
    event_count INTEGER,
    error_count INTEGER,
    warning_count INTEGER,
    exit_code INTEGER,
    host TEXT,
    pid INTEGER,
    parent_run_id TEXT,
    trace_id TEXT,
    summary TEXT NOT NULL CHECK (json_valid(summary))
)""",
    *(f"CREATE INDEX IF NOT EXISTS {name} ON runs ({columns})" for name, columns in INDEXES),
    # Covers ``stats``: per name in one index scan, percentiles by rank without a sort.
    "CREATE INDEX IF NOT EXISTS runs_name_duration"
    " ON runs (name, duration_ms, status, ended_at, started_at)",
]

#: Migrations by the version they lead to; version 1 creates the schema.
MIGRATIONS: dict[int, list[str]] = {1: _DDL}


class SQLiteCatalog(SqlCatalog):
    """A catalog in one SQLite file. ``create=False`` refuses a file that does not exist
    (a query must not leave an empty catalog behind a typo)."""

    def __init__(
        self,
        path: str,
        *,
        create: bool = True,
        file_mode: int = 0o600,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        super().__init__(path)
        self.path = path
        self.create = create
        self.file_mode = file_mode
        self.busy_timeout = busy_timeout
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def connection(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        self._connection = None  # a forked child never uses its parent's connection
        if self.path == MEMORY:
            memory = sqlite3.connect(MEMORY, check_same_thread=False)
            self._migrate(memory)
            self._connection, self._pid = memory, os.getpid()
            return memory
        if not os.path.exists(self.path):
            if not self.create:
                raise CatalogError(f"no catalog at {self.path}")
            with contextlib.suppress(FileExistsError):
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                os.close(os.open(self.path, flags, self.file_mode))
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level="IMMEDIATE",
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} has schema version {version}, newer than this "
                    f"runlogger knows ({SCHEMA_VERSION}): upgrade runlogger"
                )
            return
        with connection:  # one process migrates, the others wait for it, then skip
            connection.execute("BEGIN IMMEDIATE")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            connection.execute("CREATE TABLE IF NOT EXISTS runlogger_schema (version INTEGER)")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    connection.execute(statement)
            connection.execute("DELETE FROM runlogger_schema")
            connection.execute("INSERT INTO runlogger_schema VALUES (?)", (SCHEMA_VERSION,))
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def stats(self, filters: Filters) -> list[StatsRow]:
        """As :meth:`SqlCatalog.stats`, without window functions, which SQLite runs by
        sorting every row: one scan of the covering ``runs_name_duration`` index for the
        counts, then each percentile by its rank (``OFFSET``) in that index's order."""
        where, params = self._where(filters)
        also = where.replace(" WHERE ", " AND ", 1)
        counts = (
            f"SELECT name, COUNT(*), SUM(CASE WHEN {IN_FAILED} THEN 1 ELSE 0 END),"
            f" SUM(CASE WHEN {IN_FINAL} AND duration_ms IS NOT NULL THEN 1 ELSE 0 END),"
            f" MAX(CASE WHEN {IN_FINAL} THEN duration_ms END),"
            " MAX(CASE WHEN status = 'completed' THEN ended_at END),"
            f" MAX(CASE WHEN {IN_FAILED} THEN ended_at END)"
            f" FROM runs{where} GROUP BY name ORDER BY name"
        )
        ranked = (
            f"SELECT duration_ms FROM runs WHERE name IS ? AND {IN_FINAL}"
            f" AND duration_ms IS NOT NULL{also} ORDER BY duration_ms LIMIT 1 OFFSET ?"
        )
        with self._locked():
            try:
                connection = self.connection()
                connection.execute("BEGIN")  # one snapshot for all the queries
                try:
                    rows = []
                    for name, runs, failed, timed, longest, success, failure in connection.execute(
                        counts, params
                    ).fetchall():
                        p50 = p95 = None
                        if timed:
                            p50, p95 = (
                                connection.execute(ranked, (name, *params, rank - 1)).fetchone()[0]
                                for rank in ((timed + 1) // 2, (95 * timed + 99) // 100)
                            )
                        rows.append(
                            StatsRow(
                                name,
                                int(runs),
                                int(failed or 0),
                                int(timed or 0),
                                None if p50 is None else float(p50),
                                None if p95 is None else float(p95),
                                None if longest is None else float(longest),
                                self.epoch(success),
                                self.epoch(failure),
                            )
                        )
                finally:
                    connection.rollback()
            except CatalogError:
                raise
            except Exception as exc:
                raise self.failure(exc) from exc
        return rows

    def time_param(self, epoch: float | None) -> Any:
        return None if epoch is None else utc_timestamp(epoch)

    def epoch(self, value: Any) -> float | None:
        if value is None:
            return None
        try:
            text = value[:-1] + "+00:00" if value.endswith("Z") else value
            return datetime.fromisoformat(text).timestamp()
        except (ValueError, AttributeError, TypeError):
            return parse_timestamp(value)

    def name_match(self, pattern: str) -> tuple[str, Any]:
        return "name GLOB ?", sqlite_glob(pattern)

    def upsert_sql(self) -> str:
        updates = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[1:])
        return (
            f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
            f" ON CONFLICT (run_id) DO UPDATE SET {updates}"
            " WHERE runs.updated_at IS NULL OR excluded.updated_at IS NULL"
            " OR excluded.updated_at >= runs.updated_at"
        )

    def failure(self, exc: BaseException) -> CatalogError:
        self.close()
        return CatalogError(f"catalog {self.path}: {exc}")
