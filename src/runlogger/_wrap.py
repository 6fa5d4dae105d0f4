"""``runlogger run``: run an unmodified Python script or module as one run.

The program runs in a child process the wrapper forks after its own imports (see
``_supervise``): there it runs as ``__main__`` in the same interpreter, as ``python
script.py`` / ``python -m module`` would run it -- same ``sys.argv``, ``sys.path[0]``,
standard streams, exit status and interpreter shutdown (non-daemon threads, executor
workers and ``atexit`` handlers end as they would under ``python``; the run finishes after
the program's last record). The wrapper waits for it, passes signals on, and finishes the
run's summary itself when the program died before it could (``os._exit``, a fatal signal).

Every record the program logs reaches the run's events file and summary through the
capture hook (see ``_capture``), whatever the program does to its logging configuration;
a readable copy goes to stderr through ``logging.lastResort`` while the program has
configured no output of its own (once it has, its console output is exactly what it
configured, ``basicConfig`` included).
Python processes the program starts join the run through ``runlogger/_boot``'s
``sitecustomize``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import importlib.util
import logging
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType, TracebackType

from . import _context, _lifecycle, _process_run
from ._capture import CAPTURE_ENV, boot_directory, echo_active, install_capture
from ._console import ConsoleFormatter
from ._context import RUN_DIR_ENV, RUN_ID_ENV
from ._errors import InvalidRunIdError, RunIdInUseError
from ._filter import RunContextFilter
from ._ids import new_run_id
from ._outcome import exit_status, qualified_name
from ._process_run import start_process_run
from ._run import Run
from ._rundir import make_directory
from ._signals import install_signal_handlers
from ._store import resolve_directory

__all__ = ["READABLE_FORMAT", "parse_level", "run_target"]

READABLE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(run_id)s] %(message)s"


def _fail(message: str) -> int:
    sys.stderr.write(f"runlogger: {message}\n")
    return 2


def parse_level(level: str | int) -> int | None:
    if isinstance(level, int) or str(level).isdigit():
        return int(level)
    value = logging.getLevelName(str(level).upper())
    return value if isinstance(value, int) else None


def _configure(directory: Path, level: int) -> None:
    """The capture (events file, summary) and the readable lines on stderr."""
    readable = logging.StreamHandler(sys.stderr)
    readable.setFormatter(ConsoleFormatter(READABLE_FORMAT))
    readable.addFilter(RunContextFilter())
    install_capture(directory, level, echo=readable)  # as logging.lastResort: see there
    logging.getLogger().setLevel(level)


def _share_with_children(directory: Path, level: int) -> None:
    """Let the Python processes the program starts join the run (``_boot/sitecustomize``)."""
    os.environ[RUN_DIR_ENV] = str(directory)
    os.environ[CAPTURE_ENV] = str(level)
    boot = str(boot_directory())
    current = os.environ.get("PYTHONPATH", "")
    if current.split(os.pathsep)[0] != boot:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [boot, current]))


def _set_path0(entry: str) -> None:
    """Put ``entry`` where Python puts the script's directory (or the cwd for ``-m``).

    ``sys.path[0]`` is the wrapper's own entry (the ``runlogger`` script's directory, or
    the cwd for ``python -m runlogger``): the program gets its own instead, as under
    ``python``. With ``-P`` / ``PYTHONSAFEPATH`` Python adds none, and neither does this.
    """
    if getattr(sys.flags, "safe_path", False):
        return
    if sys.path:
        sys.path[0] = entry
    else:
        sys.path.insert(0, entry)


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
    """Run ``target`` as a run and return the exit status the program itself would have.

    Usage errors (missing script or module, bad run id or level) print one line and
    return 2 before any run is started, so nothing is left half-written.
    """
    if module:
        entry = os.getcwd()
        _set_path0(entry)  # before the lookup: ``-m jobmod`` finds ./jobmod.py
        # Only the top-level name is looked up here: finding ``pkg.mod`` would import
        # ``pkg`` in the wrapper, before the capture, and outside the program's process.
        top = target.partition(".")[0]
        try:
            found = importlib.util.find_spec(top) if top else None
        except (ImportError, ValueError):
            found = None
        if found is None:
            return _fail(f"no module named {target!r}")
    else:
        if not Path(target).is_file():
            return _fail(f"no such script: {target}")
        entry = os.path.dirname(os.path.realpath(target))
    numeric_level = parse_level(level if level is not None else "INFO")
    if numeric_level is None:
        return _fail(f"unknown level {level!r} (use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    runs_dir = resolve_directory(directory)
    joined = run_id is None and bool(os.environ.get(RUN_ID_ENV))
    chosen = None if joined else (run_id if run_id is not None else new_run_id())
    attempt = None
    again = run_id if run_id is not None else os.environ.get(RUN_ID_ENV) if joined else None
    if again and not _process_run.owned_elsewhere(again):
        # A re-run under a finished run's id is its next attempt, chosen here so that
        # the wrapper finishes the run under the id the program runs as.
        from . import _attempt

        try:
            previous = _attempt.finished_summary(runs_dir, again)
            attempt = _attempt.reserve(runs_dir, again, previous) if previous else None
        except InvalidRunIdError:
            pass  # reported by the program's process, as before
        except RunIdInUseError as exc:
            return _fail(str(exc))
        except OSError as exc:
            return _fail(f"cannot use {runs_dir}: {exc.strerror or exc}")
        if attempt is not None:
            _attempt.announce(attempt)
            _attempt.set_reserved(attempt)
            if joined:
                os.environ[RUN_ID_ENV] = attempt.run_id
            else:
                chosen = attempt.run_id

    def program() -> int:
        return _run_program(
            target,
            args,
            module=module,
            name=name,
            run_id=chosen,
            runs_dir=runs_dir,
            level=numeric_level,
            entry=entry,
        )

    if not hasattr(os, "fork"):  # pragma: no cover - no fork (Windows): unsupervised
        return program()
    from ._supervise import complete_run, fork_supervised, status_of

    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()  # or the child would write the wrapper's pending output again
    # What Python's documentation advises before a fork without exec: the objects made so
    # far (the modules imported) move to the collector's permanent generation, so the
    # child's collections neither scan them nor copy their pages by writing to them.
    gc.freeze()
    result, pid = fork_supervised(program)
    if pid is None:
        return result  # the program's process: on to the interpreter's normal exit
    code, signal_name = status_of(result)
    owned_id = chosen or os.environ.get(RUN_ID_ENV)
    if owned_id:
        try:
            complete_run(runs_dir, owned_id, pid, code, signal_name)
        except Exception as exc:
            _context.report(f"could not finish the summary of run {owned_id}", exc)
    if attempt is not None:
        _attempt.release(attempt)  # its summary is written (or never will be)
    # The wrapper has nothing left to clean up (no run, no handlers, no threads of its
    # own): leave now rather than pay for tearing the interpreter down after the program.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


def _run_program(
    target: str,
    args: list[str],
    *,
    module: bool,
    name: str | None,
    run_id: str | None,
    runs_dir: Path,
    level: int,
    entry: str,
) -> int:
    """In the program's process: start (or join) the run, capture, run, record the end."""
    if not faulthandler.is_enabled():
        faulthandler.enable()  # a segfault leaves the Python traceback on stderr
    if not module:
        _set_path0(entry)
    try:
        make_directory(runs_dir)  # 0700 with its parents, whatever the umask
        if run_id is None:
            # Started inside a run (RUNLOGGER_RUN_ID): join it, as any Python process does.
            process_run = _process_run.ensure_process_run()
        else:
            process_run = start_process_run(
                name or (target if module else Path(target).stem), run_id=run_id
            )
    except InvalidRunIdError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot use {runs_dir}: {exc.strerror or exc}")
    process_run.argv = [target, *args]
    _share_with_children(runs_dir, level)
    try:
        _configure(runs_dir, level)
    except RunIdInUseError as exc:
        return _fail(str(exc))
    install_signal_handlers()
    argv0 = target
    if module:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            found = None  # runpy reports it, as ``python -m`` does
        argv0 = (found.origin if found is not None else None) or target
        process_run.argv = [argv0, *args]
    _freeze_own_objects()
    code = _run(target, args, module=module, argv0=argv0)
    process_run.exit_code = code
    _arm_late_sigterm()
    return code


def _freeze_own_objects() -> None:
    """Leave the objects made before the program starts out of every garbage collection.

    They are the interpreter's, the standard library's and runlogger's -- modules,
    classes, functions, the run and its handlers -- and live until the process ends; the
    program has made none yet. Scanning them again costs every full collection the
    program triggers, and Python's shutdown runs several over everything that is left:
    with runlogger's modules, about a quarter of a short job's whole start-and-stop. So
    they go to the permanent generation (``gc.freeze``), where shutdown's collections do
    not look; they are still freed at exit as modules are cleared. The program's own
    objects, made after this, are collected exactly as under ``python`` (its reference
    cycles, and the files they hold, are still closed at shutdown). What a program could
    notice: ``gc.get_objects()`` and ``gc.get_referrers()`` leave out frozen objects, and
    ``gc.get_freeze_count()`` is not zero.
    """
    gc.freeze()


def _late_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM after the program's main code: die of it, as the program would have.

    Raised as SystemExit during interpreter shutdown (waiting for a non-daemon thread)
    it would be ignored and the process would exit 0; under ``python`` SIGTERM kills it.
    The wrapper sees the death and records it (``terminated``, 143).
    """
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _arm_late_sigterm() -> None:
    from . import _signals

    try:
        if _signals.handles_alone(signal.SIGTERM):
            signal.signal(signal.SIGTERM, _late_sigterm)
    except (ValueError, OSError):  # not the main thread, or no SIGTERM here
        pass


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
    """Execute the program as ``__main__`` and translate how it ended into a status.

    ``sys.path[0]`` is already the program's (see :func:`_set_path0`). A signal is
    recorded only when one arrived (the signal handler marks the run); a
    ``KeyboardInterrupt`` the program raises itself is an exception like any other
    (``failed``), with the exit status 130 Python gives it.
    """
    process_run = _process_run.ensure_process_run()
    saved_argv = sys.argv[:]
    sys.argv = [argv0, *args]
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")  # what Python prints for sys.exit("message")
            process_run.record_exception(exc)
        return exit_status(exc.code)
    except KeyboardInterrupt as exc:
        if process_run.signal is not None:  # Ctrl-C / SIGINT: the run was interrupted
            _lifecycle.emit(logging.WARNING, "Interrupted", (), {"event_type": "interrupted"})
            return 130
        _record_uncaught(process_run, exc)
        return 130
    except BaseException as exc:
        _record_uncaught(process_run, exc)
        return 1
    finally:
        sys.argv = saved_argv
    return 0


def _record_uncaught(process_run: Run, exc: BaseException) -> None:
    exc.__traceback__ = _script_frames(exc.__traceback__)
    process_run.record_exception(exc)
    _lifecycle.emit(
        logging.CRITICAL,
        "Uncaught exception: %s",
        (qualified_name(type(exc)),),
        {"event_type": "uncaught_exception"},
        (type(exc), exc, exc.__traceback__),
    )
    if not echo_active():
        # The program configured its own output: print the traceback as Python would.
        traceback.print_exception(type(exc), exc, exc.__traceback__)
