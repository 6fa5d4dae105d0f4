"""Where runs live on disk, and writing summaries safely.

A summary is rewritten whole, atomically (temp file in the same directory, fsync,
``os.replace``), so a reader or a crash sees the old or the new file, never half of
one. Several processes may add to one run's summary (children that joined it), so
the read-merge-write happens under an exclusive ``flock`` on the directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._context import RUN_DIR_ENV
from ._errors import RunIdInUseError
from ._ids import validate_run_id
from ._run import Run
from ._summary import summary_document

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per run is assumed there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_FILE_MODE",
    "DIRECTORY_LOCK_TIMEOUT",
    "contributor_key",
    "deadline_left",
    "directory_lock",
    "events_path",
    "lock_deadline",
    "read_contributors",
    "read_existing",
    "refuse_reused_id",
    "remove_stale_temp_files",
    "repair_summary",
    "resolve_directory",
    "summary_path",
    "update_summary",
    "write_json_atomic",
]

DEFAULT_DIR = "runs"
DEFAULT_FILE_MODE = 0o600

#: Statuses a run ends with: the summary written with one of them is the run's last.
_FINAL_STATUSES = frozenset({"completed", "failed", "terminated"})


def resolve_directory(directory: str | os.PathLike[str] | None) -> Path:
    """The runs directory as an absolute path: argument, ``$RUNLOGGER_DIR``, or ``./runs``.

    Made absolute at configuration, so a later ``os.chdir`` does not move the output.
    """
    if directory is None:
        directory = os.environ.get(RUN_DIR_ENV) or DEFAULT_DIR
    return Path(os.path.abspath(os.fspath(directory)))


def summary_path(directory: Path, run_id: str) -> Path:
    return directory / f"{validate_run_id(run_id)}.json"


def events_path(directory: Path, run_id: str) -> Path:
    return directory / f"{validate_run_id(run_id)}.jsonl"


def contributor_key() -> str:
    """How this process names its share of a run's counts: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def write_json_atomic(path: Path, document: Mapping[str, Any], file_mode: int) -> None:
    """Replace ``path`` with ``document`` atomically, the file created with ``file_mode``.

    The temp file is opened with ``O_EXCL | O_NOFOLLOW`` and its mode set with
    ``fchmod`` (so the umask cannot widen or narrow it); ``os.replace`` swaps the
    directory entry, so a symlink planted at ``path`` is replaced, never followed.
    """
    data = json.dumps(document, ensure_ascii=False, allow_nan=False, indent=2).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, file_mode)
    try:
        try:
            os.fchmod(fd, file_mode)
            view = memoryview(data + b"\n")
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Seconds a summary write waits for the directory lock. Writers hold it for one
#: read-merge-write (milliseconds), so only a stuck process holds it longer; the write then
#: goes ahead without it (a concurrent writer's share may be overwritten until its next
#: write) rather than hang the job. The kernel drops the lock of a process that dies.
DIRECTORY_LOCK_TIMEOUT = 10.0
#: After a wait timed out, later writes to that directory wait this long at most, until
#: one gets the lock again: a stuck holder must not cost every checkpoint ten seconds.
STUCK_LOCK_WAIT = 0.5

#: Directories whose lock this thread holds: taken again (a multiprocessing child's
#: SIGTERM handler writing while the code it interrupted held it) it must not wait on
#: itself. ``deadline`` (monotonic seconds), when set, bounds every wait of this thread.
_held = threading.local()
#: Directories whose lock timed out and has not been had since; those reported once.
_stuck: set[Path] = set()
_reported_stuck: set[Path] = set()


@contextlib.contextmanager
def lock_deadline(deadline: float) -> Iterator[None]:
    """Make this thread's directory-lock waits end by ``deadline`` (``time.monotonic``)."""
    previous = getattr(_held, "deadline", None)
    _held.deadline = deadline if previous is None else min(previous, deadline)
    try:
        yield
    finally:
        _held.deadline = previous


def deadline_left() -> float | None:
    """Seconds left before this thread's :func:`lock_deadline`, or None when it has none."""
    deadline = getattr(_held, "deadline", None)
    return None if deadline is None else max(0.0, deadline - time.monotonic())


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Exclusive ``flock`` on the directory, for one read-merge-write of a summary.

    Waited for at most :data:`DIRECTORY_LOCK_TIMEOUT` (see there); the write goes ahead
    without it when the time is up or the file system has no locks.
    """
    held: set[Path] = _held.__dict__.setdefault("directories", set())
    if fcntl is None or directory in held:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        _lock_within(fd, directory)
        held.add(directory)
        try:
            yield
        finally:
            held.discard(directory)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _lock_within(fd: int, directory: Path) -> bool:
    """Take the lock on ``fd``, polling, within the bound; True if it was had.

    ``LOCK_NB`` polling instead of a blocking ``flock``: a blocked call cannot be given a
    timeout, and the sleeps between tries let a signal handler run on this thread.
    """
    now = time.monotonic()
    deadline = now + (STUCK_LOCK_WAIT if directory in _stuck else DIRECTORY_LOCK_TIMEOUT)
    own = getattr(_held, "deadline", None)
    if own is not None:
        deadline = min(deadline, own)
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            now = time.monotonic()
            if now >= deadline:
                break
            time.sleep(min(pause, deadline - now))
            pause = min(pause * 2, 0.05)
        except OSError:  # no flock on this file system: write as if there were no others
            return False
        else:
            _stuck.discard(directory)
            return True
    _stuck.add(directory)
    if directory not in _reported_stuck:
        _reported_stuck.add(directory)
        holder = _lock_holder(fd)
        _report_line(
            f"the lock of {directory} is held by {holder or 'another process'} for too long; "
            "summaries are written without it until it is free"
        )
    return False


def _lock_holder(fd: int) -> str | None:
    """``pid N`` of the process holding ``fd``'s file lock, from Linux's /proc/locks."""
    try:
        info = os.fstat(fd)
        inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
        with open("/proc/locks", encoding="ascii", errors="replace") as stream:
            for line in stream:
                fields = line.split()
                if "FLOCK" in fields and inode in fields and "->" not in fields:  # not a waiter
                    pid = fields[fields.index(inode) - 1]
                    if pid.isdigit():
                        return f"pid {pid}"
    except (OSError, ValueError):
        pass
    return None


def _report_line(text: str) -> None:
    """One line on stderr, as :func:`runlogger._context.report` does for failures."""
    if logging.raiseExceptions and sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {text}\n")


def read_existing(path: Path) -> dict[str, Any] | None:
    """The summary now at ``path``, or None if there is no readable one.

    Only a regular file counts: a symlink planted at the summary path is not followed
    (its target's counts would be merged into the run's), and a FIFO or device there
    cannot block or feed the writer. The write that follows replaces whatever it is.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        with os.fdopen(fd, encoding="utf-8") as stream:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            document = json.load(stream)
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    return document if isinstance(document, dict) else None


def refuse_reused_id(directory: Path, run: Run) -> None:
    """Raise RunIdInUseError if ``run``'s chosen id already names another run here.

    For runs chosen in code (``run(run_id=...)``); a process run becomes the next attempt
    instead (see ``_attempt``).

    A run id names one run: a finished run's summary must not be overwritten, nor its
    counts mixed into a new run's (a scheduler re-running a job under the same id).
    A summary still ``running`` is not refused: its owner died without finishing it
    (or a joined process wrote it first), and the new owner finishes that run.
    """
    if not (run.owner and run.id_chosen):
        return
    existing = read_existing(summary_path(directory, run.run_id))
    if existing is None or existing.get("run_id") != run.run_id:
        return
    status = existing.get("status")
    if status not in ("completed", "failed", "terminated"):
        return
    where = summary_path(directory, run.run_id)
    raise RunIdInUseError(
        f"run id {run.run_id!r} already names a run ({status}, started "
        f"{existing.get('start_time')}) in {where}; give this run an id of its own "
        f"(e.g. {run.run_id + '.2'!r}), or remove that summary first."
    )


def remove_stale_temp_files(directory: Path, run_id: str) -> list[str]:
    """Delete the temp files of ``run_id``'s summary whose writer is dead; return their names.

    :func:`write_json_atomic` removes its temp file on any error, but a writer killed by
    SIGKILL (or a power cut) between creating and renaming it leaves
    ``.<run_id>.json.<pid>.<ns>.tmp`` behind. A file whose pid is alive on this host
    (another writer, mid-write) is never touched; neither is anything else in the
    directory. Called with the directory lock held, so no locking writer is mid-write.
    """
    if os.name != "posix":  # os.kill(pid, 0) is no liveness probe on Windows
        return []
    prefix = f".{validate_run_id(run_id)}.json."
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid_text, dot, stamp = name[len(prefix) : -len(".tmp")].partition(".")
        if not (dot and _is_number(pid_text) and _is_number(stamp)):
            continue
        if _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(name)
    return removed


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists here (another user's counts as alive)."""
    if pid <= 0:  # 0 and negatives address process groups: never probe those
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # EPERM: it exists, just not ours; or no such pid form
        return True
    return True


def update_summary(
    directory: Path,
    run_id: str,
    contribution: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
    file_mode: int = DEFAULT_FILE_MODE,
    key: str | None = None,
) -> dict[str, Any]:
    """Write this process's ``contribution`` into the run's summary and return it.

    ``metadata`` (status, times, …) is given by the process that owns the run; a
    process that only joined it passes None and keeps what the owner wrote.
    """
    path = summary_path(directory, run_id)
    with directory_lock(directory):
        existing, problems = repair_summary(read_existing(path) or {})
        if problems:
            _report_repair(run_id, problems)
        contributors: dict[str, Any] = dict(existing.get("contributors", {}))
        contributors[key or contributor_key()] = dict(contribution)
        if metadata is None:
            metadata = existing if existing.get("run_id") == run_id else _joined_metadata(run_id)
        document = summary_document(metadata, contributors, time.time())
        write_json_atomic(path, document, file_mode)
        if document.get("status") in _FINAL_STATUSES:
            # Once per run (not per checkpoint): a directory listing is not free.
            remove_stale_temp_files(directory, run_id)
    return document


def read_contributors(
    directory: Path, run_id: str, *, exclude_own: bool = False
) -> list[dict[str, Any]]:
    """The per-process counts recorded in a run's summary (empty if there is none)."""
    existing, _ = repair_summary(read_existing(summary_path(directory, run_id)) or {})
    own = contributor_key()
    return [
        part
        for key, part in existing.get("contributors", {}).items()
        if not (exclude_own and key == own)
    ]


# -- damaged summaries -------------------------------------------------------------------
#
# A summary is rewritten from what is on disk, so a damaged one (edited by hand, written by
# a buggy tool: NaN, a contributor that is a number, a status that is a list) would make
# every later write of its run fail -- strict JSON refuses NaN, the merge trips on the
# wrong types -- and the processes that join it would lose their counts for good. So what
# is read is repaired first: what is valid is kept, what is not is dropped or reset, and
# the repair is reported on stderr.

_COUNTS = ("event_count", "error_count", "warning_count", "logging_errors")
_COUNT_MAPS = ("counts_by_level", "counts_by_event_type", "suppressed_by_event_type")
_TEXTS = ("run_id", "name", "parent_run_id", "start_time", "end_time", "signal", "host", "trace_id")
_INTEGERS = ("pid", "exit_code")
_STATUSES = frozenset({"running", *_FINAL_STATUSES})
_CUT = object()  # a value that cannot be kept at all


def repair_summary(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``document`` with what a summary cannot hold dropped or reset, and what was wrong.

    Only the fields runlogger reads back are checked for their type (identity, status,
    times, counts, contributors); everything else is kept if it is valid JSON (NaN and
    infinities become null). The result always has a ``contributors`` object whose
    values are objects of non-negative integer counts.
    """
    problems: list[str] = []
    repaired: dict[str, Any] = {}
    for key, value in document.items():
        if key == "contributors":
            continue
        kept = _repair_field(key, value)
        if kept is _CUT:
            problems.append(f"{key} was {_describe(value)} (dropped)")
            continue
        if kept is not value and not _same(kept, value):
            problems.append(f"{key} held NaN or infinity (now null)")
        repaired[key] = kept
    contributors: dict[str, Any] = {}
    found = document.get("contributors", {})
    if not isinstance(found, dict):
        problems.append(f"contributors was {_describe(found)} (dropped)")
        found = {}
    for name, part in found.items():
        if not isinstance(part, dict):
            problems.append(f"contributors[{name!r}] was {_describe(part)} (dropped)")
            continue
        contributors[name] = _repair_contribution(name, part, problems)
    repaired["contributors"] = contributors
    return repaired, problems


def _repair_field(key: str, value: Any) -> Any:
    if key == "status":
        return value if isinstance(value, str) and value in _STATUSES else _CUT
    if key in _TEXTS:
        return value if value is None or isinstance(value, str) else _CUT
    if key in _INTEGERS:
        return value if value is None or _is_int(value) else _CUT
    if key == "duration_ms":
        return value if _is_int(value) and value >= 0 else _CUT
    if key == "argv":
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value if ok or value is None else _CUT
    if key in ("attributes", "progress", "exception"):
        return _json_safe(value) if value is None or isinstance(value, dict) else _CUT
    return _json_safe(value)


def _repair_contribution(name: str, part: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in part.items():
        if key in _COUNTS:
            if _is_int(value) and value >= 0:
                clean[key] = value
                continue
        elif key in _COUNT_MAPS:
            if isinstance(value, dict):
                counts = {k: n for k, n in value.items() if _is_int(n) and n >= 0}
                if len(counts) != len(value):
                    problems.append(f"contributors[{name!r}].{key} had bad counts (dropped)")
                clean[key] = counts
                continue
        elif key == "first_error":
            if value is None or isinstance(value, dict):
                clean[key] = _json_safe(value)
                continue
        else:
            kept = _json_safe(value)
            if kept is not _CUT:
                clean[key] = kept
                continue
        problems.append(f"contributors[{name!r}].{key} was {_describe(value)} (dropped)")
    return clean


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool, not float


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None; _CUT if nested too deep."""
    try:
        return _finite(value)
    except RecursionError:
        return _CUT


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if value - value == 0 else None  # NaN and ±inf fail this
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _same(left: Any, right: Any) -> bool:
    """Equal, counting NaN as equal to nothing (so a replaced NaN shows as a change)."""
    try:
        return bool(left == right)
    except RecursionError:
        return False


def _describe(value: Any) -> str:
    if isinstance(value, float) and value - value != 0:
        return repr(value)
    text = json.dumps(value, default=repr)[:40] if _json_safe(value) is not _CUT else "deep"
    return f"{type(value).__name__} {text}"


_repairs_reported: set[str] = set()


def _report_repair(run_id: str, problems: list[str]) -> None:
    """Say once per run and process what was wrong with its summary (it is then fixed)."""
    if run_id in _repairs_reported:
        return
    _repairs_reported.add(run_id)
    shown = "; ".join(problems[:5])
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    _report_line(f"the summary of run {run_id} was damaged and is repaired: {shown}{more}")


def _joined_metadata(run_id: str) -> dict[str, Any]:
    """Placeholder identity for a run whose owner has not written its summary yet."""
    return {
        "run_id": run_id,
        "status": "running",
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
