"""The process run's end: the atexit hook, the excepthooks, and putting it all back.

:func:`at_exit` finishes the process run at interpreter exit; the excepthooks mark it
failed (or interrupted) and log the uncaught exception; :func:`reset_state` forgets the
process run, listeners and hooks (for tests).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from ._context import RUN_ID_ENV, RUN_OWNER_ENV, report, state
from ._fork import install_fork_hooks
from ._lifecycle import emit, finish_run
from ._outcome import describe_exception

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["at_exit", "install_hooks", "reset_state"]


def at_exit() -> None:
    """Finish the process run after the program's last record, before logging.shutdown.

    ``logging`` registers its shutdown with atexit when it is imported; this is
    registered later (at configuration), and atexit runs newest first.
    """
    process_run = state.process_run
    if process_run is None:
        return
    state.exiting = True
    with state.lock:
        handlers = list(state.exit_handlers)
    _call_exit_handlers(handlers, process_run)
    finish_run(process_run)
    with state.lock:
        handlers = list(state.after_exit_handlers)
    _call_exit_handlers(handlers, process_run)


def _call_exit_handlers(handlers: list[Callable[[Run], None]], process_run: Run) -> None:
    for handler in handlers:
        try:
            handler(process_run)
        except Exception:
            report("an exit handler failed", sys.exc_info()[1])


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Mark the process run failed and log the exception, then chain to the old hook."""
    try:
        process_run = state.process_run
        if issubclass(exc_type, KeyboardInterrupt):
            if process_run is not None:
                process_run.signal = process_run.signal or "SIGINT"
            emit(logging.WARNING, "Interrupted", (), {"event_type": "interrupted"})
        else:
            if process_run is not None:
                process_run.record_exception(exc)
            emit(
                logging.CRITICAL,
                "Uncaught exception: %s",
                (describe_exception(exc)["type"],),
                {"event_type": "uncaught_exception"},
                (exc_type, exc, tb),
            )
    except Exception:
        pass
    previous = state.previous_excepthook or sys.__excepthook__
    previous(exc_type, exc, tb)


def _threading_excepthook(args: threading.ExceptHookArgs) -> None:
    """Log an uncaught thread exception as an error event of the thread's run."""
    try:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            thread_name = args.thread.name if args.thread is not None else "?"
            emit(
                logging.ERROR,
                "Uncaught exception in thread %s",
                (thread_name,),
                {"event_type": "thread_exception", "thread_name": thread_name},
                (args.exc_type, args.exc_value, args.exc_traceback),
            )
    except Exception:
        pass
    previous = state.previous_threading_excepthook or threading.__excepthook__
    previous(args)


def install_hooks() -> None:
    """Install the exit hooks (atexit, excepthooks, fork) once the process run exists."""
    if state.hooks_installed:
        return
    state.hooks_installed = True
    install_fork_hooks()
    state.previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    state.previous_threading_excepthook = threading.excepthook
    threading.excepthook = _threading_excepthook
    atexit.register(at_exit)


def _uninstall_hooks() -> None:
    if not state.hooks_installed:
        return
    if sys.excepthook is _excepthook:
        sys.excepthook = state.previous_excepthook or sys.__excepthook__
    if threading.excepthook is _threading_excepthook:
        threading.excepthook = state.previous_threading_excepthook or threading.__excepthook__
    atexit.unregister(at_exit)
    state.hooks_installed = False


def reset_state() -> None:
    """Forget the process run, listeners and hooks (for tests; not for production code)."""
    with state.lock:
        reset_hooks = list(state.reset_hooks)
        state.reset_hooks.clear()
    for reset_hook in reset_hooks:
        reset_hook()
    with state.lock:
        _uninstall_hooks()
        run_id = state.process_run.run_id if state.process_run is not None else None
        if run_id is not None and os.environ.get(RUN_ID_ENV) == run_id:
            del os.environ[RUN_ID_ENV]
            os.environ.pop(RUN_OWNER_ENV, None)
        state.process_run = None
        state.unannounced = None
        state.exiting = False
        state.listeners.clear()
        state.exit_handlers.clear()
        state.after_exit_handlers.clear()
        state.child_exit_arranged = False
