"""The read side of the runs directory: the listing, its index, finding runs and events."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runlogger import _catalog, _index
from runlogger._catalog import INDEX_NAME, Query, list_runs
from runlogger._errors import CorruptSummaryError, RunNotFoundError
from support import OTHER_HOST, at, rewrite_in_place, write_summary


def write_events(path: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    lines = [json.dumps(event) + "\n" for event in events]
    path.write_text("".join(lines) + tail, encoding="utf-8")


def event(run_id: str, message: str, **fields: Any) -> dict[str, Any]:
    return {
        "timestamp": at(0),
        "level": "INFO",
        "logger": "job",
        "message": message,
        "run_id": run_id,
        **fields,
    }


def ids(listing: _catalog.Listing) -> list[str]:
    return [entry.run_id for entry in listing.entries()]


def age_index(directory: Path) -> None:
    """Pretend the index was written long after its files, so none of them is 'racy'."""
    complete = _index.load_index(directory / INDEX_NAME).complete()
    assert complete is not None
    assert _index.save_index(directory, *complete, 2**62)


# --------------------------------------------------------------------------- listing


def test_list_runs_orders_newest_first(tmp_path: Path) -> None:
    write_summary(tmp_path, "b", start_time=at(5))
    write_summary(tmp_path, "a", start_time=at(9))
    write_summary(tmp_path, "c", start_time=at(1))

    assert ids(list_runs(tmp_path)) == ["a", "b", "c"]


def test_list_runs_puts_runs_without_start_time_last(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", start_time=None)
    write_summary(tmp_path, "b", start_time=at(1))

    assert ids(list_runs(tmp_path)) == ["b", "a"]


def test_list_runs_ignores_dot_files_and_other_names(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    (tmp_path / ".a.json.1234.tmp").write_text("{", encoding="utf-8")
    (tmp_path / "not a run.json").write_text("{", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "dir.json").mkdir()

    listing = list_runs(tmp_path)

    assert (ids(listing), listing.problems) == (["a"], [])


def test_list_runs_skips_a_summary_deleted_between_listing_and_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_summary(tmp_path, "a")
    write_summary(tmp_path, "b", start_time=at(1))
    list_runs(tmp_path)
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: ["gone.json", *listdir(path)])

    listing = list_runs(tmp_path)

    assert (ids(listing), listing.problems) == (["b", "a"], [])


def test_list_runs_reports_corrupt_summary_and_skips_it(tmp_path: Path) -> None:
    write_summary(tmp_path, "good")
    (tmp_path / "bad.json").write_text('{"schema": "runlogger.summ', encoding="utf-8")

    listing = list_runs(tmp_path)

    assert ids(listing) == ["good"]
    assert [tmp_path / "bad.json"] == [problem.path for problem in listing.problems]
    assert "not valid JSON" in listing.problems[0].reason


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "x"}',
        '{"run_id": "package", "status": "completed"}',
        '{"schema": "other/1", "run_id": "package", "status": "failed"}',
        '[{"status": "completed"}]',
        "{torn",
        "\u00ff\u00fe binary",
    ],
)
def test_list_runs_ignores_json_that_is_no_summary_quietly(tmp_path: Path, content: str) -> None:
    """Only files claiming the summary schema are runs; a job's own JSON output is none."""
    write_summary(tmp_path, "good")
    (tmp_path / "package.json").write_text(content, encoding="latin-1")

    listing = list_runs(tmp_path)
    again = list_runs(tmp_path)  # and from the index

    assert (ids(listing), listing.problems) == (["good"], [])
    assert (ids(again), again.problems) == (["good"], [])


def test_list_runs_reports_a_summary_whose_run_id_is_not_its_file_name(tmp_path: Path) -> None:
    write_summary(tmp_path, "good")
    (tmp_path / "copy.json").write_bytes((tmp_path / "good.json").read_bytes())

    listing = list_runs(tmp_path)

    assert ids(listing) == ["good"]
    assert [(p.path.name, p.reason) for p in listing.problems] == [
        ("copy.json", "its run_id 'good' is not its file name")
    ]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_list_runs_reports_a_summary_holding_non_finite_numbers(tmp_path: Path, value: str) -> None:
    path = write_summary(tmp_path, "bad")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"duration_ms": 1000', f'"duration_ms": {value}'), "utf-8")

    listing = list_runs(tmp_path)

    assert ids(listing) == []
    assert [p.path.name for p in listing.problems] == ["bad.json"]
    assert "not valid JSON" in listing.problems[0].reason


def test_list_runs_tolerates_missing_and_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "sparse.json"
    path.write_text(
        json.dumps({"schema": "runlogger.summary/1", "run_id": "sparse", "future_key": [1, 2]}),
        encoding="utf-8",
    )

    (entry,) = list_runs(tmp_path).entries()

    assert (
        entry.run_id,
        entry.status,
        entry.duration_ms,
        entry.start_ts,
    ) == ("sparse", "unknown", None, None)


def test_corrupt_summary_is_reported_again_when_served_from_the_index(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('[{"schema": "runlogger.summary/1"}]', encoding="utf-8")
    list_runs(tmp_path)
    age_index(tmp_path)

    assert [tmp_path / "bad.json"] == [p.path for p in list_runs(tmp_path).problems]


# --------------------------------------------------------------------------- the index


def test_index_is_written_beside_the_summaries(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")

    listing = list_runs(tmp_path)

    assert listing.index_saved
    assert (tmp_path / INDEX_NAME).is_file()


def test_index_is_not_rewritten_when_nothing_changed(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    list_runs(tmp_path)
    age_index(tmp_path)

    assert not list_runs(tmp_path).index_saved


def test_index_is_not_created_for_an_empty_directory(tmp_path: Path) -> None:
    list_runs(tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_unchanged_directory_is_recognised_without_going_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        write_summary(tmp_path, name)
    list_runs(tmp_path)
    age_index(tmp_path)

    def row_by_row(*args: object) -> None:
        raise AssertionError("compared the index row by row")

    monkeypatch.setattr(_catalog, "_rows_to_reread", row_by_row)
    listing = list_runs(tmp_path)

    assert (sorted(ids(listing)), listing.index_saved) == (["a", "b", "c"], False)


def test_last_scan_matches_only_the_same_names_in_the_same_order() -> None:
    last_scan = _index.LastScan(2, b"a.json\nb.json", None)

    assert last_scan.has_files(["a.json", "b.json"])
    assert not last_scan.has_files(["b.json", "a.json"])
    assert not last_scan.has_files(["a.json\nb.json"])
    assert not last_scan.has_files(["a.json\nb.json", ""])
    assert not last_scan.has_files(["a.json"])


def test_index_reflects_a_modified_summary(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", status="running", duration_ms=10)
    list_runs(tmp_path)
    age_index(tmp_path)
    write_summary(tmp_path, "a", status="completed", duration_ms=99_000)

    (entry,) = list_runs(tmp_path).entries()

    assert (entry.status, entry.duration_ms) == ("completed", 99_000)


def test_index_reflects_an_atomically_replaced_summary_of_the_same_size_and_mtime(
    tmp_path: Path,
) -> None:
    """A rewrite by os.replace brings a new inode even when mtime and size match."""
    path = write_summary(tmp_path, "a", name="aaaa")
    list_runs(tmp_path)
    age_index(tmp_path)
    stat = path.stat()
    (tmp_path / "elsewhere").mkdir()
    replacement = write_summary(tmp_path / "elsewhere", "a", name="bbbb")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)

    (entry,) = list_runs(tmp_path).entries()

    assert entry.name == "bbbb"


def test_index_rereads_a_summary_rewritten_in_place_within_the_racy_window(
    tmp_path: Path,
) -> None:
    """Same inode, size and mtime: only the 'too recent to trust' rule catches this."""
    path = write_summary(tmp_path, "a", name="aaaa")
    list_runs(tmp_path)
    rewrite_in_place(path, b"aaaa", b"bbbb")

    (entry,) = list_runs(tmp_path).entries()

    assert entry.name == "bbbb"


def test_index_moves_a_summary_whose_start_time_changed(tmp_path: Path) -> None:
    for minute in (1, 2, 3):
        write_summary(tmp_path, f"r{minute}", start_time=at(minute))
    list_runs(tmp_path)
    age_index(tmp_path)
    write_summary(tmp_path, "r2", start_time=at(9))

    assert ids(list_runs(tmp_path)) == ["r2", "r3", "r1"]


def test_index_drops_a_summary_that_became_corrupt(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    write_summary(tmp_path, "b")
    list_runs(tmp_path)
    age_index(tmp_path)
    (tmp_path / "a.json").write_text('{"schema": "runlogger.sum', encoding="utf-8")

    listing = list_runs(tmp_path)

    assert (ids(listing), [p.path.name for p in listing.problems]) == (["b"], ["a.json"])


def test_index_drops_a_deleted_summary(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    write_summary(tmp_path, "b")
    list_runs(tmp_path)
    age_index(tmp_path)
    (tmp_path / "a.json").unlink()

    listing = list_runs(tmp_path)

    assert (ids(listing), listing.index_saved) == (["b"], True)


def test_index_adds_a_new_summary_in_order(tmp_path: Path) -> None:
    for minute in (1, 3, 5):
        write_summary(tmp_path, f"r{minute}", start_time=at(minute))
    list_runs(tmp_path)
    age_index(tmp_path)
    write_summary(tmp_path, "r4", start_time=at(4))
    write_summary(tmp_path, "r9", start_time=at(9))

    assert ids(list_runs(tmp_path)) == ["r9", "r5", "r4", "r3", "r1"]


def test_index_adds_many_new_summaries_in_order(tmp_path: Path) -> None:
    """Past a few hundred new rows the refresh sorts instead of inserting one by one."""
    write_summary(tmp_path, "first", start_time="2026-11-30T00:00:00Z")
    list_runs(tmp_path)
    age_index(tmp_path)
    for second in range(300):
        write_summary(
            tmp_path,
            f"r{second:03d}",
            start_time=f"2026-11-30T20:{second // 60:02d}:{second % 60:02d}Z",
        )

    expected = [f"r{second:03d}" for second in reversed(range(300))] + ["first"]
    assert expected == ids(list_runs(tmp_path))


def _truncated(index: bytes) -> bytes:
    return index[: len(index) - 3]


def _longer(index: bytes) -> bytes:
    return index + b"\x00"


def _more_rows_claimed(index: bytes) -> bytes:
    return index.replace(b'"rows": 1,', b'"rows": 2,', 1)


def _other_byte_order(index: bytes) -> bytes:
    other = b"big" if sys.byteorder == "little" else b"little"
    return index.replace(f'"byteorder": "{sys.byteorder}"'.encode(), b'"byteorder": "%s"' % other)


@pytest.mark.parametrize(
    "damage",
    [
        lambda index: b"",
        lambda index: b"garbage",
        lambda index: f'{{"format": "{_index.INDEX_FORMAT}"}}\n{{}}'.encode(),
        _truncated,
        _longer,
        _more_rows_claimed,
        _other_byte_order,
    ],
)
def test_corrupt_index_is_rebuilt_silently(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    write_summary(tmp_path, "a")
    list_runs(tmp_path)
    index = tmp_path / INDEX_NAME
    damaged = damage(index.read_bytes())
    assert damaged != index.read_bytes()
    index.write_bytes(damaged)

    listing = list_runs(tmp_path)

    assert (ids(listing), listing.problems, listing.index_saved) == (["a"], [], True)
    assert index.read_bytes().startswith(f'{{"format": "{_index.INDEX_FORMAT}"'.encode())


def test_tampered_index_fails_its_checksum_and_is_rebuilt(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", duration_ms=1000)
    list_runs(tmp_path)
    age_index(tmp_path)
    index = tmp_path / INDEX_NAME
    original = index.read_bytes()
    # The duration is stored as a 16-bit integer: make it 2000 without touching the header.
    header, body = original.split(b"\n", 1)
    tampered = body.replace((1000).to_bytes(2, sys.byteorder), (2000).to_bytes(2, sys.byteorder))
    assert tampered.count((2000).to_bytes(2, sys.byteorder)) == 1
    index.write_bytes(header + b"\n" + tampered)

    (entry,) = list_runs(tmp_path).entries()

    assert entry.duration_ms == 1000


def _edit_header(index: Path, edit: Callable[[dict[str, Any]], None], *, forge: bool) -> None:
    header_line, body = index.read_bytes().split(b"\n", 1)
    header = json.loads(header_line)
    edit(header)
    if forge:  # a valid checksum for the edited header, as a deliberate forger would write
        header["crc32"] = _index._checksum(header, body)
    index.write_bytes(json.dumps(header).encode("ascii") + b"\n" + body)


def _scan_as_signed(header: dict[str, Any]) -> None:
    """Read the scan order (a deferred column) as 'q' when it was written smaller."""
    spec = header["columns"][len(_index.COLUMNS)]
    assert spec[0] == "ints"
    assert spec[1] != "q"
    spec[1] = "q"


@pytest.mark.parametrize(
    "edit",
    [
        lambda header: header.update(scanned_ns=header["scanned_ns"] + 10**12),
        _scan_as_signed,
    ],
    ids=["scan-time", "typecode"],
)
def test_hand_edited_index_header_fails_its_checksum(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    write_summary(tmp_path, "a")
    list_runs(tmp_path)
    _edit_header(tmp_path / INDEX_NAME, edit, forge=False)

    assert _index.load_index(tmp_path / INDEX_NAME).columns["file"] == []
    listing = list_runs(tmp_path)
    assert (ids(listing), listing.index_saved) == (["a"], True)


def test_index_whose_keys_do_not_decode_is_rebuilt(tmp_path: Path) -> None:
    """Past a forged checksum, a bad deferred column still costs only a rebuild."""
    write_summary(tmp_path, "a", duration_ms=1000)
    write_summary(tmp_path, "b", duration_ms=2000)
    list_runs(tmp_path)
    write_summary(tmp_path, "b", duration_ms=3000)  # a change, so the keys are needed
    _edit_header(tmp_path / INDEX_NAME, _scan_as_signed, forge=True)
    assert _index.load_index(tmp_path / INDEX_NAME).complete() is None

    listing = list_runs(tmp_path)

    assert sorted((e.run_id, e.duration_ms) for e in listing.entries()) == [
        ("a", 1000),
        ("b", 3000),
    ]
    assert listing.index_saved


def test_index_of_the_previous_format_is_rebuilt(tmp_path: Path) -> None:
    """A JSON index as version 1 wrote it (valid, but stale here) is not read."""
    write_summary(tmp_path, "a", duration_ms=1000)
    columns = {column: [None] for column in _index.COLUMNS}
    info = (tmp_path / "a.json").stat()
    columns.update(
        file=["a.json"],
        inode=[info.st_ino],
        mtime_ns=[info.st_mtime_ns],
        size=[info.st_size],
        status=["completed"],
        duration_ms=[2000],
    )
    body = json.dumps({**columns, "scan": [0]}, separators=(",", ":")).encode("ascii")
    header = {
        "format": "runlogger.index/1",
        "scanned_ns": 2**62,
        "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
    }
    (tmp_path / INDEX_NAME).write_bytes(json.dumps(header).encode("ascii") + b"\n" + body)

    listing = list_runs(tmp_path)

    assert ([entry.duration_ms for entry in listing.entries()], listing.index_saved) == (
        [1000],
        True,
    )
    assert (
        (tmp_path / INDEX_NAME)
        .read_bytes()
        .startswith(f'{{"format": "{_index.INDEX_FORMAT}"'.encode())
    )


def test_index_keeps_every_kind_of_value_through_a_reload(tmp_path: Path) -> None:
    """Missing fields, huge integers, odd text: served from the index as read from the files."""
    write_summary(tmp_path, "plain")
    write_summary(
        tmp_path,
        "odd",
        name="line\nbreak \u6f22\u5b57 \udc80",
        status="running",
        duration_ms=2**70,
        event_count=-(2**63),
        error_count=None,
        host=None,
        pid=2**63,
        parent_run_id="plain",
        start_time="1969-12-31T23:59:59.5Z",
    )
    write_summary(tmp_path, "sparse", name=None, start_time=None, duration_ms=2.6)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    fresh = list_runs(tmp_path, save_index=False)
    list_runs(tmp_path)
    age_index(tmp_path)  # loads and saves the index again, as a later query would

    reloaded = list_runs(tmp_path)

    assert not reloaded.index_saved  # served from the index, not re-read
    assert (reloaded.entries(), reloaded.problems) == (fresh.entries(), fresh.problems)
    assert [entry.run_id for entry in fresh.entries()] == ["plain", "odd", "sparse"]


def test_unwritable_directory_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    write_summary(tmp_path, "a")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)

    listing = list_runs(tmp_path)

    assert (ids(listing), listing.index_saved) == (["a"], False)
    assert not (tmp_path / INDEX_NAME).exists()


def test_listing_can_defer_saving_the_index(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    listing = list_runs(tmp_path, save_index=False)
    assert not (tmp_path / INDEX_NAME).exists()

    assert listing.save_index()
    assert (tmp_path / INDEX_NAME).exists()


# --------------------------------------------------------------------------- selecting


def test_select_applies_every_filter(tmp_path: Path) -> None:
    write_summary(tmp_path, "keep", name="etl-a", duration_ms=6000, start_time=at(10))
    write_summary(tmp_path, "short", name="etl-a", duration_ms=100, start_time=at(10))
    write_summary(tmp_path, "early", name="etl-a", duration_ms=6000, start_time=at(1))
    write_summary(tmp_path, "other", name="report", duration_ms=6000, start_time=at(10))
    write_summary(tmp_path, "failed", name="etl-b", status="failed", duration_ms=6000)
    query = Query(
        statuses=frozenset({"completed"}),
        min_duration_ms=5000,
        max_duration_ms=60_000,
        since_ts=_catalog.parse_timestamp(at(5)),
        name="etl-*",
    )

    assert [e.run_id for e in list_runs(tmp_path).select(query)] == ["keep"]


def test_select_limit_keeps_the_newest(tmp_path: Path) -> None:
    for minute in range(5):
        write_summary(tmp_path, f"r{minute}", start_time=at(minute))

    selected = list_runs(tmp_path).select(Query(limit=2))

    assert [entry.run_id for entry in selected] == ["r4", "r3"]


def test_select_until_is_exclusive(tmp_path: Path) -> None:
    write_summary(tmp_path, "on", start_time=at(5))
    write_summary(tmp_path, "before", start_time=at(4))

    selected = list_runs(tmp_path).select(Query(until_ts=_catalog.parse_timestamp(at(5))))

    assert [entry.run_id for entry in selected] == ["before"]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_running_run_with_dead_process_on_this_host_is_lost(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=dead_pid())

    (entry,) = list_runs(tmp_path).select(Query())

    assert entry.status == "lost"


def test_running_run_with_live_process_stays_running(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=os.getpid())

    (entry,) = list_runs(tmp_path).select(Query(statuses=frozenset({"running"})))

    assert entry.status == "running"


def test_running_run_of_another_host_stays_running(tmp_path: Path) -> None:
    write_summary(tmp_path, "a", status="running", host=OTHER_HOST, pid=dead_pid())

    (entry,) = list_runs(tmp_path).select(Query())

    assert entry.status == "running"


def test_finished_run_is_never_lost() -> None:
    status = _catalog.effective_status("failed", socket.gethostname(), dead_pid())

    assert status == "failed"


# --------------------------------------------------------------------------- one run


def test_resolve_run_id_exact(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc")
    write_summary(tmp_path, "abcd")

    assert _catalog.resolve_run_id(tmp_path, "abc") == "abc"


def test_resolve_run_id_unique_prefix(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc-1")
    write_summary(tmp_path, "xyz-1")

    assert _catalog.resolve_run_id(tmp_path, "ab") == "abc-1"


def test_resolve_run_id_ambiguous_prefix_lists_candidates(tmp_path: Path) -> None:
    for n in range(12):
        write_summary(tmp_path, f"abc-{n:02d}")

    with pytest.raises(RunNotFoundError, match=r"ambiguous.*abc-00, abc-01.*and 2 more"):
        _catalog.resolve_run_id(tmp_path, "abc")


def test_resolve_run_id_unknown(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc")

    with pytest.raises(RunNotFoundError, match="no run matches 'zz'"):
        _catalog.resolve_run_id(tmp_path, "zz")


def test_resolve_run_id_refuses_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write_summary(tmp_path / "sub", "x")

    with pytest.raises(RunNotFoundError):
        _catalog.resolve_run_id(tmp_path, "sub/x")


def test_resolve_run_id_in_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _catalog.resolve_run_id(tmp_path / "nope", "x")


def test_load_summary_refuses_a_json_list(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"schema": "runlogger.summary/1"}]', encoding="utf-8")

    with pytest.raises(CorruptSummaryError, match="not a JSON object"):
        _catalog.load_summary(tmp_path / "a.json")


def collect(path: Path, run_id: str, whole_file: bool, directory: Path) -> list[str]:
    return [
        e.data["message"]
        for e in _catalog.read_events(
            path, run_id, whole_file=whole_file, directory=directory, on_corrupt=_fail
        )
    ]


def _fail(line_no: int, path: Path) -> None:
    raise AssertionError(f"unexpected corrupt line {line_no} of {path}")


def test_events_of_a_nested_run_are_found_in_the_parent_file(tmp_path: Path) -> None:
    top = write_summary(tmp_path, "top")
    child = json.loads(write_summary(tmp_path, "child", parent_run_id="top").read_text())
    write_events(
        tmp_path / "top.jsonl",
        [event("top", "t1"), event("child", "c1", parent_run_id="top"), event("top", "t2")],
    )

    path, whole = _catalog.find_events_file(tmp_path, "child", child)

    assert (tmp_path / "top.jsonl", False) == (path, whole)
    assert collect(path, "child", whole, tmp_path) == ["c1"]
    assert top.exists()


def test_events_of_grandchildren_are_included_even_if_the_child_logged_nothing(
    tmp_path: Path,
) -> None:
    write_summary(tmp_path, "top")
    child = json.loads(write_summary(tmp_path, "child", parent_run_id="top").read_text())
    write_summary(tmp_path, "grandchild", parent_run_id="child")
    write_events(
        tmp_path / "top.jsonl",
        [event("top", "t1"), event("grandchild", "g1", parent_run_id="child")],
    )

    path, whole = _catalog.find_events_file(tmp_path, "child", child)

    assert collect(path, "child", whole, tmp_path) == ["g1"]


def test_events_file_missing_everywhere(tmp_path: Path) -> None:
    write_summary(tmp_path, "top")
    child = json.loads(write_summary(tmp_path, "child", parent_run_id="top").read_text())

    with pytest.raises(RunNotFoundError, match="no events file"):
        _catalog.find_events_file(tmp_path, "child", child)


def test_events_parent_cycle_does_not_loop(tmp_path: Path) -> None:
    a = json.loads(write_summary(tmp_path, "a", parent_run_id="b").read_text())
    write_summary(tmp_path, "b", parent_run_id="a")

    with pytest.raises(RunNotFoundError):
        _catalog.find_events_file(tmp_path, "a", a)


def test_corrupt_event_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_events(
        path,
        [event("a", "one")],
        tail='[1]\n\n{"broken\n' + json.dumps(event("a", "two")) + '\n{"torn',
    )
    corrupt: list[int] = []

    messages = [
        e.data["message"]
        for e in _catalog.read_events(
            path,
            "a",
            whole_file=True,
            directory=tmp_path,
            on_corrupt=lambda line_no, _: corrupt.append(line_no),
        )
    ]

    assert (messages, corrupt) == (["one", "two"], [2, 4, 6])
