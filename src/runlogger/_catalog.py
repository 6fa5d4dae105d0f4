"""Reading runs from disk: summaries, the rule of what is one, events files.

The read side of the on-disk contract. Listing and finding runs is the SQL run
catalog's business (``_cmd_query``, ``_cmd_sync``); what is here decides what a summary
file is -- only a file that claims the summary schema and whose ``run_id`` is its file
name -- and reads one run's events, following nested runs into their parent's file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ._errors import CorruptSummaryError, RunNotFoundError
from ._ids import RUN_ID_RE

__all__ = [
    "STATUSES",
    "Event",
    "NotASummaryError",
    "Problem",
    "Query",
    "RunColumns",
    "RunEntry",
    "decode_summary",
    "find_events_file",
    "load_summary",
    "read_events",
    "strict_json",
]

_SUMMARY_SCHEMA_PREFIX = "runlogger.summary/"
#: How an undecodable file shows it meant to be a summary: the schema's name in it, or
#: the key the writer puts first (a file torn anywhere after it).
_SCHEMA_MARK = b'"runlogger.summary/'
_SCHEMA_FIRST = re.compile(rb'\s*\{\s*"schema"')
#: Recorded statuses, plus ``lost``: a running run whose process is gone.
STATUSES = ("running", "completed", "failed", "terminated", "lost")


class RunEntry(NamedTuple):
    """What a listing knows of one run, from its summary (or the index)."""

    run_id: str
    name: str | None
    status: str
    start_ts: float | None
    duration_ms: int | None
    event_count: int | None
    error_count: int | None
    host: str | None
    pid: int | None
    parent_run_id: str | None


# Records are NamedTuples rather than dataclasses: importing dataclasses (and inspect)
# and building the classes cost ``runlogger runs`` more time than anything it prints.


class Problem(NamedTuple):
    """A summary file a listing skipped: corrupt content, or (``unreadable``) no access."""

    path: Path
    reason: str
    unreadable: bool = False


class Query(NamedTuple):
    """The ``runs`` filters; None means "no constraint"."""

    statuses: frozenset[str] | None = None
    min_duration_ms: float | None = None
    max_duration_ms: float | None = None
    since_ts: float | None = None
    until_ts: float | None = None
    name: str | None = None
    limit: int | None = None


class Event(NamedTuple):
    """One line of an events file: its number, its text as written, and its decoded object."""

    line_no: int
    text: str
    data: dict[str, Any]


class RunColumns:
    """Runs as parallel lists, one per :class:`RunEntry` field, newest first.

    What a query returns when the caller goes down columns (``runs`` renders 50,000 rows
    one column at a time), so no object is built per run.
    """

    __slots__ = RunEntry._fields

    def __init__(
        self,
        run_id: list[str],
        name: list[str | None],
        status: list[str],
        start_ts: list[float | None],
        duration_ms: list[int | None],
        event_count: list[int | None],
        error_count: list[int | None],
        host: list[str | None],
        pid: list[int | None],
        parent_run_id: list[str | None],
    ) -> None:
        self.run_id = run_id
        self.name = name
        self.status = status
        self.start_ts = start_ts
        self.duration_ms = duration_ms
        self.event_count = event_count
        self.error_count = error_count
        self.host = host
        self.pid = pid
        self.parent_run_id = parent_run_id

    def __len__(self) -> int:
        return len(self.run_id)

    def entries(self) -> list[RunEntry]:
        """The same runs as one :class:`RunEntry` each."""
        fields = [getattr(self, field) for field in RunEntry._fields]
        return list(map(RunEntry._make, zip(*fields, strict=True)))


# --------------------------------------------------------------------------- summaries


def load_summary(path: Path) -> dict[str, Any]:
    """Read one summary; OSError passes through, anything else is CorruptSummaryError.

    A file that does not claim the summary schema raises :class:`NotASummaryError` (a
    CorruptSummaryError), so a caller can tell "some other JSON file" from damage.
    """
    with open(path, "rb") as stream:
        raw = stream.read()
    document, reason = decode_summary(raw, path.stem)
    if document is None:
        if not reason:
            raise NotASummaryError(f"{path} is not a runlogger summary")
        raise CorruptSummaryError(f"unreadable summary {path}: {reason}")
    return document


class NotASummaryError(CorruptSummaryError):
    """A ``.json`` file beside the summaries that is no summary (it does not claim the schema)."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value - value != 0:  # inf (NaN cannot come from a JSON number)
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def strict_json(raw: bytes | str) -> Any:
    """Decode JSON as RFC 8259 has it: NaN, Infinity and numbers beyond a double are refused.

    Python's decoder accepts them by default, and what is read here is printed again as
    JSON (``runs --json``, ``show --json``): accepted, they would come out as invalid
    JSON. Raises ValueError (nesting too deep for the decoder included).
    """
    try:
        return _STRICT_DECODER.decode(raw if isinstance(raw, str) else raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None


#: Built once: ``json.loads`` with options builds a decoder per call, which at 100,000
#: summaries costs more than the decoding.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _claims_schema(raw: bytes) -> bool:
    return _SCHEMA_MARK in raw or _SCHEMA_FIRST.match(raw) is not None


def decode_summary(raw: bytes, stem: str) -> tuple[dict[str, Any] | None, str]:
    """The summary in ``raw`` (the file ``stem``.json), or None and why it is not one.

    Only a file that claims the summary schema is a summary: other JSON files in the
    directory (a job's output, a copy of its status line) are not runs, and the reason
    is empty then, so they are skipped without a word. A file that claims the schema
    (or, undecodable, holds its name) but is damaged, or whose ``run_id`` is not its
    file name, is reported.
    """
    try:
        document = strict_json(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError too
        return None, f"not valid JSON ({exc})" if _claims_schema(raw) else ""
    if not isinstance(document, dict):
        if _claims_schema(raw):
            return None, f"not a JSON object but {type(document).__name__}"
        return None, ""
    schema = document.get("schema")
    if not (isinstance(schema, str) and schema.startswith(_SUMMARY_SCHEMA_PREFIX)):
        return None, ""
    run_id = document.get("run_id")
    if run_id != stem:
        return None, f"its run_id {run_id!r} is not its file name"
    return document, ""


# --------------------------------------------------------------------------- one run


def find_events_file(directory: Path, run_id: str, summary: dict[str, Any]) -> tuple[Path, bool]:
    """Where the run's events are, and whether that file is the run's own.

    A nested run logs into the file of the run it is nested in, so when ``<run_id>.jsonl``
    does not exist the parents' files are tried, nearest first, using each parent's
    summary to go one level further up.
    """
    own = directory / f"{run_id}.jsonl"
    if own.is_file():
        return own, True
    seen = {run_id}
    parent = summary.get("parent_run_id")
    while isinstance(parent, str) and RUN_ID_RE.fullmatch(parent) and parent not in seen:
        seen.add(parent)
        candidate = directory / f"{parent}.jsonl"
        if candidate.is_file():
            return candidate, False
        parent = _parent_of(directory, parent)
    raise RunNotFoundError(f"no events file for run {run_id!r} in {directory}")


def _parent_of(directory: Path, run_id: str) -> str | None:
    try:
        document = load_summary(directory / f"{run_id}.json")
    except (OSError, CorruptSummaryError):
        return None
    parent = document.get("parent_run_id")
    return parent if isinstance(parent, str) else None


def _decoded_lines(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | None]]:
    """(line number, raw line, object or None if corrupt) for each non-blank line."""
    with open(path, "rb") as stream:
        for line_no, raw in enumerate(stream, 1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                data = strict_json(line)
            except ValueError:  # torn, not UTF-8, NaN, too deep: not an event as written
                data = None
            yield line_no, line, data if isinstance(data, dict) else None


def read_events(
    path: Path,
    run_id: str,
    *,
    whole_file: bool,
    directory: Path,
    on_corrupt: Callable[[int, Path], None],
) -> Iterator[Event]:
    """The events of ``run_id`` and of the runs nested in it, in file order.

    In the run's own file every line belongs to it (nested runs included). In a parent's
    file only the run's lines and its descendants' are kept; descendants are found from
    each line's ``parent_run_id`` (a first pass), falling back to their summaries for a
    run that logged nothing itself. Corrupt or torn lines go to ``on_corrupt`` and are
    skipped, so one bad write never hides the rest of the log.
    """
    members: set[str] | None = None
    if not whole_file:
        members = _descendants(path, run_id, directory)
    for line_no, raw, data in _decoded_lines(path):
        if data is None:
            on_corrupt(line_no, path)
            continue
        if members is not None:
            line_run = data.get("run_id")
            if not isinstance(line_run, str) or line_run not in members:
                continue
        yield Event(line_no, raw.decode("utf-8", "replace"), data)


def _descendants(path: Path, run_id: str, directory: Path) -> set[str]:
    parents: dict[str, str | None] = {}
    for _, _, data in _decoded_lines(path):
        if data is None:
            continue
        line_run = data.get("run_id")
        if isinstance(line_run, str) and line_run not in parents:
            parent = data.get("parent_run_id")
            parents[line_run] = parent if isinstance(parent, str) else None
    members = {run_id}
    for candidate in parents:
        chain: list[str] = []
        current: str | None = candidate
        while current is not None and current not in members and current not in chain:
            chain.append(current)
            if current in parents:
                current = parents[current]
            elif RUN_ID_RE.fullmatch(current):
                current = parents[current] = _parent_of(directory, current)
            else:
                current = None
        if current is not None and current in members:
            members.update(chain)
    return members
