"""The heartbeat: a thread that keeps the ``running`` checkpoints fresh, records or not.

It knows the summary book only through :class:`CheckpointBook` (the book, a layer above,
makes its heartbeat and hands itself in), so the thread never imports its writer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from . import _context

__all__ = ["CheckpointBook", "DueCheckpoint", "Heartbeat"]

#: The longest the heartbeat sleeps when no run is going: it is woken when one starts.
_IDLE_WAIT = 60.0


class DueCheckpoint(Protocol):
    """A run's summary whose ``running`` checkpoint can be written."""

    def write(self, *, checkpoint: bool = ...) -> bool: ...


class CheckpointBook(Protocol):
    """What the heartbeat asks of the summary book."""

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    def next_due(self) -> float | None: ...

    def due_entries(self, now: float) -> Sequence[DueCheckpoint]: ...


class Heartbeat:
    """A daemon thread that keeps the ``running`` checkpoints fresh, records or not.

    A job working quietly for an hour (one long query, a big download) logs nothing,
    so a checkpoint refreshed only by records would look dead; readers take a
    ``running`` summary whose ``updated_at`` is older than a few
    ``checkpoint_interval_s`` as lost. The thread sleeps until the earliest checkpoint
    falls due and writes the due ones. It takes the book's lock only to find them,
    never while writing, and a record that finds a checkpoint due leaves it to the
    thread, so logging never waits for the thread's I/O. It starts with the first
    summary handler (again in a forked child, lazily: threads do not survive a fork)
    and stops when the process run ends.
    """

    def __init__(self, book: CheckpointBook) -> None:
        self.book = book
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopped = False
        #: Held while a checkpoint is written, so that a fork (which copies the open
        #: descriptor of the directory lock into the child) waits for the write.
        self.io_lock = threading.Lock()
        self.fork_held = False

    def alive(self) -> bool:
        thread = self.thread
        return thread is not None and thread.is_alive()

    def ensure_started(self) -> None:
        if self.thread is not None or self.stopped or _context.state.exiting:
            self.wake.set()  # a new run may be due sooner than the thread sleeps
            return
        with self.book.lock:
            if self.thread is not None:
                return
            thread = threading.Thread(target=self._loop, name="runlogger-heartbeat", daemon=True)
            self.thread = thread
        try:
            thread.start()
        except RuntimeError:  # at interpreter shutdown: the record path still checkpoints
            self.thread = None
            self.stopped = True

    def stop(self, timeout: float = 1.0) -> None:
        self.stopped = True
        self.wake.set()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        book = self.book
        while not self.stopped:
            due = book.next_due()
            now = time.time()
            delay = _IDLE_WAIT if due is None else max(0.0, due - now)
            if delay > 0 and self.wake.wait(delay):
                self.wake.clear()
                continue  # woken: a new run or stop; look again
            if self.stopped:
                return
            for entry in book.due_entries(time.time()):
                if self.stopped:
                    return
                # Never let the thread die: the next round retries.
                with self.io_lock, contextlib.suppress(Exception):
                    entry.write(checkpoint=True)
            # A write that keeps failing must not spin: its entry's next checkpoint
            # was moved on by write() even when it failed.
