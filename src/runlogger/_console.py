"""Readable console lines whose message and traceback are cut like the JSON event's.

The JSON event of a 50 MB message is cut at ``max_string`` characters, but a plain
``logging.Formatter`` on stderr printed all 50 MB: a terminal or a CI log drowned in one
record. :class:`ConsoleFormatter` cuts the message, the traceback and the stack text at
the same default limit, with the same ``…[truncated N chars]`` mark.
"""

from __future__ import annotations

import logging
from typing import Any

from ._sanitize import DEFAULT_MAX_STRING

__all__ = ["ConsoleFormatter"]

_MARK = "…[truncated {} chars]"


def _cut(text: str, limit: int) -> str:
    """``text`` with head plus mark at most ``limit`` characters (unchanged if it fits)."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(_MARK.format(len(text))), 0)
    return text[:keep] + _MARK.format(len(text) - keep)


class ConsoleFormatter(logging.Formatter):
    """A ``logging.Formatter`` that cuts the message, traceback and stack at ``max_chars``.

    Takes the stdlib positional arguments; ``max_chars`` is keyword-only. The record is
    never changed: a record that needs cutting is formatted through a copy.
    """

    def __init__(self, *args: Any, max_chars: int = DEFAULT_MAX_STRING, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(max_chars, int) or max_chars < 64:
            raise ValueError(f"max_chars must be an int of at least 64, not {max_chars!r}.")
        self.max_chars = max_chars

    def format(self, record: logging.LogRecord) -> str:
        limit = self.max_chars
        message = record.getMessage()
        if len(message) <= limit and not (record.exc_info or record.exc_text or record.stack_info):
            return super().format(record)  # the usual record: nothing to cut, no copy
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args = _cut(message, limit), None
        traceback = record.exc_text
        if record.exc_info and not traceback:
            traceback = self.formatException(record.exc_info)
        copy.exc_info, copy.exc_text = None, _cut(traceback, limit) if traceback else None
        if record.stack_info:
            copy.stack_info = _cut(record.stack_info, limit)
        return super().format(copy)
