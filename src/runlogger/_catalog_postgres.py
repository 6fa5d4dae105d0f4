"""The PostgreSQL catalog: one ``runs`` table for the runs of a whole fleet (psycopg 3).

psycopg is an optional dependency (``pip install 'runlogger[postgres]'``); it is
imported on first use, so a missing driver is one clear error naming the extra. Every
connection is bounded: ``connect_timeout`` for reaching the server and a
``statement_timeout`` for each statement, so an unreachable or stuck database costs a
run's sink thread seconds, never the job.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any

from ._catalog_schema import COLUMNS, INDEXES, SCHEMA_VERSION, CatalogError, glob_to_regex
from ._catalog_sql import SqlCatalog
from ._errors import MissingBackendError

__all__ = ["PostgresCatalog"]

#: Seconds to reach the server (libpq's ``connect_timeout``, whole seconds).
DEFAULT_CONNECT_TIMEOUT = 3
#: Milliseconds one statement may take.
DEFAULT_STATEMENT_TIMEOUT_MS = 10_000

_DDL = [
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    started_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    duration_ms BIGINT,
    event_count BIGINT,
    error_count BIGINT,
    warning_count BIGINT,
    exit_code BIGINT,
    host TEXT,
    pid BIGINT,
    parent_run_id TEXT,
    trace_id TEXT,
    summary JSONB NOT NULL
)""",
    *(
        f"CREATE INDEX IF NOT EXISTS {name} ON runs ({columns.replace('started_at', '')}"
        "started_at DESC NULLS LAST)"
        for name, columns in INDEXES
    ),
]

MIGRATIONS: dict[int, list[str]] = {1: _DDL}
#: Any constant: the advisory lock that makes one process at a time migrate.
_MIGRATION_LOCK = 0x72756E6C


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingBackendError(
            "the PostgreSQL catalog needs psycopg 3: pip install 'runlogger[postgres]'"
        ) from exc
    return psycopg


def _one_line(exc: BaseException) -> str:
    """A driver's (often multi-line) message as one line."""
    text = " ".join(str(exc).split())
    text = re.sub(r"connection to server at \S+ \([^)]*\), port \d+ failed: ", "", text)
    return text or type(exc).__name__


class PostgresCatalog(SqlCatalog):
    """A catalog in a PostgreSQL database named by a ``postgresql://`` URL."""

    placeholder = "%s"
    newest_first = "started_at DESC NULLS LAST, run_id DESC"

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS,
    ) -> None:
        super().__init__(url)
        self.url = url
        self.connect_timeout = max(int(connect_timeout), 1)
        self.statement_timeout_ms = statement_timeout_ms
        self._connection: Any = None
        self._pid = 0

    @staticmethod
    def check_driver() -> None:
        """Raise MissingBackendError now if psycopg is not installed."""
        _import_psycopg()

    def connection(self) -> Any:
        connection = self._connection
        if connection is not None and self._pid == os.getpid() and not connection.closed:
            return connection
        self._connection = None
        psycopg = _import_psycopg()
        connection = psycopg.connect(
            self.url,
            connect_timeout=self.connect_timeout,
            options=f"-c statement_timeout={int(self.statement_timeout_ms)}",
            application_name="runlogger",
        )
        try:
            self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _migrate(self, connection: Any) -> None:
        with connection.transaction():
            cursor = connection.cursor()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cursor.execute("CREATE TABLE IF NOT EXISTS runlogger_schema (version INTEGER)")
            cursor.execute("SELECT max(version) FROM runlogger_schema")
            version = cursor.fetchone()[0] or 0
            if version > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.label} has schema version {version}, newer than this "
                    f"runlogger knows ({SCHEMA_VERSION}): upgrade runlogger"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    cursor.execute(statement)
            if version < SCHEMA_VERSION:
                cursor.execute("DELETE FROM runlogger_schema")
                cursor.execute("INSERT INTO runlogger_schema VALUES (%s)", (SCHEMA_VERSION,))
        connection.commit()

    def time_param(self, epoch: float | None) -> Any:
        return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)

    def epoch(self, value: Any) -> float | None:
        return None if value is None else float(value.timestamp())

    def name_match(self, pattern: str) -> tuple[str, Any]:
        return "name ~ ?", glob_to_regex(pattern)

    def upsert_sql(self) -> str:
        updates = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[1:])
        values = ", ".join("?::jsonb" if column == "summary" else "?" for column in COLUMNS)
        return (
            f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({values})"
            f" ON CONFLICT (run_id) DO UPDATE SET {updates}"
            " WHERE runs.updated_at IS NULL OR excluded.updated_at IS NULL"
            " OR excluded.updated_at >= runs.updated_at"
        )

    def failure(self, exc: BaseException) -> CatalogError:
        self.close()
        if isinstance(exc, MissingBackendError):
            return CatalogError(str(exc))
        return CatalogError(f"catalog {self.label}: {_one_line(exc)}")
