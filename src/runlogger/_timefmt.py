"""RFC 3339 UTC timestamps with microseconds, cheap enough for every record."""

from __future__ import annotations

import time

__all__ = ["utc_timestamp"]

# (whole second, "YYYY-MM-DDTHH:MM:SS") of the last call: records arrive in bursts within
# one second, so the strftime is paid once a second. A tuple swap is atomic, so threads
# at worst recompute it.
_last_second: tuple[int, str] = (-1, "")


def utc_timestamp(epoch_seconds: float) -> str:
    """Format ``epoch_seconds`` as ``2026-11-30T21:34:52.123456Z``."""
    global _last_second
    micros_total = int(epoch_seconds * 1_000_000)
    second, micros = divmod(micros_total, 1_000_000)
    cached_second, prefix = _last_second
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, prefix)
    return f"{prefix}.{micros:06d}Z"
