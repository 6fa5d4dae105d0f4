"""Reading the runs directory: listing and filtering summaries, finding a run, its events.

This is the read side of the on-disk contract, used by ``runlogger runs`` and
``runlogger show``. Listing must stay fast with 100,000 summaries, and reading that many
JSON files takes seconds, so a cache of the fields the listing needs lives beside them
in ``.runlogger-index``. Each entry is keyed by the file's (inode, mtime_ns, size):
summaries are replaced atomically, so a rewrite always brings a new inode, and an
in-place edit changes the mtime. The index is only ever a cache: missing, corrupt,
stale or unwritable, the answer is the same, only slower.

This module decides when an entry is fresh and brings the index up to date; the file
format itself (its columns, how they are encoded, its header and CRC-32) is in
``_index.py``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from . import _index
from ._durations import parse_timestamp
from ._errors import CorruptSummaryError, RunloggerError, RunNotFoundError
from ._ids import _RUN_ID_RE
from ._index import COLUMNS, INDEX_NAME, Columns, empty_columns

__all__ = [
    "INDEX_NAME",
    "STATUSES",
    "Event",
    "Listing",
    "NotASummaryError",
    "Problem",
    "Query",
    "RunColumns",
    "RunEntry",
    "effective_status",
    "find_events_file",
    "list_runs",
    "load_summary",
    "read_events",
    "resolve_run_id",
    "strict_json",
]

_SUMMARY_SCHEMA_PREFIX = "runlogger.summary/"
#: How an undecodable file shows it meant to be a summary: the schema's name in it, or
#: the key the writer puts first (a file torn anywhere after it).
_SCHEMA_MARK = b'"runlogger.summary/'
_SCHEMA_FIRST = re.compile(rb'\s*\{\s*"schema"')
#: Recorded statuses, plus ``lost``: a running run whose process is gone.
STATUSES = ("running", "completed", "failed", "terminated", "lost")
#: A file modified this close to the index's scan may change again within one tick of
#: the file system's clock without changing its mtime (git's "racy" entries): such
#: entries are read again rather than trusted.
_RACY_NS = 2_000_000_000
_AMBIGUOUS_SHOWN = 10
#: Up to this many files matching a prefix are read to leave out those that are no summary.
_FOREIGN_CHECKED = 100

_START = COLUMNS.index("start_us")
#: Up to this many new or changed rows are inserted in place; more are sorted in.
_FEW_FRESH_ROWS = 256
_Row = tuple[Any, ...]


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


class Listing:
    """The runs of one directory, newest first, and the summary files that were skipped.

    Held by column, as the index stores it: a query walks the columns it filters on and
    gathers the other columns only for the runs it returns.
    """

    __slots__ = ("_columns", "_pending", "_valid", "directory", "index_saved", "problems")

    def __init__(
        self,
        columns: Columns,
        problems: list[Problem],
        pending: tuple[Path, list[int], int] | None = None,
    ) -> None:
        self._columns = columns
        #: Where the summaries are, to read a running run's heartbeat (set by list_runs).
        self.directory: Path | None = None
        errors = columns["error"]
        if errors.count(None) == len(errors):  # the usual case: no corrupt summary
            self._valid = list(range(len(errors)))
        else:
            self._valid = [i for i, error in enumerate(errors) if error is None]
        self._pending = pending
        self.problems = problems
        self.index_saved = False

    def save_index(self) -> bool:
        """Write the refreshed index if the listing changed it; True if it was written now.

        Separate from listing so that a command can print first and save after: the
        answer reaches the user before the index write (a few hundred ms at 100,000 runs).
        """
        if self._pending is None:
            return False
        directory, scan, scanned_ns = self._pending
        self._pending = None
        self.index_saved = _index.save_index(directory, self._columns, scan, scanned_ns)
        return self.index_saved

    def __len__(self) -> int:
        return len(self._valid)

    def entries(self) -> list[RunEntry]:
        """Every run as recorded (``running`` is not yet checked for ``lost``), newest first."""
        return self._gather(self._valid, {}).entries()

    def _heartbeat(self, file: str) -> tuple[object, object]:
        """A running run's ``updated_at`` and ``checkpoint_interval_s`` (not indexed:
        they change at every checkpoint, and running runs are few)."""
        if self.directory is None:
            return None, None
        try:
            document = load_summary(self.directory / file)
        except (OSError, RunloggerError):
            return None, None
        return document.get("updated_at"), document.get("checkpoint_interval_s")

    def select(self, query: Query, *, this_host: str | None = None) -> list[RunEntry]:
        """The runs ``query`` keeps, as :meth:`select_columns` describes, one entry each."""
        return self.select_columns(query, this_host=this_host).entries()

    def select_columns(self, query: Query, *, this_host: str | None = None) -> RunColumns:
        """The runs ``query`` keeps, newest first, with ``lost`` derived for dead processes.

        Duration bounds compare the recorded ``duration_ms`` (for a running run: the
        duration at its last checkpoint); time bounds compare the start time, ``since``
        inclusive and ``until`` exclusive. A run whose value is unknown never passes a
        bound on that value.
        """
        columns = self._columns
        statuses = columns["status"]
        derived: dict[int, str] = {}
        if "running" in statuses:
            hosts, pids = columns["host"], columns["pid"]
            host = this_host if this_host is not None else _this_host()
            for i in [i for i in self._valid if statuses[i] == "running"]:
                updated_at, interval = self._heartbeat(columns["file"][i])
                status = effective_status(
                    "running",
                    hosts[i],
                    pids[i],
                    this_host=host,
                    updated_at=updated_at,
                    interval=interval,
                )
                if status != "running":
                    derived[i] = status
        keep = self._valid
        if query.statuses is not None:
            wanted = query.statuses
            keep = [i for i in keep if (derived.get(i) or statuses[i]) in wanted]
        low, high = query.min_duration_ms, query.max_duration_ms
        if low is not None or high is not None:
            keep = _within(keep, columns["duration_ms"], low, high)
        since, until = query.since_ts, query.until_ts
        if since is not None or until is not None:
            starts = columns["start_us"]
            since_ = float("-inf") if since is None else since * 1_000_000
            until_ = float("inf") if until is None else until * 1_000_000
            keep = [i for i in keep if starts[i] is not None and since_ <= starts[i] < until_]
        if query.name is not None:
            names = columns["name"]
            pattern = query.name
            if any(char in pattern for char in "*?["):
                keep = [
                    i
                    for i in keep
                    if names[i] is not None and fnmatch.fnmatchcase(names[i], pattern)
                ]
            else:
                keep = [i for i in keep if names[i] == pattern]
        if query.limit is not None:
            keep = keep[: query.limit]
        return self._gather(keep, derived)

    def _gather(self, positions: list[int], derived: dict[int, str]) -> RunColumns:
        columns = self._columns
        statuses = _in_order(columns["status"], positions)
        if derived:
            statuses = [
                derived.get(i, status) for i, status in zip(positions, statuses, strict=True)
            ]
        return RunColumns(
            [file[:-5] for file in _in_order(columns["file"], positions)],
            _in_order(columns["name"], positions),
            statuses,
            [
                None if start is None else start / 1_000_000
                for start in _in_order(columns["start_us"], positions)
            ],
            _in_order(columns["duration_ms"], positions),
            _in_order(columns["event_count"], positions),
            _in_order(columns["error_count"], positions),
            _in_order(columns["host"], positions),
            _in_order(columns["pid"], positions),
            _in_order(columns["parent_run_id"], positions),
        )


def _within(
    positions: list[int], durations: list[int | None], low: float | None, high: float | None
) -> list[int]:
    """The ``positions`` whose duration is known and within ``low``..``high`` (inclusive).

    One comparison per run where only one bound is given (the usual ``--min-duration``).
    """
    if low is not None and high is None:
        return [i for i in positions if (value := durations[i]) is not None and value >= low]
    if low is None and high is not None:
        return [i for i in positions if (value := durations[i]) is not None and value <= high]
    low_ = float("-inf") if low is None else low
    high_ = float("inf") if high is None else high
    return [i for i in positions if (value := durations[i]) is not None and low_ <= value <= high_]


# --------------------------------------------------------------------------- summaries


def load_summary(path: Path) -> dict[str, Any]:
    """Read one summary; OSError passes through, anything else is CorruptSummaryError.

    A file that does not claim the summary schema raises :class:`NotASummaryError` (a
    CorruptSummaryError), so a caller can tell "some other JSON file" from damage.
    """
    with open(path, "rb") as stream:
        raw = stream.read()
    document, reason = _decode_summary(raw, path.stem)
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


def _decode_summary(raw: bytes, stem: str) -> tuple[dict[str, Any] | None, str]:
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


def _as_int(value: object) -> int | None:
    """An integer field, tolerating floats; anything else (bools included) is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return round(value)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _row_from_summary(file: str, key: tuple[int, int, int], document: dict[str, Any]) -> _Row:
    status = document.get("status")
    return (
        file,
        *key,
        None,
        _as_str(document.get("name")),
        status if isinstance(status, str) and status else "unknown",
        _epoch_us(document.get("start_time")),
        _as_int(document.get("duration_ms")),
        _as_int(document.get("event_count")),
        _as_int(document.get("error_count")),
        _as_str(document.get("host")),
        _as_int(document.get("pid")),
        _as_str(document.get("parent_run_id")),
    )


def _error_row(file: str, key: tuple[int, int, int], reason: str) -> _Row:
    return (file, *key, reason, *([None] * (len(COLUMNS) - 5)))


def _epoch_us(text: object) -> int | None:
    """A timestamp as integer microseconds: ints encode and decode far faster than floats."""
    epoch = parse_timestamp(text)
    return None if epoch is None else round(epoch * 1_000_000)


def _newest_first(row: _Row) -> tuple[bool, int, str]:
    start = row[_START]
    return (start is not None, start or 0, row[0])


# --------------------------------------------------------------------------- the index


def _in_order(values: list[Any], positions: list[int]) -> list[Any]:
    """``values`` at ``positions``, in that order (both local names in the loop: it is hot)."""
    return [values[i] for i in positions]


def _json_files(directory: Path) -> list[str]:
    """The names in ``directory`` that end in ``.json``, in directory order."""
    return [name for name in os.listdir(directory) if name.endswith(".json")]


def _summary_files(names: list[str], indexed: list[str]) -> list[str]:
    """Those of ``names`` that may be summaries; names already ``indexed`` skip the id check."""
    known = set(indexed)
    is_run_id = _RUN_ID_RE.fullmatch
    return [
        name
        for name in names
        if name[0] != "." and (name in known or is_run_id(name[:-5]) is not None)
    ]


class _Scan(NamedTuple):
    """What stat says of the summary files, in directory order, as parallel lists."""

    files: list[str]
    inodes: list[int]
    mtimes: list[int]
    sizes: list[int]

    def keys(self) -> dict[str, tuple[int, int, int]]:
        return dict(
            zip(self.files, zip(self.inodes, self.mtimes, self.sizes, strict=True), strict=True)
        )


def _stat_files(directory: Path, names: list[str]) -> _Scan:
    """Stat each file; files deleted since the directory was read, and non-files, are left out.

    This is most of a query's time at 100,000 summaries, so the usual case (every file
    still there, all regular) runs as a list comprehension and picks the three fields
    out afterwards; only an error sends it file by file.
    """
    with _open_directory(directory) as directory_fd:
        try:
            # Relative to an open directory: no path to build and resolve 100,000 times.
            if directory_fd is None:  # pragma: no cover - Windows
                infos = [os.stat(directory / name) for name in names]
            else:
                infos = [os.stat(name, dir_fd=directory_fd) for name in names]
        except OSError:  # a file went away, or cannot be looked at: take the careful path
            return _stat_files_one_by_one(directory, directory_fd, names)
    if not all(map(stat.S_ISREG, [info.st_mode for info in infos])):
        regular = [k for k, info in enumerate(infos) if stat.S_ISREG(info.st_mode)]
        names = [names[k] for k in regular]
        infos = [infos[k] for k in regular]
    return _Scan(
        names,
        [info.st_ino for info in infos],
        [info.st_mtime_ns for info in infos],
        [info.st_size for info in infos],
    )


def _stat_files_one_by_one(directory: Path, directory_fd: int | None, names: list[str]) -> _Scan:
    scan = _Scan([], [], [], [])
    files, inodes, mtimes, sizes = scan
    for name in names:
        try:
            if directory_fd is None:  # pragma: no cover - Windows
                info = os.stat(directory / name)
            else:
                info = os.stat(name, dir_fd=directory_fd)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        files.append(name)
        inodes.append(info.st_ino)
        mtimes.append(info.st_mtime_ns)
        sizes.append(info.st_size)
    return scan


def _rows_to_reread(
    old: Columns, old_scan: list[int], scan: _Scan, trusted_before: int
) -> list[tuple[int, int]] | None:
    """(row, scan position) of the files to read again, or None if files came or went.

    The index remembers the directory order of its last scan, so when the same files
    are listed in the same order, finding what changed takes list comparisons (run in
    C) and no per-file dictionary: a checkpoint of a running run gets the one row it
    rewrote. (The usual query, where nothing changed, does not get here: see
    :class:`_index.LastScan`.)
    """
    if _in_order(old["file"], old_scan) != scan.files:
        return None
    mtimes = _in_order(old["mtime_ns"], old_scan)
    inodes = _in_order(old["inode"], old_scan)
    sizes = _in_order(old["size"], old_scan)
    return [
        (old_scan[k], k)
        for k, mtime in enumerate(mtimes)
        if mtime >= trusted_before
        or mtime != scan.mtimes[k]
        or inodes[k] != scan.inodes[k]
        or sizes[k] != scan.sizes[k]
    ]


def _update_in_place(
    directory: Path,
    old: Columns,
    reread: list[tuple[int, int]],
    scan: _Scan,
    problems: list[Problem],
) -> bool | None:
    """Re-read rows whose place in the order cannot move; whether any changed, None if not so.

    A checkpoint rewrites a summary but not its start time, so its row keeps its place
    and is overwritten where it is. Anything else (a start time that moved, a file that
    became unreadable or corrupt) returns None for the general refresh, before touching
    ``old``.
    """
    fresh: list[tuple[int, _Row]] = []
    with _open_directory(directory) as directory_fd:
        for row_index, k in reread:
            key = (scan.inodes[k], scan.mtimes[k], scan.sizes[k])
            row = _read_row(directory, directory_fd, scan.files[k], key, problems)
            if row is None or row[_START] is None or row[_START] != old["start_us"][row_index]:
                return None
            fresh.append((row_index, row))
    changed = False
    for row_index, row in fresh:
        for column, value in zip(COLUMNS, row, strict=True):
            values = old[column]
            if values[row_index] != value:
                values[row_index] = value
                changed = True
    return changed


def list_runs(directory: Path, *, save_index: bool = True) -> Listing:
    """Every run summary in ``directory``, newest first, served from the index where it is fresh.

    Files are re-read only when new, changed (inode, mtime or size) or too recent to
    trust; entries of deleted files are dropped; the index is rewritten only when that
    changed something. A summary that is not valid is reported in ``problems`` (and the
    verdict cached, keyed like any entry); one that cannot be opened is reported but not
    cached, since fixing its permissions does not change its mtime. With ``save_index``
    false the caller saves it later with :meth:`Listing.save_index` (after printing).
    """
    index = _index.load_index(directory / INDEX_NAME)
    trusted_before = index.scanned_ns - _RACY_NS
    scanned_ns = time.time_ns()
    names = _json_files(directory)
    last_scan = index.last_scan
    same_files = last_scan.has_files(names)
    known = index.columns["file"]
    scan = _stat_files(directory, names if same_files else _summary_files(names, known))
    if (
        same_files
        and last_scan.has_keys(scan.inodes, scan.mtimes, scan.sizes)
        and max(scan.mtimes, default=trusted_before - 1) < trusted_before
    ):
        # The usual query: every file is as the index last saw it, none too recent to trust.
        return _listing(directory, index.columns, [], None, save_index=save_index)
    complete = index.complete()
    if complete is None:  # damaged past its checksum: start afresh
        complete, trusted_before = (empty_columns(), []), -_RACY_NS
    old, old_scan = complete
    problems: list[Problem] = []
    columns, scan_order = old, old_scan
    racy = bool(old["mtime_ns"]) and max(old["mtime_ns"]) >= trusted_before
    reread = _rows_to_reread(old, old_scan, scan, trusted_before)
    changed: bool | None = False
    if reread:
        changed = _update_in_place(directory, old, reread, scan, problems)
    if reread is None or changed is None:
        problems.clear()
        old_keys = dict(
            zip(
                old["file"],
                zip(old["inode"], old["mtime_ns"], old["size"], strict=True),
                strict=True,
            )
        )
        columns, changed = _refresh(directory, old, old_keys, scan.keys(), trusted_before, problems)
        position = {file: i for i, file in enumerate(columns["file"])}
        scan_order = [position[file] for file in scan.files if file in position]
    save = False
    if reread or reread is None:
        # Racy entries that were re-read unchanged stop being racy once the index is
        # rewritten with a later scan time, so rewrite it then, even if nothing changed.
        settled = not columns["mtime_ns"] or max(columns["mtime_ns"]) < scanned_ns - _RACY_NS
        save = bool(changed) or scan_order != old_scan or (racy and settled)
    pending = (directory, scan_order, scanned_ns) if save else None
    return _listing(directory, columns, problems, pending, save_index=save_index)


def _listing(
    directory: Path,
    columns: Columns,
    problems: list[Problem],
    pending: tuple[Path, list[int], int] | None,
    *,
    save_index: bool,
) -> Listing:
    """The Listing of ``columns``, with the corrupt summaries they remember among its problems."""
    errors = columns["error"]
    if errors.count(None) != len(errors):
        for file, error in zip(columns["file"], errors, strict=True):
            if error:  # "" marks a file that is no summary: skipped quietly
                problems.append(Problem(directory / file, error))
    problems.sort()
    listing = Listing(columns, problems, pending)
    listing.directory = directory
    if save_index:
        listing.save_index()
    return listing


def _refresh(
    directory: Path,
    old: Columns,
    old_keys: dict[str, tuple[int, int, int]],
    current: dict[str, tuple[int, int, int]],
    trusted_before: int,
    problems: list[Problem],
) -> tuple[Columns, bool]:
    """The columns brought up to date with ``current``, and whether anything changed.

    Only new, changed and racy files are read. Rows are dropped and inserted column by
    column, so one new summary among 100,000 costs a binary search and a few list
    inserts, not a rebuild and re-sort of every row.
    """
    to_read = [
        file
        for file, key in current.items()
        if key[1] >= trusted_before or old_keys.get(file) != key
    ]
    stale = old_keys.keys() - current.keys()  # deleted files
    replacements: list[_Row] = []
    position: dict[str, int] | None = None
    with _open_directory(directory) as directory_fd:
        for file in to_read:
            row = _read_row(directory, directory_fd, file, current[file], problems)
            if file in old_keys:
                if position is None:
                    position = {name: i for i, name in enumerate(old["file"])}
                i = position[file]
                if row is not None and row == tuple(old[column][i] for column in COLUMNS):
                    continue  # a racy file read again, unchanged
                stale.add(file)
            if row is not None:
                replacements.append(row)
    if not stale and not replacements:
        return old, False
    columns = {column: list(values) for column, values in old.items()}
    if not stale:
        pass
    elif len(stale) <= _FEW_FRESH_ROWS:
        if position is None:
            position = {name: i for i, name in enumerate(old["file"])}
        for i in sorted((position[file] for file in stale), reverse=True):
            for values in columns.values():
                del values[i]
    else:
        keep = [i for i, file in enumerate(old["file"]) if file not in stale]
        columns = {column: [values[i] for i in keep] for column, values in old.items()}
    files, starts = columns["file"], columns["start_us"]
    if len(replacements) <= _FEW_FRESH_ROWS:
        # The usual refresh (a new run, a checkpoint): a binary search and a list insert
        # per row beat re-sorting 100,000 rows.
        for row in replacements:
            at = _insertion_point(files, starts, row)
            for column, value in zip(COLUMNS, row, strict=True):
                columns[column].insert(at, value)
        return columns, True
    for at, column in enumerate(COLUMNS):
        columns[column].extend(row[at] for row in replacements)
    order = sorted(
        range(len(files)),
        key=lambda i: (starts[i] is not None, starts[i] or 0, files[i]),
        reverse=True,
    )
    return {column: [values[i] for i in order] for column, values in columns.items()}, True


def _insertion_point(files: list[str], starts: list[int | None], row: _Row) -> int:
    """Where ``row`` goes among rows sorted newest first (the order of :func:`_newest_first`)."""
    key = _newest_first(row)
    low, high = 0, len(files)
    while low < high:
        middle = (low + high) // 2
        start = starts[middle]
        if (start is not None, start or 0, files[middle]) > key:
            low = middle + 1
        else:
            high = middle
    return low


@contextlib.contextmanager
def _open_directory(directory: Path) -> Iterator[int | None]:
    """A descriptor of ``directory`` for ``dir_fd`` calls, or None where they are unsupported."""
    if os.open not in os.supports_dir_fd:  # pragma: no cover - Windows
        yield None
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def _read_row(
    directory: Path,
    directory_fd: int | None,
    file: str,
    key: tuple[int, int, int],
    problems: list[Problem],
) -> _Row | None:
    """A summary's index row, keyed as stat saw it; None (and maybe a problem) if unusable."""
    try:
        if directory_fd is None:  # pragma: no cover - Windows
            fd = os.open(directory / file, os.O_RDONLY)
        else:
            fd = os.open(file, os.O_RDONLY, dir_fd=directory_fd)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            chunks = [os.read(fd, info.st_size + 1)]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
    except OSError as exc:
        problems.append(Problem(directory / file, exc.strerror or str(exc), unreadable=True))
        return None
    # Key the row by what was read, not by the earlier stat: a rewrite in between then
    # shows up as a change on the next query instead of hiding behind the old key.
    key = (info.st_ino, info.st_mtime_ns, info.st_size)
    document, reason = _decode_summary(b"".join(chunks), file[:-5])
    if document is None:
        return _error_row(file, key, reason)  # reason "": not a summary, kept quiet
    return _row_from_summary(file, key, document)


# --------------------------------------------------------------------------- lost runs


def _pid_alive(pid: int) -> bool:
    """Whether a process exists; only a definite 'no such process' counts as dead."""
    if pid <= 0 or sys.platform == "win32":  # os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


def _this_host() -> str:
    """This machine's name, as the summary writer records it in ``host``."""
    import socket  # only asked for when a run is recorded as running

    return socket.gethostname()


#: A running run whose checkpoint is older than this many of its heartbeat intervals
#: (``checkpoint_interval_s``) is lost: its process refreshes it every interval.
STALE_INTERVALS = 3


def effective_status(
    status: str,
    host: str | None,
    pid: int | None,
    *,
    this_host: str | None = None,
    updated_at: object = None,
    interval: object = None,
    now: float | None = None,
) -> str:
    """``lost`` for a ``running`` run that is dead, else ``status``.

    Dead means: its summary records a heartbeat interval and its last checkpoint
    (``updated_at``) is older than :data:`STALE_INTERVALS` of them -- this works across
    hosts --, or it ran on this host and its process is gone. A run on another host
    without a heartbeat (an older writer) cannot be checked, so it stays ``running``.
    """
    if status != "running":
        return status
    if (
        isinstance(interval, (int, float))
        and not isinstance(interval, bool)
        and interval > 0
        and isinstance(updated_at, str)
    ):
        updated_us = _epoch_us(updated_at)
        current = time.time() if now is None else now
        if updated_us is not None and current - updated_us / 1e6 > STALE_INTERVALS * interval:
            return "lost"
    if pid is None or host is None:
        return status
    if host != (this_host if this_host is not None else _this_host()):
        return status
    return status if _pid_alive(pid) else "lost"


# --------------------------------------------------------------------------- one run


def resolve_run_id(directory: Path, text: str) -> str:
    """The run id ``text`` names in ``directory``: itself, or the one run it is a prefix of.

    Raises RunNotFoundError for no match or an ambiguous prefix (listing candidates),
    and FileNotFoundError when the directory itself does not exist.
    """
    if not directory.is_dir():
        raise FileNotFoundError(2, "no such directory", str(directory))
    if not _RUN_ID_RE.fullmatch(text):  # also keeps '../x' from reaching the file system
        raise RunNotFoundError(f"no run matches {text!r} in {directory}")
    exact = directory / f"{text}.json"
    if exact.is_file() and not _foreign(exact):
        return text
    matches = []
    with os.scandir(directory) as scan:
        for item in scan:
            name = item.name
            if name.startswith(text) and name.endswith(".json") and _RUN_ID_RE.fullmatch(name[:-5]):
                matches.append(name[:-5])
    if len(matches) <= _FOREIGN_CHECKED:  # more is ambiguous anyway: not worth reading them
        matches = [match for match in matches if not _foreign(directory / f"{match}.json")]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFoundError(f"no run matches {text!r} in {directory}")
    matches.sort()
    shown = ", ".join(matches[:_AMBIGUOUS_SHOWN])
    more = len(matches) - _AMBIGUOUS_SHOWN
    tail = f" and {more} more" if more > 0 else ""
    raise RunNotFoundError(
        f"{text!r} is ambiguous in {directory}: it matches {shown}{tail}; give more of the id"
    )


def _foreign(path: Path) -> bool:
    """Whether ``path`` is some other JSON file, not a summary (damaged or unreadable: no)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return False
    document, reason = _decode_summary(raw, path.stem)
    return document is None and not reason


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
    while isinstance(parent, str) and _RUN_ID_RE.fullmatch(parent) and parent not in seen:
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
            elif _RUN_ID_RE.fullmatch(current):
                current = parents[current] = _parent_of(directory, current)
            else:
                current = None
        if current is not None and current in members:
            members.update(chain)
    return members
