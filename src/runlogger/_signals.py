"""Turning SIGTERM and SIGINT into a ``terminated`` run, without logging in the handler.

A signal handler may run between any two bytecodes, even inside a logging call that
holds a handler lock, so it only records which signal arrived and then lets the
program unwind (SystemExit / KeyboardInterrupt): the normal exit path writes the
summary. An application's own handler is called (chained), never replaced; a signal
the application ignores (``SIG_IGN``) is left alone.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from types import FrameType
from typing import Any

from . import _context, _exit, _fork

__all__ = [
    "exit_on_sigterm",
    "hand_over",
    "handles_alone",
    "install_signal_handlers",
    "register_hand_over",
    "uninstall_signal_handlers",
]

_Handler = Callable[[int, FrameType | None], Any]

#: The handler each signal had before ours, by signal number.
_previous: dict[int, Any] = {}


def _mark_terminated(signum: int) -> None:
    name = signal.Signals(signum).name
    process_run = _context.state.process_run
    if process_run is not None and process_run.signal is None:
        process_run.signal = name
    run = _context.current_var.get()
    while run is not None:
        if run.signal is None:
            run.signal = name
        run = run.parent


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _mark_terminated(signum)
    if _context.state.exiting:
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
    _context.add_reset_hook(uninstall_signal_handlers)
    for name in names:
        signum = getattr(signal, name)
        current = signal.getsignal(signum)
        if current is _on_signal or current == signal.SIG_IGN:
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)
    return True


def handles_alone(signum: int) -> bool:
    """True when ``signum`` goes to runlogger's handler and on to nothing of the program's
    (whatever was there before was the default action): the signal ends the process."""
    return signal.getsignal(signum) is _on_signal and _previous.get(signum) in (
        signal.SIG_DFL,
        None,
    )


# -- multiprocessing children --------------------------------------------------------------
#
# Pool.terminate() ends its workers with SIGTERM, by default a kill that would lose their
# counts. Raising from a Python-level handler is not safe there (raised inside a
# multiprocessing lock's __enter__/__exit__ it leaves the lock, shared with the parent,
# taken), and such a handler may not run at all while the worker is blocked on that lock
# (the signal can land just before the blocking call). So a child hands its counts over
# and ends itself with ``os._exit(143)``, the status the default action gives, from one
# of two places:
#
# - the Python-level handler, on the main thread. It runs between two bytecodes, maybe in
#   the middle of a logging call (a record written to the events file, not yet counted)
#   or of runlogger's own bookkeeping; then it waits, with a profile hook, for that
#   call to return, and hands over right after it: the counts match the lines written.
# - a thread of the child's own, woken by the C-level handler's wakeup file descriptor,
#   when the main thread has not taken the hand-over within _GRACE (blocked in C code).
#
# Whichever comes first takes it (once); every lock it needs is waited for with a bound
# (HAND_OVER_TIMEOUT) and the thread watching the wakeup fd ends the process after
# EXIT_TIMEOUT whatever happens, so no worker outlives its SIGTERM by more than that.

#: Seconds a hand-over waits, all together, for runlogger's locks (and the directory's);
#: when they are not had by then the counts are given up (and reported on stderr).
HAND_OVER_TIMEOUT = 5.0
#: Seconds from a child's SIGTERM to its exit at the latest, whatever it was doing.
EXIT_TIMEOUT = 8.0
#: How long the watching thread leaves the main thread to take the hand-over first.
_GRACE = 0.2

#: Code whose frames on the main thread mean "in the middle of a logging call": the
#: dispatch of a record to the handlers (``runlogger run``'s capture replaces
#: ``Logger.callHandlers``), and runlogger's counting and writing.
_LOGGING_INIT = os.path.join(os.path.dirname(logging.__file__), "__init__.py")
_BOOKKEEPING = frozenset(
    os.path.join(here, name)  # as imported (maybe relative) and absolute: co_filename is either
    for here in {os.path.dirname(__file__), os.path.dirname(os.path.abspath(__file__))}
    for name in (
        "_capture.py",
        "_events.py",
        "_handler.py",
        "_summary_book.py",
        "_heartbeat.py",
        "_store.py",
        "_summary.py",
    )
)


class _HandOver:
    """One child's hand-over: taken once, by whichever thread comes first."""

    def __init__(self) -> None:
        self.tickets = itertools.count()  # next() is atomic: the first caller gets 0
        self.taken = threading.Event()
        self.done = threading.Event()


_hand_over = _HandOver()
_handing_over = threading.local()


def _take() -> bool:
    handover = _hand_over
    if next(handover.tickets) != 0:
        return False
    handover.taken.set()
    return True


def hand_over() -> None:
    """Write this child's share of the counts, once (also the child's exit finalizer).

    The thread is marked as handing over *before* it takes the hand-over: a SIGTERM
    handled on it between the two (Pool.terminate() signals workers that are already
    leaving through their finalizers) must leave the writing to it, not wait for it.
    When another thread took the hand-over, the exit waits for that one to finish.
    """
    _handing_over.active = True
    try:
        if _take():
            _write_share("at exit")
        else:
            _hand_over.done.wait(HAND_OVER_TIMEOUT)
    finally:
        _handing_over.active = False


#: Registered by the summary handler's module (above this one): holds its locks for a
#: hand-over until a deadline, yielding whether all were had; and about how many records
#: this process counted, for the report when they were not.
_hold_locks: Callable[[float], AbstractContextManager[bool]] | None = None
_estimate_counted: Callable[[], int] | None = None


def register_hand_over(
    hold_locks: Callable[[float], AbstractContextManager[bool]], estimate: Callable[[], int]
) -> None:
    """Register the summary handler's hand-over parts; a multiprocessing child now hands
    its counts over at exit and on SIGTERM."""
    global _hold_locks, _estimate_counted
    _hold_locks, _estimate_counted = hold_locks, estimate
    _fork.set_child_exit(hand_over, exit_on_sigterm)


def _write_share(when: str) -> None:
    """Finish the child's runs (writing its counts) within HAND_OVER_TIMEOUT for locks."""
    deadline = time.monotonic() + HAND_OVER_TIMEOUT
    was_active = getattr(_handing_over, "active", False)
    _handing_over.active = True
    try:
        hold_locks, estimate = _hold_locks, _estimate_counted
        if hold_locks is None or estimate is None:  # no summary handler: nothing counted
            _exit.at_exit()
            return
        with hold_locks(deadline) as complete:
            if complete:
                _exit.at_exit()
                return
        if sys.stderr is not None:
            sys.stderr.write(
                f"runlogger: process {os.getpid()} gave up handing its counts over {when}: "
                f"runlogger's locks stayed taken for {HAND_OVER_TIMEOUT:g} s; about "
                f"{estimate()} records it counted are missing from the summary\n"
            )
    except Exception as exc:
        _context.report(f"could not hand the counts over {when}", exc)
    finally:
        _flush_standard_streams()
        _hand_over.done.set()  # before the mark goes: a SIGTERM after it finds the share written
        _handing_over.active = was_active


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):  # "reentrant call" inside a print
                stream.flush()


def _end_here(signum: int) -> None:
    """Hand over on this thread (or wait for the thread that does), then exit."""
    try:
        _handing_over.active = True  # before taking: see hand_over()
        if _take():
            _write_share("on " + signal.Signals(signum).name)
        else:
            _hand_over.done.wait(EXIT_TIMEOUT)
    except BaseException:  # nothing may stop the exit
        pass
    finally:
        os._exit(128 + signum)


def _in_logging_call(frame: FrameType | None) -> FrameType | None:
    """The outermost frame of a logging call or of runlogger's bookkeeping, if any."""
    found = None
    while frame is not None:
        code = frame.f_code
        filename = code.co_filename
        if filename in _BOOKKEEPING or (
            filename == _LOGGING_INIT and code.co_name == "callHandlers"
        ):
            found = frame
        frame = frame.f_back
    return found


def _end_after(call: FrameType, signum: int) -> bool:
    """End the process when ``call`` returns (a profile hook); False if one cannot be set."""
    if sys.getprofile() is not None:
        return False  # a profiler is running: do not take its hook away

    def returned(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "return" and frame is call:
            sys.setprofile(None)
            _end_here(signum)

    sys.setprofile(returned)
    return True


def _on_child_sigterm(signum: int, frame: FrameType | None) -> None:
    _mark_terminated(signum)
    if getattr(_handing_over, "active", False):
        return  # this thread is writing the counts already: let it finish
    call = _in_logging_call(frame)
    if call is not None and _end_after(call, signum):
        return
    _end_here(signum)


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
            deadline = time.monotonic() + EXIT_TIMEOUT
            _mark_terminated(signal.SIGTERM)
            if not _hand_over.taken.wait(_GRACE) and _take():
                # On a thread of its own: this one must stay free to end the process.
                threading.Thread(
                    target=_write_share,
                    args=("on SIGTERM",),
                    name="runlogger-hand-over",
                    daemon=True,
                ).start()
            _hand_over.done.wait(max(0.0, deadline - time.monotonic()))
            os._exit(128 + signal.SIGTERM)


#: This process's wakeup pipe ``(read, write)``: a forked child must not keep writing
#: into its parent's (the parent's watching thread would take the child's SIGTERM for
#: its own and end the parent).
_wakeup_pipe: tuple[int, int] | None = None
_fork_hook_registered = False


def _after_fork_in_child() -> None:
    """A child forked from a child: the parent's pipe and hand-over are not its own.

    The Python-level handler stays (on the main thread it hands over by itself); a
    multiprocessing child gets a pipe and a watching thread of its own from
    :func:`exit_on_sigterm` right after.
    """
    global _hand_over, _wakeup_pipe
    _hand_over = _HandOver()
    pipe, _wakeup_pipe = _wakeup_pipe, None
    if pipe is None:
        return
    with contextlib.suppress(OSError, ValueError):
        current = signal.set_wakeup_fd(-1)
        if current not in (pipe[1], -1):  # someone else's since: put it back
            signal.set_wakeup_fd(current)
    for fd in pipe:
        with contextlib.suppress(OSError):
            os.close(fd)


def exit_on_sigterm() -> None:
    """In a multiprocessing child: SIGTERM hands the counts over before the process ends."""
    global _hand_over, _wakeup_pipe, _fork_hook_registered
    _hand_over = _HandOver()  # a new child: nothing handed over yet, whatever its parent did
    try:
        if signal.getsignal(signal.SIGTERM) not in (
            signal.SIG_DFL,
            _on_child_sigterm,
        ) and not handles_alone(signal.SIGTERM):
            # The application handles SIGTERM itself. runlogger's own handler, inherited
            # from a parent that ran with handle_signals (``runlogger run`` does), is
            # replaced: raising SystemExit anywhere in a worker -- inside the exit's
            # hand-over, or a lock shared with the pool -- loses its counts.
            return
        if threading.current_thread() is not threading.main_thread():
            return
        if _wakeup_pipe is not None:
            return  # already watching (this very process)
        signal.signal(signal.SIGTERM, _on_child_sigterm)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        if previous != -1:  # someone else's (an event loop): keep theirs
            signal.set_wakeup_fd(previous)
            os.close(read_fd)
            os.close(write_fd)
            return
        _wakeup_pipe = (read_fd, write_fd)
        if not _fork_hook_registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_registered = True
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
