"""A run's progress reports: the ``progress`` event and the checkpoint it asks for.

The arithmetic is ``_progress``'s; here the event is logged as a record of its run and
the checkpoint is asked of the listeners (the summary book writes it). :meth:`Run.progress`
and ``track`` (``_scope``) report through here. :data:`LIFECYCLE` is what each run that
runlogger makes hands its verbs to (``finish`` to ``_lifecycle``, ``progress`` to here).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from . import _progress
from ._context import current_listeners, current_var
from ._lifecycle import emit, finish_run

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["LIFECYCLE", "report_progress", "tracked"]

_T = TypeVar("_T")

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


def tracked(
    iterable: Iterable[_T],
    total: float | None,
    interval: float | None,
    run: Run,
    fields: Mapping[str, Any],
) -> Iterator[_T]:
    """The items of ``iterable``, reporting ``run``'s progress (see ``_scope.track``)."""
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


class _Lifecycle:
    """:class:`~runlogger._run.RunLifecycle` for every run runlogger makes."""

    def finish(self, run: Run, status: str | None) -> None:
        finish_run(run, status)

    def progress(
        self, run: Run, done: float, total: float | None, fields: Mapping[str, object]
    ) -> None:
        report_progress(run, done, total, **fields)


#: Given to each run as it is made (``_process_run``, ``_scope``).
LIFECYCLE = _Lifecycle()
