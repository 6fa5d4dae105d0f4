"""Runs, the run current in each context, and the process run's lifecycle.

This module holds all of runlogger's process-wide state, so that tests (and programs
that really need to) can put it back with :func:`reset_state`. Nothing happens at
import: the process run starts the first time a runlogger component is configured
(or :func:`current_run`/:func:`run` is called).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sized
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

from . import _progress
from ._ids import new_run_id, validate_run_id

__all__ = [
    "RUN_DIR_ENV",
    "RUN_ID_ENV",
    "RUN_OWNER_ENV",
    "Run",
    "RunListener",
    "RunScope",
    "add_listener",
    "add_reset_hook",
    "at_exit",
    "current_listeners",
    "current_run",
    "current_var",
    "emit",
    "ensure_process_run",
    "in_current_run",
    "register_multiprocessing_finalizer",
    "remove_listener",
    "report",
    "report_progress",
    "reset_state",
    "run",
    "say",
    "set_child_exit",
    "start_process_run",
    "started_record",
    "state",
    "track",
]

RUN_ID_ENV = "RUNLOGGER_RUN_ID"
RUN_DIR_ENV = "RUNLOGGER_DIR"
#: Set beside ``RUNLOGGER_RUN_ID`` by the process that owns the run, as
#: ``<run_id>@<host>:<pid>``: a child that finds both (naming the same run) joins the
#: run; a ``RUNLOGGER_RUN_ID`` alone was chosen from outside (a scheduler), and the
#: process starts and owns the run under that id.
RUN_OWNER_ENV = "RUNLOGGER_RUN_OWNER"

#: Lifecycle events are logged under this name, so they pass the user's handlers.
_lifecycle_logger = logging.getLogger("runlogger.run")

_FINAL_STATUSES = ("completed", "failed", "terminated")

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


class Run:
    """One run: identity, status and the run-level facts a summary reports.

    Counts of records are not kept here but by each :class:`RunSummaryHandler`, since
    two handlers may see different records of the same run.
    """

    def __init__(
        self,
        run_id: str,
        name: str | None = None,
        parent: Run | None = None,
        attributes: dict[str, Any] | None = None,
        *,
        is_process_run: bool = False,
        owner: bool = True,
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.parent = parent
        #: Stored cleaned (JSON-safe, secret-looking keys redacted): they reach summaries.
        self.attributes: dict[str, Any] = {}
        if attributes:
            from ._sanitize import clean_attributes  # on first use: keeps the import light

            self.attributes = clean_attributes(attributes)
        #: ``running``, ``completed``, ``failed`` or ``terminated``.
        self.status = "running"
        self.start_time = time.time()
        self.end_time: float | None = None
        #: ``{"type", "message"}`` of the exception that ended the run.
        self.exception: dict[str, str] | None = None
        #: ``"SIGTERM"``/``"SIGINT"`` when a signal ended the run.
        self.signal: str | None = None
        self.exit_code: int | None = None
        #: The last progress report, ``{"done", "total", "rate"}`` (see :meth:`progress`).
        self.last_progress: dict[str, Any] | None = None
        self.suppressed_by_event_type: dict[str, int] = {}
        #: True for the process run (started at configuration, ended at interpreter exit).
        self.is_process_run = is_process_run
        #: False when this process joined a run another process owns (``RUNLOGGER_RUN_ID``):
        #: it then adds its counts to that run's summary but never sets its status.
        self.owner = owner
        self.host = _hostname()
        self.pid = os.getpid()
        self.argv = list(sys.argv)
        #: The W3C trace this run belongs to (32 lowercase hex) and the span that stands
        #: for it (16 hex), when known: set by the OpenTelemetry integration (``_otel``).
        self.trace_id: str | None = None
        self.span_id: str | None = None
        #: True when the id was chosen (``run_id=``, ``$RUNLOGGER_RUN_ID``) rather than
        #: generated: only a chosen id can already name another run.
        self.id_chosen = False
        #: The ``run_started`` record once logged, so an output configured later (a
        #: new event file) can still begin with it.
        self.started_record: logging.LogRecord | None = None

    @property
    def parent_run_id(self) -> str | None:
        """The enclosing run's id, or None for a top-level run."""
        return self.parent.run_id if self.parent is not None else None

    @property
    def finished(self) -> bool:
        return self.end_time is not None

    @property
    def duration_ms(self) -> int:
        """Wall-clock milliseconds from start to end (to now while running)."""
        end = self.end_time if self.end_time is not None else time.time()
        return max(0, round((end - self.start_time) * 1000))

    def finish(self, status: str | None = None) -> None:
        """End the run now (idempotent): log ``run_finished`` and write its summary.

        Runs end by themselves (``with run()`` exit, interpreter exit for the process
        run); call this to know the outcome before the process exits. ``status``
        overrides the one derived from the exception, signal and exit code.
        """
        if status is not None and status not in _FINAL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(_FINAL_STATUSES)}, not {status!r}.")
        finish_run(self, status)

    def progress(self, done: int, total: int | None = None, **fields: Any) -> None:
        """Report how far the run got; logs a ``progress`` event at most every few seconds.

        See :func:`runlogger.track` for loops. The summary (and the ``running``
        checkpoint) keep the last report as ``progress: {done, total, rate}``.
        """
        report_progress(self, done, total, **fields)

    def note_suppressed(self, event_type: str, count: int = 1) -> None:
        """Record that a sampling filter held back ``count`` records of ``event_type``."""
        with state.lock:
            counts = self.suppressed_by_event_type
            counts[event_type] = counts.get(event_type, 0) + count

    def record_exception(self, exc: BaseException) -> None:
        """Remember the exception that ends this run (the first one wins)."""
        if self.exception is None:
            self.exception = _describe_exception(exc)

    def __repr__(self) -> str:
        return f"<Run {self.run_id} name={self.name!r} status={self.status}>"


class RunListener(Protocol):
    """What the summary machinery implements to hear about run starts and ends."""

    def run_started(self, run: Run) -> None: ...

    def run_finished(self, run: Run) -> None: ...

    def run_checkpoint(self, run: Run) -> None:
        """Write ``run``'s ``running`` state now (news that should not wait: progress)."""
        ...

    def counts(self, run: Run) -> tuple[int, int] | None:
        """``(event_count, error_count)`` counted so far for ``run``, if any."""
        ...


class _State:
    """Everything process-wide, in one place so it can be reset."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.process_run: Run | None = None
        self.listeners: list[RunListener] = []
        self.hooks_installed = False
        self.previous_excepthook: Callable[..., Any] | None = None
        self.previous_threading_excepthook: Callable[..., Any] | None = None
        self.exit_handlers: list[Callable[[Run], None]] = []
        #: Called after the process run finished at exit (sinks delivering its state).
        self.after_exit_handlers: list[Callable[[Run], None]] = []
        #: True while the process run is being finished at exit: a signal arriving then
        #: only records itself, so it cannot interrupt the writing of the summary.
        self.exiting = False
        #: Runs started and not yet finished, so a forked child can disown them.
        self.live_runs: weakref.WeakSet[Run] = weakref.WeakSet()
        #: The process run while its ``run_started`` waits for the first record: the
        #: process run starts while logging is being configured, before any handler
        #: exists, so the event is logged just before the first record (see
        #: :func:`announce_process_run`).
        self.unannounced: Run | None = None
        #: True once this multiprocessing child's exit finalizer is registered.
        self.child_exit_arranged = False
        #: Called by :func:`reset_state` first, then forgotten (signal handlers put back).
        self.reset_hooks: list[Callable[[], None]] = []


state = _State()
current_var: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "runlogger_current_run", default=None
)


def _hostname() -> str:
    import socket  # imported on first use: socket is slow to import and rarely needed

    return socket.gethostname()


def _describe_exception(exc: BaseException) -> dict[str, str]:
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__}>"
    return {"type": qualified_name(type(exc)), "message": message}


def exit_status(code: object) -> int:
    """The process exit status that ``SystemExit(code)`` produces, as the OS reports it.

    ``True`` is 1; an integer is cut to its low byte as by ``exit()`` (256 -> 0, -1 -> 255),
    one beyond a C long becomes 255 as in CPython; anything else (a message) is 1.
    """
    if code is None:
        return 0
    if isinstance(code, int):
        if not -(2**63) <= code < 2**63:
            return 255
        return int(code) & 0xFF if os.name == "posix" else int(code)
    return 1


def qualified_name(cls: type) -> str:
    """``ValueError`` for builtins, ``package.module.Class`` for everything else."""
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", cls.__name__)
    if module in (None, "builtins", "__main__"):
        return str(qualname)
    return f"{module}.{qualname}"


# -- the process run ---------------------------------------------------------------------


def ensure_process_run() -> Run:
    """Return the process run, starting it (and installing exit hooks) on first use.

    A process whose environment names a run (``RUNLOGGER_RUN_ID``) joins that run
    instead of starting its own; a process that starts a run sets the variable, so
    the Python processes it starts join it.
    """
    process_run = state.process_run
    if process_run is not None:
        return process_run
    with state.lock:
        if state.process_run is not None:
            return state.process_run
        joined_id = os.environ.get(RUN_ID_ENV)
        if joined_id:
            owner = not _owned_elsewhere(joined_id)
            process_run = Run(
                run_id=validate_run_id(joined_id),
                name=process_run_name() if owner else None,
                is_process_run=True,
                owner=owner,
            )
            process_run.id_chosen = True
        else:
            process_run = Run(run_id=new_run_id(), name=process_run_name(), is_process_run=True)
        return _begin_process_run(process_run)


def _owned_elsewhere(run_id: str) -> bool:
    """Whether ``$RUNLOGGER_RUN_OWNER`` says a runlogger process owns ``run_id``.

    Only then does this process join the run; an id set without it (a scheduler's
    ``RUNLOGGER_RUN_ID=nightly-2026-12-04``) is a run this process starts and owns.
    """
    owned_id, at, owner = os.environ.get(RUN_OWNER_ENV, "").partition("@")
    return bool(at and owner) and owned_id == run_id


def owner_token(run: Run) -> str:
    """The ``RUNLOGGER_RUN_OWNER`` value that makes children join ``run``."""
    return f"{run.run_id}@{run.host}:{run.pid}"


RUN_NAME_ENV = "RUNLOGGER_RUN_NAME"
#: A first argument that reads as a sub-command (``nightly``, ``send-report``), not as a
#: file, a number, an option or a person's name.
_SUBCOMMAND = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def process_run_name(argv: list[str] | None = None, main_module: str | None = None) -> str:
    """The name of a process run that was given none: ``$RUNLOGGER_RUN_NAME``, else the
    program's.

    The program is the ``-m`` module (a package's ``__main__`` as the package), else the
    script's or console script's file stem (``etl.py`` -> ``etl``), else ``python``. For
    programs known by their sub-commands -- console scripts, ``-m`` modules and Django's
    ``manage.py`` -- a first argument that looks like one (a lowercase word of letters,
    digits, ``-`` and ``_``) is added: ``django-admin nightly``, ``manage send-reports``.
    A plain script's arguments are its data, never part of its name. Runs named this way
    group per job in ``stats``.
    """
    from_environment = os.environ.get(RUN_NAME_ENV, "").strip()
    if from_environment:
        return from_environment
    argv = list(sys.argv) if argv is None else argv
    if main_module is None:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_module = getattr(spec, "name", None)
    if main_module:
        program = main_module.removesuffix(".__main__")
        commands = True
    elif argv and argv[0] not in ("", "-c", "-"):
        base = os.path.basename(argv[0])
        program = base.removesuffix(".py") or base
        commands = base == "manage.py" or not base.endswith(".py")
    else:
        return "python"
    first = argv[1] if commands and len(argv) > 1 else ""
    if 0 < len(first) <= 40 and first[0].isalpha() and set(first) <= _SUBCOMMAND:
        return f"{program} {first}"
    return program


def _begin_process_run(process_run: Run) -> Run:
    """Make ``process_run`` the process run: environment for children, hooks, listeners.

    Called with the state lock held, so that two threads cannot both start one.
    """
    with state.lock:
        if process_run.owner:
            os.environ[RUN_ID_ENV] = process_run.run_id
            os.environ[RUN_OWNER_ENV] = owner_token(process_run)
            state.unannounced = process_run
        state.process_run = process_run
        _install_hooks()
        listeners = list(state.listeners)
    for listener in listeners:
        listener.run_started(process_run)
    return process_run


def start_process_run(
    name: str | None = None, *, run_id: str | None = None, **attributes: Any
) -> Run:
    """Start the process run with a chosen name and id, before logging is configured.

    Without it the process run gets a fresh id (or joins ``$RUNLOGGER_RUN_ID``) when the
    first runlogger component is configured. Raises RuntimeError if it already started.
    """
    with state.lock:
        if state.process_run is not None:
            raise RuntimeError(
                f"The process run {state.process_run.run_id} has already started; "
                "start_process_run() must come before any runlogger component is configured."
            )
        process_run = Run(
            run_id=validate_run_id(run_id) if run_id is not None else new_run_id(),
            name=name if name is not None else process_run_name(),
            attributes=attributes,
            is_process_run=True,
        )
        process_run.id_chosen = run_id is not None
        return _begin_process_run(process_run)


def current_run() -> Run:
    """The run current in this context: the innermost ``with run()``, else the process run."""
    return current_var.get() or ensure_process_run()


def current_run_if_started() -> Run | None:
    """Like :func:`current_run`, but never starts the process run."""
    return current_var.get() or state.process_run


def add_listener(listener: RunListener, *, first: bool = False) -> None:
    """Subscribe ``listener``; ``first`` puts it before the others (it hears a start
    before the summary is written, so it can add to the run what the summary shows)."""
    with state.lock:
        if listener in state.listeners:
            return
        if first:
            state.listeners.insert(0, listener)
        else:
            state.listeners.append(listener)


def remove_listener(listener: RunListener) -> None:
    with state.lock:
        if listener in state.listeners:
            state.listeners.remove(listener)


def add_reset_hook(hook: Callable[[], None]) -> None:
    """Have :func:`reset_state` call ``hook`` (for tests: undo what a layer above set up)."""
    with state.lock:
        if hook not in state.reset_hooks:
            state.reset_hooks.append(hook)


def add_exit_handler(handler: Callable[[Run], None]) -> None:
    """Call ``handler(process_run)`` at interpreter exit, before the run is finished."""
    with state.lock:
        if handler not in state.exit_handlers:
            state.exit_handlers.append(handler)


def add_after_exit_handler(handler: Callable[[Run], None]) -> None:
    """Call ``handler(process_run)`` at interpreter exit, after the run was finished."""
    with state.lock:
        if handler not in state.after_exit_handlers:
            state.after_exit_handlers.append(handler)


def current_listeners() -> list[RunListener]:
    """The listeners now (a copy: one may subscribe or leave while they are called)."""
    with state.lock:
        return list(state.listeners)


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
    record = logger.makeRecord(
        logger.name, level, "(runlogger)", 0, msg, args, exc_info, extra=extra
    )
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
        _log_run_started(process_run)


def _log_run_started(run: Run) -> None:
    record = started_record(run)
    if record is None:
        return
    token = current_var.set(run)
    try:
        _deliver(record, _lifecycle_logger)
    finally:
        current_var.reset(token)


# -- progress ------------------------------------------------------------------------------
# The arithmetic is ``_progress``'s; here the event is logged as a record of its run and
# the checkpoint is asked of the listeners (the summary book writes it).

_progress_logger = logging.getLogger("runlogger.progress")


def report_progress(run: Run, done: float, total: float | None = None, **fields: Any) -> None:
    """Record that ``run`` has done ``done`` of ``total`` items; see :meth:`Run.progress`.

    ``fields`` go into the ``progress`` event as they are. Raises ValueError for a
    negative or non-numeric ``done``/``total`` and TypeError for a field that would
    overwrite one of the record's own.
    """
    _progress.check_fields(fields)
    _report_progress(
        run, _progress.amount("done", done), _progress.total_argument(total), fields, None
    )


def track(
    iterable: Iterable[_T],
    total: float | None = None,
    *,
    every: float | None = None,
    run: Run | None = None,
    **fields: Any,
) -> Iterator[_T]:
    """Yield the items of ``iterable``, reporting the run's progress as the loop goes.

    ::

        for row in runlogger.track(rows, stage="load"):
            load(row)

    ``total`` defaults to ``len(iterable)`` where there is one; an iterable without a
    length reports its total when it runs out. An item counts as done when the loop
    asks for the next one. ``every`` overrides the process-wide seconds between two
    ``progress`` events; ``run`` defaults to the run current when ``track`` is called;
    ``fields`` go into every ``progress`` event.
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    total = _progress.total_argument(total)
    interval = _progress.interval_argument("every", every) if every is not None else None
    _progress.check_fields(fields)
    return _tracked(iterable, total, interval, run if run is not None else current_run(), fields)


def _tracked(
    iterable: Iterable[_T],
    total: float | None,
    interval: float | None,
    run: Run,
    fields: Mapping[str, Any],
) -> Iterator[_T]:
    done = 0
    _report_progress(run, done, total, fields, interval)
    for item in iterable:
        yield item
        done += 1
        _report_progress(run, done, total, fields, interval)
    if total is None:
        _report_progress(run, done, done, fields, interval)


def _report_progress(
    run: Run,
    done: float,
    total: float | None,
    fields: Mapping[str, Any],
    interval: float | None,
) -> None:
    """Update ``run.last_progress``; log a ``progress`` event and checkpoint when due."""
    rate, due = _progress.advance(run, done, total, interval)
    if not due:
        return
    _log_progress(run, done, total, rate, fields)
    for listener in current_listeners():
        listener.run_checkpoint(run)


def _log_progress(
    run: Run, done: float, total: float | None, rate: float | None, fields: Mapping[str, Any]
) -> None:
    """Log the ``progress`` event as a record of ``run``.

    Like the lifecycle events, it goes straight to the handlers, so that
    ``dictConfig``'s ``disable_existing_loggers`` (which disables every logger created
    before it, runlogger's included) does not silence it; the level of
    ``runlogger.progress`` and ``logging.disable`` still do.
    """
    text, args, extra = _progress.progress_message(done, total, rate, fields)
    token = current_var.set(run)
    try:
        emit(logging.INFO, text, args, extra, logger=_progress_logger)
    finally:
        current_var.reset(token)


def at_exit() -> None:
    """Finish the process run after the program's last record, before logging.shutdown.

    ``logging`` registers its shutdown with atexit when it is imported; this is
    registered later (at configuration), and atexit runs newest first.
    """
    process_run = state.process_run
    if process_run is None:
        return
    state.exiting = True
    with state.lock:
        handlers = list(state.exit_handlers)
    _call_exit_handlers(handlers, process_run)
    finish_run(process_run)
    with state.lock:
        handlers = list(state.after_exit_handlers)
    _call_exit_handlers(handlers, process_run)


def _call_exit_handlers(handlers: list[Callable[[Run], None]], process_run: Run) -> None:
    for handler in handlers:
        try:
            handler(process_run)
        except Exception:
            report("an exit handler failed", sys.exc_info()[1])


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Mark the process run failed and log the exception, then chain to the old hook."""
    try:
        process_run = state.process_run
        if issubclass(exc_type, KeyboardInterrupt):
            if process_run is not None:
                process_run.signal = process_run.signal or "SIGINT"
            emit(logging.WARNING, "Interrupted", (), {"event_type": "interrupted"})
        else:
            if process_run is not None:
                process_run.record_exception(exc)
            emit(
                logging.CRITICAL,
                "Uncaught exception: %s",
                (_describe_exception(exc)["type"],),
                {"event_type": "uncaught_exception"},
                (exc_type, exc, tb),
            )
    except Exception:
        pass
    previous = state.previous_excepthook or sys.__excepthook__
    previous(exc_type, exc, tb)


def _threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """Log an uncaught thread exception as an error event of the thread's run."""
    try:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            thread_name = args.thread.name if args.thread is not None else "?"
            emit(
                logging.ERROR,
                "Uncaught exception in thread %s",
                (thread_name,),
                {"event_type": "thread_exception", "thread_name": thread_name},
                (args.exc_type, args.exc_value, args.exc_traceback),
            )
    except Exception:
        pass
    previous = state.previous_threading_excepthook or threading.__excepthook__
    previous(args)


_fork_hook_registered = False


def _after_fork_in_child() -> None:
    """A forked child inherits the parent's runs but owns none of them.

    It becomes a contributor: its own records are counted from zero and added to the
    runs' summaries when it exits, and it never writes a run's status. A thread of the
    parent may have held the state lock at the fork, so the lock is made anew.
    """
    state.lock = threading.RLock()
    state.exiting = False
    state.unannounced = None  # the parent's run to announce, not the child's
    state.child_exit_arranged = False  # multiprocessing's finalizers start empty here
    process_run = state.process_run
    if process_run is None:
        return
    for live in [*state.live_runs, process_run]:
        live.owner = False
        live.pid = os.getpid()
    _arrange_multiprocessing_flush(after_fork=True)


def _arrange_multiprocessing_flush(after_fork: bool = False) -> None:
    """Make a multiprocessing child hand its counts over before it exits.

    multiprocessing children leave through ``os._exit``, which skips atexit; they run
    multiprocessing's own finalizers instead. A forked child clears that registry
    after the fork, so there the finalizer is registered from an after-fork callback.
    Pool.terminate() ends workers with SIGTERM, so a worker also turns SIGTERM into
    SystemExit, which runs the finalizers on its way out.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    if after_fork:
        util.register_after_fork(state, register_multiprocessing_finalizer)
        return
    process_module = sys.modules.get("multiprocessing.process")
    if process_module is not None and process_module.parent_process() is not None:
        register_multiprocessing_finalizer(state)


def register_multiprocessing_finalizer(_obj: object) -> None:
    child_exit = _child_exit
    if child_exit is None or state.child_exit_arranged:
        return  # nothing counts in this process (yet), or arranged already
    state.child_exit_arranged = True
    hand_over, take_sigterm = child_exit
    util = sys.modules["multiprocessing.util"]
    util.Finalize(None, hand_over, exitpriority=100)
    take_sigterm()


#: A multiprocessing child's ``(hand_over, take_sigterm)``: set by ``_signals`` (above
#: this module) when a handler that counts records is made, see :func:`set_child_exit`.
_child_exit: tuple[Callable[[], None], Callable[[], None]] | None = None


def set_child_exit(hand_over: Callable[[], None], take_sigterm: Callable[[], None]) -> None:
    """Register what a multiprocessing child runs at its exit and makes of SIGTERM.

    ``hand_over`` writes the child's share of the counts (multiprocessing's finalizers
    call it, since the child leaves through ``os._exit``); ``take_sigterm`` makes a
    SIGTERM hand over before the process ends. A child whose process run started before
    this call (a spawned worker builds its handlers after joining the run) is arranged now.
    """
    global _child_exit
    with state.lock:
        _child_exit = (hand_over, take_sigterm)
        process_run = state.process_run
        arrange = state.hooks_installed and process_run is not None and not process_run.owner
    if arrange:
        _arrange_multiprocessing_flush()


def _install_hooks() -> None:
    global _fork_hook_registered
    if state.hooks_installed:
        return
    state.hooks_installed = True
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True
    if state.process_run is not None and not state.process_run.owner:
        _arrange_multiprocessing_flush()
    state.previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    state.previous_threading_excepthook = threading.excepthook
    threading.excepthook = _threading_excepthook
    atexit.register(at_exit)


def _uninstall_hooks() -> None:
    if not state.hooks_installed:
        return
    if sys.excepthook is _excepthook:
        sys.excepthook = state.previous_excepthook or sys.__excepthook__
    if threading.excepthook is _threading_excepthook:
        threading.excepthook = state.previous_threading_excepthook or threading.__excepthook__
    atexit.unregister(at_exit)
    state.hooks_installed = False


def reset_state() -> None:
    """Forget the process run, listeners and hooks (for tests; not for production code)."""
    with state.lock:
        reset_hooks = list(state.reset_hooks)
        state.reset_hooks.clear()
    for reset_hook in reset_hooks:
        reset_hook()
    with state.lock:
        _uninstall_hooks()
        run_id = state.process_run.run_id if state.process_run is not None else None
        if run_id is not None and os.environ.get(RUN_ID_ENV) == run_id:
            del os.environ[RUN_ID_ENV]
            os.environ.pop(RUN_OWNER_ENV, None)
        state.process_run = None
        state.unannounced = None
        state.exiting = False
        state.listeners.clear()
        state.exit_handlers.clear()
        state.after_exit_handlers.clear()
        state.child_exit_arranged = False


def say(line: str) -> None:
    """One line on stderr about a failure logging cannot report (if raiseExceptions)."""
    if logging.raiseExceptions and sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {line}\n")
            sys.stderr.flush()


def report(what: str, exc: BaseException | None) -> None:
    """Tell stderr about a failure that has nowhere else to go (like Handler.handleError)."""
    if logging.raiseExceptions and sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {what}: {exc!r}\n")


# -- explicit runs ------------------------------------------------------------------------


class RunScope:
    """What :func:`run` returns: a context manager (sync and async) and a decorator.

    Used as a decorator, each call of the function is a run of its own.
    """

    def __init__(self, name: str | None, run_id: str | None, attributes: dict[str, Any]) -> None:
        self._name = name
        self._run_id = validate_run_id(run_id) if run_id is not None else None
        self._attributes = attributes
        self._active: list[tuple[Run, contextvars.Token[Run | None]]] = []

    # context manager ---------------------------------------------------------------
    def __enter__(self) -> Run:
        parent = current_run()
        new_run = Run(
            run_id=self._run_id or new_run_id(),
            name=self._name,
            parent=parent,
            attributes=dict(self._attributes),
        )
        new_run.id_chosen = self._run_id is not None
        # The listeners first: the summary book refuses an id that names a run already
        # (RunIdInUseError), and then this run must not have started at all.
        for listener in current_listeners():
            listener.run_started(new_run)
        token = current_var.set(new_run)
        self._active.append((new_run, token))
        state.live_runs.add(new_run)
        _log_run_started(new_run)
        return new_run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        finished_run, token = self._active.pop()
        try:
            if isinstance(exc, KeyboardInterrupt):
                finished_run.signal = finished_run.signal or "SIGINT"
            elif isinstance(exc, SystemExit):
                code = exit_status(exc.code)
                if code != 0:
                    finished_run.exit_code = code
            elif exc is not None:
                finished_run.record_exception(exc)
            finish_run(finished_run)
        finally:
            current_var.reset(token)

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # decorator ---------------------------------------------------------------------
    def _fresh(self) -> RunScope:
        return RunScope(self._name, self._run_id, self._attributes)

    def __call__(self, func: _F) -> _F:
        if self._name is None:
            self._name = getattr(func, "__qualname__", None)
        import inspect  # only decorators need it; keeps ``import runlogger`` light

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await cast(Callable[..., Awaitable[Any]], func)(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(_F, wrapper)


def run(name: str | None = None, *, run_id: str | None = None, **attributes: Any) -> RunScope:
    """Start a run nested in the current one, as ``with run(...)`` or ``@run(...)``.

    Records logged inside carry its ``run_id`` and ``parent_run_id``; asyncio tasks
    created inside inherit it. On exit the run is ``completed``, or ``failed`` when an
    exception escapes (the exception still propagates), and its summary is written.
    ``attributes`` go into the ``run_started`` event and the summary.
    """
    return RunScope(name, run_id, attributes)


def in_current_run(func: Callable[..., _T]) -> Callable[..., _T]:
    """Bind ``func`` to the run current now, for calling in another thread.

    Threads do not inherit context variables, so a worker thread logs into the process
    run unless its target is wrapped::

        threading.Thread(target=runlogger.in_current_run(work)).start()
        executor.submit(runlogger.in_current_run(work), item)
    """
    bound_run = current_run()

    @functools.wraps(func)
    def bound(*args: Any, **kwargs: Any) -> _T:
        token = current_var.set(bound_run)
        try:
            return func(*args, **kwargs)
        finally:
            current_var.reset(token)

    return bound
