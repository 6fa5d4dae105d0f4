"""Readable console lines are cut like the JSON event: a huge message does not flood stderr."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest

from runlogger._console import ConsoleFormatter
from runlogger._sanitize import DEFAULT_MAX_STRING
from runlogger._wrap import READABLE_FORMAT
from support import python_command, read_jsonl

FORMAT = "%(levelname)s %(name)s %(message)s"


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("x" * 100_000)
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("job", logging.INFO, __file__, 1, message, args or None, exc_info)


def test_short_records_format_as_logging_formatter_does() -> None:
    record = _record("hello %s", "world")

    assert ConsoleFormatter(FORMAT).format(record) == logging.Formatter(FORMAT).format(
        _record("hello %s", "world")
    )


def test_long_message_is_cut_with_the_json_events_mark() -> None:
    record = _record("%s", "m" * 1_000_000)

    line = ConsoleFormatter(FORMAT, max_chars=1000).format(record)

    head, _, mark = line.removeprefix("INFO job ").partition("…[truncated ")
    assert len(line) <= len("INFO job ") + 1000
    assert head == "m" * len(head)
    assert (mark.endswith(" chars]"), len(head) + int(mark.split()[0])) == (True, 1_000_000)


def test_long_traceback_and_stack_are_cut() -> None:
    record = _record("failed", exc=True)
    record.stack_info = "Stack (most recent call last):\n" + "  frame\n" * 50_000

    text = ConsoleFormatter(FORMAT, max_chars=2000).format(record)

    assert text.startswith("INFO job failed\nTraceback (most recent call last):")
    assert len(text) < 2 * 2000 + 100
    assert text.count("…[truncated ") == 2


def test_the_record_is_left_as_it_was() -> None:
    record = _record("%s", "m" * 100_000, exc=True)
    before = dict(record.__dict__)

    ConsoleFormatter(FORMAT, max_chars=1000).format(record)

    assert record.__dict__ == before
    assert record.getMessage() == "m" * 100_000


def test_max_chars_is_checked() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        ConsoleFormatter(FORMAT, max_chars=10)


HUGE = """
    import logging
    logging.getLogger("job").warning("%s", "y" * 50_000_000)
    logging.getLogger("job").info("after")
"""


def test_runlogger_run_cuts_a_50_mb_message_on_stderr_as_in_the_event(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(textwrap.dedent(HUGE), encoding="utf-8")

    result = python_command(
        "-m", "runlogger", "run", "--run-id", "huge", "job.py", cwd=tmp_path, timeout=180
    )

    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [line for line in result.stderr.splitlines() if " WARNING " in line]
    assert "[huge] yyy" in line
    assert line.endswith(" chars]")
    assert len(line) < DEFAULT_MAX_STRING + 200
    assert READABLE_FORMAT.endswith("%(message)s")
    assert any(line.endswith(" after") for line in result.stderr.splitlines())
    (event,) = [e for e in read_jsonl(tmp_path / "runs" / "huge.jsonl") if e["level"] == "WARNING"]
    assert len(event["message"]) <= DEFAULT_MAX_STRING
