"""Progress reports: how far a run got, as rare heartbeat events and in its summary.

Reporting is cheap enough to do for every item: each report only updates the run's
``last_progress`` (which every summary checkpoint writes), and at most one report every
``interval`` seconds (5 by default) becomes a ``progress`` event on the logger
``runlogger.progress`` and writes a ``running`` checkpoint at once, so ``runlogger runs``
shows how far a running, or lost, run got. The report that reaches the total is always
logged.

The ``rate`` is the average number of items a second since the first report of the
current pass (a report whose ``done`` is smaller than the previous one starts a new
pass): it leaves out whatever the run did before the loop began, and stays steady.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any, TypeVar

from . import _handler
from ._context import Run, _current, _emit, current_run

__all__ = ["DEFAULT_INTERVAL", "configure", "report_progress", "reset", "track"]

#: Seconds between two ``progress`` events of a run, unless configured otherwise.
DEFAULT_INTERVAL = 5.0

_logger = logging.getLogger("runlogger.progress")
_T = TypeVar("_T")

#: Names a caller's field may not take: the record's own attributes and the report's.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "run_id",
    "parent_run_id",
    "event_type",
    "done",
    "total",
    "rate",
    "eta_seconds",
}


class _Settings:
    """The process-wide settings (see :func:`configure`)."""

    def __init__(self) -> None:
        self.interval = DEFAULT_INTERVAL
        self.clock: Callable[[], float] = time.monotonic


class _Pass:
    """One run's progress so far: the rate's starting point and the last event."""

    __slots__ = ("emitted", "last_done", "last_emit", "start_done", "start_time")

    def __init__(self, done: float, now: float, last_emit: float | None) -> None:
        self.start_done = done
        self.start_time = now
        self.last_done = done
        self.last_emit = last_emit
        self.emitted: tuple[float, float | None] | None = None


_settings = _Settings()
_lock = threading.Lock()
_passes: weakref.WeakKeyDictionary[Run, _Pass] = weakref.WeakKeyDictionary()


def configure(*, interval: float | None = None, clock: Callable[[], float] | None = None) -> None:
    """Set the seconds between ``progress`` events, process-wide (``track(every=)`` wins).

    ``clock`` (monotonic seconds) is there for tests.
    """
    if interval is not None:
        _settings.interval = _interval_argument("interval", interval)
    if clock is not None:
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, not {clock!r}.")
        _settings.clock = clock


def reset() -> None:
    """Put the settings back and forget every run's progress (for tests)."""
    with _lock:
        _settings.interval = DEFAULT_INTERVAL
        _settings.clock = time.monotonic
        _passes.clear()


def report_progress(run: Run, done: float, total: float | None = None, **fields: Any) -> None:
    """Record that ``run`` has done ``done`` of ``total`` items; see :meth:`Run.progress`.

    ``fields`` go into the ``progress`` event as they are. Raises ValueError for a
    negative or non-numeric ``done``/``total`` and TypeError for a field that would
    overwrite one of the record's own.
    """
    _check_fields(fields)
    _report(run, _amount("done", done), _total_argument(total), fields, None)


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
    total = _total_argument(total)
    interval = _interval_argument("every", every) if every is not None else None
    _check_fields(fields)
    return _tracked(iterable, total, interval, run if run is not None else current_run(), fields)


def _tracked(
    iterable: Iterable[_T],
    total: float | None,
    interval: float | None,
    run: Run,
    fields: Mapping[str, Any],
) -> Iterator[_T]:
    done = 0
    _report(run, done, total, fields, interval)
    for item in iterable:
        yield item
        done += 1
        _report(run, done, total, fields, interval)
    if total is None:
        _report(run, done, done, fields, interval)


def _report(
    run: Run,
    done: float,
    total: float | None,
    fields: Mapping[str, Any],
    interval: float | None,
) -> None:
    """Update ``run.last_progress``; log a ``progress`` event and checkpoint when due."""
    settings = _settings
    now = settings.clock()
    with _lock:
        progress = _passes.get(run)
        if progress is None:
            progress = _passes[run] = _Pass(done, now, None)
        elif done < progress.last_done:  # a new pass; the interval between events still holds
            progress = _passes[run] = _Pass(done, now, progress.last_emit)
        progress.last_done = done
        elapsed = now - progress.start_time
        rate = round((done - progress.start_done) / elapsed, 3) if elapsed > 0 else None
        run.last_progress = {"done": done, "total": total, "rate": rate}
        last_emit = progress.last_emit
        due = (
            last_emit is None
            or now - last_emit >= (settings.interval if interval is None else interval)
            or (done == total and progress.emitted != (done, total))
        )
        if not due:
            return
        progress.last_emit = now
        progress.emitted = (done, total)
    _log_progress(run, done, total, rate, fields)
    _handler.checkpoint(run)


def _log_progress(
    run: Run, done: float, total: float | None, rate: float | None, fields: Mapping[str, Any]
) -> None:
    """Log the ``progress`` event as a record of ``run``.

    Like the lifecycle events, it goes straight to the handlers, so that
    ``dictConfig``'s ``disable_existing_loggers`` (which disables every logger created
    before it, runlogger's included) does not silence it; the level of
    ``runlogger.progress`` and ``logging.disable`` still do.
    """
    logger = _logger
    extra: dict[str, Any] = {"event_type": "progress", "done": done, "total": total, "rate": rate}
    text = "progress %s"
    args: list[Any] = [done]
    eta = None
    if total is not None:
        eta = extra["eta_seconds"] = _eta(done, total, rate)
        text += "/%s"
        args.append(total)
        if total > 0:
            text += " (%.1f%%)"
            args.append(100.0 * done / total)
    if rate is not None:
        text += ", %.1f/s"
        args.append(rate)
    if eta:
        text += ", ETA %ss"
        args.append(eta)
    extra.update(fields)
    token = _current.set(run)
    try:
        _emit(logging.INFO, text, tuple(args), extra, logger=logger)
    finally:
        _current.reset(token)


def _eta(done: float, total: float, rate: float | None) -> float | None:
    """Seconds left at the current rate (0 once done), None while the rate is unknown."""
    if done >= total:
        return 0.0
    if not rate or rate <= 0:
        return None
    return round((total - done) / rate, 1)


# -- arguments ----------------------------------------------------------------------------


def _amount(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a number of items, 0 or more, not {value!r}.")
    return value


def _total_argument(value: object) -> float | None:
    return None if value is None else _amount("total", value)


def _interval_argument(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {value!r}.")
    return float(value)


def _check_fields(fields: Mapping[str, Any]) -> None:
    if fields and not _RESERVED.isdisjoint(fields):
        clash = ", ".join(sorted(_RESERVED.intersection(fields)))
        raise TypeError(
            f"progress fields may not be named {clash}: the progress event sets those itself."
        )
