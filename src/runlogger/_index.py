"""The file format of the listing cache, ``.runlogger-index``: writing it and loading it.

``runlogger runs`` keeps the fields it lists in one file beside the summaries (see
``_catalog``), and loading it must take milliseconds at 100,000 runs: so it is compact,
held by column, mostly machine integers. It sits in a directory that others may write
to, so loading it runs no code (JSON and arrays of integers, nothing like pickle), and
a file that fails its CRC-32 or does not decode exactly as written counts as no index
at all. It is only ever a cache: the catalog rebuilds it from the summaries whenever
it is missing, damaged or of another format.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "COLUMNS",
    "INDEX_FORMAT",
    "INDEX_NAME",
    "Columns",
    "Index",
    "LastScan",
    "empty_columns",
    "load_index",
    "save_index",
]

INDEX_NAME = ".runlogger-index"
INDEX_FORMAT = "runlogger.index/3"  # 3: files that are no summary are kept quiet

# The index file is a JSON header line (format, scan time, number of rows, how each
# column is stored, a CRC-32 of the header and the rest) and then the columns: one per
# field below, rows newest first; "scan", the rows' positions in directory order; and
# the last scan, the file names and keys again in directory order. Columns, not a list
# of rows, because a column packs into one compact array (see _encode_column) and the
# filters run down one column at a time. The last scan lets an unchanged directory be
# recognised by comparing bytes (see LastScan), and "scan" finds what changed in a
# directory listed in the same order, without a dictionary of 100,000 keys.
COLUMNS = (
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
Columns = dict[str, list[Any]]


def empty_columns() -> Columns:
    return {column: [] for column in COLUMNS}


class LastScan(NamedTuple):
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

    def has_keys(self, inodes: list[int], mtimes: list[int], sizes: list[int]) -> bool:
        """Whether the scanned files have these inodes, mtimes and sizes, in this order."""
        if self.keys is None or len(inodes) != self.rows:
            return False
        for (typecode, data), values in zip(self.keys, (inodes, mtimes, sizes), strict=True):
            try:
                if array.array(typecode, values).tobytes() != data:
                    return False
            except OverflowError:  # a value the stored typecode cannot hold: it changed
                return False
        return True


_NO_SCAN = LastScan(0, None, None)
_KEYS = ("inode", "mtime_ns", "size")
#: Decoded only when a query needs them: see Index.
_DEFERRED = (*_KEYS, "scan")


class Index:
    """A loaded index: its columns, when its files were scanned, and its last scan.

    The file keys (inode, mtime, size) and the scan order stay undecoded until
    :meth:`complete` asks for them: a query that finds the directory as the index last
    saw it (see :class:`LastScan`) never does.
    """

    __slots__ = ("_deferred", "_rows", "_scan", "columns", "last_scan", "scanned_ns")

    def __init__(
        self,
        columns: Columns,
        scanned_ns: int = 0,
        last_scan: LastScan = _NO_SCAN,
        rows: int = 0,
        deferred: dict[str, tuple[Any, memoryview]] | None = None,
    ) -> None:
        self.columns = columns
        self.scanned_ns = scanned_ns
        self.last_scan = last_scan
        self._rows = rows
        self._deferred = deferred or {}
        self._scan: list[int] = []

    def complete(self) -> tuple[Columns, list[int]] | None:
        """Every column and the rows' positions in directory order; None if they do not decode."""
        if self._deferred:
            decoded: Columns = {}
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


def load_index(path: Path) -> Index:
    """The index's columns, when its files were scanned, and its last scan; empty if unusable.

    The first line is a small JSON header holding the layout of the rest and a CRC-32 of
    both: a truncated, bit-rotted or hand-edited index fails the check and is rebuilt, so
    data that passes can be trusted without checking 100,000 rows one by one. (The check
    is against accidents, not forgery: whoever can write the index can write its CRC.)
    """
    empty = Index(empty_columns())
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
            or header.get("format") != INDEX_FORMAT
            or header.get("byteorder") != sys.byteorder
            or header.get("crc32") != _checksum(header, body)
        ):
            return empty
        rows, scanned_ns, layout = header["rows"], header["scanned_ns"], header["columns"]
        if not isinstance(rows, int) or not isinstance(scanned_ns, int):
            return empty
        if not isinstance(layout, list) or len(layout) != len(COLUMNS) + 1 + 1 + len(_KEYS):
            return empty
        columns: Columns = {}
        deferred: dict[str, tuple[Any, memoryview]] = {}
        data = body
        for name, spec in zip((*COLUMNS, "scan"), layout[: len(COLUMNS) + 1], strict=True):
            if name in _DEFERRED:
                size = _segment_size(spec)
                if size > len(data):
                    return empty
                deferred[name], data = (spec, data[:size]), data[size:]
            else:
                columns[name], data = _decode_column(spec, data, rows)
        last_scan, data = _stored_scan(layout[len(COLUMNS) + 1 :], data, rows)
    except (OSError, ValueError, LookupError, TypeError):
        return empty
    if data:
        return empty
    return Index(columns, scanned_ns, last_scan, rows, deferred)


def _checksum(header: dict[str, Any], body: bytes | memoryview) -> int:
    """CRC-32 of the header's other fields and of the body, so that an edit of either shows."""
    fields = {name: value for name, value in header.items() if name != "crc32"}
    return zlib.crc32(body, zlib.crc32(json.dumps(fields, sort_keys=True).encode("ascii")))


def _stored_scan(layout: list[Any], data: memoryview, rows: int) -> tuple[LastScan, memoryview]:
    """The last scan as its segments were written (see save_index), and the data after it."""
    segments = []
    for spec in layout:
        size = _segment_size(spec)
        if size > len(data):
            raise ValueError("truncated")
        segments.append(bytes(data[:size]))
        data = data[size:]
    (files_spec, *key_specs), (files, *keys) = layout, segments
    return (
        LastScan(
            rows,
            files if files_spec[0] == "lines" else None,
            tuple((spec[1], key) for spec, key in zip(key_specs, keys, strict=True))
            if all(spec[0] == "ints" and spec[4] == 0 for spec in key_specs)
            else None,
        ),
        data,
    )


def save_index(directory: Path, columns: Columns, scan: list[int], scanned_ns: int) -> bool:
    """Replace the index atomically; False (and no error) when the directory is read-only.

    After the columns come the scanned files and their keys in directory order (a copy
    of what the columns hold, in another order), for :class:`LastScan`.
    """
    layout: list[list[Any]] = []
    parts: list[bytes] = []
    for name in (*COLUMNS, "scan"):
        spec, data = _encode_column(name, scan if name == "scan" else columns[name])
        layout.append(spec)
        parts.extend(data)
    for name in ("file", *_KEYS):
        values = columns[name]
        spec, data = _encode_column(name, [values[i] for i in scan])
        layout.append(spec)
        parts.extend(data)
    body = b"".join(parts)
    header = {
        "format": INDEX_FORMAT,
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
