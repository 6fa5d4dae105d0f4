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

This module is the arithmetic only (settings, passes, the rate, when an event is due,
the event's text), below the runs layer: :meth:`Run.progress` and :func:`track`
(``_progress_events``) log the event and ask the run's listeners for the checkpoint.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = [
    "DEFAULT_INTERVAL",
    "Reporting",
    "advance",
    "amount",
    "check_fields",
    "configure",
    "interval_argument",
    "progress_message",
    "reset",
    "total_argument",
]

#: Seconds between two ``progress`` events of a run, unless configured otherwise.
DEFAULT_INTERVAL = 5.0

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


class Reporting(Protocol):
    """What a report is filed on: a run, whose ``last_progress`` the summary shows."""

    last_progress: dict[str, Any] | None


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
_passes: weakref.WeakKeyDictionary[Reporting, _Pass] = weakref.WeakKeyDictionary()


def configure(*, interval: float | None = None, clock: Callable[[], float] | None = None) -> None:
    """Set the seconds between ``progress`` events, process-wide (``track(every=)`` wins).

    ``clock`` (monotonic seconds) is there for tests.
    """
    if interval is not None:
        _settings.interval = interval_argument("interval", interval)
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


def advance(
    run: Reporting, done: float, total: float | None, interval: float | None
) -> tuple[float | None, bool]:
    """File a report on ``run`` (its ``last_progress``): the rate, and whether an event is due.

    ``interval`` overrides the process-wide seconds between two events (``track(every=)``).
    """
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
        if due:
            progress.last_emit = now
            progress.emitted = (done, total)
    return rate, due


def progress_message(
    done: float, total: float | None, rate: float | None, fields: Mapping[str, Any]
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The ``progress`` event's message, its arguments and its ``extra`` fields."""
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
    return text, tuple(args), extra


def _eta(done: float, total: float, rate: float | None) -> float | None:
    """Seconds left at the current rate (0 once done), None while the rate is unknown."""
    if done >= total:
        return 0.0
    if not rate or rate <= 0:
        return None
    return round((total - done) / rate, 1)


# -- arguments ----------------------------------------------------------------------------


def amount(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a number of items, 0 or more, not {value!r}.")
    return value


def total_argument(value: object) -> float | None:
    return None if value is None else amount("total", value)


def interval_argument(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a number of seconds, 0 or more, not {value!r}.")
    return float(value)


def check_fields(fields: Mapping[str, Any]) -> None:
    if fields and not _RESERVED.isdisjoint(fields):
        clash = ", ".join(sorted(_RESERVED.intersection(fields)))
        raise TypeError(
            f"progress fields may not be named {clash}: the progress event sets those itself."
        )
