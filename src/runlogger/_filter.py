"""RunContextFilter: stamps every record with the run it belongs to."""

from __future__ import annotations

import logging

from ._context import _current, _state, announce_process_run, ensure_process_run

__all__ = ["RunContextFilter"]

#: Bound once: the filter runs for every record.
_current_run = _current.get


class RunContextFilter(logging.Filter):
    """Set ``record.run_id`` (and ``parent_run_id`` in a nested run); never drop a record.

    Attach it to a handler rather than a logger: a handler filter also sees the
    records propagated from child loggers (``logging.getLogger(__name__)`` in every
    module), a logger filter does not. A record that already carries a ``run_id``
    (forwarded from a child process, or given in ``extra``) keeps it.

    Configuring it starts the process run.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        ensure_process_run()

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp ``record`` unless it already carries a run id; runs for every record."""
        if _state.unannounced is not None:  # the process run's first record: run_started first
            announce_process_run()
        attrs = record.__dict__
        if "run_id" not in attrs:
            run = _current_run() or _state.process_run or ensure_process_run()
            attrs["run_id"] = run.run_id
            parent = run.parent
            if parent is not None:
                attrs["parent_run_id"] = parent.run_id
        return True
