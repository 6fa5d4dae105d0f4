"""The wrapper's capture: every record a wrapped program logs reaches the run's files.

Handlers on the root logger do not survive real programs: ``dictConfig`` and
``fileConfig`` close and replace them, ``basicConfig(force=True)`` removes them, a
``propagate=False`` logger with handlers of its own never reaches them. So under
``runlogger run`` the capture sits one level up, on the ``Logger`` class:
``Logger.callHandlers`` (which ``Logger.handle`` calls once per record, after the logger's
level, ``disabled`` flag and filters let the record through) is replaced by a function
that first hands the record to runlogger's own handlers -- the events file and the
summary -- and then calls the original, which walks the hierarchy to the program's
handlers as before. The program's levels, disabled loggers and filters are honoured, its
handlers see what they would see without the wrapper, and nothing it does to handlers
can detach the capture. runlogger's own lifecycle records go through ``callHandlers``
too (see ``_lifecycle.emit``), so they are captured exactly once as well.

The capture handlers are kept out of ``logging``'s list of handlers to close, so
``dictConfig`` (which closes every handler it knows of) and ``logging.shutdown`` leave
them open; the run's end writes the summary (``_exit.at_exit``).

Library mode (runlogger's handlers in the program's own configuration) never installs
this: it only happens under ``runlogger run`` and in the Python processes a wrapped
program starts (through ``runlogger/_boot/sitecustomize.py``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CAPTURE_ENV",
    "boot_directory",
    "capture_from_environment",
    "capture_installed",
    "echo_active",
    "install_capture",
    "record_captured",
    "uninstall_capture",
]

#: Set (to the lowest level recorded, a number) in the environment of a wrapped program,
#: so the Python processes it starts capture their records into the same run.
CAPTURE_ENV = "RUNLOGGER_CAPTURE"

_CallHandlers = Callable[[logging.Logger, logging.LogRecord], None]

_original: _CallHandlers | None = None
_handlers: tuple[logging.Handler, ...] = ()


def _no_stamp(record: logging.LogRecord) -> bool:
    return True


_stamp: Callable[[logging.LogRecord], bool] = _no_stamp
_echo: logging.Handler | None = None
_previous_last_resort: logging.Handler | None = None


def boot_directory() -> Path:
    """The directory holding runlogger's ``sitecustomize.py`` (put first on PYTHONPATH)."""
    return Path(__file__).resolve().parent / "_boot"


def capture_installed() -> bool:
    return _original is not None


def _unlist(handlers: tuple[logging.Handler, ...]) -> None:
    """Take ``handlers`` off the list ``dictConfig`` and ``logging.shutdown`` close."""
    handler_list = getattr(logging, "_handlerList", None)
    if not isinstance(handler_list, list):
        return
    logging._acquireLock()  # type: ignore[attr-defined]
    try:
        handler_list[:] = [ref for ref in handler_list if ref() not in handlers]
    finally:
        logging._releaseLock()  # type: ignore[attr-defined]


#: ``pathname`` of runlogger's own lifecycle records (``_lifecycle.emit``).
_OWN_RECORD = "(runlogger)"


def install_capture(directory: Path, level: int, echo: logging.Handler | None = None) -> None:
    """Capture every record into ``directory`` (events file and summary); idempotent.

    ``level`` is the lowest level recorded (``--level``): a record the program's own
    configuration lets through below it is left to the program's handlers.

    ``echo`` (the wrapper's readable stderr handler) becomes ``logging.lastResort``: the
    handler ``logging`` uses for a record that finds no handler at all. So a program that
    configures no logging shows every record on stderr with its run id, and a program that
    configures its own output (``basicConfig`` included, which only configures a root
    logger without handlers) gets exactly that output, as under ``python``.

    runlogger's own lifecycle records (``run_finished``, ``uncaught_exception``, ...) go
    to the capture, and to ``echo`` while it stands in for a configuration, but not to the
    program's handlers: under ``python`` the program's console would not have them.
    """
    global _original, _handlers, _stamp, _echo, _previous_last_resort
    if _original is not None:
        return
    # Imported here: a plain ``import runlogger`` must not pay for the handlers.
    from ._events import RunFileHandler
    from ._filter import RunContextFilter
    from ._handler import RunSummaryHandler

    run_filter = RunContextFilter()
    handlers: tuple[logging.Handler, ...] = (
        RunFileHandler(directory, level),
        RunSummaryHandler(directory, level),
    )
    _unlist(handlers)
    original: _CallHandlers = logging.Logger.callHandlers
    stamp = run_filter.filter

    def call_handlers(
        self: logging.Logger,
        record: logging.LogRecord,
        _handlers: tuple[logging.Handler, ...] = handlers,
        _stamp: Callable[[logging.LogRecord], bool] = stamp,
        _original: _CallHandlers = original,
    ) -> None:
        # Runs for every record: locals only, no attribute chains beyond the needed ones.
        _stamp(record)
        levelno = record.levelno
        for handler in _handlers:
            if levelno >= handler.level:
                handler.handle(record)
        if record.pathname != _OWN_RECORD:
            _original(self, record)
        elif echo is not None and echo_active() and levelno >= echo.level:
            echo.handle(record)

    call_handlers.__doc__ = original.__doc__
    call_handlers.__wrapped__ = original  # type: ignore[attr-defined]
    _handlers = handlers
    _stamp = stamp
    _original = original
    if echo is not None:
        _echo, _previous_last_resort = echo, logging.lastResort
        logging.lastResort = echo
    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]


def echo_active() -> bool:
    """Whether the wrapper's readable lines stand in for a logging configuration: the
    program has put no handler on the root logger and left ``lastResort`` alone."""
    return _echo is not None and logging.lastResort is _echo and not logging.root.handlers


def record_captured(record: logging.LogRecord) -> None:
    """Hand ``record`` to the capture only (the command wrapper's output lines)."""
    _stamp(record)
    for handler in _handlers:
        if record.levelno >= handler.level:
            handler.handle(record)


def uninstall_capture() -> None:
    """Put ``Logger.callHandlers`` back and close the capture handlers (tests, bench)."""
    global _original, _handlers, _stamp, _echo
    if _original is None:
        return
    logging.Logger.callHandlers = _original  # type: ignore[method-assign,assignment]
    handlers, _handlers, _original, _stamp = _handlers, (), None, _no_stamp
    if _echo is not None and logging.lastResort is _echo:
        logging.lastResort = _previous_last_resort
    _echo = None
    for handler in handlers:
        handler.close()


def _is_runlogger_command() -> bool:
    """Whether this process is the ``runlogger`` command (a nested ``runlogger run``).

    It configures the capture itself, after its own checks; starting it from
    ``sitecustomize`` too would count this process twice.
    """
    argv: list[str] = list(getattr(sys, "orig_argv", None) or [])
    for index, token in enumerate(argv[1:], start=1):
        if token == "-m":
            return index + 1 < len(argv) and argv[index + 1] == "runlogger"
        if not token.startswith("-"):
            return os.path.basename(token) == "runlogger"
    return False


def capture_from_environment() -> None:
    """Join the wrapped run from ``sitecustomize`` in a process the wrapped program started.

    The environment says which run (``RUNLOGGER_RUN_ID``), where (``RUNLOGGER_DIR``) and
    from which level (``RUNLOGGER_CAPTURE``). Never raises: a child that cannot join
    runs as it would without the wrapper.
    """
    try:
        level = int(os.environ.get(CAPTURE_ENV, ""))
    except ValueError:
        return
    from ._context import RUN_DIR_ENV, RUN_ID_ENV

    directory = os.environ.get(RUN_DIR_ENV)
    if not directory or not os.environ.get(RUN_ID_ENV) or _is_runlogger_command():
        return
    argv = list(getattr(sys, "orig_argv", None) or [])
    if any("multiprocessing.resource_tracker" in token for token in argv):
        return  # multiprocessing's helper process: it logs nothing of the program's
    install_capture(Path(directory), level)
    if "--multiprocessing-fork" in argv:
        # A spawn child of multiprocessing: Pool.terminate() ends it with SIGTERM, so it
        # hands its counts over the way forked children do. multiprocessing runs no
        # after-fork hooks in a spawned child, so the exit finalizer is registered now.
        import multiprocessing.util  # noqa: F401  (the child imports it anyway)

        from ._fork import register_multiprocessing_finalizer

        register_multiprocessing_finalizer(None)
    # As in the wrapped program itself (and in its forked children, which inherit it):
    # records from ``level`` up are enabled until the program configures otherwise.
    logging.getLogger().setLevel(level)
