"""The wrapper's supervision: wait for the program's process, pass signals on, finish its run.

``runlogger run`` runs the program in a child process and waits for it, so that however
the program ends -- ``os._exit``, a segfault, SIGKILL from the OOM killer -- something is
left to record it. When the child ends without writing its run's final summary, the
wrapper writes it: the status the operating system reported (``failed`` for a non-zero
exit, ``terminated`` with ``signal`` for a death by signal, ``exit_code`` 128+n as a shell
reports it), the counts recounted from the run's events file (written line by line, so it
holds every record that got out), ``counts_incomplete: true`` (records the program had
counted but not yet written are gone with it), and a ``run_finished`` event appended to
the events file. When the child wrote its summary but the exit status it recorded is not
the one the operating system reports (``sys.exit(256)`` exits 0; a signal during
interpreter shutdown), the summary is corrected to what the OS reports.

Signals: the wrapper blocks the ones it passes on and takes them with ``sigtimedwait``, so
it can tell a signal sent to it alone (``kill PID``: passed on to the child) from one the
terminal sent to the whole foreground process group (Ctrl-C: the child has it already,
and passing it on would interrupt the program twice).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ._store import (
    DEFAULT_FILE_MODE,
    directory_lock,
    events_path,
    read_existing,
    summary_path,
    write_json_atomic,
)
from ._summary import summary_document
from ._timefmt import utc_timestamp

__all__ = [
    "FORWARDED_SIGNALS",
    "complete_run",
    "fork_supervised",
    "signals_to_forward",
    "status_of",
    "wait_forwarding",
]

#: Signals the wrapper passes on to the program (unless they are ignored when it starts).
FORWARDED_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")

#: ``si_code`` of a signal the kernel generated (the terminal's Ctrl-C, Ctrl-\\, hangup):
#: sent to the whole process group, so the program has it already.
_SI_KERNEL = 0x80

_FINAL = ("completed", "failed", "terminated")


def signals_to_forward() -> set[signal.Signals]:
    """The FORWARDED_SIGNALS this process has and does not ignore (an ignored one stays so)."""
    chosen = set()
    for name in FORWARDED_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) != signal.SIG_IGN:
            chosen.add(signal.Signals(signum))
    return chosen


def fork_supervised(child: Callable[[], int]) -> tuple[int, int | None]:
    """Fork; the child runs ``child()`` and returns ``(its result, None)``; the parent waits.

    The parent returns ``(wait status, child pid)`` once the child has ended, having
    passed signals on to it meanwhile. The signals are blocked before the fork so none
    is lost between the fork and the wait; the child unblocks them at once.
    """
    forwarded = signals_to_forward()
    watched = forwarded | {signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    pid = os.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        return child(), None
    # The parent keeps them blocked: it exits soon after, and a signal unblocked now
    # would act on the wrapper instead of the program it has just passed it to.
    return wait_forwarding(pid, forwarded)[0], pid


def wait_forwarding(pid: int, forwarded: Iterable[signal.Signals]) -> tuple[int, str | None]:
    """Wait for child ``pid`` (signals already blocked), passing ``forwarded`` on to it.

    Returns the wait status and the name of the first signal that arrived, if any.
    """
    forward = set(forwarded)
    if not hasattr(signal, "sigtimedwait"):  # macOS
        return _wait_with_handlers(pid, forward)
    watched = forward | {signal.SIGCHLD}
    first: str | None = None
    while True:
        try:
            info = signal.sigtimedwait(watched, 1.0)
        except InterruptedError:  # pragma: no cover - retried by Python itself since 3.5
            info = None
        if info is not None and info.si_signo in forward:
            first = first or signal.Signals(info.si_signo).name
            if info.si_code != _SI_KERNEL:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, info.si_signo)
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # pragma: no cover - reaped elsewhere
            return 0, first
        if done:
            return status, first


def _wait_with_handlers(pid: int, forward: set[signal.Signals]) -> tuple[int, str | None]:
    """Where ``sigtimedwait`` is missing: handlers pass every signal on.

    They cannot tell who sent it, so a Ctrl-C from the terminal, which the program has
    already had, reaches it a second time.
    """
    first: list[str] = []

    def relay(signum: int, frame: object) -> None:
        first.append(signal.Signals(signum).name)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in forward:
        signal.signal(signum, relay)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, forward)
    try:
        _, status = os.waitpid(pid, 0)  # retried after each handler (PEP 475)
    except ChildProcessError:  # pragma: no cover - reaped elsewhere
        status = 0
    return status, (first[0] if first else None)


def status_of(wait_status: int) -> tuple[int, str | None]:
    """``(exit code as a shell reports it, signal name or None)`` of a wait status."""
    code = os.waitstatus_to_exitcode(wait_status)
    if code >= 0:
        return code, None
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"SIG{-code}"
    return 128 - code, name


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


_LEVELS = {"CRITICAL": 50, "FATAL": 50, "ERROR": 40, "WARNING": 30, "WARN": 30}


def _recount(path: Path, run_id: str) -> dict[str, Any]:
    """The counts of ``run_id``'s events in its events file; torn or foreign lines skipped."""
    counts_by_level: dict[str, int] = {}
    counts_by_event_type: dict[str, int] = {}
    first_error: dict[str, Any] | None = None
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, opened only when present
    except OSError:
        stream = None
    if stream is not None:
        with stream:
            for raw in stream:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(event, dict) or event.get("run_id") != run_id:
                    continue
                level = event.get("level")
                level = level if isinstance(level, str) else str(level)
                counts_by_level[level] = counts_by_level.get(level, 0) + 1
                event_type = event.get("event_type")
                if event_type is not None:
                    kind = event_type if isinstance(event_type, str) else str(event_type)[:200]
                    counts_by_event_type[kind] = counts_by_event_type.get(kind, 0) + 1
                if first_error is None and _LEVELS.get(level, 0) >= 40:
                    first_error = {
                        "timestamp": event.get("timestamp"),
                        "logger": event.get("logger"),
                        "message": event.get("message"),
                        "exc_type": event.get("exc_type"),
                    }
    return {
        "event_count": sum(counts_by_level.values()),
        "counts_by_level": counts_by_level,
        "counts_by_event_type": counts_by_event_type,
        "error_count": sum(n for k, n in counts_by_level.items() if _LEVELS.get(k, 0) >= 40),
        "warning_count": sum(n for k, n in counts_by_level.items() if _LEVELS.get(k, 0) == 30),
        "first_error": first_error,
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _minus(total: Mapping[str, Any], others: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``total`` less what the other processes already contributed (never below zero)."""
    others = list(others)
    share: dict[str, Any] = {}
    for key in ("event_count", "error_count", "warning_count"):
        share[key] = max(0, _int(total[key]) - sum(_int(o.get(key)) for o in others))
    for key in ("counts_by_level", "counts_by_event_type"):
        remaining = dict(total[key])
        for other in others:
            theirs = other.get(key)
            if isinstance(theirs, Mapping):
                for name, count in theirs.items():
                    if name in remaining:
                        remaining[name] -= _int(count)
        share[key] = {name: count for name, count in remaining.items() if count > 0}
    return share


def _at_least(recounted: dict[str, Any], checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """Per count, the larger of the recount and the child's last checkpoint."""
    merged = dict(checkpoint)
    for key in ("event_count", "error_count", "warning_count"):
        merged[key] = max(_int(recounted.get(key)), _int(checkpoint.get(key)))
    for key in ("counts_by_level", "counts_by_event_type"):
        mine = checkpoint.get(key)
        combined = dict(mine) if isinstance(mine, Mapping) else {}
        for name, count in recounted[key].items():
            combined[name] = max(count, _int(combined.get(name)))
        merged[key] = combined
    return merged


def _add_finished_event(share: dict[str, Any]) -> None:
    share["event_count"] += 1
    for key, name in (("counts_by_level", "INFO"), ("counts_by_event_type", "run_finished")):
        share[key] = {**share[key], name: _int(share[key].get(name)) + 1}


def _append_event(path: Path, event: Mapping[str, Any], file_mode: int) -> None:
    """Append one JSON line, on a fresh line if the dead writer left a torn one."""
    from ._events import end_torn_line

    line = (json.dumps(event, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, file_mode)
    try:
        if os.fstat(fd).st_size:
            end_torn_line(path, fd)
        os.write(fd, line)
    finally:
        os.close(fd)


def complete_run(
    directory: Path, run_id: str, pid: int, exit_code: int, signal_name: str | None
) -> None:
    """Make ``run_id``'s summary say how child ``pid`` really ended (see the module doc).

    Only a run that ``pid`` owned is touched (its summary names ``pid`` and has a start
    time): a run the child only joined belongs to another process, which finishes it.
    """
    path = summary_path(directory, run_id)
    # Recounted before the directory lock is taken (a long events file takes a while,
    # and the lock is every run's in this directory); the counts the other processes
    # handed over are read again under the lock.
    before = read_existing(path)
    if before is not None and _owned(before, run_id, pid) and _says(before, exit_code, signal_name):
        # The usual end: the child finished its own run as the OS saw it end. A final
        # status is never undone, so there is nothing to check again under the lock.
        return
    total = (
        _recount(events_path(directory, run_id), run_id)
        if before is not None and before.get("status") not in _FINAL
        else None
    )
    with directory_lock(directory):
        existing = read_existing(path)
        if existing is None or not _owned(existing, run_id, pid):
            return
        contributors = existing.get("contributors")
        contributors = dict(contributors) if isinstance(contributors, dict) else {}
        key = f"{socket.gethostname()}:{pid}"
        mode = _file_mode(path)
        metadata = dict(existing)
        now = time.time()
        if existing.get("status") in _FINAL:
            if _says(existing, exit_code, signal_name):
                return
            metadata["exit_code"] = exit_code
            if signal_name is not None:
                metadata["signal"] = signal_name
                metadata["status"] = "terminated"
            elif exit_code != 0 and metadata.get("status") == "completed":
                metadata["status"] = "failed"
            write_json_atomic(path, summary_document(metadata, contributors, now), mode)
            return
        # The child died before its final summary: finish the run for it.
        others = [part for name, part in contributors.items() if name != key]
        if total is None:  # not seen running a moment ago: count now
            total = _recount(events_path(directory, run_id), run_id)
        checkpoint = contributors.get(key)
        checkpoint = checkpoint if isinstance(checkpoint, Mapping) else {}
        share = _at_least(_minus(total, others), checkpoint)
        # The earliest error in the file; the merge keeps whichever is earliest overall.
        share["first_error"] = checkpoint.get("first_error") or total["first_error"]
        _add_finished_event(share)
        contributors[key] = share
        started = _epoch(existing.get("start_time"))
        status = "terminated" if signal_name is not None else "failed" if exit_code else "completed"
        metadata.update(
            status=status,
            end_time=utc_timestamp(now),
            duration_ms=max(0, round((now - started) * 1000)) if started is not None else None,
            signal=signal_name,
            exit_code=exit_code,
            counts_incomplete=True,
        )
        document = summary_document(metadata, contributors, now)
        write_json_atomic(path, document, mode)
        _append_event(events_path(directory, run_id), _finished_event(document, run_id, now), mode)


def _owned(summary: Mapping[str, Any] | None, run_id: str, pid: int) -> bool:
    """Whether ``summary`` is ``run_id``'s as written by its owner, process ``pid``.

    Only an owner writes the start time: a process that joined a run nobody has written
    yet leaves a placeholder with its own pid and no start time.
    """
    return (
        summary is not None
        and summary.get("run_id") == run_id
        and summary.get("pid") == pid
        and summary.get("start_time") is not None
    )


def _says(summary: Mapping[str, Any], exit_code: int, signal_name: str | None) -> bool:
    """Whether ``summary`` is final and records the end the operating system reported."""
    return (
        summary.get("status") in _FINAL
        and summary.get("exit_code") == exit_code
        and (signal_name is None or summary.get("signal") == signal_name)
    )


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return DEFAULT_FILE_MODE


def _finished_event(document: Mapping[str, Any], run_id: str, now: float) -> dict[str, Any]:
    """The ``run_finished`` event the child would have logged, as a JSON event."""
    status = document["status"]
    event: dict[str, Any] = {
        "timestamp": utc_timestamp(now),
        "level": "INFO",
        "logger": "runlogger.run",
        "message": f"run {run_id} finished: {status}",
        "run_id": run_id,
    }
    if document.get("parent_run_id") is not None:
        event["parent_run_id"] = document["parent_run_id"]
    event.update(
        event_type="run_finished",
        status=status,
        duration_ms=document.get("duration_ms"),
        event_count=document.get("event_count"),
        error_count=document.get("error_count"),
    )
    if document.get("name") is not None:
        event["run_name"] = document["name"]
    if document.get("signal") is not None:
        event["signal"] = document["signal"]
    event["exit_code"] = document.get("exit_code")
    event["counts_incomplete"] = True
    return event
