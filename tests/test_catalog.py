"""The read side of the runs directory: the listing, its index, finding runs and events."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from runlogger import _catalog
from runlogger._catalog import Problem, Query, RunEntry
from runlogger._catalog_schema import derive_status
from runlogger._cmd_query import find_run, select_runs
from runlogger._durations import parse_timestamp
from runlogger._errors import CorruptSummaryError, RunNotFoundError
from support import OTHER_HOST, at, write_summary


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


class Listed(NamedTuple):
    """The runs of a directory as the catalog lists them, and what its first sync skipped."""

    runs: list[RunEntry]
    problems: list[Problem]
    directory: Path

    def select(self, query: Query) -> list[RunEntry]:
        selection = select_runs(
            self.directory, None, query, host=None, with_summaries=False, report=_ignore
        )
        return selection.columns.entries()


def _ignore(_problem: Problem) -> None:
    pass


def list_runs(directory: Path) -> Listed:
    """``runs`` without filters: the directory is catalogued on its first query."""
    problems: list[Problem] = []
    selection = select_runs(
        directory, None, Query(), host=None, with_summaries=False, report=problems.append
    )
    return Listed(selection.columns.entries(), problems, directory)


def ids(listing: Listed) -> list[str]:
    return [entry.run_id for entry in listing.runs]


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

    (entry,) = list_runs(tmp_path).runs

    assert (
        entry.run_id,
        entry.status,
        entry.duration_ms,
        entry.start_ts,
    ) == ("sparse", "unknown", None, None)


def test_an_unwritable_directory_is_listed_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_summary(tmp_path, "a")
    (tmp_path / ".runlogger-index").write_bytes(b"legacy")
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode: False if Path(path) == tmp_path else real_access(path, mode),
    )

    listing = list_runs(tmp_path)

    assert ids(listing) == ["a"]
    assert not (tmp_path / "runlogger.sqlite3").exists()
    assert (tmp_path / ".runlogger-index").exists()  # not ours to remove there


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
        since_ts=parse_timestamp(at(5)),
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

    selected = list_runs(tmp_path).select(Query(until_ts=parse_timestamp(at(5))))

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
    host = socket.gethostname()
    status = derive_status("failed", host, dead_pid(), 0.0, 30, this_host=host)

    assert status == "failed"


# --------------------------------------------------------------------------- one run


def test_find_run_exact(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc")
    write_summary(tmp_path, "abcd")

    assert find_run(tmp_path, None, "abc", _ignore)["run_id"] == "abc"


def test_find_run_unique_prefix(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc-1")
    write_summary(tmp_path, "xyz-1")

    assert find_run(tmp_path, None, "ab", _ignore)["run_id"] == "abc-1"


def test_find_run_ambiguous_prefix_lists_candidates(tmp_path: Path) -> None:
    for n in range(12):
        write_summary(tmp_path, f"abc-{n:02d}")

    with pytest.raises(RunNotFoundError, match=r"ambiguous.*abc-00, abc-01.*and more"):
        find_run(tmp_path, None, "abc", _ignore)


def test_find_run_unknown(tmp_path: Path) -> None:
    write_summary(tmp_path, "abc")

    with pytest.raises(RunNotFoundError, match="no run matches 'zz'"):
        find_run(tmp_path, None, "zz", _ignore)


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
