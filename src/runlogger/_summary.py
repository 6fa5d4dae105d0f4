"""The run summary: counting records (pure data) and assembling the summary document."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._timefmt import utc_timestamp

if TYPE_CHECKING:
    from ._context import Run

__all__ = ["SCHEMA", "RunTally", "merge_contributions", "summary_document"]

SCHEMA = "runlogger.summary/1"

#: first_error keeps a message short: it is a pointer into the events, not a copy.
_FIRST_ERROR_MESSAGE_LIMIT = 2000

_ERROR = logging.ERROR
_WARNING = logging.WARNING


def _safe_text(text: str, limit: int) -> str:
    if len(text) > limit:
        text = text[: limit - 14] + "…[truncated]"
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:
        # A bad format string must not lose the count; show the template instead.
        try:
            return str(record.msg)
        except Exception:
            return f"<unprintable {type(record.msg).__name__}>"


class RunTally:
    """Counts for one run as one handler saw them: constant memory in the number of records.

    ``add`` is the hot path of :class:`RunSummaryHandler`; it takes its own small lock
    so that handlers sharing a tally (during a reconfiguration) never lose a count.
    """

    __slots__ = (
        "_lock",
        "counts_by_event_type",
        "counts_by_level",
        "error_count",
        "event_count",
        "first_error",
        "logging_errors",
        "warning_count",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.event_count = 0
        self.counts_by_level: dict[str, int] = {}
        self.counts_by_event_type: dict[str, int] = {}
        self.error_count = 0
        self.warning_count = 0
        self.first_error: dict[str, Any] | None = None
        self.logging_errors = 0

    def add(self, record: logging.LogRecord) -> None:
        """Count one record."""
        levelname = record.levelname
        event_type = record.__dict__.get("event_type")
        levelno = record.levelno
        with self._lock:
            self.event_count += 1
            by_level = self.counts_by_level
            by_level[levelname] = by_level.get(levelname, 0) + 1
            if event_type is not None:
                key = event_type if type(event_type) is str else _safe_text(str(event_type), 200)
                by_type = self.counts_by_event_type
                by_type[key] = by_type.get(key, 0) + 1
            if levelno >= _ERROR:
                self.error_count += 1
                if self.first_error is None:
                    self.first_error = _first_error(record)
            elif levelno >= _WARNING:
                self.warning_count += 1

    def add_logging_error(self) -> None:
        with self._lock:
            self.logging_errors += 1

    def snapshot(self) -> dict[str, Any]:
        """This tally as a JSON-ready contribution to a summary."""
        with self._lock:
            return {
                "event_count": self.event_count,
                "counts_by_level": dict(self.counts_by_level),
                "counts_by_event_type": dict(self.counts_by_event_type),
                "error_count": self.error_count,
                "warning_count": self.warning_count,
                "first_error": self.first_error,
                "logging_errors": self.logging_errors,
            }


def _first_error(record: logging.LogRecord) -> dict[str, Any]:
    exc_type = None
    if record.exc_info and record.exc_info[0] is not None:
        from ._context import qualified_name

        exc_type = qualified_name(record.exc_info[0])
    return {
        "timestamp": utc_timestamp(record.created),
        "logger": record.name,
        "message": _safe_text(_message_of(record), _FIRST_ERROR_MESSAGE_LIMIT),
        "exc_type": exc_type,
    }


def _add_counts(target: dict[str, int], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, int):
            target[key] = target.get(key, 0) + value


def merge_contributions(contributions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Add up the contributions of every process (and handler) that counted a run."""
    totals: dict[str, Any] = {
        "event_count": 0,
        "counts_by_level": {},
        "counts_by_event_type": {},
        "error_count": 0,
        "warning_count": 0,
        "first_error": None,
        "logging_errors": 0,
        "suppressed_by_event_type": {},
    }
    for part in contributions:
        for key in ("event_count", "error_count", "warning_count", "logging_errors"):
            value = part.get(key, 0)
            if isinstance(value, int):
                totals[key] += value
        for key in ("counts_by_level", "counts_by_event_type", "suppressed_by_event_type"):
            value = part.get(key)
            if isinstance(value, Mapping):
                _add_counts(totals[key], value)
        first = part.get("first_error")
        if isinstance(first, Mapping):
            current = totals["first_error"]
            if current is None or str(first.get("timestamp", "")) < str(
                current.get("timestamp", "")
            ):
                totals["first_error"] = dict(first)
    return totals


def run_metadata(run: Run) -> dict[str, Any]:
    """The run-level half of a summary, known only to the process that owns the run."""
    return {
        "run_id": run.run_id,
        "name": run.name,
        "parent_run_id": run.parent_run_id,
        "status": run.status,
        "start_time": utc_timestamp(run.start_time),
        "end_time": utc_timestamp(run.end_time) if run.end_time is not None else None,
        "duration_ms": run.duration_ms,
        "exception": run.exception,
        "signal": run.signal,
        "progress": run.last_progress,
        "exit_code": run.exit_code,
        "host": run.host,
        "pid": run.pid,
        "argv": run.argv,
        "attributes": run.attributes,
    }


def summary_document(
    metadata: Mapping[str, Any], contributors: Mapping[str, Mapping[str, Any]], updated_at: float
) -> dict[str, Any]:
    """Assemble the summary in the documented key order."""
    totals = merge_contributions(contributors.values())
    return {
        "schema": SCHEMA,
        "run_id": metadata["run_id"],
        "name": metadata.get("name"),
        "parent_run_id": metadata.get("parent_run_id"),
        "status": metadata.get("status", "running"),
        "start_time": metadata.get("start_time"),
        "end_time": metadata.get("end_time"),
        "updated_at": utc_timestamp(updated_at),
        "duration_ms": metadata.get("duration_ms", 0),
        "event_count": totals["event_count"],
        "counts_by_level": totals["counts_by_level"],
        "counts_by_event_type": totals["counts_by_event_type"],
        "error_count": totals["error_count"],
        "warning_count": totals["warning_count"],
        "first_error": totals["first_error"],
        "exception": metadata.get("exception"),
        "signal": metadata.get("signal"),
        "logging_errors": totals["logging_errors"],
        "suppressed_by_event_type": totals["suppressed_by_event_type"],
        "progress": metadata.get("progress"),
        "exit_code": metadata.get("exit_code"),
        "host": metadata.get("host"),
        "pid": metadata.get("pid"),
        "argv": metadata.get("argv"),
        "attributes": metadata.get("attributes") or {},
        "contributors": {key: dict(value) for key, value in contributors.items()},
    }
