"""Run ids: time-ordered by default, and always safe to use as a file name."""

from __future__ import annotations

import os
import re
import time

from ._errors import InvalidRunIdError

__all__ = [
    "RUN_ID_RE",
    "new_run_id",
    "validate_run_id",
]

#: What a run id is: also a file name in every directory, and a label everywhere.
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_run_id() -> str:
    """Return a fresh run id such as ``20261130T213452.123456Z-3f9a1c2b7d``.

    The UTC start time to the microsecond comes first, so ids sort by start time;
    40 random bits follow, so ids started in the same microsecond (other processes,
    other hosts) still differ: among ten million runs sharing one microsecond the
    chance of a clash is below 5e-5, and real runs are spread over many.
    """
    now_us = time.time_ns() // 1000
    seconds, micros = divmod(now_us, 1_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    return f"{stamp}.{micros:06d}Z-{os.urandom(5).hex()}"


def validate_run_id(run_id: object) -> str:
    """Return ``run_id`` if it is a usable id, else raise :class:`InvalidRunIdError`.

    Ids become file names, so anything that could escape the runs directory
    (``../x``, ``a/b``, NUL, an empty string) is refused rather than cleaned up.
    """
    if not isinstance(run_id, str):
        raise InvalidRunIdError(f"A run id must be a string, not {type(run_id).__name__}.")
    if RUN_ID_RE.fullmatch(run_id) is None:
        raise InvalidRunIdError(
            f"Invalid run id {run_id!r}: it must match [A-Za-z0-9][A-Za-z0-9._-]{{0,63}} "
            "(letters, digits, '.', '_' and '-', at most 64 characters, not starting "
            "with '.', '_' or '-')."
        )
    return run_id
