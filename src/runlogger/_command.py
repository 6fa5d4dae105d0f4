"""``runlogger run -- CMD [ARGS...]``: any executable as one run, its output lines as events.

A shell script, a binary, ``python -m pip ...``: the wrapper starts the command with its
stdout and stderr on pipes, passes every byte on to its own stdout and stderr as it
arrives (no buffering, no re-encoding: the terminal sees what it would have seen), and
makes each line an event of the run -- stdout lines at INFO, stderr lines at WARNING
(``--stderr-level``), with a ``stream`` field. The summary has the command's exit code,
or the signal that killed it (``exit_code`` 128+n, as a shell reports it).

The wrapper owns the run here (the command is not Python it could run in-process), so it
writes the summary itself when the command ends. Signals sent to the wrapper are passed
on to the command, as ``runlogger run SCRIPT.py`` does (see ``_supervise``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from . import _process_run
from ._capture import install_capture, record_captured
from ._context import RUN_ID_ENV
from ._errors import InvalidRunIdError, RunIdInUseError
from ._process_run import start_process_run
from ._rundir import make_directory
from ._store import resolve_directory

__all__ = ["MAX_LINE", "run_command"]

#: A line longer than this many bytes is recorded in pieces of this size (the output
#: itself passes through whole): a program that never writes a newline must not make the
#: wrapper hold all of its output.
MAX_LINE = 64 * 1024

#: How long the wrapper still reads after the command ended: a background process it
#: started may hold its output pipes open for ever (``sh -c 'daemon &'``).
_DRAIN_SECONDS = 1.0


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"runlogger: {message}\n")
    return code


def _resolve(command: str) -> str | None:
    if os.sep in command or (os.altsep and os.altsep in command):
        return command if os.path.isfile(command) else None
    return shutil.which(command)


def _pass_on(fd: int, data: bytes) -> bool:
    """Write all of ``data`` to ``fd``; False once it is gone (a closed pipe, EBADF)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:  # pragma: no cover - retried by Python since 3.5
            continue
        except OSError:
            return False
        view = view[written:]
    return True


class _Reader(threading.Thread):
    """Pumps one of the command's pipes to the terminal and turns its lines into events."""

    def __init__(self, source: int, target: int, stream: str, level: int, logger: str) -> None:
        super().__init__(name=f"runlogger-{stream}", daemon=True)
        self.source = source
        self.target = target
        self.stream = stream
        self.level = level
        self.logger = logger

    def run(self) -> None:
        passing = True
        pending = b""
        try:
            while True:
                try:
                    data = os.read(self.source, 65536)
                except InterruptedError:  # pragma: no cover - retried by Python since 3.5
                    continue
                except OSError:
                    break
                if not data:
                    break
                if passing:
                    passing = _pass_on(self.target, data)
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    self._record_long(line)
                while len(pending) > MAX_LINE:
                    self._record(pending[:MAX_LINE])
                    pending = pending[MAX_LINE:]
            if pending:
                self._record(pending)
        finally:
            os.close(self.source)

    def _record_long(self, line: bytes) -> None:
        for start in range(0, max(len(line), 1), MAX_LINE):
            self._record(line[start : start + MAX_LINE])

    def _record(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        text = line.decode("utf-8", "replace")
        record = logging.LogRecord(
            self.logger, self.level, "(command)", 0, text, None, None, func=None
        )
        record.__dict__["stream"] = self.stream
        record_captured(record)


def _start(
    command: list[str], executable: str, mask: set[int | signal.Signals]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,  # argv[0] as given, as a shell passes it
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # The command gets the signal mask this process started with, not the
        # wrapper's (which blocks what it waits for).
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, mask),
        executable=executable,
    )


def run_command(
    command: list[str],
    *,
    name: str | None = None,
    run_id: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    level: int = logging.INFO,
    stderr_level: int = logging.WARNING,
) -> int:
    """Run ``command`` as a run; return its exit status (128+n if a signal killed it).

    A command that cannot be found or started is reported in one line, with the status
    a shell gives (127 not found, 126 not executable), before any run is started.
    """
    from ._supervise import signals_to_forward, status_of, wait_forwarding

    # Blocked before any thread starts (the run's heartbeat, the readers): a thread that
    # does not block them would take a SIGTERM meant for the command and die of it. A
    # signal that arrives before the command starts is passed on to it once it has.
    forwarded = signals_to_forward()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, forwarded | {signal.SIGCHLD})
    executable = _resolve(command[0])
    if executable is None:
        return _fail(f"command not found: {command[0]}", 127)
    if not os.access(executable, os.X_OK) or os.path.isdir(executable):
        return _fail(f"permission denied: {command[0]}", 126)
    runs_dir = resolve_directory(directory)
    label = os.path.basename(command[0])
    try:
        make_directory(runs_dir)  # 0700 with its parents, whatever the umask
        if run_id is None and os.environ.get(RUN_ID_ENV):
            process_run = _process_run.ensure_process_run()
        else:
            process_run = start_process_run(name or label, run_id=run_id)
    except InvalidRunIdError as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(f"cannot use {runs_dir}: {exc.strerror or exc}", 2)
    process_run.argv = list(command)
    try:
        install_capture(Path(runs_dir), level)
    except RunIdInUseError as exc:
        return _fail(str(exc), 2)
    logging.getLogger().setLevel(level)  # so the run's own records (run_finished) pass
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    try:
        try:
            child = _start(command, executable, previous)
        except OSError as exc:
            if exc.errno != errno.ENOEXEC:
                raise
            # No "#!" line: a shell runs such a file as a shell script, and so does cron.
            child = _start(["/bin/sh", *command], "/bin/sh", previous)
    except OSError as exc:
        process_run.exit_code = 127 if isinstance(exc, FileNotFoundError) else 126
        process_run.record_exception(exc)
        process_run.finish()
        return _fail(f"cannot run {command[0]}: {exc.strerror or exc}", process_run.exit_code)
    assert child.stdout is not None
    assert child.stderr is not None
    readers = [
        _Reader(os.dup(child.stdout.fileno()), 1, "stdout", logging.INFO, label),
        _Reader(os.dup(child.stderr.fileno()), 2, "stderr", stderr_level, label),
    ]
    child.stdout.close()
    child.stderr.close()
    for reader in readers:
        reader.start()
    status, first_signal = wait_forwarding(child.pid, forwarded)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    for reader in readers:
        reader.join(_DRAIN_SECONDS)
    code, killed_by = status_of(status)
    process_run.exit_code = code
    process_run.signal = killed_by or first_signal
    process_run.finish()
    return code
