"""RunQueueHandler: a ``QueueHandler`` that keeps exceptions structured and loses nothing.

A ``QueueHandler`` hands records to a ``QueueListener`` thread, which calls the real
handlers. Two things go wrong with the plain one in a run:

- ``QueueHandler.prepare`` formats the traceback into the message and drops
  ``exc_info``, so the JSON event has no ``exc_info``/``exc_type`` of its own and the
  summary's ``first_error.exc_type`` is null.
- Programs stop the listener with ``atexit.register(listener.stop)`` after configuring
  logging; atexit runs newest first, so the listener stops before runlogger finishes
  the process run, and the run's ``run_finished`` is queued to nobody.

This handler keeps the message, the formatted traceback (``exc_text``) and the
exception's class name (``exc_type``) apart, and delivers a record straight to the
listener's handlers when the listener is not running (stopped at exit, or not started
yet), after whatever was still queued.
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import queue as queue_module
from typing import Any

from ._outcome import qualified_name

__all__ = ["RunQueueHandler"]


class RunQueueHandler(logging.handlers.QueueHandler):
    """A ``QueueHandler`` for runs: structured exceptions, nothing lost at exit.

    ``listener`` is the ``QueueListener`` that serves ``queue``: pass it for a
    listener made by hand; ``dictConfig`` (Python 3.12+, ``"handlers": [...]`` on the
    queue handler) sets it itself. Without one, the handler behaves as a plain
    ``QueueHandler`` except that exceptions stay structured.
    """

    listener: Any

    def __init__(self, queue: Any, listener: Any = None) -> None:
        super().__init__(queue)
        self.listener = listener

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """A copy of ``record`` that can cross a queue (even a process's), exceptions kept.

        The message is merged with its arguments (they may not be picklable), the
        traceback formatted into ``exc_text`` and the class named in ``exc_type``; the
        record itself, which other handlers see, is left as it is.
        """
        prepared = copy.copy(record)
        try:
            message = record.getMessage()
        except Exception:  # the formatter on the far side reports a bad format itself
            return prepared
        prepared.msg = message
        prepared.args = None
        prepared.message = message
        exc_info = record.exc_info
        if exc_info:
            if not prepared.exc_text:
                prepared.exc_text = (self.formatter or logging.Formatter()).formatException(
                    exc_info
                )
            if exc_info[0] is not None and "exc_type" not in prepared.__dict__:
                prepared.exc_type = qualified_name(exc_info[0])
            prepared.exc_info = None
        return prepared

    def emit(self, record: logging.LogRecord) -> None:
        listener = self.listener
        if listener is None or getattr(listener, "_thread", True) is not None:
            super().emit(record)
            return
        try:
            self._deliver(listener, record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _deliver(self, listener: Any, record: logging.LogRecord) -> None:
        """The listener is not running: hand what it left queued, then ``record``, to its
        handlers in this thread (under this handler's lock, so in order)."""
        pending: Any = self.queue  # queue.Queue, SimpleQueue or multiprocessing's
        while True:
            try:
                left = pending.get_nowait()
            except (queue_module.Empty, OSError, ValueError, EOFError):
                break
            if left is not listener._sentinel:
                listener.handle(left)
        listener.handle(self.prepare(record))
