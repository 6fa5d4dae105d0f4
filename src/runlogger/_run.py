"""A run: its identity, status and the run-level facts its summary reports.

A :class:`Run` is plain data with two verbs, :meth:`Run.finish` and :meth:`Run.progress`,
that hand over to its :class:`RunLifecycle`. This module is the bottom of the runs layer:
the modules that hold and end runs (``_context``, ``_lifecycle``, ``_progress_events``)
import it, so it imports none of them; the lifecycle is given to each run by the code
that makes it (``_process_run`` for the process run, ``_scope`` for ``with run()``).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Protocol

from ._outcome import describe_exception

__all__ = ["Run", "RunLifecycle"]

_FINAL_STATUSES = ("completed", "failed", "terminated")


class RunLifecycle(Protocol):
    """What :meth:`Run.finish` and :meth:`Run.progress` hand over to.

    ``_progress_events.LIFECYCLE`` (``_lifecycle.finish_run``,
    ``_progress_events.report_progress``): passed to each run when it is made, because
    that machinery stands above this module.
    """

    def finish(self, run: Run, status: str | None) -> None: ...

    def progress(
        self, run: Run, done: float, total: float | None, fields: Mapping[str, object]
    ) -> None: ...


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
        lifecycle: RunLifecycle | None = None,
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
        #: A re-run under a finished run's id: its attempt number (2, 3, ...) and that id
        #: (see ``_attempt``); None for a first run.
        self.attempt: int | None = None
        self.attempt_of: str | None = None
        #: The ``run_started`` record once logged, so an output configured later (a
        #: new event file) can still begin with it.
        self.started_record: logging.LogRecord | None = None
        #: Where :meth:`finish` and :meth:`progress` go (None: a run made by hand, which
        #: runlogger neither finishes nor reports on).
        self._lifecycle = lifecycle

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
        self._lifecycle_or_raise().finish(self, status)

    def progress(self, done: int, total: int | None = None, **fields: Any) -> None:
        """Report how far the run got; logs a ``progress`` event at most every few seconds.

        See :func:`runlogger.track` for loops. The summary (and the ``running``
        checkpoint) keep the last report as ``progress: {done, total, rate}``.
        """
        self._lifecycle_or_raise().progress(self, done, total, fields)

    def note_suppressed(self, event_type: str, count: int = 1) -> None:
        """Record that a sampling filter held back ``count`` records of ``event_type``.

        The caller holds runlogger's state lock (``_context.state.lock``, above this
        module), as the sampling filter does: two threads may hold back records at once.
        """
        counts = self.suppressed_by_event_type
        counts[event_type] = counts.get(event_type, 0) + count

    def record_exception(self, exc: BaseException) -> None:
        """Remember the exception that ends this run (the first one wins)."""
        if self.exception is None:
            self.exception = describe_exception(exc)

    def _lifecycle_or_raise(self) -> RunLifecycle:
        if self._lifecycle is None:
            raise RuntimeError(
                f"Run {self.run_id} was made by hand: only runs from run(), current_run() "
                "or start_process_run() can finish or report progress."
            )
        return self._lifecycle

    def __repr__(self) -> str:
        return f"<Run {self.run_id} name={self.name!r} status={self.status}>"


def _hostname() -> str:
    import socket  # imported on first use: socket is slow to import and rarely needed

    return socket.gethostname()
