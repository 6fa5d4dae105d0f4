"""Shared helpers for the tests: strict JSON reading and running Python in a subprocess."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

#: The run summary's keys in DESIGN.md's order (a summary may add more after them).
DOCUMENTED_SUMMARY_KEYS = (
    "schema",
    "run_id",
    "name",
    "parent_run_id",
    "status",
    "start_time",
    "end_time",
    "updated_at",
    "duration_ms",
    "event_count",
    "counts_by_level",
    "counts_by_event_type",
    "error_count",
    "warning_count",
    "first_error",
    "exception",
    "signal",
    "logging_errors",
    "suppressed_by_event_type",
    "progress",
    "exit_code",
    "host",
    "pid",
    "argv",
)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


class Collect(logging.Handler):
    """Keeps every record it is asked to emit."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def parse_line(line: str) -> dict[str, Any]:
    """Parse one JSON line strictly (no NaN/Infinity), and insist on an object."""
    value = json.loads(line, parse_constant=_refuse_constant)
    assert isinstance(value, dict), line
    return value


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines file, each parsed strictly; the file must end in a newline."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} does not end with a newline"
    return [parse_line(line) for line in data.decode("utf-8").splitlines()]


def json_lines(text: str) -> list[dict[str, Any]]:
    """The lines of ``text`` that are JSON objects, parsed strictly."""
    return [parse_line(line) for line in text.splitlines() if line.startswith("{")]


def read_summary(directory: Path, run_id: str) -> dict[str, Any]:
    document = json.loads((directory / f"{run_id}.json").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no inherited run, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOGGER_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def python_command(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS...`` (this interpreter) in ``cwd`` and capture its output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_python(
    code: str,
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    check_exit: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) as a script in a fresh interpreter and capture its output."""
    script = cwd / "script_under_test.py"
    script.write_text(textwrap.dedent(code), encoding="utf-8")
    result = python_command(str(script), *args, cwd=cwd, env=env, timeout=timeout)
    if check_exit is not None:
        assert result.returncode == check_exit, (result.returncode, result.stdout, result.stderr)
    return result


# -- summaries as the writer makes them, for the read side's tests ------------------

OTHER_HOST = "elsewhere.invalid"


def communicate(process: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """``process.communicate``, killing the child if it outlives ``timeout``: a hung child
    fails its own test instead of leaking into the next ones."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def at(minute: int) -> str:
    return f"2026-11-30T21:{minute:02d}:00.000000Z"


def write_summary(directory: Path, run_id: str, **fields: Any) -> Path:
    """A summary as the writer makes it, with ``fields`` overriding the defaults."""
    document: dict[str, Any] = {
        "schema": "runlogger.summary/1",
        "run_id": run_id,
        "name": "job",
        "parent_run_id": None,
        "status": "completed",
        "start_time": at(0),
        "end_time": at(1),
        "updated_at": at(1),
        "duration_ms": 1000,
        "event_count": 3,
        "counts_by_level": {"INFO": 3},
        "counts_by_event_type": {},
        "error_count": 0,
        "warning_count": 0,
        "first_error": None,
        "exception": None,
        "signal": None,
        "logging_errors": 0,
        "suppressed_by_event_type": {},
        "progress": None,
        "exit_code": 0,
        "host": OTHER_HOST,
        "pid": 1,
        "argv": ["job.py"],
    }
    document.update(fields)
    path = directory / f"{run_id}.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def rewrite_in_place(path: Path, old: bytes, new: bytes) -> None:
    """Edit ``path`` as another tool might, leaving its inode, size and mtime as they were."""
    assert len(old) == len(new)
    before = path.stat()
    with open(path, "r+b") as stream:
        content = stream.read().replace(old, new)
        stream.seek(0)
        stream.write(content)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


# -- hostile payloads -----------------------------------------------------------------


def all_strings(value: object) -> Iterator[str]:
    """Every string in a JSON-like value, keys included, walked iteratively."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def nested_lists(depth: int) -> list[Any]:
    """``depth`` lists inside each other, built without recursion (it would fail first)."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def nested_dicts(depth: int) -> dict[str, Any]:
    """``depth`` dicts inside each other under the key ``child``, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"child": value}
    return value


#: Test-program code: ``sigterm_when_hand_over_is_taken()`` makes this process's SIGTERM
#: land exactly when its exit hand-over has just been taken (as ``Pool.terminate()``
#: signals workers already leaving through their finalizers).
SIGTERM_WHEN_HAND_OVER_IS_TAKEN = """
import os as _os, signal as _signal
from runlogger import _signals

def sigterm_when_hand_over_is_taken():
    take = _signals._take
    def take_then_sigterm():
        taken = take()
        if taken:
            _os.kill(_os.getpid(), _signal.SIGTERM)
        return taken
    _signals._take = take_then_sigterm
"""
