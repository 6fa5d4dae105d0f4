"""Shared output of the commands: one-line errors, safe lines, colour, table cells, times.

Everything a user sees goes through here, so hostile text (control characters in a run's
name) is escaped the same way everywhere and colour follows one rule (a terminal, no
``NO_COLOR``).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import TextIO

from ._basics import PROG

STATUS_COLOURS = {
    "completed": "32",
    "failed": "31",
    "terminated": "33",
    "lost": "35",
    "running": "36",
}
LEVEL_COLOURS = {"DEBUG": "2", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


def error(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def write_line(stream: TextIO, text: str, fallback: str | None = None) -> None:
    """Write one line; on a terminal that cannot encode it, write ``fallback`` or escapes."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        if fallback is None:
            encoding = getattr(stream, "encoding", None) or "ascii"
            fallback = text.encode(encoding, "backslashreplace").decode(encoding)
        stream.write(fallback + "\n")


def use_colour(stream: TextIO) -> bool:
    """Colour only for a person at a terminal who has not opted out (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code else text


def table_width(stream: TextIO) -> int | None:
    """The width to fit into: the terminal's (or $COLUMNS); None (no limit) for a pipe or file."""
    if not os.environ.get("COLUMNS"):
        try:
            if not stream.isatty():
                return None
        except (AttributeError, ValueError):
            return None
    import shutil  # a terminal only: a listing into a pipe or file does without it

    return shutil.get_terminal_size().columns


def printable(text: str) -> str:
    """Escape control characters, so a hostile or odd name cannot move the cursor or a column."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def ellipsis_mark(stream: TextIO) -> str:
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return "\u2026" if encoding.startswith("utf") else "~"


def truncate(text: str, width: int, mark: str) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + mark


def format_time(epoch: float | None, utc: bool, *, precise: bool = False) -> str:
    if epoch is None:
        return "-"
    try:
        moment = datetime.fromtimestamp(epoch, timezone.utc if utc else None)
    except (OverflowError, OSError, ValueError):
        return "-"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if precise:
        text += f".{moment.microsecond // 1000:03d}"
    return text


def number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
