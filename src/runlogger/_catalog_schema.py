"""The SQL run catalog's schema, shared by its SQLite and PostgreSQL backends.

The ``runs`` table is public: operators query it with ``sqlite3``, ``psql``, DuckDB or
Datasette. It holds one row per run with the summary's fields as columns and the whole
summary document beside them, so no question needs the JSON files. The schema carries
a version number (``runlogger_schema``); each backend applies the migrations it has not
seen yet, inside one transaction, so two processes opening a fresh catalog at the same
moment cannot both create it.

Times are UTC. SQLite keeps them as RFC 3339 text with microseconds
(``2026-11-30T21:34:52.123456Z``), which sorts in time order and reads well in any
tool; PostgreSQL keeps them as ``timestamptz``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ._durations import parse_timestamp
from ._errors import RunloggerError

__all__ = [
    "CATALOG_ENV",
    "CATALOG_FILE",
    "COLUMNS",
    "SCHEMA_VERSION",
    "CatalogError",
    "Row",
    "StatsRow",
    "describe_target",
    "glob_to_regex",
    "is_postgres_url",
    "row_from_summary",
]

CATALOG_ENV = "RUNLOGGER_CATALOG"
#: The default catalog's file name, in the summaries directory.
CATALOG_FILE = "runlogger.sqlite3"
#: The version the code writes; a catalog at a lower version is migrated on open.
SCHEMA_VERSION = 1

#: The ``runs`` table's columns, in order (the order of :class:`Row`).
COLUMNS = (
    "run_id",
    "name",
    "status",
    "started_at",
    "ended_at",
    "updated_at",
    "duration_ms",
    "event_count",
    "error_count",
    "warning_count",
    "exit_code",
    "host",
    "pid",
    "parent_run_id",
    "trace_id",
    "summary",
)

#: The indexes the listing filters use: newest first, one name newest first, by status.
INDEXES = (
    ("runs_started_at", "started_at"),
    ("runs_name_started_at", "name, started_at"),
    ("runs_status_started_at", "status, started_at"),
)

#: Statuses a run is recorded with that end it.
FINAL_STATUSES = ("completed", "failed", "terminated")
#: Statuses that count as a failure in ``stats``.
FAILED_STATUSES = ("failed", "terminated")

#: A running run whose last checkpoint is older than this many of its heartbeat
#: intervals (``checkpoint_interval_s``) is ``lost``: its process refreshes it every one.
_LOST_INTERVALS = 3


class CatalogError(RunloggerError):
    """The catalog cannot be opened, read or written (one line, safe to print)."""


class Row(NamedTuple):
    """One ``runs`` row; times as epoch seconds, ``summary`` as JSON text."""

    run_id: str
    name: str | None
    status: str
    started_at: float | None
    ended_at: float | None
    updated_at: float | None
    duration_ms: int | None
    event_count: int | None
    error_count: int | None
    warning_count: int | None
    exit_code: int | None
    host: str | None
    pid: int | None
    parent_run_id: str | None
    trace_id: str | None
    summary: str


class StatsRow(NamedTuple):
    """``runlogger stats`` for one run name (durations of ended runs only)."""

    name: str | None
    runs: int
    failed: int
    ended: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    last_success: float | None
    last_failure: float | None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, float) and value == value and abs(value) < 9e18:
        return round(value)
    return None


def _str(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a hand-made file): kept visible, escaped
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _json_text(summary: Mapping[str, Any]) -> str:
    """The document as JSON text a database takes: UTF-8, or escapes for lone surrogates."""
    text = json.dumps(summary, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(summary, allow_nan=False, separators=(",", ":"))
    return text


def row_from_summary(summary: Mapping[str, Any]) -> Row:
    """The catalog row of a summary document (any version: missing fields are NULL).

    ``updated_at`` falls back to the end, then the start time, for summaries written
    before it existed, so that "newer than its row" still has something to compare.
    """
    run_id = summary.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("a summary without a run_id cannot be catalogued")
    status = _str(summary.get("status"))
    started = parse_timestamp(summary.get("start_time"))
    ended = parse_timestamp(summary.get("end_time"))
    updated = parse_timestamp(summary.get("updated_at"))
    if updated is None:
        updated = ended if ended is not None else started
    return Row(
        _str(run_id) or run_id,
        _str(summary.get("name")),
        status if isinstance(status, str) and status else "unknown",
        started,
        ended,
        updated,
        _int(summary.get("duration_ms")),
        _int(summary.get("event_count")),
        _int(summary.get("error_count")),
        _int(summary.get("warning_count")),
        _int(summary.get("exit_code")),
        _str(summary.get("host")),
        _int(summary.get("pid")),
        _str(summary.get("parent_run_id")),
        _str(summary.get("trace_id")),
        _json_text(summary),
    )


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def resolve_target(target: str | os.PathLike[str] | None, directory: Path) -> str:
    """The catalog a program or command uses: ``target``, ``$RUNLOGGER_CATALOG``, or
    ``<directory>/runlogger.sqlite3``. A SQLite path is made absolute."""
    text = os.fspath(target) if target is not None else os.environ.get(CATALOG_ENV, "")
    if not text:
        return str(directory / CATALOG_FILE)
    if is_postgres_url(text):
        return text
    if text.startswith("sqlite:///"):
        text = text[len("sqlite://") :]
    return os.path.abspath(text)


def describe_target(target: str) -> str:
    """``target`` fit to print: a PostgreSQL URL loses its password."""
    if not is_postgres_url(target):
        return target
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", target)


def derive_status(
    status: str,
    host: str | None,
    pid: int | None,
    updated_at: float | None,
    summary_interval: object,
    *,
    this_host: str,
    now: float | None = None,
) -> str:
    """``lost`` for a ``running`` run that cannot still be running, else ``status``.

    Its summary records a heartbeat interval and its last checkpoint is older than
    three of them (works across hosts), or it ran on this host and its process is gone.
    A run of another host without a heartbeat (an older writer) stays ``running``.
    """
    if status != "running":
        return status
    if (
        isinstance(summary_interval, (int, float))
        and not isinstance(summary_interval, bool)
        and summary_interval > 0
        and updated_at is not None
    ):
        age = (time.time() if now is None else now) - updated_at
        if age > _LOST_INTERVALS * float(summary_interval):
            return "lost"
    if host is not None and host == this_host and pid is not None and not _pid_alive(pid):
        return "lost"
    return status


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def glob_to_regex(pattern: str) -> str:
    """A shell pattern (``*``, ``?``, ``[...]``) as an anchored POSIX regular expression."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(r"\[")
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    out.append("$")
    return "".join(out)


def sqlite_glob(pattern: str) -> str:
    """A shell pattern in SQLite's GLOB syntax (``[!a]`` is written ``[^a]`` there)."""
    return re.sub(r"\[!", "[^", pattern)


def has_wildcards(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")
