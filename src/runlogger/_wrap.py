"""``runlogger run``: run an unmodified Python script or module as one run.

The script runs in this interpreter as ``__main__`` (as ``python script.py`` would run
it), after logging is configured for it: JSON events to ``<dir>/<run_id>.jsonl``,
readable lines on stderr, the summary beside them. Its exit status is passed through.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import runpy
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from . import _context
from ._console import ConsoleFormatter
from ._context import RUN_DIR_ENV, RUN_ID_ENV, exit_status, start_process_run
from ._errors import InvalidRunIdError, RunIdInUseError
from ._events import RunFileHandler
from ._filter import RunContextFilter
from ._handler import RunSummaryHandler
from ._rundir import make_directory
from ._signals import install_signal_handlers
from ._store import resolve_directory

__all__ = ["READABLE_FORMAT", "run_target"]

READABLE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(run_id)s] %(message)s"


def _fail(message: str) -> int:
    sys.stderr.write(f"runlogger: {message}\n")
    return 2


def _parse_level(level: str | int) -> int | None:
    if isinstance(level, int) or str(level).isdigit():
        return int(level)
    value = logging.getLevelName(str(level).upper())
    return value if isinstance(value, int) else None


_readable_handler: logging.Handler | None = None


def _configure(directory: Path, level: int) -> None:
    global _readable_handler
    run_filter = RunContextFilter()
    events = RunFileHandler(directory)
    readable = _readable_handler = logging.StreamHandler(sys.stderr)
    readable.setFormatter(ConsoleFormatter(READABLE_FORMAT))
    summary = RunSummaryHandler(directory)
    root = logging.getLogger()
    for handler in (events, readable, summary):
        handler.addFilter(run_filter)
        root.addHandler(handler)
    root.setLevel(level)


def _join_threads() -> None:
    """Wait for the script's non-daemon threads, as the interpreter would at exit."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon and thread.is_alive():
            thread.join()


def run_target(
    target: str,
    args: list[str],
    *,
    module: bool,
    name: str | None = None,
    run_id: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    level: str | int | None = None,
) -> int:
    """Run ``target`` as a run and return the exit status the script itself would have.

    Usage errors (missing script or module, bad run id or level) print one line and
    return 2 before any run is started, so nothing is left half-written.
    """
    if module:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return _fail(f"no module named {target!r}")
        argv0 = found.origin or target
    else:
        script = Path(target)
        if not script.is_file():
            return _fail(f"no such script: {target}")
        argv0 = target
    numeric_level = _parse_level(level if level is not None else "INFO")
    if numeric_level is None:
        return _fail(f"unknown level {level!r} (use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    runs_dir = resolve_directory(directory)
    try:
        make_directory(runs_dir)  # 0700 with its parents, whatever the umask
        if run_id is None and os.environ.get(RUN_ID_ENV):
            # Started inside a run (RUNLOGGER_RUN_ID): join it, as any Python process does.
            process_run = _context.ensure_process_run()
        else:
            process_run = start_process_run(
                name or (target if module else Path(target).stem), run_id=run_id
            )
    except InvalidRunIdError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot use {runs_dir}: {exc.strerror or exc}")
    os.environ[RUN_DIR_ENV] = str(runs_dir)
    process_run.argv = [argv0, *args]
    try:
        _configure(runs_dir, numeric_level)
    except RunIdInUseError as exc:
        return _fail(str(exc))
    install_signal_handlers()

    code = _run(target, args, module=module, argv0=argv0)
    process_run.exit_code = code
    _join_threads()
    process_run.finish()
    return code


def _code_file(tb: TracebackType) -> str:
    filename = tb.tb_frame.f_code.co_filename
    return filename if filename.startswith("<") else os.path.abspath(filename)


def _script_frames(tb: TracebackType | None) -> TracebackType | None:
    """Drop the wrapper's and runpy's frames, so the traceback reads as Python's own."""
    own = {"<frozen runpy>", os.path.abspath(runpy.__file__), os.path.abspath(__file__)}
    while tb is not None and _code_file(tb) in own:
        tb = tb.tb_next
    return tb


def _run(target: str, args: list[str], *, module: bool, argv0: str) -> int:
    """Execute the script as ``__main__`` and translate how it ended into a status."""
    process_run = _context.ensure_process_run()
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [argv0, *args]
    try:
        if module:
            sys.path.insert(0, os.getcwd())
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(Path(target).resolve().parent))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
        return exit_status(exc.code)
    except KeyboardInterrupt:
        process_run.signal = process_run.signal or "SIGINT"
        _context._emit(logging.WARNING, "Interrupted", (), {"event_type": "interrupted"})
        return 130
    except BaseException as exc:
        exc.__traceback__ = _script_frames(exc.__traceback__)
        process_run.record_exception(exc)
        _context._emit(
            logging.CRITICAL,
            "Uncaught exception: %s",
            (_context.qualified_name(type(exc)),),
            {"event_type": "uncaught_exception"},
            (type(exc), exc, exc.__traceback__),
        )
        if _readable_handler not in logging.getLogger().handlers:
            # The script replaced the root handlers: print the traceback as Python would.
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        return 1
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path and sys.path[0] != saved_path0:
            sys.path.pop(0)
    return 0
