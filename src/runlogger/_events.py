"""RunFileHandler: the run's JSON events as ``<directory>/<run_id>.jsonl``."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path

from ._attempt import settle_process_run
from ._context import current_var, state
from ._formatter import RunJsonFormatter
from ._handler import note_logging_error, report_write_failure
from ._lifecycle import announce_process_run, started_record
from ._process_run import ensure_process_run
from ._run import Run
from ._rundir import DENIED_ERRNOS, prepare_directory
from ._stamp import stamped_run_id, valid_run_id
from ._store import DEFAULT_FILE_MODE, events_path, resolve_directory

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no repair guard
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_OPEN_FILES",
    "RunFileHandler",
    "end_torn_line",
]

#: Event files a RunFileHandler keeps open at once (one per run it writes to).
DEFAULT_MAX_OPEN_FILES = 32

#: How long a lock is waited for: the torn-line check on open waits for a line another
#: process is writing, a writer for a check; neither may hang on a stuck process.
_LOCK_WAIT = 2.0

#: Every RunFileHandler, so a forked child can give each a fresh descriptor lock.
_handlers: weakref.WeakSet[RunFileHandler] = weakref.WeakSet()
_fork_hook_registered = False


def _after_fork_in_child() -> None:
    """A thread of the parent may have held a descriptor lock at the fork: make new ones.

    ``logging`` does the same for each handler's own lock; the child is single-threaded
    here, so nothing can hold the new locks yet.
    """
    for handler in list(_handlers):
        handler._fd_lock = threading.Lock()


def _track(handler: RunFileHandler) -> None:
    global _fork_hook_registered
    _handlers.add(handler)
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True


class RunFileHandler(logging.Handler):
    """Append each record as one JSON line to the top-level run's ``.jsonl`` file.

    One file per top-level run: records of nested runs go to the same file (they
    carry their own ``run_id`` and ``parent_run_id``), and processes that joined the
    run append to it too. Each line is written with a single ``write`` on an
    ``O_APPEND`` descriptor, so lines from several processes never interleave. If the
    file ends in a torn line (a crash mid-write, or a write cut short by a full disk),
    the next record starts on a fresh line. Writers hold a shared ``flock`` while they
    write and the torn-line check on open an exclusive one, so a line another process
    is still writing is not mistaken for a torn one. Failures reach
    :meth:`handleError` and are counted in the run's ``logging_errors``.

    A record goes to the file of the run it was logged in (see :mod:`runlogger._stamp`),
    never to one named by a field it carries. Records forwarded from other processes'
    runs go to those runs' files; at most ``max_open_files`` files are kept open, the
    least recently written one is closed when another is needed (and reopened if its run
    logs again).

    The formatter defaults to :class:`RunJsonFormatter`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        level: int | str = logging.NOTSET,
        *,
        file_mode: int = DEFAULT_FILE_MODE,
        max_open_files: int = DEFAULT_MAX_OPEN_FILES,
    ) -> None:
        if not isinstance(file_mode, int) or not 0 <= file_mode <= 0o777:
            raise ValueError(
                f"file_mode must be a permission number such as 0o600, not {file_mode!r}."
            )
        if (
            isinstance(max_open_files, bool)
            or not isinstance(max_open_files, int)
            or max_open_files < 1
        ):
            raise ValueError(
                f"max_open_files must be a whole number of at least 1, not {max_open_files!r}."
            )
        # Everything that can fail (an unusable directory, a refused $RUNLOGGER_RUN_ID)
        # comes before Handler.__init__, which registers the handler for
        # logging.shutdown(): a half-built handler must not fail again at exit.
        path = resolve_directory(directory)
        # Not writable: one warning now, and no traceback a record (see handleError).
        self._denied_at_start = not prepare_directory(path, file_mode, stacklevel=2)
        process_run = settle_process_run(path)  # a re-run: its attempt's file (_attempt)
        formatter = RunJsonFormatter()
        super().__init__(level)
        self.directory = path
        self.file_mode = file_mode
        self.max_open_files = max_open_files
        #: run id -> descriptor, least recently written first.
        self._fds: OrderedDict[str, int] = OrderedDict()
        # Descriptors whose last write stopped mid-line (EFBIG, ENOSPC after a partial
        # write): the next record must not be glued to the fragment.
        self._torn: set[int] = set()
        self._fd_lock = threading.Lock()
        #: The process run whose ``run_started`` this handler wrote itself.
        self._started: str | None = None
        self.setFormatter(formatter)
        _track(self)
        if process_run.owner and not process_run.finished:
            self._begin_file(process_run)

    def _top_run_id(self, record: logging.LogRecord) -> str:
        run = current_var.get() or ensure_process_run()
        run_id = stamped_run_id(record.__dict__)
        if (
            run_id is not None
            and run_id != run.run_id
            and run_id != run.parent_run_id
            and (run_id in self._fds or valid_run_id(run_id))
        ):
            return run_id  # a record forwarded from another process: its run's file
        while run.parent is not None:
            run = run.parent
        return run.run_id

    def _fd_for(self, run_id: str) -> int:
        fds = self._fds
        fd = fds.get(run_id)
        if fd is not None:
            if len(fds) > 1:
                with contextlib.suppress(KeyError):  # close() may have emptied it
                    fds.move_to_end(run_id)
            return fd
        # Opened outside _fd_lock, which is only for the dict: opening may wait for
        # another process's line (see end_torn_line).
        opened = self._open(events_path(self.directory, run_id))
        evicted: list[int] = []
        with self._fd_lock:
            fd = self._fds.setdefault(run_id, opened)
            while len(self._fds) > self.max_open_files:
                evicted.append(self._fds.popitem(last=False)[1])
        if fd != opened:
            os.close(opened)
        for old in evicted:
            # Under the handler lock (emit): no write to it is under way. A torn line
            # it ended with is found again when the file is reopened.
            self._torn.discard(old)
            with contextlib.suppress(OSError):
                os.close(old)
        return fd

    def _open(self, path: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, self.file_mode)
        try:
            if os.fstat(fd).st_size == 0:
                os.fchmod(fd, self.file_mode)
            else:
                end_torn_line(path, fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._started is not None and (
                record.__dict__.get("_runlogger_started") == self._started
            ):
                return  # the run's start (or a queued copy): written when this was created
            if state.unannounced is not None:
                announce_process_run()  # before the first record: run_started
            line = (self.format(record) + "\n").encode("utf-8", "surrogatepass")
            fd = self._fd_for(self._top_run_id(record))
            if fd in self._torn:
                line = b"\n" + line
            self._write_line(fd, line)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _begin_file(self, process_run: Run) -> None:
        """Begin the process run's event file with its ``run_started``, once.

        The process run started before this handler existed (it starts when logging is
        configured); its ``run_started`` is written here, at once, so the file begins
        with it even when another process (a worker that joined the run) writes first.
        A file that already has lines (a handler configured again) already has it.
        """
        record = started_record(process_run)
        if record is None:
            return
        self._started = process_run.run_id
        try:
            fd = self._fd_for(process_run.run_id)
            if os.fstat(fd).st_size == 0:
                line = (self.format(record) + "\n").encode("utf-8", "surrogatepass")
                self._write_line(fd, line)
        except Exception:
            self.handleError(record)

    def _write_line(self, fd: int, line: bytes) -> None:
        """Write all of ``line``; if only part of it got out, remember the torn line.

        Runs under the handler lock (``Handler.handle``), so ``_torn`` needs no other.
        """
        view = memoryview(line)
        locked = _lock(fd, shared=True)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            if locked:
                _unlock(fd)
            sent = len(line) - len(view)
            if sent == len(line):
                self._torn.discard(fd)
            elif sent:
                if line[sent - 1] == 0x0A:  # only the newline that ends a torn line got out
                    self._torn.discard(fd)
                else:
                    self._torn.add(fd)

    def handleError(self, record: logging.LogRecord) -> None:
        """Count the failure in the run's ``logging_errors``; an OSError (a full disk) is
        reported once per handler in one line, other errors as stdlib does.

        A directory found unwritable at construction was warned about once then: its
        refusals are only counted, not reported again for every record.
        """
        note_logging_error(record)
        if self._denied_at_start:
            problem = sys.exc_info()[1]
            if isinstance(problem, OSError) and problem.errno in DENIED_ERRNOS:
                return
        if not report_write_failure(self, self.directory):
            super().handleError(record)

    def close(self) -> None:
        """Close every open file; idempotent."""
        try:
            with self._fd_lock:
                fds, self._fds = self._fds, OrderedDict()
                self._torn.clear()
            for fd in fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)
        finally:
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.directory} ({level})>"


def end_torn_line(path: Path, fd: int) -> None:
    """If the file's last byte is not a newline, append one (a crash tore the last line).

    From outside, a line another process is writing right now looks torn too; its
    writer holds a shared lock, so the check waits for an exclusive one. The last byte
    is read through a second descriptor (``fd`` is write-only); a file this process may
    append to but not read is left as it is.
    """
    if not _lock(fd, shared=False):
        return  # a writer holds its line too long: an unrepaired tear beats a cut line
    try:
        try:
            reader = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return
        try:
            ours, theirs = os.fstat(fd), os.fstat(reader)
            if (ours.st_dev, ours.st_ino) != (theirs.st_dev, theirs.st_ino) or not ours.st_size:
                return  # the name now points elsewhere: not ours to judge
            os.lseek(reader, ours.st_size - 1, os.SEEK_SET)
            torn = os.read(reader, 1) != b"\n"
        finally:
            os.close(reader)
        if torn:
            os.write(fd, b"\n")
    finally:
        _unlock(fd)


def _lock(fd: int, *, shared: bool) -> bool:
    """Take ``flock`` on ``fd``: True to go ahead (then unlock), False if it was not had.

    Both wait at most ``_LOCK_WAIT`` (only a torn-line check holds the exclusive lock,
    for microseconds, and writers hold the shared one for one ``write``): a writer that
    cannot get its lock writes anyway, a check that cannot get its lock is skipped.
    Nothing can hang on a lock left behind. Where locks are not supported, both go
    ahead unlocked, as writers did before locking existed.
    """
    if fcntl is None:
        return True
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = 0.0
    while True:
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            now = time.monotonic()
            if not deadline:
                deadline = now + _LOCK_WAIT
            elif now >= deadline:
                return False
            time.sleep(0.0005)
        except OSError:  # no flock on this file system
            return not shared
        else:
            return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
