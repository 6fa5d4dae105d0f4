"""The summary book: every run's counts per summaries directory, and their writing.

The counts live in a process-wide book keyed by (directory, run id), not in the
handler, because ``dictConfig`` closes and replaces handlers mid-run: the new
handler for the same directory carries on the same counts, and closing a handler
never ends the run. Runs end through :mod:`runlogger._lifecycle` (``with run()`` exit,
interpreter exit), which tells the book (a run listener) to write the final summaries.
A :class:`SummaryEntry` is one run's summary in one directory and writes itself; the
:class:`~runlogger._heartbeat.Heartbeat` keeps the ``running`` ones fresh.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import _context, _lifecycle
from ._context import current_run_if_started
from ._heartbeat import Heartbeat
from ._process_run import ensure_process_run
from ._run import Run
from ._signals import register_hand_over
from ._sinks import RunEvent, RunSink, SinkSet, drain
from ._stamp import record_run_id
from ._store import (
    deadline_left,
    lock_deadline,
    read_contributors,
    refuse_reused_id,
    summary_path,
    update_summary,
)
from ._summary import RunTally, run_metadata

__all__ = [
    "SummaryBook",
    "SummaryDirectory",
    "SummaryEntry",
    "book",
    "checkpoint",
    "describe_os_error",
    "drain_sinks_at_exit",
    "flush_at_exit",
    "heartbeat",
    "locks_for_hand_over",
    "note_logging_error",
    "register",
    "reset",
    "unwritten_estimate",
]

_NEG_INF = float("-inf")
#: Finished runs whose counts are kept for late records (threads that outlive a run).
_FINISHED_KEPT = 1024
#: How long a fork waits for a checkpoint the heartbeat is writing.
_FORK_WAIT = 2.0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


class SummaryEntry:
    """The tally of one run in one directory, and when it was last written."""

    __slots__ = (
        "directory",
        "dirty",
        "next_checkpoint",
        "published",
        "run",
        "run_id",
        "started_counted",
        "tally",
        "write_lock",
    )

    def __init__(self, directory: SummaryDirectory, run_id: str, run: Run | None) -> None:
        self.directory = directory
        self.run_id = run_id
        self.run = run
        self.tally = RunTally()
        self.next_checkpoint = 0.0
        self.dirty = False
        #: ``started``/``finished`` once handed to the sinks (each is published once).
        self.published: set[str] = set()
        #: Whether the run's own ``run_started`` is counted (see count_started).
        self.started_counted = False
        #: One write of this summary at a time, so that a checkpoint whose document
        #: was built before the run finished cannot land after the final summary.
        self.write_lock = threading.Lock()

    def sink_failed(self, _label: str, _exc: BaseException) -> None:
        """A sink could not take this run's state: count it, rewrite the summary at exit."""
        self.tally.add_logging_error()
        self.dirty = True

    def write(
        self,
        *,
        publish: bool = True,
        wait: bool = True,
        checkpoint: bool = False,
        final: bool = False,
    ) -> bool:
        """Write this summary (checkpoint or final); returns whether it was written.

        Then, unless ``publish`` is false (a flush of counts only), the run's owner hands
        the document to the sinks. With ``wait=False`` (the record path, progress
        reports) the write is skipped when another thread is writing this summary right
        now: that write carries the news, and logging never waits for another thread's
        I/O. With ``checkpoint=True`` (the heartbeat) a finished run is left alone. The
        first failure in a directory is reported in one line; a ``final`` write's
        failure is its caller's to report.
        """
        lock = self.write_lock
        left = deadline_left() if wait else None  # a SIGTERMed child's hand-over: bounded
        if not (lock.acquire(timeout=left) if left is not None else lock.acquire(blocking=wait)):
            return False
        try:
            run = self.run
            finished = run is not None and run.end_time is not None
            if checkpoint and (run is None or finished):
                return False
            # Before the snapshot: a record counted after it must find the entry dirty again.
            self.dirty = False
            if finished:
                self.next_checkpoint = _NEG_INF  # every late record marks the entry dirty
            else:
                self.next_checkpoint = time.time() + self.directory.interval
            contribution = self.tally.snapshot()
            if run is not None:
                contribution["suppressed_by_event_type"] = dict(run.suppressed_by_event_type)
            metadata = run_metadata(run) if run is not None and run.owner else None
            if metadata is not None:
                metadata["checkpoint_interval_s"] = self.directory.interval
            try:
                document = update_summary(
                    self.directory.path,
                    self.run_id,
                    contribution,
                    metadata,
                    self.directory.file_mode,
                )
            except Exception as exc:
                self.dirty = True
                self.directory.last_error = exc
                if not final and not self.directory.failure_reported:
                    self.directory.failure_reported = True
                    _context.say(
                        f"cannot write the summary of run {self.run_id} to "
                        f"{summary_path(self.directory.path, self.run_id)}: "
                        f"{describe_os_error(exc)}; trying again at each checkpoint "
                        "and at the end of the run"
                    )
                return False
            if publish and metadata is not None and self.directory.sinks:
                self.publish(document)
            return True
        finally:
            lock.release()

    def publish(self, document: dict[str, Any]) -> None:
        """Hand the document just written to the directory's sinks, as the run's owner.

        ``started`` and ``finished`` go out once each; rewrites after the finish (late
        records, errors counted at exit) only refresh the file, the record of truth.
        """
        published = self.published
        if "finished" in published:
            return
        event: RunEvent
        if document.get("status") != "running":
            event = "finished"
        elif "started" not in published:
            event = "started"
        else:
            event = "checkpoint"
        published.add(event)
        self.directory.sinks.publish(event, document, self.sink_failed)


class SummaryDirectory:
    """One summaries directory and the settings of the handlers writing to it."""

    __slots__ = (
        "entries",
        "failure_reported",
        "file_mode",
        "handlers",
        "interval",
        "last_error",
        "path",
        "sinks",
    )

    def __init__(self, path: Path, file_mode: int, interval: float) -> None:
        self.path = path
        #: A summary write failed here and was reported (once: then only at the end).
        self.failure_reported = False
        self.last_error: BaseException | None = None
        self.file_mode = file_mode
        self.interval = interval
        self.handlers = 0
        self.entries: dict[str, SummaryEntry] = {}
        #: Where this directory's runs go besides their summary files.
        self.sinks = SinkSet()


class SummaryBook:
    """Process-wide counts per (directory, run): which runs each directory counts, when
    their summaries are written (a run listener: started, checkpoint, finished)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.directories: dict[Path, SummaryDirectory] = {}
        self.finished: OrderedDict[tuple[Path, str], None] = OrderedDict()
        self.runs: dict[str, Run] = {}

    # handlers come and go -------------------------------------------------------------
    def attach(
        self, path: Path, file_mode: int, interval: float, sinks: Iterable[RunSink] = ()
    ) -> SummaryDirectory:
        with self.lock:
            directory = self.directories.get(path)
            if directory is None:
                directory = self.directories[path] = SummaryDirectory(path, file_mode, interval)
            directory.sinks.add(sinks)
            directory.file_mode = file_mode
            directory.interval = interval
            directory.handlers += 1
            process_run = ensure_process_run()
            self.runs.setdefault(process_run.run_id, process_run)
            current = current_run_if_started()
            for started in {process_run, current}:
                if started is not None and not started.finished:
                    self.entry(directory, started.run_id, started)
            return directory

    def detach(self, directory: SummaryDirectory) -> None:
        with self.lock:
            directory.handlers -= 1

    # the runs' lifecycle (RunListener) ---------------------------------------------------
    def run_started(self, run: Run) -> None:
        with self.lock:
            live = [d for d in self.directories.values() if d.handlers > 0]
        for directory in live:  # every directory checked before any is written
            if not self.counts_run(directory.path, run):
                refuse_reused_id(directory.path, run)
        with self.lock:
            self.runs[run.run_id] = run
        for directory in live:
            self.entry(directory, run.run_id, run)

    def count_started(self, directory: SummaryDirectory, run: Run) -> None:
        """Count ``run``'s ``run_started`` in ``directory`` (once), as the event file has it.

        The process run starts before its handlers exist; a summary handler created for
        it counts the event at once, and skips it when it is logged with the first record.
        """
        record = _lifecycle.started_record(run)
        if record is None:
            return
        entry = self.entry(directory, run.run_id, run)
        with self.lock:
            if entry.started_counted:
                return
            entry.started_counted = True
        entry.tally.add(record)

    def counts_run(self, path: Path, run: Run) -> bool:
        """Whether ``run`` itself (not an earlier run with its id) is counted in ``path``."""
        with self.lock:
            directory = self.directories.get(path)
            entry = directory.entries.get(run.run_id) if directory is not None else None
            return entry is not None and entry.run is run

    def run_finished(self, run: Run) -> None:
        with self.lock:
            entries = [
                d.entries[run.run_id] for d in self.directories.values() if run.run_id in d.entries
            ]
            self.runs.pop(run.run_id, None)
        for entry in entries:
            entry.run = run
            # Retried once: a full disk may have room again a moment later (a temp file
            # removed, a log rotated), and this write decides how the run is remembered.
            if not entry.write(final=True) and not entry.write(final=True):
                path = summary_path(entry.directory.path, entry.run_id)
                error = describe_os_error(entry.directory.last_error or OSError())
                _context.say(
                    f"the final summary of run {run.run_id} ({run.status}) could not be "
                    f"written to {path}: {error}"
                )
            self._keep_finished(entry)

    def run_checkpoint(self, run: Run) -> None:
        checkpoint(run)

    def counts(self, run: Run) -> tuple[int, int] | None:
        """``(event_count, error_count)`` of ``run``: this process's and, from the
        summary file, those of the processes that joined it."""
        with self.lock:
            entry = next(
                (
                    d.entries[run.run_id]
                    for d in self.directories.values()
                    if run.run_id in d.entries
                ),
                None,
            )
        if entry is None:
            return None
        events, errors = entry.tally.event_count, entry.tally.error_count
        for part in read_contributors(entry.directory.path, run.run_id, exclude_own=True):
            events += _int(part.get("event_count"))
            errors += _int(part.get("error_count"))
        return events, errors

    # counting ----------------------------------------------------------------------------
    def entry(
        self, directory: SummaryDirectory, run_id: str, run: Run | None = None
    ) -> SummaryEntry:
        """The entry of ``run_id`` in ``directory``, created (with a checkpoint) if new."""
        with self.lock:
            found = directory.entries.get(run_id)
            if found is not None:
                return found
            if run is None:
                run = self.runs.get(run_id)
                current = current_run_if_started()
                if run is None and current is not None and current.run_id == run_id:
                    run = current
            created = directory.entries[run_id] = SummaryEntry(directory, run_id, run)
        created.write()
        if run is not None:
            heartbeat.ensure_started()
        return created

    # the heartbeat ---------------------------------------------------------------------
    def next_due(self) -> float | None:
        """When the earliest ``running`` checkpoint falls due (``time.time()``), if any."""
        with self.lock:
            dues = [
                entry.next_checkpoint
                for directory in self.directories.values()
                for entry in directory.entries.values()
                if entry.run is not None and entry.run.end_time is None
            ]
        return min(dues) if dues else None

    def due_entries(self, now: float) -> list[SummaryEntry]:
        with self.lock:
            return [
                entry
                for directory in self.directories.values()
                for entry in directory.entries.values()
                if entry.run is not None
                and entry.run.end_time is None
                and entry.next_checkpoint <= now
            ]

    def _keep_finished(self, entry: SummaryEntry) -> None:
        with self.lock:
            key = (entry.directory.path, entry.run_id)
            self.finished[key] = None
            while len(self.finished) > _FINISHED_KEPT:
                (path, run_id), _ = self.finished.popitem(last=False)
                directory = self.directories.get(path)
                if directory is not None:
                    directory.entries.pop(run_id, None)

    def flush(self) -> None:
        """Write every summary with counts not yet on disk (late records, joined runs)."""
        with self.lock:
            pending = [
                entry
                for directory in self.directories.values()
                for entry in directory.entries.values()
                # run None: records forwarded from another process's run, which no
                # lifecycle event of this process ever writes
                if entry.dirty or entry.run is None
            ]
        for entry in pending:
            entry.write(publish=False)

    def write_pending(self, directory: SummaryDirectory) -> None:
        """Write the summaries in ``directory`` whose counts may not be on disk yet: runs
        still going (their last checkpoint is older than their last record) and late
        records of finished ones."""
        with self.lock:
            pending = [
                entry
                for entry in directory.entries.values()
                if entry.dirty or entry.run is None or not entry.run.finished
            ]
        for entry in pending:
            entry.write(publish=False)

    def forget_counts(self) -> None:
        """Start from zero (a forked child: its parent's counts are the parent's)."""
        with self.lock:
            for directory in self.directories.values():
                directory.entries.clear()


#: The process's book, and its heartbeat thread (both made anew by reset(); a forked
#: child gets a heartbeat of its own). Read them as ``_summary_book.book``: rebound.
book = SummaryBook()
heartbeat = Heartbeat(book)
_book_registered = False
_fork_hook_registered = False


def _before_fork() -> None:
    heartbeat.fork_held = heartbeat.io_lock.acquire(timeout=_FORK_WAIT)


def _after_fork_in_parent() -> None:
    if heartbeat.fork_held:
        heartbeat.fork_held = False
        heartbeat.io_lock.release()


def _after_fork_in_child() -> None:
    """A forked child counts its own records from zero, under locks of its own.

    The parent's heartbeat thread did not come along: the child starts its own with
    its first summary entry.
    """
    global heartbeat
    book.lock = threading.RLock()
    book.forget_counts()
    heartbeat = Heartbeat(book)


def register() -> None:
    """Make the book a run listener (once), with its fork hooks and the hand-over of a
    multiprocessing child's counts."""
    global _book_registered, _fork_hook_registered
    with book.lock:
        if _book_registered:
            return
        _book_registered = True
        if not _fork_hook_registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_before_fork,
                after_in_parent=_after_fork_in_parent,
                after_in_child=_after_fork_in_child,
            )
            _fork_hook_registered = True
    _context.add_listener(book)
    register_hand_over(locks_for_hand_over, unwritten_estimate)


def reset() -> None:
    """Forget every count and directory, and stop the heartbeat (for tests)."""
    global book, _book_registered, heartbeat
    _context.remove_listener(book)
    heartbeat.stop()
    book = SummaryBook()
    heartbeat = Heartbeat(book)
    _book_registered = False


def checkpoint(run: Run) -> None:
    """Write ``run``'s ``running`` checkpoint now, in every directory that counts it.

    For news that should not wait for the next periodic checkpoint (a progress report).
    """
    with book.lock:
        entries = [
            d.entries[run.run_id] for d in book.directories.values() if run.run_id in d.entries
        ]
    for entry in entries:
        finished = entry.run is not None and entry.run.finished
        if not finished and not entry.write(wait=False):
            entry.next_checkpoint = 0.0  # being written: the heartbeat writes it again
            heartbeat.wake.set()


def note_logging_error(record: logging.LogRecord) -> None:
    """Count a record that some handler failed to write into its run's ``logging_errors``."""
    try:
        run_id = record_run_id(record.__dict__)
        with book.lock:
            entries = [d.entries[run_id] for d in book.directories.values() if run_id in d.entries]
        for entry in entries:
            entry.tally.add_logging_error()
            entry.dirty = True
    except Exception:
        pass


def describe_os_error(exc: BaseException) -> str:
    """``[Errno 28] No space left on device``: an OSError for a one-line report."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return repr(exc)


@contextlib.contextmanager
def locks_for_hand_over(deadline: float) -> Iterator[bool]:
    """Hold the locks a child's hand-over takes, each waited for until ``deadline``.

    Yields whether all of them were had. They are re-entrant, so the hand-over's own code
    takes them again without waiting; a thread that keeps one (stuck, or parked by the
    signal) then costs the hand-over, never the process's exit. Taken in the order the
    rest of the code nests them: the book, the run state, the tallies; the directory lock
    is waited for until the same deadline.
    """
    held: list[Any] = []

    def take(lock: Any) -> bool:
        if lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            held.append(lock)
            return True
        return False

    try:
        complete = take(book.lock) and take(_context.state.lock)
        if complete:
            tallies = [
                entry.tally for d in book.directories.values() for entry in d.entries.values()
            ]
            complete = all(take(tally._lock) for tally in tallies)
        with lock_deadline(deadline):
            yield complete
    finally:
        for lock in reversed(held):
            lock.release()


def unwritten_estimate() -> int:
    """About how many records this process counted, read without any lock (for a report
    when the hand-over had to be given up: the counts may be mid-update)."""
    total = 0
    for directory in list(book.directories.values()):
        for entry in list(directory.entries.values()):
            with contextlib.suppress(Exception):
                total += len(entry.tally.queue) + sum(list(entry.tally._counts.values()))
    return total


def flush_at_exit(_process_run: Run) -> None:
    # Not waited for: this may run from a signal path, and a checkpoint the thread is
    # writing holds its entry's write lock, which the final write waits for anyway.
    heartbeat.stop(timeout=0.0)
    book.flush()


def drain_sinks_at_exit(_process_run: Run) -> None:
    """After the final summaries: let the sinks deliver (bounded), then record their
    failures in the summary files, which were written before the sinks were tried."""
    drain()
    book.flush()
