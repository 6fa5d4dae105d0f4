"""The run current in each context, and runlogger's process-wide state.

This module holds all of runlogger's process-wide state (:data:`state`), so that tests
(and programs that really need to) can put it back with ``_exit.reset_state``, and the
registries through which the layers above are called back: run listeners, exit
handlers, reset hooks. Of runlogger it imports only ``_run`` (the :class:`Run` it holds,
below it in the runs layer). Nothing happens at import: the process run starts the first
time a runlogger component is configured (or ``current_run``/``run`` is called).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._run import Run

__all__ = [
    "RUN_DIR_ENV",
    "RUN_ID_ENV",
    "RUN_OWNER_ENV",
    "RunListener",
    "add_after_exit_handler",
    "add_exit_handler",
    "add_listener",
    "add_reset_hook",
    "current_listeners",
    "current_run_if_started",
    "current_var",
    "remove_listener",
    "report",
    "say",
    "state",
]

RUN_ID_ENV = "RUNLOGGER_RUN_ID"
RUN_DIR_ENV = "RUNLOGGER_DIR"
#: Set beside ``RUNLOGGER_RUN_ID`` by the process that owns the run, as
#: ``<run_id>@<host>:<pid>``: a child that finds both (naming the same run) joins the
#: run; a ``RUNLOGGER_RUN_ID`` alone was chosen from outside (a scheduler), and the
#: process starts and owns the run under that id.
RUN_OWNER_ENV = "RUNLOGGER_RUN_OWNER"


class RunListener(Protocol):
    """What the summary machinery implements to hear about run starts and ends."""

    def run_started(self, run: Run) -> None: ...

    def run_finished(self, run: Run) -> None: ...

    def run_checkpoint(self, run: Run) -> None:
        """Write ``run``'s ``running`` state now (news that should not wait: progress)."""
        ...

    def counts(self, run: Run) -> tuple[int, int] | None:
        """``(event_count, error_count)`` counted so far for ``run``, if any."""
        ...


class _State:
    """Everything process-wide, in one place so it can be reset."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.process_run: Run | None = None
        self.listeners: list[RunListener] = []
        self.hooks_installed = False
        self.previous_excepthook: Callable[..., Any] | None = None
        self.previous_threading_excepthook: Callable[..., Any] | None = None
        self.exit_handlers: list[Callable[[Run], None]] = []
        #: Called after the process run finished at exit (sinks delivering its state).
        self.after_exit_handlers: list[Callable[[Run], None]] = []
        #: True while the process run is being finished at exit: a signal arriving then
        #: only records itself, so it cannot interrupt the writing of the summary.
        self.exiting = False
        #: Runs started and not yet finished, so a forked child can disown them.
        self.live_runs: weakref.WeakSet[Run] = weakref.WeakSet()
        #: The process run while its ``run_started`` waits for the first record: the
        #: process run starts while logging is being configured, before any handler
        #: exists, so the event is logged just before the first record (see
        #: :func:`announce_process_run`).
        self.unannounced: Run | None = None
        #: True once this multiprocessing child's exit finalizer is registered.
        self.child_exit_arranged = False
        #: Called by ``_exit.reset_state`` first, then forgotten (signal handlers put back).
        self.reset_hooks: list[Callable[[], None]] = []


state = _State()
current_var: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "runlogger_current_run", default=None
)


def current_run_if_started() -> Run | None:
    """Like :func:`current_run`, but never starts the process run."""
    return current_var.get() or state.process_run


def add_listener(listener: RunListener, *, first: bool = False) -> None:
    """Subscribe ``listener``; ``first`` puts it before the others (it hears a start
    before the summary is written, so it can add to the run what the summary shows)."""
    with state.lock:
        if listener in state.listeners:
            return
        if first:
            state.listeners.insert(0, listener)
        else:
            state.listeners.append(listener)


def remove_listener(listener: RunListener) -> None:
    with state.lock:
        if listener in state.listeners:
            state.listeners.remove(listener)


def add_reset_hook(hook: Callable[[], None]) -> None:
    """Have ``_exit.reset_state`` call ``hook`` (for tests: undo what a layer above set up)."""
    with state.lock:
        if hook not in state.reset_hooks:
            state.reset_hooks.append(hook)


def add_exit_handler(handler: Callable[[Run], None]) -> None:
    """Call ``handler(process_run)`` at interpreter exit, before the run is finished."""
    with state.lock:
        if handler not in state.exit_handlers:
            state.exit_handlers.append(handler)


def add_after_exit_handler(handler: Callable[[Run], None]) -> None:
    """Call ``handler(process_run)`` at interpreter exit, after the run was finished."""
    with state.lock:
        if handler not in state.after_exit_handlers:
            state.after_exit_handlers.append(handler)


def current_listeners() -> list[RunListener]:
    """The listeners now (a copy: one may subscribe or leave while they are called)."""
    with state.lock:
        return list(state.listeners)


def say(line: str) -> None:
    """One line on stderr about a failure logging cannot report (if raiseExceptions)."""
    if logging.raiseExceptions and sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {line}\n")
            sys.stderr.flush()


def report(what: str, exc: BaseException | None) -> None:
    """Tell stderr about a failure that has nowhere else to go (like Handler.handleError)."""
    if logging.raiseExceptions and sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {what}: {exc!r}\n")
