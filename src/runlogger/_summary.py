"""The run summary: counting records (pure data) and assembling the summary document."""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._sanitize import clean_attributes
from ._timefmt import utc_timestamp

if TYPE_CHECKING:
    from ._run import Run

__all__ = [
    "BATCH",
    "EVENT_TYPE_LIMIT",
    "MAX_EVENT_TYPES",
    "OTHER_EVENT_TYPE",
    "SCHEMA",
    "RunTally",
    "event_type_of",
    "merge_contributions",
    "safe_text",
    "summary_document",
]

SCHEMA = "runlogger.summary/1"

#: first_error keeps a message short: it is a pointer into the events, not a copy.
_FIRST_ERROR_MESSAGE_LIMIT = 2000

_ERROR = logging.ERROR
_WARNING = logging.WARNING

#: Records queued in a :class:`RunTally` before they are counted out.
BATCH = 512

#: Distinct event types a summary counts by name (``counts_by_event_type`` and
#: ``suppressed_by_event_type``); records of any later new type are counted under
#: :data:`OTHER_EVENT_TYPE`. A program that puts ids or messages into ``event_type``
#: would otherwise grow the counts, the summary and every checkpoint without bound.
MAX_EVENT_TYPES = 1000
OTHER_EVENT_TYPE = "(other)"
#: Longest event type name counted as it is; longer ones are cut and marked.
EVENT_TYPE_LIMIT = 200
#: Event type values a tally remembers with their names; the others are named again.
_KINDS_REMEMBERED = 4 * MAX_EVENT_TYPES


def safe_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a visible mark where it was cut."""
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


def event_type_of(record: logging.LogRecord) -> str | None:
    """The record's event type as counted: a string, or None."""
    event_type = record.__dict__.get("event_type")
    if event_type is None or type(event_type) is str:
        return event_type
    try:
        return safe_text(str(event_type), EVENT_TYPE_LIMIT)
    except Exception:
        return f"<unprintable {type(event_type).__name__}>"


def event_type_name(event_type: str) -> str:
    """``event_type`` as a summary names it: at most :data:`EVENT_TYPE_LIMIT` characters of
    valid UTF-8."""
    if len(event_type) <= EVENT_TYPE_LIMIT and event_type.isascii():
        return event_type
    return safe_text(event_type, EVENT_TYPE_LIMIT)


def cap_event_types(counts: Mapping[str, int], limit: int = MAX_EVENT_TYPES) -> dict[str, int]:
    """``counts`` with at most ``limit`` names: the largest counts keep theirs (ties by
    name), the rest are added up under :data:`OTHER_EVENT_TYPE`."""
    if len(counts) <= limit:
        return dict(counts)
    ranked = sorted(
        ((name, count) for name, count in counts.items() if name != OTHER_EVENT_TYPE),
        key=lambda item: (-item[1], item[0]),
    )
    kept = dict(ranked[:limit])
    other = counts.get(OTHER_EVENT_TYPE, 0) + sum(count for _, count in ranked[limit:])
    if other:
        kept[OTHER_EVENT_TYPE] = other
    return kept


class RunTally:
    """Counts for one run as one handler saw them: constant memory in the number of records.

    ``add`` runs for every record, so it only files the record's ``(levelno, levelname,
    event_type)`` in :attr:`queue`, without a lock (``deque.append`` is thread-safe). Every
    :data:`BATCH` records, and whenever the counts are read, the queue is counted out in C
    (``Counter``) under the lock. Reading sums over the distinct keys (levels times event
    types), at checkpoints rather than per record. The queue never holds much more than a
    batch, so memory stays constant however many records pass.
    """

    __slots__ = ("_counts", "_kinds", "_lock", "_named", "first_error", "logging_errors", "queue")

    def __init__(self) -> None:
        # Re-entrant: a multiprocessing child's SIGTERM handler may read the counts
        # while the code it interrupted is counting.
        self._lock = threading.RLock()
        #: ``(levelno, levelname, event_type or None)`` of the records not counted out yet.
        self.queue: deque[tuple[Any, Any, str | None]] = deque()
        #: (levelno, levelname, event_type or None) -> records: as many keys as kinds of
        #: record, not as records.
        self._counts: Counter[tuple[Any, Any, str | None]] = Counter()
        #: Names counted as themselves: at most MAX_EVENT_TYPES.
        self._named: set[str] = set()
        #: Event types met, as filed, and the name each is counted under (bounded).
        self._kinds: dict[str, str] = {}
        self.first_error: dict[str, Any] | None = None
        self.logging_errors = 0

    def add(self, record: logging.LogRecord) -> None:
        """Count one record (:meth:`RunSummaryHandler.emit` inlines this; keep them alike)."""
        queue = self.queue
        queue.append((record.levelno, record.levelname, event_type_of(record)))
        if len(queue) >= BATCH:
            self.count_queue()
        if record.levelno >= _ERROR and self.first_error is None:
            self.note_first_error(record)

    def count_queue(self) -> None:
        """Move the queued records into the counts (``add`` keeps appending meanwhile).

        Counted into a new Counter first, so a record with an unhashable level cannot
        leave the counts half updated; such records are counted by their level's text.
        """
        with self._lock:
            queue = self.queue
            batch = list(islice(iter(queue.popleft, None), len(queue)))
            try:
                counted = Counter(batch)
            except Exception:  # an unhashable level somewhere: count it by its text
                counted = Counter(
                    (self._hashable(levelno), self._hashable(levelname), event_type)
                    for levelno, levelname, event_type in batch
                )
            counts = self._counts
            kinds = self._kinds
            for key, count in counted.items():
                event_type = key[2]
                if event_type is not None:
                    name = kinds.get(event_type)
                    if name is None:
                        name = self._admit(event_type)
                    if name is not event_type:
                        key = (key[0], key[1], name)
                counts[key] += count

    def _admit(self, event_type: str) -> str:
        """The name a new event type is counted under (the caller holds the lock).

        The first :data:`MAX_EVENT_TYPES` names are counted as themselves (cut to
        :data:`EVENT_TYPE_LIMIT` characters), any later one under ``(other)``. This runs
        once per new value, not per record; the values remembered are bounded too.
        """
        named = self._named
        name = event_type_name(event_type)
        if name not in named:
            if len(named) >= MAX_EVENT_TYPES:
                name = OTHER_EVENT_TYPE
            else:
                named.add(name)
        kinds = self._kinds
        if len(kinds) < _KINDS_REMEMBERED:
            kinds[event_type] = name
        return name

    def note_first_error(self, record: logging.LogRecord) -> None:
        """Keep the first ERROR-or-worse record; its message is built outside the lock."""
        first = _first_error(record)
        with self._lock:
            if self.first_error is None:
                self.first_error = first

    def add_logging_error(self) -> None:
        with self._lock:
            self.logging_errors += 1

    def _count_items(self) -> list[tuple[tuple[Any, Any, str | None], int]]:
        self.count_queue()
        with self._lock:
            return list(self._counts.items())

    @property
    def event_count(self) -> int:
        """Records counted."""
        return sum(count for _, count in self._count_items())

    @property
    def error_count(self) -> int:
        """Records at ERROR or worse."""
        return self._severity_count(self._count_items(), _ERROR, None)

    @property
    def warning_count(self) -> int:
        """Records at WARNING or worse but below ERROR."""
        return self._severity_count(self._count_items(), _WARNING, _ERROR)

    @property
    def counts_by_level(self) -> dict[str, int]:
        """Records per level name."""
        return self._by_level(self._count_items())

    @property
    def counts_by_event_type(self) -> dict[str, int]:
        """Records per event type (records without one are not in it)."""
        return self._by_event_type(self._count_items())

    def snapshot(self) -> dict[str, Any]:
        """This tally as a JSON-ready contribution to a summary."""
        items = self._count_items()
        with self._lock:
            first_error = self.first_error
            logging_errors = self.logging_errors
        return {
            "event_count": sum(count for _, count in items),
            "counts_by_level": self._by_level(items),
            "counts_by_event_type": self._by_event_type(items),
            "error_count": self._severity_count(items, _ERROR, None),
            "warning_count": self._severity_count(items, _WARNING, _ERROR),
            "first_error": first_error,
            "logging_errors": logging_errors,
        }

    @staticmethod
    def _severity_count(
        items: Iterable[tuple[tuple[Any, Any, str | None], int]], low: int, high: int | None
    ) -> int:
        """Records with ``low <= levelno < high``; a level that is no number counts as 0."""
        total = 0
        for (levelno, _, _), count in items:
            try:
                if levelno >= low and (high is None or levelno < high):
                    total += count
            except Exception:
                pass
        return total

    @staticmethod
    def _by_level(items: Iterable[tuple[tuple[Any, Any, str | None], int]]) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, levelname, _), count in items:
            name = levelname if type(levelname) is str else RunTally._text(levelname)
            totals[name] = totals.get(name, 0) + count
        return totals

    @staticmethod
    def _hashable(value: Any) -> Any:
        try:
            hash(value)
        except Exception:
            return RunTally._text(value)
        return value

    @staticmethod
    def _text(value: Any) -> str:
        """A level that is not a string, as one (JSON keys are strings); cannot fail."""
        try:
            return safe_text(str(value), 200)
        except Exception:
            return f"<{type(value).__name__}>"

    @staticmethod
    def _by_event_type(
        items: Iterable[tuple[tuple[Any, Any, str | None], int]],
    ) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, _, event_type), count in items:
            if event_type is not None:
                totals[event_type] = totals.get(event_type, 0) + count
        return totals


def _first_error(record: logging.LogRecord) -> dict[str, Any]:
    exc_type = None
    if record.exc_info and record.exc_info[0] is not None:
        from ._outcome import qualified_name

        exc_type = qualified_name(record.exc_info[0])
    else:  # a record that crossed a queue (RunQueueHandler) names its exception
        named = record.__dict__.get("exc_type")
        exc_type = safe_text(named, 200) if isinstance(named, str) else None
    return {
        "timestamp": utc_timestamp(record.created),
        "logger": record.name,
        "message": safe_text(_message_of(record), _FIRST_ERROR_MESSAGE_LIMIT),
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
    # Each process names at most MAX_EVENT_TYPES kinds, but not the same ones.
    for key in ("counts_by_event_type", "suppressed_by_event_type"):
        totals[key] = cap_event_types(totals[key])
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
        "trace_id": run.trace_id,
        "attributes": clean_attributes(run.attributes),  # also what was set after the start
        "attempt": run.attempt,
        "attempt_of": run.attempt_of,
    }


def summary_document(
    metadata: Mapping[str, Any], contributors: Mapping[str, Mapping[str, Any]], updated_at: float
) -> dict[str, Any]:
    """Assemble the summary in the documented key order."""
    totals = merge_contributions(contributors.values())
    document: dict[str, Any] = {
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
        "trace_id": metadata.get("trace_id"),
        "attributes": metadata.get("attributes") or {},
        "checkpoint_interval_s": metadata.get("checkpoint_interval_s"),
        "contributors": {key: dict(value) for key, value in contributors.items()},
    }
    if metadata.get("attempt") is not None:
        # Only a re-run under a finished run's id has them (see ``_attempt``).
        document["attempt"] = metadata["attempt"]
        document["attempt_of"] = metadata.get("attempt_of")
    if metadata.get("counts_incomplete"):
        # Set by ``runlogger run`` when it finished the run of a program that died first.
        document["counts_incomplete"] = True
    return document
