"""Turning SIGTERM and SIGINT into a ``terminated`` run, without logging in the handler.

A signal handler may run between any two bytecodes, even inside a logging call that
holds a handler lock, so it only records which signal arrived and then lets the
program unwind (SystemExit / KeyboardInterrupt): the normal exit path writes the
summary. An application's own handler is called (chained), never replaced; a signal
the application ignores (``SIG_IGN``) is left alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from . import _context

__all__ = ["exit_on_sigterm", "hand_over", "install_signal_handlers"]

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


# -- multiprocessing children --------------------------------------------------------------
#
# Pool.terminate() ends its workers with SIGTERM, by default a kill that would lose their
# counts. Raising from a Python-level handler is not safe there (raised inside a
# multiprocessing lock's __enter__/__exit__ it leaves the lock, shared with the parent,
# taken), and such a handler may not run at all while the worker is blocked on that lock
# (the signal can land just before the blocking call). So the C-level handler's wakeup
# file descriptor wakes a thread of the child's own, which writes the child's share of the
# counts and ends the process with status 143, as the default action would have. The
# Python-level handler does the same when it gets to run first.

_handing_over = threading.local()
_hand_over_lock = threading.RLock()
_handed_over = False


def hand_over() -> None:
    """Write this child's share of the counts, once (also the child's exit finalizer)."""
    global _handed_over
    with _hand_over_lock:
        if _handed_over:
            return
        _handed_over = True
        _handing_over.active = True
        try:
            _context._at_exit()
        finally:
            _handing_over.active = False


def _end_child(signum: int) -> None:
    _mark_terminated(signum)
    try:
        hand_over()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:  # nothing may stop the exit
        pass
    finally:
        os._exit(128 + signum)


def _on_child_sigterm(signum: int, frame: FrameType | None) -> None:
    if getattr(_handing_over, "active", False):
        _mark_terminated(signum)
        return  # this thread is writing the counts already: let it finish
    _end_child(signum)


def _watch_wakeup_fd(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 512)
        except InterruptedError:
            continue
        except OSError:
            return
        if not data:
            return
        if signal.SIGTERM in data:
            _end_child(signal.SIGTERM)


def exit_on_sigterm() -> None:
    """In a multiprocessing child: SIGTERM hands the counts over before the process ends."""
    global _handed_over, _hand_over_lock
    _handed_over = False  # a new child: nothing handed over yet, whatever its parent did
    _hand_over_lock = threading.RLock()
    try:
        if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
            return  # the application handles SIGTERM itself
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, _on_child_sigterm)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:  # someone else's (an event loop): keep theirs
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
            return
        threading.Thread(
            target=_watch_wakeup_fd, args=(read_fd,), name="runlogger-sigterm", daemon=True
        ).start()
    except (OSError, RuntimeError, ValueError):
        pass  # the Python-level handler, if installed, still hands over


def uninstall_signal_handlers() -> None:
    """Put back the handlers that were there before (for tests)."""
    for signum, previous in list(_previous.items()):
        if signal.getsignal(signum) in (_on_signal, _on_child_sigterm):
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        del _previous[signum]
