"""``runlogger show``: one run's summary and events, mostly through main() in-process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runlogger._cli import main
from support import at, python_command, write_summary


def event(run_id: str, message: str, level: str = "INFO", **fields: Any) -> dict[str, Any]:
    return {
        "timestamp": at(0),
        "level": level,
        "logger": "job.part",
        "message": message,
        "run_id": run_id,
        **fields,
    }


def write_events(path: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + tail, encoding="utf-8")


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def show(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["show", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def event_messages(out: str) -> list[str]:
    """The messages of readable event lines (``timestamp level logger message ...``)."""
    lines = out.split("\nevents (", 1)[1].splitlines()[1:]
    return [line.split(" job.part ", 1)[1].split()[0] for line in lines if " job.part " in line]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "COLUMNS", "RUNLOGGER_DIR", "TERM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def full_run(tmp_path: Path) -> Path:
    write_summary(
        tmp_path,
        "20261130T210000-abc",
        name="nightly-etl",
        status="failed",
        duration_ms=245_000,
        event_count=120,
        error_count=2,
        warning_count=1,
        counts_by_level={"ERROR": 2, "INFO": 117, "WARNING": 1},
        counts_by_event_type={"item_processed": 98, "run_started": 1},
        suppressed_by_event_type={"item_processed": 50},
        first_error={
            "timestamp": at(0),
            "logger": "etl.load",
            "message": "row 17 rejected",
            "exc_type": "ValueError",
        },
        exception={"type": "RuntimeError", "message": "gave up"},
        signal="SIGTERM",
        logging_errors=4,
        progress={"done": 98, "total": 100, "rate": 2.5},
        exit_code=1,
        argv=["etl.py", "--date", "2026 11 30"],
    )
    return tmp_path


# --------------------------------------------------------------------------- the summary


def test_show_prints_the_summary_as_key_value_lines(
    full_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = show(capsys, "20261130T210000-abc", "--dir", str(full_run), "--utc")

    assert (code, err) == (0, "")
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" "):
            fields[key] = value.strip()
    assert fields["run id"] == "20261130T210000-abc"
    assert fields["name"] == "nightly-etl"
    assert fields["status"] == "failed"
    assert fields["started"] == "2026-11-30 21:00:00.000 (UTC)"
    assert fields["duration"] == "4m05s (245000 ms)"
    assert fields["events"] == "120"
    assert fields["errors"] == "2"
    assert fields["exit code"] == "1"
    assert fields["signal"] == "SIGTERM"
    assert fields["exception"] == "RuntimeError: gave up"
    assert fields["logging errors"] == "4"
    assert fields["progress"] == "98/100 (98%), 2.5/s"
    assert fields["argv"] == "etl.py --date '2026 11 30'"


def test_show_lists_counts_by_level_in_severity_order(
    full_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = show(capsys, "20261130T210000-abc", "--dir", str(full_run))

    section = out.split("counts by level:\n", 1)[1].splitlines()[:3]
    assert [line.split() for line in section] == [["INFO", "117"], ["WARNING", "1"], ["ERROR", "2"]]


def test_show_lists_counts_by_event_type_and_first_error(
    full_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = show(capsys, "20261130T210000-abc", "--dir", str(full_run))

    assert "counts by event type:\n  item_processed  98\n  run_started     1\n" in out
    assert "suppressed by event type:\n  item_processed  50\n" in out
    assert "  logger:   etl.load\n  exc_type: ValueError\n  message:  row 17 rejected\n" in out


def test_show_tolerates_a_sparse_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sparse.json").write_text(
        '{"schema": "runlogger.summary/1", "run_id": "sparse", "new": 1}', encoding="utf-8"
    )

    code, out, _ = show(capsys, "sparse", "--dir", str(tmp_path))

    assert code == 0
    assert "status:" in out
    assert "first error:" in out


def test_show_json_prints_the_summary_object(
    full_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = show(capsys, "20261130T210000-abc", "--dir", str(full_run), "--json")

    document = json.loads(out)
    assert (code, document["run_id"], document["signal"]) == (0, "20261130T210000-abc", "SIGTERM")


def test_show_derives_lost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=dead_pid())

    _, out, _ = show(capsys, "a", "--dir", str(tmp_path), "--json")

    assert json.loads(out)["status"] == "lost"


def test_show_keeps_running_for_a_live_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=os.getpid())

    _, out, _ = show(capsys, "a", "--dir", str(tmp_path), "--json")

    assert json.loads(out)["status"] == "running"


# --------------------------------------------------------------------------- finding the run


def test_show_accepts_a_unique_prefix(full_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(full_run, "20261201T000000-xyz")

    code, out, _ = show(capsys, "20261130", "--dir", str(full_run), "--json")

    assert (code, json.loads(out)["run_id"]) == (0, "20261130T210000-abc")


def test_show_ambiguous_prefix_lists_candidates_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "run-1")
    write_summary(tmp_path, "run-2")

    code, out, err = show(capsys, "run", "--dir", str(tmp_path))

    assert (code, out) == (2, "")
    assert err.startswith("runlogger: 'run' is ambiguous")
    assert "run-1, run-2" in err
    assert err.count("\n") == 1


def test_show_unknown_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "run-1")

    code, out, err = show(capsys, "nope", "--dir", str(tmp_path))

    assert (code, out, err) == (2, "", f"runlogger: no run matches 'nope' in {tmp_path}\n")


def test_show_in_a_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = show(capsys, "x", "--dir", str(tmp_path / "nope"))

    assert (code, err) == (2, f"runlogger: no such directory: {tmp_path / 'nope'}\n")


def test_show_corrupt_summary_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text('{"schema": "runlogger.summary/1",', encoding="utf-8")

    code, _, err = show(capsys, "bad", "--dir", str(tmp_path))

    assert code == 2
    assert err.startswith(f"runlogger: unreadable summary {tmp_path / 'bad.json'}: not valid JSON")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- events


@pytest.fixture
def run_with_events(tmp_path: Path) -> Path:
    write_summary(tmp_path, "a")
    write_events(
        tmp_path / "a.jsonl",
        [
            event("a", "starting", event_type="run_started"),
            event("a", "detail", level="DEBUG"),
            event("a", "item", event_type="item_processed"),
            event("a", "careful", level="WARNING"),
            event("a", "broken", level="ERROR", exc_info="Traceback\nValueError: x"),
            event("a", "custom", level="Level 25"),
        ],
    )
    return tmp_path


def test_show_events_prints_readable_lines(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = show(capsys, "a", "--dir", str(run_with_events), "--events")

    assert code == 0
    assert "2026-11-30T21:00:00.000000Z INFO     job.part starting [run_started]" in out
    assert event_messages(out) == ["starting", "detail", "item", "careful", "broken", "custom"]
    assert "    Traceback\n    ValueError: x\n" in out


def test_show_events_json_prints_the_lines_as_written(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = show(capsys, "a", "--dir", str(run_with_events), "--events", "--json")

    written = (run_with_events / "a.jsonl").read_text(encoding="utf-8").splitlines()
    assert out.splitlines() == written


@pytest.mark.parametrize("level", ["warning", "WARNING", "Warn", "30"])
def test_show_events_level_keeps_that_level_and_above(
    run_with_events: Path, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    _, out, _ = show(capsys, "a", "--dir", str(run_with_events), "--level", level)

    assert event_messages(out) == ["careful", "broken"]


def test_show_events_level_compares_unnamed_levels_by_number(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = show(capsys, "a", "--dir", str(run_with_events), "--level", "21")

    assert event_messages(out) == ["careful", "broken", "custom"]


def test_show_events_bad_level_exits_2(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = show(capsys, "a", "--dir", str(run_with_events), "--level", "loud")

    assert (code, err.count("\n")) == (2, 1)
    assert "unknown level 'loud'" in err


def test_show_events_filters_by_event_type(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--dir", str(run_with_events), "--event-type", "item_processed", "--json"]
    _, out, _ = show(capsys, "a", *args)

    assert [json.loads(line)["message"] for line in out.splitlines()] == ["item"]


def test_show_events_of_a_nested_run_come_from_the_parent_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "top")
    write_summary(tmp_path, "child", parent_run_id="top")
    write_events(
        tmp_path / "top.jsonl",
        [
            event("top", "outer"),
            event("child", "inner", parent_run_id="top"),
            event("top", "outer-again"),
        ],
    )

    code, out, _ = show(capsys, "child", "--dir", str(tmp_path), "--events", "--json")

    assert (code, [json.loads(line)["message"] for line in out.splitlines()]) == (0, ["inner"])


def test_show_events_of_a_top_run_include_nested_runs_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "top")
    write_events(
        tmp_path / "top.jsonl",
        [event("top", "outer"), event("child", "inner", parent_run_id="top")],
    )

    _, out, _ = show(capsys, "top", "--dir", str(tmp_path), "--events")

    assert "job.part inner (run child)" in out


def test_show_events_reports_a_torn_last_line_and_goes_on(
    run_with_events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events_file = run_with_events / "a.jsonl"
    with open(events_file, "a", encoding="utf-8") as stream:
        stream.write('{"timestamp": "2026-11-30T21:0')

    code, out, err = show(capsys, "a", "--dir", str(run_with_events), "--events", "--json")

    assert (code, len(out.splitlines())) == (0, 6)
    assert err == f"runlogger: skipped corrupt line 7 of {events_file}\n"


def test_show_events_reports_each_corrupt_line_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")
    write_events(
        tmp_path / "a.jsonl",
        [event("a", "one")],
        tail="oops\n" + json.dumps(event("a", "two")) + "\n{\n",
    )

    _, out, err = show(capsys, "a", "--dir", str(tmp_path), "--events", "--json")

    assert len(out.splitlines()) == 2
    assert err.splitlines() == [
        f"runlogger: skipped corrupt line 2 of {tmp_path / 'a.jsonl'}",
        f"runlogger: skipped corrupt line 4 of {tmp_path / 'a.jsonl'}",
    ]


def test_show_events_without_an_events_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")

    code, out, err = show(capsys, "a", "--dir", str(tmp_path), "--events")

    assert (code, out) == (2, "")
    assert err == f"runlogger: no events file for run 'a' in {tmp_path}\n"


# --------------------------------------------------------------------------- real processes


def test_subprocess_show_prints_the_summary(full_run: Path) -> None:
    result = python_command(
        "-m", "runlogger", "show", "20261130T21", "--dir", str(full_run), cwd=full_run
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert "run id:         20261130T210000-abc" in result.stdout


def test_subprocess_show_unknown_run_exits_2(tmp_path: Path) -> None:
    result = python_command("-m", "runlogger", "show", "nope", "--dir", str(tmp_path), cwd=tmp_path)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"runlogger: no run matches 'nope' in {tmp_path}\n"


def test_show_leaves_out_json_files_that_are_no_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make demo`` once kept ``last-run.json`` beside the run it describes."""
    write_summary(tmp_path, "lately-1")
    (tmp_path / "last-run.json").write_text('{"run_id": "lately-1", "status": "completed"}')

    code, out, err = show(capsys, "la", "--dir", str(tmp_path), "--json")
    assert (code, err, json.loads(out)["run_id"]) == (0, "", "lately-1")

    code, out, err = show(capsys, "last-run", "--dir", str(tmp_path))
    assert (code, out, err) == (2, "", f"runlogger: no run matches 'last-run' in {tmp_path}\n")
