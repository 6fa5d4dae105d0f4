"""RunSummaryHandler: counts every record per run and writes each run's summary.

The counts live in a process-wide book keyed by (directory, run id), not in the
handler, because ``dictConfig`` closes and replaces handlers mid-run: the new
handler for the same directory carries on the same counts, and closing a handler
never ends the run. Runs end through :mod:`runlogger._lifecycle` (``with run()`` exit,
interpreter exit), which tells the book to write the final summaries.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import _catalog_sink, _context, _destinations, _lifecycle, _process_run, _sinks
from ._context import current_run_if_started
from ._errors import RunIdInUseError
from ._otel import enable as enable_otel
from ._otel import otel_from_environment
from ._process_run import ensure_process_run
from ._run import Run
from ._rundir import prepare_directory
from ._signals import register_hand_over
from ._sinks import RunEvent, RunSink, SinkSet, drain, load_sink, sinks_from_environment
from ._stamp import RunStamp, record_run_id, stamped_run_id
from ._store import (
    DEFAULT_FILE_MODE,
    deadline_left,
    lock_deadline,
    read_contributors,
    read_existing,
    resolve_directory,
    summary_path,
    update_summary,
)
from ._summary import BATCH, RunTally, event_type_of, run_metadata

__all__ = ["RunSummaryHandler", "checkpoint", "note_logging_error"]

DEFAULT_CHECKPOINT_INTERVAL = 30.0
_ERROR = logging.ERROR
_NEG_INF = float("-inf")
#: Finished runs whose counts are kept for late records (threads that outlive a run).
_FINISHED_KEPT = 1024


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


class _Entry:
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

    def __init__(self, directory: _Directory, run_id: str, run: Run | None) -> None:
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


class _Directory:
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
        self.entries: dict[str, _Entry] = {}
        #: Where this directory's runs go besides their summary files.
        self.sinks = SinkSet()


class _SummaryBook:
    """Process-wide counts per (directory, run), and the writing of summaries."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.directories: dict[Path, _Directory] = {}
        self.finished: OrderedDict[tuple[Path, str], None] = OrderedDict()
        self.runs: dict[str, Run] = {}

    # handlers come and go -------------------------------------------------------------
    def attach(
        self, path: Path, file_mode: int, interval: float, sinks: Iterable[RunSink] = ()
    ) -> _Directory:
        with self.lock:
            directory = self.directories.get(path)
            if directory is None:
                directory = self.directories[path] = _Directory(path, file_mode, interval)
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

    def detach(self, directory: _Directory) -> None:
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

    def count_started(self, directory: _Directory, run: Run) -> None:
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
            if not self.write(entry, final=True) and not self.write(entry, final=True):
                path = summary_path(entry.directory.path, entry.run_id)
                error = _describe_os_error(entry.directory.last_error or OSError())
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
    def entry(self, directory: _Directory, run_id: str, run: Run | None = None) -> _Entry:
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
            created = directory.entries[run_id] = _Entry(directory, run_id, run)
        self.write(created)
        if run is not None:
            _heartbeat.ensure_started()
        return created

    def write(
        self,
        entry: _Entry,
        *,
        publish: bool = True,
        wait: bool = True,
        checkpoint: bool = False,
        final: bool = False,
    ) -> bool:
        """Write ``entry``'s summary (checkpoint or final); returns whether it was written.

        Then, unless ``publish`` is false (a flush of counts only), the run's owner hands
        the document to the sinks. With ``wait=False`` (the record path, progress
        reports) the write is skipped when another thread is writing this summary right
        now: that write carries the news, and logging never waits for another thread's
        I/O. With ``checkpoint=True`` (the heartbeat) a finished run is left alone. The
        first failure in a directory is reported in one line; a ``final`` write's
        failure is its caller's to report.
        """
        lock = entry.write_lock
        left = deadline_left() if wait else None  # a SIGTERMed child's hand-over: bounded
        if not (lock.acquire(timeout=left) if left is not None else lock.acquire(blocking=wait)):
            return False
        try:
            run = entry.run
            finished = run is not None and run.end_time is not None
            if checkpoint and (run is None or finished):
                return False
            # Before the snapshot: a record counted after it must find the entry dirty again.
            entry.dirty = False
            if finished:
                entry.next_checkpoint = _NEG_INF  # every late record marks the entry dirty
            else:
                entry.next_checkpoint = time.time() + entry.directory.interval
            contribution = entry.tally.snapshot()
            if run is not None:
                contribution["suppressed_by_event_type"] = dict(run.suppressed_by_event_type)
            metadata = run_metadata(run) if run is not None and run.owner else None
            if metadata is not None:
                metadata["checkpoint_interval_s"] = entry.directory.interval
            try:
                document = update_summary(
                    entry.directory.path,
                    entry.run_id,
                    contribution,
                    metadata,
                    entry.directory.file_mode,
                )
            except Exception as exc:
                entry.dirty = True
                entry.directory.last_error = exc
                if not final and not entry.directory.failure_reported:
                    entry.directory.failure_reported = True
                    _context.say(
                        f"cannot write the summary of run {entry.run_id} to "
                        f"{summary_path(entry.directory.path, entry.run_id)}: "
                        f"{_describe_os_error(exc)}; trying again at each checkpoint "
                        "and at the end of the run"
                    )
                return False
            if publish and metadata is not None and entry.directory.sinks:
                self._publish(entry, document)
            return True
        finally:
            lock.release()

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

    def due_entries(self, now: float) -> list[_Entry]:
        with self.lock:
            return [
                entry
                for directory in self.directories.values()
                for entry in directory.entries.values()
                if entry.run is not None
                and entry.run.end_time is None
                and entry.next_checkpoint <= now
            ]

    @staticmethod
    def _publish(entry: _Entry, document: dict[str, Any]) -> None:
        """Hand the document just written to the directory's sinks, as the run's owner.

        ``started`` and ``finished`` go out once each; rewrites after the finish (late
        records, errors counted at exit) only refresh the file, the record of truth.
        """
        published = entry.published
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
        entry.directory.sinks.publish(event, document, entry.sink_failed)

    def _keep_finished(self, entry: _Entry) -> None:
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
            self.write(entry, publish=False)

    def write_pending(self, directory: _Directory) -> None:
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
            self.write(entry, publish=False)

    def forget_counts(self) -> None:
        """Start from zero (a forked child: its parent's counts are the parent's)."""
        with self.lock:
            for directory in self.directories.values():
                directory.entries.clear()
            self.finished.clear()


_book = _SummaryBook()
_book_registered = False

#: The longest the heartbeat sleeps when no run is going: it is woken when one starts.
_IDLE_WAIT = 60.0
#: How long a fork waits for a checkpoint the heartbeat is writing.
_FORK_WAIT = 2.0


class _Heartbeat:
    """A daemon thread that keeps the ``running`` checkpoints fresh, records or not.

    A job working quietly for an hour (one long query, a big download) logs nothing,
    so a checkpoint refreshed only by records would look dead; readers take a
    ``running`` summary whose ``updated_at`` is older than a few
    ``checkpoint_interval_s`` as lost. The thread sleeps until the earliest checkpoint
    falls due and writes the due ones. It takes the book's lock only to find them,
    never while writing, and a record that finds a checkpoint due leaves it to the
    thread, so logging never waits for the thread's I/O. It starts with the first
    summary handler (again in a forked child, lazily: threads do not survive a fork)
    and stops when the process run ends.
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopped = False
        #: Held while a checkpoint is written, so that a fork (which copies the open
        #: descriptor of the directory lock into the child) waits for the write.
        self.io_lock = threading.Lock()
        self.fork_held = False

    def alive(self) -> bool:
        thread = self.thread
        return thread is not None and thread.is_alive()

    def ensure_started(self) -> None:
        if self.thread is not None or self.stopped or _context.state.exiting:
            self.wake.set()  # a new run may be due sooner than the thread sleeps
            return
        with _book.lock:
            if self.thread is not None:
                return
            thread = threading.Thread(target=self._loop, name="runlogger-heartbeat", daemon=True)
            self.thread = thread
        try:
            thread.start()
        except RuntimeError:  # at interpreter shutdown: the record path still checkpoints
            self.thread = None
            self.stopped = True

    def stop(self, timeout: float = 1.0) -> None:
        self.stopped = True
        self.wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopped:
            due = _book.next_due()
            now = time.time()
            delay = _IDLE_WAIT if due is None else max(0.0, due - now)
            if delay > 0 and self.wake.wait(delay):
                self.wake.clear()
                continue  # woken: a new run or stop; look again
            if self.stopped:
                return
            for entry in _book.due_entries(time.time()):
                if self.stopped:
                    return
                # Never let the thread die: the next round retries.
                with self.io_lock, contextlib.suppress(Exception):
                    _book.write(entry, checkpoint=True)
            # A write that keeps failing must not spin: its entry's next checkpoint
            # was moved on by write() even when it failed.


_heartbeat = _Heartbeat()


def _before_fork() -> None:
    _heartbeat.fork_held = _heartbeat.io_lock.acquire(timeout=_FORK_WAIT)


def _after_fork_in_parent() -> None:
    if _heartbeat.fork_held:
        _heartbeat.fork_held = False
        _heartbeat.io_lock.release()


def refuse_reused_id(directory: Path, run: Run) -> None:
    """Raise RunIdInUseError if ``run``'s chosen id already names another run here.

    A run id names one run: a finished run's summary must not be overwritten, nor its
    counts mixed into a new run's (a scheduler re-running a job under the same id).
    A summary still ``running`` is not refused: its owner died without finishing it
    (or a joined process wrote it first), and the new owner finishes that run.
    """
    if not (run.owner and run.id_chosen):
        return
    existing = read_existing(summary_path(directory, run.run_id))
    if existing is None or existing.get("run_id") != run.run_id:
        return
    status = existing.get("status")
    if status not in ("completed", "failed", "terminated"):
        return
    where = summary_path(directory, run.run_id)
    raise RunIdInUseError(
        f"run id {run.run_id!r} already names a run ({status}, started "
        f"{existing.get('start_time')}) in {where}; a re-run needs an id of its own "
        "(e.g. with an attempt number), or remove that summary first."
    )


_fork_hook_registered = False


def _after_fork_in_child() -> None:
    """A forked child counts its own records from zero, under locks of its own.

    The parent's heartbeat thread did not come along: the child starts its own with
    its first summary entry.
    """
    global _heartbeat
    _book.lock = threading.RLock()
    _book.forget_counts()
    _heartbeat = _Heartbeat()


def _register_book() -> None:
    global _book_registered, _fork_hook_registered
    with _book.lock:
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
    _context.add_listener(_book)
    register_hand_over(locks_for_hand_over, unwritten_estimate)


def reset_book() -> None:
    """Forget every count and directory, and stop the heartbeat (for tests)."""
    global _book, _book_registered, _environment_sinks, _heartbeat
    _context.remove_listener(_book)
    _heartbeat.stop()
    _heartbeat = _Heartbeat()
    _book = _SummaryBook()
    _book_registered = False
    _environment_sinks = None
    _sinks.reset()
    _destinations.reset()
    _catalog_sink.reset()


def checkpoint(run: Run) -> None:
    """Write ``run``'s ``running`` checkpoint now, in every directory that counts it.

    For news that should not wait for the next periodic checkpoint (a progress report).
    """
    with _book.lock:
        entries = [
            d.entries[run.run_id] for d in _book.directories.values() if run.run_id in d.entries
        ]
    for entry in entries:
        finished = entry.run is not None and entry.run.finished
        if not finished and not _book.write(entry, wait=False):
            entry.next_checkpoint = 0.0  # being written: the heartbeat writes it again
            _heartbeat.wake.set()


def note_logging_error(record: logging.LogRecord) -> None:
    """Count a record that some handler failed to write into its run's ``logging_errors``."""
    try:
        run_id = record_run_id(record.__dict__)
        with _book.lock:
            entries = [d.entries[run_id] for d in _book.directories.values() if run_id in d.entries]
        for entry in entries:
            entry.tally.add_logging_error()
            entry.dirty = True
    except Exception:
        pass


def report_write_failure(handler: logging.Handler, where: object) -> bool:
    """Say once, in one line, that ``handler`` cannot write; True if the error was an
    OSError (a full disk, a lost mount, permissions) and is dealt with.

    A full disk fails every record: a traceback each (stdlib's ``handleError``) buries
    the program's own output. The first failure of each handler is reported, the rest
    are only counted in the run's ``logging_errors``. Other errors (a bug) keep
    stdlib's report. Like stdlib, nothing is printed when ``logging.raiseExceptions``
    is false.
    """
    exc = sys.exc_info()[1]
    if not isinstance(exc, OSError):
        return False
    if not getattr(handler, "_write_failure_reported", False):
        handler._write_failure_reported = True  # type: ignore[attr-defined]
        _context.say(
            f"{type(handler).__name__} cannot write to {where}: {_describe_os_error(exc)}; "
            "further failures of this handler are only counted in the run summary's "
            "logging_errors"
        )
    return True


def _describe_os_error(exc: BaseException) -> str:
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
        complete = take(_book.lock) and take(_context.state.lock)
        if complete:
            tallies = [
                entry.tally for d in _book.directories.values() for entry in d.entries.values()
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
    for directory in list(_book.directories.values()):
        for entry in list(directory.entries.values()):
            with contextlib.suppress(Exception):
                total += len(entry.tally.queue) + sum(list(entry.tally._counts.values()))
    return total


def _flush_at_exit(_process_run: Run) -> None:
    # Not waited for: this may run from a signal path, and a checkpoint the thread is
    # writing holds its entry's write lock, which the final write waits for anyway.
    _heartbeat.stop(timeout=0.0)
    _book.flush()


def _drain_sinks_at_exit(_process_run: Run) -> None:
    """After the final summaries: let the sinks deliver (bounded), then record their
    failures in the summary files, which were written before the sinks were tried."""
    drain()
    _book.flush()


#: Sinks named by ``$RUNLOGGER_SINKS``, created once per process.
_environment_sinks: list[RunSink] | None = None


def _configured_sinks(
    sinks: Iterable[object] | None, destinations: dict[str, Any] | None = None
) -> list[RunSink]:
    """The handler's ``sinks`` argument loaded and its built-in ``destinations`` (keyword
    arguments of :func:`runlogger._destinations.destinations`), then the environment's."""
    global _environment_sinks
    if isinstance(sinks, (str, bytes)) or (sinks is not None and hasattr(sinks, "publish")):
        sinks = [sinks]
    loaded = [load_sink(spec) for spec in sinks or ()]
    loaded += _destinations.destinations(**(destinations or {}))
    if _environment_sinks is None:
        _environment_sinks = (
            sinks_from_environment() + _destinations.destinations_from_environment()
        )
    return loaded + _environment_sinks


class RunSummaryHandler(logging.Handler):
    """Counts every record it receives into its run's summary in ``directory``.

    Put it on the root logger (or wherever the records of interest pass); it writes
    nothing per record. Each run's summary is written as ``<directory>/<run_id>.json``
    with ``status: running`` when the run starts (and every ``checkpoint_interval``
    seconds while records arrive), and for good when the run ends: at the end of a
    ``with run()`` block, and for the process run at interpreter exit, whether the
    program ended normally or with an uncaught exception.

    ``directory`` defaults to ``$RUNLOGGER_DIR``, else ``./runs``; it is created if
    missing. Summary files get ``file_mode`` (0600 by default) whatever the umask.

    With ``handle_signals=True``, SIGTERM and SIGINT end the process run as
    ``terminated`` (with a ``signal`` field) and the process still exits with status
    143 / 130; an application's own handlers are chained, ignored signals left alone.

    ``sinks`` are further destinations of each run's state (see :class:`RunSink`): sink
    objects, classes or factories, or ``"module:attribute"`` strings; those named in
    ``$RUNLOGGER_SINKS`` are added. The run's owner publishes to them after each write of
    the summary file.

    With ``otel=True`` (or ``$RUNLOGGER_OTEL=1``) every run is also an OpenTelemetry
    span, current while the run is; ``otel`` may also be the TracerProvider to use.
    Once on, it stays on for the process (see README, "Traces and log platforms").

    Built-in destinations (each a sink; see the README's "Alerts" section):
    ``pushgateway`` (a URL), ``textfile_dir`` (node_exporter's textfile directory),
    ``prom_labels`` (``"env=prod,team=data"`` or a mapping; default
    ``$RUNLOGGER_PROM_LABELS``), ``webhook`` (URLs), ``ping_url`` (a healthchecks.io
    check). The ``RUNLOGGER_*`` variables of the same names add theirs.

    ``catalog`` is the SQL run catalog the runs are upserted into (a sink too): a SQLite
    file path or a ``postgresql://`` URL; None means ``$RUNLOGGER_CATALOG``, else
    ``<directory>/runlogger.sqlite3``; False turns it off.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        level: int | str = logging.NOTSET,
        *,
        file_mode: int = DEFAULT_FILE_MODE,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        handle_signals: bool = False,
        sinks: Iterable[object] | None = None,
        otel: object = None,
        pushgateway: str | None = None,
        textfile_dir: str | os.PathLike[str] | None = None,
        prom_labels: str | Mapping[str, str] | None = None,
        webhook: str | Iterable[str] | None = None,
        ping_url: str | None = None,
        catalog: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        if not isinstance(file_mode, int) or not 0 <= file_mode <= 0o777:
            raise ValueError(
                f"file_mode must be a permission number such as 0o600, not {file_mode!r}."
            )
        if not isinstance(checkpoint_interval, (int, float)) or checkpoint_interval <= 0:
            raise ValueError(
                "checkpoint_interval must be a positive number of seconds, "
                f"not {checkpoint_interval!r}."
            )
        # Everything that can fail comes before Handler.__init__, which registers the
        # handler for logging.shutdown(): a refused handler must leave nothing behind.
        path = resolve_directory(directory)
        run_sinks = _configured_sinks(
            sinks,
            {
                "pushgateway": pushgateway,
                "textfile_dir": textfile_dir,
                "prom_labels": prom_labels,
                "webhook": webhook,
                "ping_url": ping_url,
            },
        )
        run_sinks += _catalog_sink.catalog_sinks(catalog, path, file_mode)
        if otel is None:
            otel = otel_from_environment()
        if otel is not False and otel is not True and not hasattr(otel, "get_tracer"):
            raise ValueError(f"otel must be True, False or a TracerProvider, not {otel!r}.")
        prepare_directory(path, file_mode, stacklevel=2)
        if otel is not False:
            enable_otel(None if otel is True else otel)
        process_run = ensure_process_run()
        if not _book.counts_run(path, process_run):
            refuse_reused_id(path, process_run)
        super().__init__(level)
        self.directory = path
        self._closed = False
        _register_book()
        _context.add_exit_handler(_flush_at_exit)
        _context.add_after_exit_handler(_drain_sinks_at_exit)
        self._dir = _book.attach(path, file_mode, float(checkpoint_interval), run_sinks)
        if process_run.owner and not process_run.finished:
            _book.count_started(self._dir, process_run)
        if handle_signals:
            from ._signals import install_signal_handlers

            install_signal_handlers()

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and count, without the handler lock: the tally has its own."""
        if not self.filters:  # the usual case: skip Filterer.filter's loop
            self.emit(record)
            return record  # truthy, and what Handler.handle returns since 3.12
        result = self.filter(record)
        if isinstance(result, logging.LogRecord):  # 3.12+: a filter may replace the record
            record = result
        if result:
            self.emit(record)
        return result

    def emit(self, record: logging.LogRecord) -> None:
        """Count ``record``: :meth:`RunTally.add`, inlined, as this runs for every record.

        One comparison per record covers the rare work -- a full queue, an error, a
        checkpoint due, a record after its run has finished -- in :meth:`_after_count`.
        """
        try:
            if _context.state.unannounced is not None:
                _lifecycle.announce_process_run()  # before the first record: run_started
            attrs = record.__dict__
            run_id = attrs.get("run_id")  # the run it was logged in: see runlogger._stamp
            if type(run_id) is not RunStamp:
                run_id = stamped_run_id(attrs) or _process_run.current_run().run_id
            entry = self._dir.entries.get(run_id)
            if entry is None:
                entry = _book.entry(self._dir, record_run_id(attrs))
            event_type = attrs.get("event_type")
            if event_type is not None and type(event_type) is not str:
                event_type = event_type_of(record)
            elif event_type == "run_started" and self._started_again(entry, record):
                return
            levelno = record.levelno
            queue = entry.tally.queue
            queue.append((levelno, record.levelname, event_type))
            if len(queue) >= BATCH or levelno >= _ERROR or record.created >= entry.next_checkpoint:
                self._after_count(entry, record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    @staticmethod
    def _started_again(entry: _Entry, record: logging.LogRecord) -> bool:
        """Whether ``record`` is its run's ``run_started`` (or a queued copy of it),
        counted here already."""
        if record.__dict__.get("_runlogger_started") != entry.run_id:
            return False
        with _book.lock:
            if entry.started_counted:
                return True
            entry.started_counted = True
            return False

    @staticmethod
    def _after_count(entry: _Entry, record: logging.LogRecord) -> None:
        tally = entry.tally
        if len(tally.queue) >= BATCH:
            tally.count_queue()
        if record.levelno >= _ERROR and tally.first_error is None:
            tally.note_first_error(record)
        run = entry.run
        if run is not None and run.end_time is not None:  # finished: written at exit
            entry.dirty = True
        elif record.created >= entry.next_checkpoint and not _heartbeat.alive():
            _book.write(entry, wait=False)  # no heartbeat thread (yet): write it here

    def handleError(self, record: logging.LogRecord) -> None:
        """Count the failure in the run's ``logging_errors``; report it (see
        :func:`report_write_failure`)."""
        note_logging_error(record)
        if not report_write_failure(self, self.directory):
            super().handleError(record)

    def flush(self) -> None:
        """Write the counts this process has not written yet to the summaries.

        ``logging.shutdown()`` calls it (before ``close()``), which makes a process that
        ends with ``os._exit`` -- a forked child, a joined worker -- exact when it calls
        ``logging.shutdown()`` first: its share of the counts is on disk before it exits.
        In a process that finished its runs already (a normal exit) there is nothing left.
        """
        directory = getattr(self, "_dir", None)
        if directory is not None:
            try:
                _book.write_pending(directory)
            except Exception as exc:  # logging.shutdown() must go on to the next handler
                _context.report("could not write the summaries at flush", exc)

    def close(self) -> None:
        """Detach from the directory; the run (and its counts) go on. Idempotent."""
        try:
            self.acquire()
            try:
                if not self._closed and hasattr(self, "_dir"):
                    self._closed = True
                    _book.detach(self._dir)
            finally:
                self.release()
        finally:
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.directory} ({level})>"
