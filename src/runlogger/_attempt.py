"""Re-runs under a finished run's id: the process run becomes the next attempt.

A scheduler (or an operator re-running a failed nightly job) starts a job again under
the id of a run that already ended. That run's summary must stay as it is, and the
re-run must still run: so the process run takes the id ``<id>.<n>`` (n = 2, 3, ...,
the first free one) and its summary says ``"attempt": n, "attempt_of": "<id>"``.

The choice is made by the first runlogger output that knows the runs directory (the
summary and event handlers, ``runlogger run`` before it forks), before anything was
written under the old id. A free ``n`` is reserved with an ``O_EXCL`` marker file
(``.<id>.<n>.attempt``: a dot file no reader takes for a run), so two re-runs started
at once never share an attempt; the marker is removed once the attempt's summary exists.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _context
from ._context import RUN_ID_ENV, RUN_OWNER_ENV, state
from ._errors import InvalidRunIdError, RunIdInUseError
from ._ids import validate_run_id
from ._process_run import ensure_process_run, owner_token
from ._run import Run
from ._store import read_existing, summary_path

__all__ = [
    "Attempt",
    "announce",
    "finished_summary",
    "release",
    "release_own",
    "reserve",
    "set_reserved",
    "settle_process_run",
]

_FINAL = frozenset({"completed", "failed", "terminated"})
#: Attempts looked at before giving up (a directory with this many is a loop, not a job).
_MAX_ATTEMPTS = 10_000


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt: its run id, number, the id it re-runs, and its marker."""

    run_id: str
    number: int
    attempt_of: str
    marker: Path
    #: The finished run's status and start time, for the line that announces the attempt.
    previous_status: str
    previous_start: str


_lock = threading.Lock()
#: The process run once an output has taken its id (no attempt can be chosen after that).
_adopted: Run | None = None
#: An attempt reserved before the process run existed (``runlogger run``, before its fork).
_reserved: Attempt | None = None
#: The marker this process created for its own process run, removed once the summary is.
_own_marker: Path | None = None


def _reset() -> None:
    global _adopted, _reserved, _own_marker
    with _lock:
        _adopted = _reserved = _own_marker = None


def finished_summary(directory: Path, run_id: str) -> dict[str, Any] | None:
    """The summary of ``run_id`` in ``directory`` if that run has ended, else None."""
    existing = read_existing(summary_path(directory, run_id))
    if existing is None or existing.get("run_id") != run_id:
        return None
    return existing if existing.get("status") in _FINAL else None


def reserve(directory: Path, run_id: str, previous: dict[str, Any]) -> Attempt:
    """Reserve the first attempt ``<run_id>.<n>`` (n >= 2) that has no summary yet.

    Raises RunIdInUseError when the id with its suffix would be longer than run ids may
    be. The marker is created before the summary is looked at again: a concurrent
    re-run that created (and since removed) that marker has written its summary by then.
    """
    for number in range(2, _MAX_ATTEMPTS):
        candidate = f"{run_id}.{number}"
        try:
            validate_run_id(candidate)
        except InvalidRunIdError:
            raise RunIdInUseError(
                f"run id {run_id!r} already names a {previous.get('status')} run in "
                f"{summary_path(directory, run_id)}, and its next attempt id {candidate!r} "
                "would be longer than 64 characters; choose a shorter run id."
            ) from None
        summary = summary_path(directory, candidate)
        if os.path.lexists(summary):
            continue
        marker = directory / f".{candidate}.attempt"
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        if os.path.lexists(summary):
            _unlink(marker)
            continue
        return Attempt(
            candidate,
            number,
            run_id,
            marker,
            str(previous.get("status")),
            str(previous.get("start_time")),
        )
    raise RunIdInUseError(  # pragma: no cover - thousands of attempts of one id
        f"run id {run_id!r} has {_MAX_ATTEMPTS} attempts in {directory}; choose a new run id."
    )


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def release(attempt: Attempt) -> None:
    """Remove ``attempt``'s marker (its owner has ended: the summary exists, or never will)."""
    _unlink(attempt.marker)


def release_own() -> None:
    """Remove the marker this process reserved for its process run, once the summary exists."""
    global _own_marker
    with _lock:
        marker = _own_marker
        run = state.process_run
        if marker is None or run is None:
            return
        if not os.path.lexists(summary_path(marker.parent, run.run_id)):
            return
        _own_marker = None
    _unlink(marker)


def announce(attempt: Attempt) -> None:
    """The one stderr line that says the run is an attempt (and why)."""
    _context.say(
        f"run id {attempt.attempt_of!r} already names a {attempt.previous_status} run "
        f"(started {attempt.previous_start}); this run is {attempt.run_id!r}"
    )


def set_reserved(attempt: Attempt) -> None:
    """Hand ``attempt`` (reserved by ``runlogger run`` before it forks) to the process run."""
    global _reserved
    _context.add_reset_hook(_reset)
    with _lock:
        _reserved = attempt


def settle_process_run(directory: Path) -> Run:
    """The process run, named as the first output writing to ``directory`` must name it.

    A process run whose chosen id names a finished run in ``directory`` becomes the next
    attempt, if nothing was logged under that id yet; otherwise RunIdInUseError says what
    to do. Called by the summary and event handlers before they write anything.
    """
    global _adopted, _reserved, _own_marker
    run = ensure_process_run()
    _context.add_reset_hook(_reset)
    with _lock:
        reserved, _reserved = _reserved, None
    if reserved is not None and reserved.run_id == run.run_id:
        run.attempt, run.attempt_of = reserved.number, reserved.attempt_of
        with _lock:
            _own_marker = reserved.marker  # also removed by the wrapper when the run ends
    if not (run.owner and run.id_chosen) or run.finished:
        return run
    previous = finished_summary(directory, run.run_id)
    with _lock:
        adopted = _adopted is run
        _adopted = run
    if previous is None:
        return run
    if adopted or state.unannounced is not run or run.started_record is not None:
        raise RunIdInUseError(
            f"run id {run.run_id!r} already names a {previous.get('status')} run "
            f"(started {previous.get('start_time')}) in {summary_path(directory, run.run_id)}, "
            "and this process has logged under that id already, so it cannot become a new "
            "attempt; configure runlogger's handlers before logging anything, or give the "
            f"re-run an id of its own (e.g. {run.run_id + '.2'!r})."
        )
    attempt = reserve(directory, run.run_id, previous)
    with state.lock:
        run.run_id = attempt.run_id
        run.attempt, run.attempt_of = attempt.number, attempt.attempt_of
        os.environ[RUN_ID_ENV] = run.run_id
        os.environ[RUN_OWNER_ENV] = owner_token(run)
    with _lock:
        _own_marker = attempt.marker
    announce(attempt)
    return run
