"""Durations (``250ms``, ``1.5s``, ``2m``, ``1h30m``) and points in time for ``--since``.

Kept apart from the command line so the rules are tested directly and every command
reads durations and times the same way. Everything here is pure and cheap; RFC 3339
parsing is hand-written because ``datetime.fromisoformat`` on Python 3.10 rejects the
``Z`` suffix and fractions that are not 3 or 6 digits.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

__all__ = [
    "format_duration_ms",
    "parse_duration",
    "parse_timestamp",
    "parse_when",
]

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION_RE = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d))+")
_PART_RE = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DURATION_HINT = "use a number and a unit: ms, s, m, h or d, e.g. 250ms, 5s, 1.5s, 2m, 1h30m"


def parse_duration(text: str) -> timedelta:
    """Parse ``250ms``, ``5s``, ``1.5s``, ``2m``, ``1h``, ``7d`` or a sum like ``1h30m``.

    A bare number is refused: ``5`` could mean seconds or milliseconds, and guessing
    wrong silently changes which runs a filter keeps.
    """
    cleaned = text.strip().lower()
    if not _DURATION_RE.fullmatch(cleaned):
        raise ValueError(f"invalid duration {text!r}: {_DURATION_HINT}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART_RE.findall(cleaned))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too large")


def parse_when(text: str, *, now: datetime | None = None, end_of_day: bool = False) -> datetime:
    """Parse a ``--since``/``--until`` value into an aware datetime.

    Accepts ``now``, a relative duration (``30m``, ``2h``, ``7d``: that long before
    ``now``), an ISO date (local midnight), or an ISO datetime with or without a zone
    (without one it is local time, as a user typing a time means their wall clock).
    With ``end_of_day`` a bare date means the *next* local midnight, so that
    ``--until 2026-11-30`` includes the whole of that day.
    """
    cleaned = text.strip()
    current = now if now is not None else datetime.now(timezone.utc)
    if cleaned.lower() == "now":
        return current
    if _DURATION_RE.fullmatch(cleaned.lower()):
        try:
            return current - parse_duration(cleaned)
        except OverflowError:
            raise ValueError(f"{text!r} reaches back before the year 1")
    if _DATE_RE.fullmatch(cleaned):
        try:
            day = date.fromisoformat(cleaned)
            if end_of_day:
                day += timedelta(days=1)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid date {text!r}: {exc}")
        return datetime.combine(day, time()).astimezone()
    moment = _parse_datetime(cleaned)
    if moment is None:
        raise ValueError(
            f"invalid time {text!r}: use an ISO date (2026-11-30), an ISO datetime "
            "(2026-11-30T21:30, with an optional zone such as Z or +01:00; without one "
            "it is local time), or how long ago (30m, 2h, 7d)"
        )
    return moment


def parse_timestamp(text: object) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp from a summary, or None if it is not one.

    Lenient on purpose: summaries written by other versions or tools may use ``+00:00``
    instead of ``Z`` or another number of fraction digits, and a reader should still
    sort and filter them. A timestamp without a zone is taken as UTC (the schema's zone).
    """
    if not isinstance(text, str):
        return None
    try:
        moment = _parse_datetime(text, naive_zone=timezone.utc)
    except ValueError:
        return None
    return None if moment is None else moment.timestamp()


def _parse_datetime(text: str, naive_zone: timezone | None = None) -> datetime | None:
    """Parse an ISO 8601 / RFC 3339 datetime; naive ones get ``naive_zone`` or local time."""
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micros
        )
        if zulu:
            return moment.replace(tzinfo=timezone.utc)
        if sign:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            zone = timezone(-offset if sign == "-" else offset)
            return moment.replace(tzinfo=zone)
    except ValueError as exc:
        raise ValueError(f"invalid time {text!r}: {exc}")
    if naive_zone is not None:
        return moment.replace(tzinfo=naive_zone)
    return moment.astimezone()


def format_duration_ms(duration_ms: float | None) -> str:
    """Render a duration the way people read them: ``850ms``, ``12.3s``, ``4m05s``, ``1h02m``.

    Precision shrinks as durations grow because nobody compares hour-long runs to the
    millisecond; ``-`` stands for an unknown duration.
    """
    if duration_ms is None:
        return "-"
    ms = max(0, round(duration_ms))
    if ms < 1000:
        return f"{ms}ms"
    tenths = round(ms / 100)
    if tenths < 600:
        return f"{tenths / 10:.1f}s"
    seconds = round(ms / 1000)
    if seconds < 3600:
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes}m{seconds:02d}s"
    minutes = round(ms / 60000)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
