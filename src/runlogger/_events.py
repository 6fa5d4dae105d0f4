"""RunFileHandler: the run's JSON events as ``<directory>/<run_id>.jsonl``."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from ._context import _current, ensure_process_run
from ._formatter import RunJsonFormatter
from ._handler import note_logging_error
from ._store import DEFAULT_FILE_MODE, events_path, resolve_directory

__all__ = ["RunFileHandler"]


class RunFileHandler(logging.Handler):
    """Append each record as one JSON line to the top-level run's ``.jsonl`` file.

    One file per top-level run: records of nested runs go to the same file (they
    carry their own ``run_id`` and ``parent_run_id``), and processes that joined the
    run append to it too. Each line is written with a single ``write`` on an
    ``O_APPEND`` descriptor, so lines from several processes never interleave. If the
    file ends in a torn line (a crash mid-write), the next record starts on a fresh
    line. Failures reach :meth:`handleError` and are counted in the run's
    ``logging_errors``.

    The formatter defaults to :class:`RunJsonFormatter`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        level: int | str = logging.NOTSET,
        *,
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        if not isinstance(file_mode, int) or not 0 <= file_mode <= 0o777:
            raise ValueError(
                f"file_mode must be a permission number such as 0o600, not {file_mode!r}."
            )
        super().__init__(level)
        self.directory = resolve_directory(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.file_mode = file_mode
        self._fds: dict[str, int] = {}
        self._fd_lock = threading.Lock()
        self.setFormatter(RunJsonFormatter())
        ensure_process_run()

    def _top_run_id(self, record: logging.LogRecord) -> str:
        run = _current.get() or ensure_process_run()
        run_id = record.__dict__.get("run_id")
        if run_id is not None and run_id not in (run.run_id, run.parent_run_id):
            return str(run_id)  # a forwarded record: its own run's file
        while run.parent is not None:
            run = run.parent
        return run.run_id

    def _fd_for(self, run_id: str) -> int:
        fd = self._fds.get(run_id)
        if fd is not None:
            return fd
        with self._fd_lock:
            fd = self._fds.get(run_id)
            if fd is None:
                fd = self._open(events_path(self.directory, run_id))
                self._fds[run_id] = fd
            return fd

    def _open(self, path: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, self.file_mode)
        try:
            if os.fstat(fd).st_size == 0:
                os.fchmod(fd, self.file_mode)
            else:
                _end_torn_line(path, fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "surrogatepass")
            fd = self._fd_for(self._top_run_id(record))
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Report as usual, and count the failure in the run's ``logging_errors``."""
        note_logging_error(record)
        super().handleError(record)

    def close(self) -> None:
        """Close every open file; idempotent."""
        try:
            with self._fd_lock:
                fds, self._fds = self._fds, {}
            for fd in fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
        finally:
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.directory} ({level})>"


def _end_torn_line(path: Path, fd: int) -> None:
    """If the file's last byte is not a newline, append one (a crash tore the last line)."""
    with open(path, "rb") as stream:
        stream.seek(-1, os.SEEK_END)
        if stream.read(1) != b"\n":
            os.write(fd, b"\n")
