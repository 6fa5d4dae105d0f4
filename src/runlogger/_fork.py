"""Forked and multiprocessing children: they join the parent's runs and hand counts over.

A forked child inherits the parent's runs but owns none of them; a multiprocessing child
leaves through ``os._exit`` (no atexit), so its share of the counts is handed over by a
multiprocessing finalizer that ``_signals`` provides (:func:`set_child_exit`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

from ._context import state

__all__ = ["install_fork_hooks", "register_multiprocessing_finalizer", "set_child_exit"]


_fork_hook_registered = False


def _after_fork_in_child() -> None:
    """A forked child inherits the parent's runs but owns none of them.

    It becomes a contributor: its own records are counted from zero and added to the
    runs' summaries when it exits, and it never writes a run's status. A thread of the
    parent may have held the state lock at the fork, so the lock is made anew.
    """
    state.lock = threading.RLock()
    state.exiting = False
    state.unannounced = None  # the parent's run to announce, not the child's
    state.child_exit_arranged = False  # multiprocessing's finalizers start empty here
    process_run = state.process_run
    if process_run is None:
        return
    for live in [*state.live_runs, process_run]:
        live.owner = False
        live.pid = os.getpid()
    _arrange_multiprocessing_flush(after_fork=True)


def _arrange_multiprocessing_flush(after_fork: bool = False) -> None:
    """Make a multiprocessing child hand its counts over before it exits.

    multiprocessing children leave through ``os._exit``, which skips atexit; they run
    multiprocessing's own finalizers instead. A forked child clears that registry
    after the fork, so there the finalizer is registered from an after-fork callback.
    Pool.terminate() ends workers with SIGTERM, so a worker also turns SIGTERM into
    SystemExit, which runs the finalizers on its way out.
    """
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    if after_fork:
        util.register_after_fork(state, register_multiprocessing_finalizer)
        return
    process_module = sys.modules.get("multiprocessing.process")
    if process_module is not None and process_module.parent_process() is not None:
        register_multiprocessing_finalizer(state)


def register_multiprocessing_finalizer(_obj: object) -> None:
    child_exit = _child_exit
    if child_exit is None or state.child_exit_arranged:
        return  # nothing counts in this process (yet), or arranged already
    state.child_exit_arranged = True
    hand_over, take_sigterm = child_exit
    util = sys.modules["multiprocessing.util"]
    util.Finalize(None, hand_over, exitpriority=100)
    take_sigterm()


#: A multiprocessing child's ``(hand_over, take_sigterm)``: set by ``_signals`` (above
#: this module) when a handler that counts records is made, see :func:`set_child_exit`.
_child_exit: tuple[Callable[[], None], Callable[[], None]] | None = None


def set_child_exit(hand_over: Callable[[], None], take_sigterm: Callable[[], None]) -> None:
    """Register what a multiprocessing child runs at its exit and makes of SIGTERM.

    ``hand_over`` writes the child's share of the counts (multiprocessing's finalizers
    call it, since the child leaves through ``os._exit``); ``take_sigterm`` makes a
    SIGTERM hand over before the process ends. A child whose process run started before
    this call (a spawned worker builds its handlers after joining the run) is arranged now.
    """
    global _child_exit
    with state.lock:
        _child_exit = (hand_over, take_sigterm)
        process_run = state.process_run
        arrange = state.hooks_installed and process_run is not None and not process_run.owner
    if arrange:
        _arrange_multiprocessing_flush()


def install_fork_hooks() -> None:
    """Make forked children disown the parent's runs; arrange a joined child's hand-over.

    Called once the process run exists, when the exit hooks are installed.
    """
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True
    if state.process_run is not None and not state.process_run.owner:
        _arrange_multiprocessing_flush()
