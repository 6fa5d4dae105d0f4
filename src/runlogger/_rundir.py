"""The runs directory: created private, and checked for writing before the first record.

Summaries and event files are 0600 whatever the umask; a directory made with
``mkdir -p`` semantics would be 0777 under ``umask 000`` and let anyone add, replace or
delete runs. So each directory runlogger creates, missing parents included, gets an
exact mode: 0700, or wider only where ``file_mode`` shares the files (a group that may
read the files may also enter the directory).

A directory that exists but cannot be written (read-only mount, someone else's, mode
0500) used to show up one failed record at a time, long after the program started.
:func:`unwritable` finds out at configuration with one probe file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import warnings
from pathlib import Path

__all__ = [
    "DENIED_ERRNOS",
    "directory_mode",
    "make_directory",
    "prepare_directory",
    "unwritable",
    "warn_unwritable",
]

#: What a directory that refuses writes reports: no permission, or a read-only mount.
DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

#: Directories this process has already warned about (one warning each, not one a handler).
_warned: set[Path] = set()


def directory_mode(file_mode: int) -> int:
    """The mode for directories holding files of ``file_mode``: 0700, plus group and
    others' read and write bits as the files have them, with search wherever read is."""
    shared = file_mode & 0o066
    return 0o700 | shared | ((shared & 0o044) >> 2)


def make_directory(path: Path, mode: int = 0o700) -> None:
    """Create ``path`` and its missing parents, each with exactly ``mode``.

    Unlike ``Path.mkdir(parents=True)``, parents get ``mode`` too, and the umask can
    neither widen nor narrow it (``chmod`` after ``mkdir``; until then the mode is the
    narrower of the two). Directories that exist are left as they are.
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            if directory.is_dir():  # another process made it in the meantime: theirs
                continue
            raise
        os.chmod(directory, mode)


def unwritable(path: Path) -> OSError | None:
    """Why a file cannot be created in ``path``, or None if one can.

    Tried for real (a hidden probe file, removed at once): the permission bits do not
    tell the whole story (read-only mounts, ACLs, root without CAP_DAC_OVERRIDE).
    """
    probe = path / f".runlogger-probe.{os.getpid()}.{time.monotonic_ns()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(probe, flags, 0o600)
    except OSError as exc:
        return exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def warn_unwritable(path: Path, problem: OSError, stacklevel: int) -> None:
    """One ``RuntimeWarning`` per directory and process: the handlers go on without it."""
    if path in _warned:
        return
    _warned.add(path)
    reason = problem.strerror or str(problem)
    warnings.warn(
        f"runlogger cannot write to {path} ({reason}): no summary or event file can be "
        "written there; the program goes on, and failed writes are not reported one by one",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


def prepare_directory(path: Path, file_mode: int, *, stacklevel: int) -> bool:
    """Create ``path`` for a handler; warn (once) and return False if it cannot be written.

    Creating it can fail as writing in it would (a parent that is a file, no permission
    to create it): that is raised, the handler is refused, as before.
    """
    make_directory(path, directory_mode(file_mode))
    problem = unwritable(path)
    if problem is None:
        return True
    warn_unwritable(path, problem, stacklevel + 1)
    return False
