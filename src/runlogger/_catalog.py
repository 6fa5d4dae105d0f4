"""Reading the runs directory: listing and filtering summaries, finding a run, its events.

This is the read side of the on-disk contract, used by ``runlogger runs`` and
``runlogger show``. Listing must stay fast with 100,000 summaries, and reading that many
JSON files takes seconds, so a cache of the fields the listing needs lives beside them
in ``.runlogger-index``. Each entry is keyed by the file's (inode, mtime_ns, size):
summaries are replaced atomically, so a rewrite always brings a new inode, and an
in-place edit changes the mtime. The index is only ever a cache: missing, corrupt,
stale or unwritable, the answer is the same, only slower.
"""

from __future__ import annotations

import array
import contextlib
import fnmatch
import json
import os
import stat
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ._durations import parse_timestamp
from ._errors import CorruptSummaryError, RunNotFoundError
from ._ids import _RUN_ID_RE

__all__ = [
    "INDEX_NAME",
    "STATUSES",
    "Event",
    "Listing",
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
]

INDEX_NAME = ".runlogger-index"
_INDEX_FORMAT = "runlogger.index/2"
_SUMMARY_SCHEMA_PREFIX = "runlogger.summary/"
#: Recorded statuses, plus ``lost``: a running run whose process is gone.
STATUSES = ("running", "completed", "failed", "terminated", "lost")
#: A file modified this close to the index's scan may change again within one tick of
#: the file system's clock without changing its mtime (git's "racy" entries): such
#: entries are read again rather than trusted.
_RACY_NS = 2_000_000_000
_AMBIGUOUS_SHOWN = 10

# The index file is a JSON header line (format, scan time, number of rows, how each
# column is stored, a CRC-32 of the header and the rest) and then the columns: one per
# field below, rows newest first; "scan", the rows' positions in directory order; and
# the last scan, the file names and keys again in directory order. Columns, not a list
# of rows, because a column packs into one compact array (see _encode_column) and the
# filters run down one column at a time. The last scan lets an unchanged directory be
# recognised by comparing bytes (see _LastScan), and "scan" finds what changed in a
# directory listed in the same order, without a dictionary of 100,000 keys.
_COLUMNS = (
    "file",
    "inode",
    "mtime_ns",
    "size",
    "error",
    "name",
    "status",
    "start_us",
    "duration_ms",
    "event_count",
    "error_count",
    "host",
    "pid",
    "parent_run_id",
)
_START = _COLUMNS.index("start_us")
#: Up to this many new or changed rows are inserted in place; more are sorted in.
_FEW_FRESH_ROWS = 256
_Row = tuple[Any, ...]
_Columns = dict[str, list[Any]]


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

    __slots__ = ("_columns", "_pending", "_valid", "index_saved", "problems")

    def __init__(
        self,
        columns: _Columns,
        problems: list[Problem],
        pending: tuple[Path, list[int], int] | None = None,
    ) -> None:
        self._columns = columns
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
        self.index_saved = _save_index(directory, self._columns, scan, scanned_ns)
        return self.index_saved

    def __len__(self) -> int:
        return len(self._valid)

    def entries(self) -> list[RunEntry]:
        """Every run as recorded (``running`` is not yet checked for ``lost``), newest first."""
        return self._gather(self._valid, {}).entries()

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
                status = effective_status("running", hosts[i], pids[i], this_host=host)
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
    """Read one summary; OSError passes through, bad content is CorruptSummaryError."""
    with open(path, "rb") as stream:
        raw = stream.read()
    document, reason = _decode_summary(raw)
    if document is None:
        raise CorruptSummaryError(f"unreadable summary {path}: {reason}")
    return document


def _decode_summary(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """Decode and sanity-check a summary; unknown extra keys are fine, a wrong schema is not."""
    try:
        document = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return None, f"not valid JSON ({exc})"
    if not isinstance(document, dict):
        return None, f"not a JSON object but {type(document).__name__}"
    schema = document.get("schema")
    if schema is not None and not (
        isinstance(schema, str) and schema.startswith(_SUMMARY_SCHEMA_PREFIX)
    ):
        return None, f"not a runlogger summary (schema {schema!r})"
    if schema is None and not isinstance(document.get("run_id"), str):
        return None, "not a runlogger summary (no schema and no run_id)"
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
    return (file, *key, reason, *([None] * (len(_COLUMNS) - 5)))


def _epoch_us(text: object) -> int | None:
    """A timestamp as integer microseconds: ints encode and decode far faster than floats."""
    epoch = parse_timestamp(text)
    return None if epoch is None else round(epoch * 1_000_000)


def _newest_first(row: _Row) -> tuple[bool, int, str]:
    start = row[_START]
    return (start is not None, start or 0, row[0])


# --------------------------------------------------------------------------- the index


def _empty_columns() -> _Columns:
    return {column: [] for column in _COLUMNS}


class _LastScan(NamedTuple):
    """The index's last scan in directory order, kept as stored: names, then the keys.

    A query compares the directory with it as bytes, which needs no list built from the
    index: the usual query, where nothing changed, never looks at the index row by row.
    """

    rows: int  # as many as the index has rows
    files: bytes | None  # the names, one a line; None if stored otherwise
    keys: tuple[tuple[str, bytes], ...] | None  # (typecode, data) per _KEYS; None if not ints

    def has_files(self, names: list[str]) -> bool:
        """Whether ``names`` are the scanned files, in the same order.

        As many names joining to the same text: no name can hold a newline then.
        """
        return (
            self.files is not None
            and len(names) == self.rows
            and "\n".join(names).encode("utf-8", "surrogateescape") == self.files
        )

    def has_keys(self, scan: _Scan) -> bool:
        """Whether every file of ``scan`` has the (inode, mtime, size) it had, in order."""
        if self.keys is None or len(scan.files) != self.rows:
            return False
        for (typecode, data), values in zip(
            self.keys, (scan.inodes, scan.mtimes, scan.sizes), strict=True
        ):
            try:
                if array.array(typecode, values).tobytes() != data:
                    return False
            except OverflowError:  # a value the stored typecode cannot hold: it changed
                return False
        return True


_NO_SCAN = _LastScan(0, None, None)
_KEYS = ("inode", "mtime_ns", "size")
#: Decoded only when a query needs them: see _Index.
_DEFERRED = (*_KEYS, "scan")


class _Index:
    """A loaded index: its columns, when its files were scanned, and its last scan.

    The file keys (inode, mtime, size) and the scan order stay undecoded until
    :meth:`complete` asks for them: a query that finds the directory as the index last
    saw it (see :class:`_LastScan`) never does.
    """

    __slots__ = ("_deferred", "_rows", "_scan", "columns", "last_scan", "scanned_ns")

    def __init__(
        self,
        columns: _Columns,
        scanned_ns: int = 0,
        last_scan: _LastScan = _NO_SCAN,
        rows: int = 0,
        deferred: dict[str, tuple[Any, memoryview]] | None = None,
    ) -> None:
        self.columns = columns
        self.scanned_ns = scanned_ns
        self.last_scan = last_scan
        self._rows = rows
        self._deferred = deferred or {}
        self._scan: list[int] = []

    def complete(self) -> tuple[_Columns, list[int]] | None:
        """Every column and the rows' positions in directory order; None if they do not decode."""
        if self._deferred:
            decoded: _Columns = {}
            try:
                for name, (spec, data) in self._deferred.items():
                    decoded[name], rest = _decode_column(spec, data, self._rows)
                    if rest:
                        return None
            except (ValueError, LookupError, TypeError):
                return None
            scan = decoded.pop("scan")
            if scan and (min(scan) < 0 or max(scan) >= self._rows):
                return None
            self.columns.update(decoded)
            self._scan, self._deferred = scan, {}
        return self.columns, self._scan


def _load_index(path: Path) -> _Index:
    """The index's columns, when its files were scanned, and its last scan; empty if unusable.

    The first line is a small JSON header holding the layout of the rest and a CRC-32 of
    both: a truncated, bit-rotted or hand-edited index fails the check and is rebuilt, so
    data that passes can be trusted without checking 100,000 rows one by one. (The check
    is against accidents, not forgery: whoever can write the index can write its CRC.)
    """
    empty = _Index(_empty_columns())
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
        newline = raw.find(b"\n")
        if newline < 0:
            return empty
        header = json.loads(raw[:newline])
        body = memoryview(raw)[newline + 1 :]  # a view: the columns are not copied
        if (
            not isinstance(header, dict)
            or header.get("format") != _INDEX_FORMAT
            or header.get("byteorder") != sys.byteorder
            or header.get("crc32") != _checksum(header, body)
        ):
            return empty
        rows, scanned_ns, layout = header["rows"], header["scanned_ns"], header["columns"]
        if not isinstance(rows, int) or not isinstance(scanned_ns, int):
            return empty
        if not isinstance(layout, list) or len(layout) != len(_COLUMNS) + 1 + 1 + len(_KEYS):
            return empty
        columns: _Columns = {}
        deferred: dict[str, tuple[Any, memoryview]] = {}
        data = body
        for name, spec in zip((*_COLUMNS, "scan"), layout[: len(_COLUMNS) + 1], strict=True):
            if name in _DEFERRED:
                size = _segment_size(spec)
                if size > len(data):
                    return empty
                deferred[name], data = (spec, data[:size]), data[size:]
            else:
                columns[name], data = _decode_column(spec, data, rows)
        last_scan, data = _stored_scan(layout[len(_COLUMNS) + 1 :], data, rows)
    except (OSError, ValueError, LookupError, TypeError):
        return empty
    if data:
        return empty
    return _Index(columns, scanned_ns, last_scan, rows, deferred)


def _checksum(header: dict[str, Any], body: bytes | memoryview) -> int:
    """CRC-32 of the header's other fields and of the body, so that an edit of either shows."""
    fields = {name: value for name, value in header.items() if name != "crc32"}
    return zlib.crc32(body, zlib.crc32(json.dumps(fields, sort_keys=True).encode("ascii")))


def _stored_scan(layout: list[Any], data: memoryview, rows: int) -> tuple[_LastScan, memoryview]:
    """The last scan as its segments were written (see _save_index), and the data after it."""
    segments = []
    for spec in layout:
        size = _segment_size(spec)
        if size > len(data):
            raise ValueError("truncated")
        segments.append(bytes(data[:size]))
        data = data[size:]
    (files_spec, *key_specs), (files, *keys) = layout, segments
    return (
        _LastScan(
            rows,
            files if files_spec[0] == "lines" else None,
            tuple((spec[1], key) for spec, key in zip(key_specs, keys, strict=True))
            if all(spec[0] == "ints" and spec[4] == 0 for spec in key_specs)
            else None,
        ),
        data,
    )


def _save_index(directory: Path, columns: _Columns, scan: list[int], scanned_ns: int) -> bool:
    """Replace the index atomically; False (and no error) when the directory is read-only.

    After the columns come the scanned files and their keys in directory order (a copy
    of what the columns hold, in another order), for :class:`_LastScan`.
    """
    layout: list[list[Any]] = []
    parts: list[bytes] = []
    for name in (*_COLUMNS, "scan"):
        spec, data = _encode_column(name, scan if name == "scan" else columns[name])
        layout.append(spec)
        parts.extend(data)
    for name in ("file", *_KEYS):
        spec, data = _encode_column(name, _in_order(columns[name], scan))
        layout.append(spec)
        parts.extend(data)
    body = b"".join(parts)
    header = {
        "format": _INDEX_FORMAT,
        "scanned_ns": scanned_ns,
        "rows": len(columns["file"]),
        "byteorder": sys.byteorder,
        "columns": layout,
    }
    header["crc32"] = _checksum(header, body)
    import tempfile  # only a changed index is written: a query that changed nothing skips this

    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{INDEX_NAME}.", suffix=".tmp", dir=directory)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(json.dumps(header).encode("ascii") + b"\n" + body)
        os.replace(tmp, directory / INDEX_NAME)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


# How a column is stored. The stdlib's JSON decoder makes an object per number and per
# string, which at 100,000 rows is most of a warm query's time, so the usual columns are
# stored as machine integers and as codes into the column's few distinct values:
#   ["ints", typecode, size, nulls typecode, nulls size]  an array of integers, then the
#       positions of the rows whose value is None (stored there as 0)
#   ["strings", size, codes typecode, codes size]  a JSON list of the distinct values
#       (strings or null), then each row's position in it
#   ["lines", size]  UTF-8 text, one value a line (file names, which hold no newline)
#   ["json", size]   a JSON list: whatever does not fit the above (integers of 64 bits
#       and more, say)
_INTEGER_COLUMNS = frozenset(
    {
        "inode",
        "mtime_ns",
        "size",
        "start_us",
        "duration_ms",
        "event_count",
        "error_count",
        "pid",
        "scan",
    }
)
_SIGNED_TYPECODES = "bhiq"
_UNSIGNED_TYPECODES = "BHIQ"


def _encode_column(name: str, values: list[Any]) -> tuple[list[Any], list[bytes]]:
    """How ``values`` is stored (see above) and its bytes, in the most compact kind that fits."""
    encoded: tuple[list[Any], list[bytes]] | None
    if name in _INTEGER_COLUMNS:
        encoded = _encode_integers(values)
    elif name == "file":
        encoded = _encode_lines(values)
    else:
        encoded = _encode_strings(values)
    if encoded is not None:
        return encoded
    data = json.dumps(values, separators=(",", ":")).encode("ascii")
    return ["json", len(data)], [data]


def _encode_integers(values: list[Any]) -> tuple[list[Any], list[bytes]] | None:
    nulls = [i for i, value in enumerate(values) if value is None] if None in values else []
    present = values if not nulls else [0 if value is None else value for value in values]
    packed = _pack(present, _SIGNED_TYPECODES)
    packed_nulls = _pack(nulls, _UNSIGNED_TYPECODES)
    if packed is None or packed_nulls is None:
        return None
    (typecode, data), (nulls_typecode, nulls_data) = packed, packed_nulls
    return ["ints", typecode, len(data), nulls_typecode, len(nulls_data)], [data, nulls_data]


def _encode_strings(values: list[Any]) -> tuple[list[Any], list[bytes]] | None:
    try:
        distinct = list(dict.fromkeys(values))
    except TypeError:  # unhashable values, from a JSON column
        return None
    if not all(value is None or type(value) is str for value in distinct):
        return None
    if len(distinct) == 1:  # one host, say: every code is 0
        typecode, codes = "B", bytes(len(values))
    else:
        code = {value: i for i, value in enumerate(distinct)}
        packed = _pack(list(map(code.__getitem__, values)), _UNSIGNED_TYPECODES)
        if packed is None:  # pragma: no cover - more than 2**64 distinct values
            return None
        typecode, codes = packed
    text = json.dumps(distinct, separators=(",", ":")).encode("ascii")
    return ["strings", len(text), typecode, len(codes)], [text, codes]


def _encode_lines(values: list[Any]) -> tuple[list[Any], list[bytes]] | None:
    try:
        text = "\n".join(values)
    except TypeError:  # not all strings
        return None
    if text.count("\n") != max(len(values) - 1, 0):
        return None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON can escape it
        return None
    return ["lines", len(data)], [data]


def _pack(values: list[Any], typecodes: str) -> tuple[str, bytes] | None:
    """Integers as the smallest array of ``typecodes`` that holds them; None if none does.

    None too for values that are not integers, which min, max or array refuse (the
    columns never hold bools, which array would take for integers).
    """
    try:
        low, high = min(values, default=0), max(values, default=0)
        for typecode in typecodes:
            bits = 8 * array.array(typecode).itemsize
            if typecode.isupper():
                fits = low >= 0 and high < 1 << bits
            else:
                fits = -(1 << (bits - 1)) <= low and high < 1 << (bits - 1)
            if fits:
                return typecode, array.array(typecode, values).tobytes()
    except TypeError:
        return None
    return None


def _decode_column(spec: Any, data: memoryview, rows: int) -> tuple[list[Any], memoryview]:
    """One column of ``rows`` values from the start of ``data``, and the data after it.

    Raises ValueError, LookupError or TypeError when ``spec`` or the data are not what
    :func:`_encode_column` writes.
    """
    kind = spec[0]
    values: list[Any]
    if kind == "ints":
        _, typecode, size, nulls_typecode, nulls_size = spec
        values = _integers(typecode, data[:size])
        for i in _unpack(nulls_typecode, data[size : size + nulls_size]):
            values[i] = None
        used = size + nulls_size
    elif kind == "strings":
        _, size, typecode, codes_size = spec
        distinct = json.loads(bytes(data[:size]))
        if not isinstance(distinct, list):
            raise TypeError("not a list")
        codes = _unpack(typecode, data[size : size + codes_size])
        if len(distinct) == 1 and not any(codes):  # one host, say: no lookups needed
            values = distinct * len(codes)
        else:
            values = [distinct[i] for i in codes]
        used = size + codes_size
    elif kind == "lines":
        used = spec[1]
        values = str(data[:used], "utf-8").split("\n") if rows else []
    elif kind == "json":
        used = spec[1]
        values = json.loads(bytes(data[:used]))
    else:
        raise ValueError(f"unknown column kind {kind!r}")
    if not isinstance(values, list) or len(values) != rows or len(data) < used:
        raise ValueError("wrong length")
    return values, data[used:]


def _segment_size(spec: Any) -> int:
    """How many bytes the column that ``spec`` describes takes."""
    kind = spec[0]
    if kind == "ints":
        return int(spec[2]) + int(spec[4])
    if kind == "strings":
        return int(spec[1]) + int(spec[3])
    if kind in ("lines", "json"):
        return int(spec[1])
    raise ValueError(f"unknown column kind {kind!r}")


def _integers(typecode: str, data: memoryview) -> list[Any]:
    """The integers :func:`_pack` stored, as a list (of Any: rows may be set to None)."""
    return _unpack(typecode, data).tolist()


def _unpack(typecode: str, data: memoryview) -> array.array[int]:
    """The integers :func:`_pack` stored, still as an array (codes need no list)."""
    if typecode not in _SIGNED_TYPECODES + _UNSIGNED_TYPECODES:
        raise ValueError(f"not an integer typecode: {typecode!r}")
    values = array.array(typecode)
    values.frombytes(data)  # ValueError unless a whole number of items
    return values


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
    old: _Columns, old_scan: list[int], scan: _Scan, trusted_before: int
) -> list[tuple[int, int]] | None:
    """(row, scan position) of the files to read again, or None if files came or went.

    The index remembers the directory order of its last scan, so when the same files
    are listed in the same order, finding what changed takes list comparisons (run in
    C) and no per-file dictionary: a checkpoint of a running run gets the one row it
    rewrote. (The usual query, where nothing changed, does not get here: see
    :class:`_LastScan`.)
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
    old: _Columns,
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
        for column, value in zip(_COLUMNS, row, strict=True):
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
    index = _load_index(directory / INDEX_NAME)
    trusted_before = index.scanned_ns - _RACY_NS
    scanned_ns = time.time_ns()
    names = _json_files(directory)
    last_scan = index.last_scan
    same_files = last_scan.has_files(names)
    known = index.columns["file"]
    scan = _stat_files(directory, names if same_files else _summary_files(names, known))
    if (
        same_files
        and last_scan.has_keys(scan)
        and max(scan.mtimes, default=trusted_before - 1) < trusted_before
    ):
        # The usual query: every file is as the index last saw it, none too recent to trust.
        return _listing(directory, index.columns, [], None, save_index=save_index)
    complete = index.complete()
    if complete is None:  # damaged past its checksum: start afresh
        complete, trusted_before = (_empty_columns(), []), -_RACY_NS
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
    columns: _Columns,
    problems: list[Problem],
    pending: tuple[Path, list[int], int] | None,
    *,
    save_index: bool,
) -> Listing:
    """The Listing of ``columns``, with the corrupt summaries they remember among its problems."""
    errors = columns["error"]
    if errors.count(None) != len(errors):
        for file, error in zip(columns["file"], errors, strict=True):
            if error is not None:
                problems.append(Problem(directory / file, error))
    problems.sort()
    listing = Listing(columns, problems, pending)
    if save_index:
        listing.save_index()
    return listing


def _refresh(
    directory: Path,
    old: _Columns,
    old_keys: dict[str, tuple[int, int, int]],
    current: dict[str, tuple[int, int, int]],
    trusted_before: int,
    problems: list[Problem],
) -> tuple[_Columns, bool]:
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
                if row is not None and row == tuple(old[column][i] for column in _COLUMNS):
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
            for column, value in zip(_COLUMNS, row, strict=True):
                columns[column].insert(at, value)
        return columns, True
    for at, column in enumerate(_COLUMNS):
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
    document, reason = _decode_summary(b"".join(chunks))
    if document is None:
        return _error_row(file, key, reason)
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


def effective_status(
    status: str, host: str | None, pid: int | None, *, this_host: str | None = None
) -> str:
    """``lost`` for a ``running`` run of this host whose process is gone, else ``status``.

    A run on another host cannot be checked from here, so it stays ``running``.
    """
    if status != "running" or pid is None or host is None:
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
    if (directory / f"{text}.json").is_file():
        return text
    matches = []
    with os.scandir(directory) as scan:
        for item in scan:
            name = item.name
            if name.startswith(text) and name.endswith(".json") and _RUN_ID_RE.fullmatch(name[:-5]):
                matches.append(name[:-5])
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
                data = json.loads(line)
            except ValueError:
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
        if members is not None and data.get("run_id") not in members:
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
