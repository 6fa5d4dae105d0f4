"""Turning SIGTERM and SIGINT into a ``terminated`` run, without logging in the handler.

A signal handler may run between any two bytecodes, even inside a logging call that
holds a handler lock, so it only records which signal arrived and then lets the
program unwind (SystemExit / KeyboardInterrupt): the normal exit path writes the
summary. An application's own handler is called (chained), never replaced; a signal
the application ignores (``SIG_IGN``) is left alone.
"""

from __future__ import annotations

import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from . import _context

__all__ = ["exit_on_sigterm", "install_signal_handlers"]

_Handler = Callable[[int, FrameType | None], Any]

#: The handler each signal had before ours, by signal number.
_previous: dict[int, Any] = {}


def _mark_terminated(signum: int) -> None:
    name = signal.Signals(signum).name
    process_run = _context._state.process_run
    if process_run is not None and process_run.signal is None:
        process_run.signal = name
    run = _context._current.get()
    while run is not None:
        if run.signal is None:
            run.signal = name
        run = run.parent


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _mark_terminated(signum)
    if _context._state.exiting:
        return  # already on the way out: let the summary be written
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def install_signal_handlers(names: Iterable[str] = ("SIGTERM", "SIGINT")) -> bool:
    """Install the handlers (idempotent); returns False if they could not be installed.

    Signals can only be handled from the main thread: from another thread this warns
    instead of raising, since logging configuration must not crash a program.
    """
    if threading.current_thread() is not threading.main_thread():
        warnings.warn(
            "runlogger can only handle signals when configured from the main thread; "
            "SIGTERM and SIGINT will not be recorded in the run summary.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    for name in names:
        signum = getattr(signal, name)
        current = signal.getsignal(signum)
        if current is _on_signal or current == signal.SIG_IGN:
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)
    return True


def _leaving_child(frame: FrameType | None) -> bool:
    """Whether a multiprocessing child is already past its target, on its way out.

    ``Pool.terminate()`` sends SIGTERM to workers that may have just left their loop
    normally; unwinding them again from inside multiprocessing's exit code would skip
    the finalizer that hands their counts over.
    """
    util = sys.modules.get("multiprocessing.util")
    process = sys.modules.get("multiprocessing.process")
    if util is None or process is None:
        return False
    if frame is not None and frame.f_code is process.BaseProcess._bootstrap.__code__:
        return True  # between the target's return and the exit functions
    exit_codes = {util._exit_function.__code__, util._run_finalizers.__code__}
    while frame is not None:
        if frame.f_code in exit_codes:
            return True
        frame = frame.f_back
    return False


def _on_child_sigterm(signum: int, frame: FrameType | None) -> None:
    _mark_terminated(signum)
    if _context._state.exiting or _leaving_child(frame):
        return  # the finalizers will write the counts; the process is ending anyway
    raise SystemExit(128 + signum)


def exit_on_sigterm() -> None:
    """In a multiprocessing child: SIGTERM unwinds (so finalizers run) instead of killing."""
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_child_sigterm)
    except ValueError:
        pass  # not the main thread: leave the default


def uninstall_signal_handlers() -> None:
    """Put back the handlers that were there before (for tests)."""
    for signum, previous in list(_previous.items()):
        if signal.getsignal(signum) in (_on_signal, _on_child_sigterm):
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        del _previous[signum]
