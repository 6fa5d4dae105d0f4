"""A run's lifecycle events: ``run_started`` and ``run_finished``, and how runs end.

runlogger's own records (these, the progress and exception events) go straight to the
handlers through :func:`emit`, so that ``dictConfig``'s ``disable_existing_loggers``
cannot silence them. :func:`finish_run` ends a run: status, ``run_finished``, listeners.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from ._context import RunListener, current_listeners, current_var, state

if TYPE_CHECKING:
    from ._run import Run

__all__ = [
    "announce_process_run",
    "emit",
    "finish_run",
    "log_run_started",
    "started_record",
]

#: Lifecycle events are logged under this name, so they pass the user's handlers.
_lifecycle_logger = logging.getLogger("runlogger.run")


# -- finishing runs -----------------------------------------------------------------------


def finish_run(run: Run, status: str | None = None) -> None:
    """End ``run``: set its status and end time, log ``run_finished``, write summaries.

    Idempotent: a run finishes once. A joined process run only hands its counts over.
    """
    with state.lock:
        if run.finished:
            return
        run.end_time = time.time()
        if status is not None:
            run.status = status
        elif run.signal is not None:
            run.status = "terminated"
        elif run.exception is not None or (run.exit_code not in (None, 0)):
            run.status = "failed"
        else:
            run.status = "completed"
    listeners = current_listeners()
    if run.owner:
        if state.unannounced is run:
            announce_process_run()  # counted before run_finished counts what came before
        _log_run_finished(run, listeners)
    for listener in listeners:
        listener.run_finished(run)


def _log_run_finished(run: Run, listeners: list[RunListener]) -> None:
    counted: tuple[int, int] | None = None
    for listener in listeners:
        counted = listener.counts(run)
        if counted is not None:
            break
    fields: dict[str, Any] = {
        "event_type": "run_finished",
        "status": run.status,
        "duration_ms": run.duration_ms,
        # The run_finished record is counted too, so it includes itself.
        "event_count": counted[0] + 1 if counted is not None else None,
        "error_count": counted[1] if counted is not None else None,
    }
    if run.name is not None:
        fields["run_name"] = run.name
    if run.exception is not None:
        fields["exception"] = run.exception
    if run.signal is not None:
        fields["signal"] = run.signal
    if run.exit_code is not None:
        fields["exit_code"] = run.exit_code
    token = current_var.set(run)
    try:
        emit(logging.INFO, "run %s finished: %s", (run.run_id, run.status), fields)
    finally:
        current_var.reset(token)


def emit(
    level: int,
    msg: str,
    args: tuple[Any, ...],
    extra: dict[str, Any],
    exc_info: Any = None,
    logger: logging.Logger = _lifecycle_logger,
    run: Run | None = None,
) -> logging.LogRecord | None:
    """Log one of runlogger's own records even if ``dictConfig`` disabled its logger.

    ``disable_existing_loggers=True`` (dictConfig's default) disables every logger that
    existed before the call, runlogger's included; the run's own records must still
    reach the handlers, so they skip the ``disabled`` flag. The logger's level, its
    filters and ``logging.disable()`` are still honoured; for the lifecycle logger only
    a level set on ``runlogger.run`` or ``runlogger`` counts, not the root's (see
    :func:`_lifecycle_enabled`). ``run`` (stamped on the record) defaults to the run
    current here. Returns the record handed to the handlers, if any.
    """
    if state.unannounced is not None:
        announce_process_run()
    record = _make_record(level, msg, args, extra, exc_info, logger, run)
    return None if record is None else _deliver(record, logger)


def _make_record(
    level: int,
    msg: str,
    args: tuple[Any, ...],
    extra: dict[str, Any],
    exc_info: Any,
    logger: logging.Logger,
    run: Run | None,
) -> logging.LogRecord | None:
    """The record :func:`emit` would log, or None if its level is switched off."""
    if logger.manager.disable >= level:
        return None
    if logger is _lifecycle_logger:
        if not _lifecycle_enabled(level):
            return None
    elif level < logger.getEffectiveLevel():
        return None
    record = logger.makeRecord(logger.name, level, "(runlogger)", 0, msg, args, exc_info)
    # The fields go into a dict of the record's own, not the one LogRecord instances
    # share their attribute names through: CPython keeps ~10 names beyond LogRecord's
    # own there, first come first served, and a record that adds a name left out pays
    # for a dict copy every time. These records come first (run_started is made when
    # the handlers are), so their names would take the program's records' places.
    fields = record.__dict__
    for key in extra:  # as makeRecord checks extra
        if key in ("message", "asctime") or key in fields:
            raise KeyError(f"Attempt to overwrite {key!r} in LogRecord")
    try:
        record.__dict__ = {**fields, **extra}
    except (AttributeError, TypeError):  # a record factory's class without its own dict
        fields.update(extra)
    if run is not None:
        # Stamped here, as a filter would: a record kept for a later output
        # (Run.started_record) must name its run whatever is current then.
        record.run_id = run.run_id
        if run.parent is not None:
            record.parent_run_id = run.parent.run_id
    return record


def _deliver(record: logging.LogRecord, logger: logging.Logger) -> logging.LogRecord | None:
    kept = logger.filter(record)
    if not kept:
        return None
    # Python 3.12+: a logger filter may hand back a replacement record.
    record = kept if isinstance(kept, logging.LogRecord) else record
    logger.callHandlers(record)
    return record


def _lifecycle_enabled(level: int) -> bool:
    """Whether ``run_started``/``run_finished`` (and the other lifecycle events) pass.

    A production configuration often sets the root logger to WARNING; the lifecycle
    events are what tells a log platform that a run started and how it ended, so the
    root's level does not hold them back. A level set on ``runlogger.run`` (or its
    parent ``runlogger``) does: that is how a user silences them on purpose.
    """
    logger: logging.Logger | None = _lifecycle_logger
    while logger is not None and logger is not logging.root:
        if logger.level:
            return level >= logger.level
        logger = logger.parent
    return True


def started_record(run: Run) -> logging.LogRecord | None:
    """``run``'s ``run_started`` record, made once; None if lifecycle events are off.

    The process run starts while logging is being configured, before its handlers
    exist. So its ``run_started`` is made once, dated when the run started, and each of
    runlogger's handlers takes it when it is created (an event file begins with it, a
    summary counts it); every other output gets it with the run's first record (see
    :func:`announce_process_run`), and a handler that already has it skips it then.
    """
    record = run.started_record
    if record is not None:
        return record
    fields: dict[str, Any] = {"event_type": "run_started"}
    if run.name is not None:
        fields["run_name"] = run.name
    if run.attributes:
        fields["attributes"] = run.attributes
    fields["host"] = run.host
    fields["pid"] = run.pid
    fields["argv"] = run.argv
    if run.trace_id is not None:
        fields["trace_id"] = run.trace_id
    record = _make_record(
        logging.INFO, "run %s started", (run.run_id,), fields, None, _lifecycle_logger, run
    )
    if record is None:
        return None
    record.created = run.start_time
    record.msecs = (run.start_time - int(run.start_time)) * 1000
    # Marks the one record (and the copies a QueueHandler makes of it) that handlers
    # which took it at creation skip when it is logged; "_" keys are not written out.
    record._runlogger_started = run.run_id
    with state.lock:
        if run.started_record is None:
            run.started_record = record
        return run.started_record


def announce_process_run() -> None:
    """Log the process run's ``run_started`` now, if it still waits to be (cheap if not).

    Called just before the process run's first record reaches the handlers (from
    :class:`RunContextFilter`, the summary and event handlers, and every runlogger
    event), so the event comes first in every output configured by then.
    """
    with state.lock:
        process_run = state.unannounced
        state.unannounced = None
    if process_run is not None and process_run is state.process_run:
        log_run_started(process_run)


def log_run_started(run: Run) -> None:
    """Log ``run``'s ``run_started`` record (see :func:`started_record`) as a record of it."""
    record = started_record(run)
    if record is None:
        return
    token = current_var.set(run)
    try:
        _deliver(record, _lifecycle_logger)
    finally:
        current_var.reset(token)
