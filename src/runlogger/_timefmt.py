"""RFC 3339 UTC timestamps with microseconds, cheap enough for every record."""

from __future__ import annotations

import time

__all__ = ["micros_z_table", "milli_prefix", "utc_timestamp"]

# The text up to the millisecond, "YYYY-MM-DDTHH:MM:SS.mmm", is remembered for the last
# millisecond and the seconds part for the last second: records arrive in bursts, so a
# record usually costs one table lookup, and strftime is paid once a second. Each cache is
# one tuple swapped whole, which is atomic, so threads at worst recompute it.
_last_second: tuple[int, str] = (-1, "")
_last_milli: tuple[int, str] = (-1, "")
# (".000" ... ".999", "000Z" ... "999Z"): formatting "%03d" costs more than a lookup.
# Built on first use, not at import, where it would cost about a millisecond.
_tables: tuple[tuple[str, ...], tuple[str, ...]] | None = None


def utc_timestamp(epoch_seconds: float) -> str:
    """Format ``epoch_seconds`` as ``2026-11-30T21:34:52.123456Z``.

    :class:`~runlogger.RunJsonFormatter` inlines the same steps, with a cache of its own.
    """
    global _last_milli
    milli, micros = divmod(int(epoch_seconds * 1_000_000), 1000)
    cached_milli, prefix = _last_milli
    if milli != cached_milli:
        prefix = milli_prefix(milli)
        _last_milli = (milli, prefix)
    return prefix + micros_z_table()[micros]


def milli_prefix(milli: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmm`` for a count of milliseconds since the epoch."""
    global _last_second
    second, millis = divmod(milli, 1000)
    cached_second, prefix = _last_second
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, prefix)
    return prefix + _digit_tables()[0][millis]


def micros_z_table() -> tuple[str, ...]:
    """The last three digits of a timestamp and its "Z": ``micros_z_table()[7] == "007Z"``."""
    return _digit_tables()[1]


def _digit_tables() -> tuple[tuple[str, ...], tuple[str, ...]]:
    global _tables
    if _tables is None:
        digits = [f"{n:03d}" for n in range(1000)]
        _tables = (tuple("." + d for d in digits), tuple(d + "Z" for d in digits))
    return _tables
