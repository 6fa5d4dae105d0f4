"""RunSummaryHandler: counts every record per run into the summary book.

The handler is the wiring: its arguments (directory, sinks, destinations, signals,
OpenTelemetry) and the per-record count. The counts themselves, and the writing of each
run's summary, belong to the process-wide book (:mod:`runlogger._summary_book`), which
outlives the handlers that ``dictConfig`` closes and replaces mid-run.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from . import (
    _catalog_sink,
    _context,
    _destinations,
    _lifecycle,
    _process_run,
    _sinks,
    _summary_book,
)
from ._attempt import release_own, settle_process_run
from ._context import state
from ._otel import enable as enable_otel
from ._otel import otel_from_environment
from ._rundir import prepare_directory
from ._sinks import RunSink, load_sink, sinks_from_environment
from ._stamp import RunStamp, record_run_id, stamped_run_id
from ._store import DEFAULT_FILE_MODE, resolve_directory
from ._summary import BATCH, event_type_of
from ._summary_book import SummaryEntry, describe_os_error, note_logging_error

__all__ = ["RunSummaryHandler", "note_logging_error", "report_write_failure", "reset_book"]

DEFAULT_CHECKPOINT_INTERVAL = 30.0
_ERROR = logging.ERROR


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
            f"{type(handler).__name__} cannot write to {where}: {describe_os_error(exc)}; "
            "further failures of this handler are only counted in the run summary's "
            "logging_errors"
        )
    return True


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


def reset_book() -> None:
    """Forget every count, directory and configured sink; stop the heartbeat (for tests)."""
    global _environment_sinks
    _summary_book.reset()
    _environment_sinks = None
    _sinks.reset()
    _destinations.reset()
    _catalog_sink.reset()


def _check_numbers(file_mode: object, checkpoint_interval: object) -> None:
    if not isinstance(file_mode, int) or not 0 <= file_mode <= 0o777:
        raise ValueError(f"file_mode must be a permission number such as 0o600, not {file_mode!r}.")
    if not isinstance(checkpoint_interval, (int, float)) or checkpoint_interval <= 0:
        raise ValueError(
            "checkpoint_interval must be a positive number of seconds, "
            f"not {checkpoint_interval!r}."
        )


class RunSummaryHandler(logging.Handler):
    """Counts every record it receives into its run's summary in ``directory``.

    (Longer than 200 lines for a reason: ``handle`` carries a second copy of ``emit``'s
    count, which saves a call on every record, and ``__init__`` takes every destination
    as a keyword argument, which is how ``dictConfig`` and ``fileConfig`` configure it.
    The counts and the summaries themselves are the book's, in ``_summary_book``.)

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
        _check_numbers(file_mode, checkpoint_interval)
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
        # A re-run under a finished run's id becomes its next attempt (before a span
        # or a summary names the run).
        process_run = settle_process_run(path)
        if otel is not False:
            enable_otel(None if otel is True else otel)
        super().__init__(level)
        self.directory = path
        self._closed = False
        #: handle() counts by itself unless a subclass counts (or does more) in emit().
        self._count_in_handle = type(self).emit is RunSummaryHandler.emit
        #: The last event type that needed nothing done (a str, not run_started).
        self._plain_event_type: str | None = None
        _summary_book.register()
        _context.add_exit_handler(_summary_book.flush_at_exit)
        _context.add_after_exit_handler(_summary_book.drain_sinks_at_exit)
        book = _summary_book.book
        self._dir = book.attach(path, file_mode, float(checkpoint_interval), run_sinks)
        if process_run.owner and not process_run.finished:
            book.count_started(self._dir, process_run)
        release_own()  # the attempt's summary exists now: no marker needed
        if handle_signals:
            from ._signals import install_signal_handlers

            install_signal_handlers()

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and count, without the handler lock: the tally has its own.

        The count is :meth:`emit`'s, written out here once more (unless a subclass has
        an ``emit`` of its own): this runs for every record, and the call to ``emit``
        would cost a fifth of the count itself.
        """
        result: Any = record  # truthy, and what Handler.handle returns since 3.12
        if self.filters:  # else skip Filterer.filter's loop
            result = self.filter(record)
            if not result:
                return result
            if result is not True and isinstance(result, logging.LogRecord):
                record = result  # 3.12+: a filter may replace the record
        if not self._count_in_handle:
            self.emit(record)
            return result
        try:  # emit's body (keep the two alike)
            if state.unannounced is not None:
                _lifecycle.announce_process_run()
            attrs = record.__dict__
            run_id = attrs.get("run_id")
            if type(run_id) is not RunStamp:
                run_id = stamped_run_id(attrs) or _process_run.current_run().run_id
            entry = self._dir.entries.get(run_id)
            if entry is None:
                entry = _summary_book.book.entry(self._dir, record_run_id(attrs))
            event_type = attrs.get("event_type")
            if event_type is not None and event_type is not self._plain_event_type:
                if type(event_type) is not str:
                    event_type = event_type_of(record)
                elif event_type == "run_started":
                    if self._started_again(entry, record):
                        return result
                else:
                    self._plain_event_type = event_type
            levelno = record.levelno
            queue = entry.tally.queue
            queue.append((levelno, record.levelname, event_type))
            if len(queue) >= BATCH or levelno >= _ERROR or record.created >= entry.next_checkpoint:
                self._after_count(entry, record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
        return result

    def emit(self, record: logging.LogRecord) -> None:
        """Count ``record``: :meth:`RunTally.add`, inlined, as this runs for every record.

        One comparison per record covers the rare work -- a full queue, an error, a
        checkpoint due, a record after its run has finished -- in :meth:`_after_count`.
        :meth:`handle` does the same without calling this (keep the two alike).
        """
        try:
            if state.unannounced is not None:
                _lifecycle.announce_process_run()  # before the first record: run_started
            attrs = record.__dict__
            run_id = attrs.get("run_id")  # the run it was logged in: see runlogger._stamp
            if type(run_id) is not RunStamp:
                run_id = stamped_run_id(attrs) or _process_run.current_run().run_id
            entry = self._dir.entries.get(run_id)
            if entry is None:
                entry = _summary_book.book.entry(self._dir, record_run_id(attrs))
            event_type = attrs.get("event_type")
            if event_type is not None and event_type is not self._plain_event_type:
                if type(event_type) is not str:
                    event_type = event_type_of(record)
                elif event_type == "run_started":
                    if self._started_again(entry, record):
                        return
                else:
                    self._plain_event_type = event_type
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
    def _started_again(entry: SummaryEntry, record: logging.LogRecord) -> bool:
        """Whether ``record`` is its run's ``run_started`` (or a queued copy of it),
        counted here already."""
        if record.__dict__.get("_runlogger_started") != entry.run_id:
            return False
        with _summary_book.book.lock:
            if entry.started_counted:
                return True
            entry.started_counted = True
            return False

    @staticmethod
    def _after_count(entry: SummaryEntry, record: logging.LogRecord) -> None:
        tally = entry.tally
        if len(tally.queue) >= BATCH:
            tally.count_queue()
        if record.levelno >= _ERROR and tally.first_error is None:
            tally.note_first_error(record)
        run = entry.run
        if run is not None and run.end_time is not None:  # finished: written at exit
            entry.dirty = True
        elif record.created >= entry.next_checkpoint and not _summary_book.heartbeat.alive():
            entry.write(wait=False)  # no heartbeat thread (yet): write it here

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
                _summary_book.book.write_pending(directory)
            except Exception as exc:  # logging.shutdown() must go on to the next handler
                _context.report("could not write the summaries at flush", exc)

    def close(self) -> None:
        """Detach from the directory; the run (and its counts) go on. Idempotent."""
        try:
            self.acquire()
            try:
                if not self._closed and hasattr(self, "_dir"):
                    self._closed = True
                    _summary_book.book.detach(self._dir)
            finally:
                self.release()
        finally:
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.directory} ({level})>"
