"""RunContextFilter: stamps every record with the run it belongs to."""

from __future__ import annotations

import logging
import sys

from ._context import current_var, state
from ._lifecycle import announce_process_run
from ._process_run import ensure_process_run
from ._stamp import STAMP, RunStamp, stamp_for
from ._trace import TRACE, TRACE_MODULE, current_trace

__all__ = ["RunContextFilter"]

#: Bound once: the filter runs for every record.
_current_run = current_var.get
_modules = sys.modules


class RunContextFilter(logging.Filter):
    """Set ``record.run_id`` (and ``parent_run_id`` in a nested run); never drop a record.

    Attach it to a handler rather than a logger: a handler filter also sees the
    records propagated from child loggers (``logging.getLogger(__name__)`` in every
    module), a logger filter does not.

    The run is the one current where the record is logged, whatever the record carries
    (see :mod:`runlogger._stamp`): ``extra={"run_id": ...}`` cannot move a record to
    another run (the formatter writes such a field under ``extra``, and ``record.run_id``
    keeps the caller's value for other formatters). A record already stamped (by a filter
    in another process, forwarded through a queue or socket) keeps its run.

    Where an OpenTelemetry span is current, the record also gets its trace and span ids
    (``trace_id``/``span_id`` in the JSON event); see :mod:`runlogger._trace`.

    Configuring it starts the process run.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        ensure_process_run()

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp ``record`` unless it is stamped already; runs for every record."""
        if state.unannounced is not None:  # the process run's first record: run_started first
            announce_process_run()
        attrs = record.__dict__
        if "run_id" not in attrs:
            run = _current_run() or state.process_run or ensure_process_run()
            try:
                stamp = run._runlogger_stamp  # type: ignore[attr-defined]
            except AttributeError:
                stamp = stamp_for(run)
            attrs["run_id"] = stamp
            # run.parent is the quick test: an attribute of a str subclass (the stamp)
            # costs three times as much to read as one of the run.
            if run.parent is not None and "parent_run_id" not in attrs:
                attrs["parent_run_id"] = stamp.parent
        elif type(attrs["run_id"]) is not RunStamp and STAMP not in attrs:
            # The caller's own run_id: left as it is, the stamp goes beside it.
            run = _current_run() or state.process_run or ensure_process_run()
            attrs[STAMP] = stamp_for(run)
        else:
            return True  # stamped before (forwarded): its trace came with it
        # Trace ids (see runlogger._trace): nothing but this test unless the program
        # imported opentelemetry or the run is a span.
        if TRACE_MODULE in _modules or run.trace_id is not None:
            trace = current_trace(run)
            if trace is not None:
                attrs[TRACE] = trace
        return True
