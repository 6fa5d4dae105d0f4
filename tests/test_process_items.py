"""Seed parity: examples/process_items.py keeps the original batch job's command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support import REPO, clean_env, python_command, read_jsonl, read_summary

SCRIPT = REPO / "examples" / "process_items.py"


def _job(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = python_command(
        str(SCRIPT), "--log-dir", str(tmp_path / "runs"), *args, cwd=tmp_path, timeout=120
    )
    printed = json.loads(result.stdout)
    assert list(printed) == ["run_id", "status", "events"]
    return result, printed


def _input(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "items.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_processes_each_non_empty_line(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n\nb\n  c  \n")
    result, printed = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == [
        {"index": 0, "item": "a", "processed": True},
        {"index": 1, "item": "b", "processed": True},
        {"index": 2, "item": "c", "processed": True},
    ]
    summary = read_summary(tmp_path / "runs", printed["run_id"])
    assert printed["status"] == summary["status"] == "completed"
    assert printed["events"] == summary["event_count"]
    assert summary["counts_by_event_type"]["item_processed"] == 3
    assert summary["counts_by_event_type"]["processing_started"] == 1
    assert summary["counts_by_event_type"]["processing_completed"] == 1
    assert summary["exit_code"] == 0


def test_events_surround_the_items_in_order(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\nb\n")
    _, printed = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"))
    events = read_jsonl(tmp_path / "runs" / f"{printed['run_id']}.jsonl")
    types = [e.get("event_type") for e in events]
    assert types[:2] == ["run_started", "processing_started"]
    assert types[-2:] == ["processing_completed", "run_finished"]
    assert types.count("item_processed") == 2
    assert {e["run_id"] for e in events} == {printed["run_id"]}
    summary = read_summary(tmp_path / "runs", printed["run_id"])
    assert summary["event_count"] == len(events)


def test_missing_input_fails_and_still_writes_the_summary(tmp_path: Path) -> None:
    result, printed = _job(
        tmp_path, "--input", str(tmp_path / "absent.txt"), "--output", str(tmp_path / "o.json")
    )
    assert result.returncode != 0
    assert printed["status"] == "failed"
    summary = read_summary(tmp_path / "runs", printed["run_id"])
    assert summary["status"] == "failed"
    assert summary["error_count"] == 1
    assert "absent.txt" in summary["first_error"]["message"]
    assert not (tmp_path / "o.json").exists()


def test_empty_input_warns_and_completes(tmp_path: Path) -> None:
    items = _input(tmp_path, "\n   \n")
    result, printed = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"))
    assert result.returncode == 0
    summary = read_summary(tmp_path / "runs", printed["run_id"])
    assert (summary["status"], summary["warning_count"]) == ("completed", 1)
    assert json.loads((tmp_path / "o.json").read_text()) == []


def test_log_copies_the_summary_and_run_id_is_used(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    result, printed = _job(
        tmp_path,
        "--input",
        str(items),
        "--output",
        str(tmp_path / "o.json"),
        "--log",
        str(tmp_path / "summary.json"),
        "--run-id",
        "batch-42",
    )
    assert result.returncode == 0
    assert printed["run_id"] == "batch-42"
    copied = json.loads((tmp_path / "summary.json").read_text())
    assert copied == read_summary(tmp_path / "runs", "batch-42")


def test_readable_lines_go_to_stderr(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    result, printed = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"))
    assert f"[{printed['run_id']}] processing started" in result.stderr
    assert not result.stderr.lstrip().startswith("{")


def test_bad_run_id_is_a_usage_error(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    result = python_command(
        str(SCRIPT), "--input", str(items), "--output", "o.json", "--run-id", "../x", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Invalid run id" in result.stderr


# --- bad input ends as a failed run, never a traceback ---------------------------------


def _failed_cleanly(
    tmp_path: Path, result: subprocess.CompletedProcess[str], printed: dict[str, Any]
) -> dict[str, Any]:
    """The run failed as a missing input does: one ERROR line, status line, run log, summary."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert printed["status"] == "failed"
    error_lines = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(error_lines) == 1, result.stderr
    summary = read_summary(tmp_path / "runs", printed["run_id"])
    assert (summary["status"], summary["error_count"], summary["exit_code"]) == ("failed", 1, 1)
    assert error_lines[0].endswith(summary["first_error"]["message"])
    events = read_jsonl(tmp_path / "runs" / f"{printed['run_id']}.jsonl")
    assert events[-1]["event_type"] == "run_finished"
    assert printed["events"] == summary["event_count"] == len(events)
    assert "item_processed" not in summary["counts_by_event_type"]
    return summary


def test_unknown_level_fails_the_run_with_one_line(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    result, printed = _job(
        tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"), "--level", "bogus"
    )
    summary = _failed_cleanly(tmp_path, result, printed)
    assert "unknown level 'bogus' for --level" in summary["first_error"]["message"]
    assert not (tmp_path / "o.json").exists()


def test_level_is_taken_by_name_in_any_case_or_number(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    for level in ("warning", "30"):
        result, printed = _job(
            tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"), "--level", level
        )
        assert (result.returncode, printed["status"]) == (0, "completed")
        assert "processing started" not in result.stderr  # INFO is below the level


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("missing/summary.json", "No such file or directory"),
        (".", "Is a directory"),
        ("items.txt/summary.json", "Not a directory"),
    ],
)
def test_log_that_cannot_be_written_fails_the_run_before_the_work(
    tmp_path: Path, log: str, reason: str
) -> None:
    items = _input(tmp_path, "a\n")
    result, printed = _job(
        tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"), "--log", log
    )
    summary = _failed_cleanly(tmp_path, result, printed)
    assert summary["first_error"]["message"] == f"cannot write log {log}: {reason}"
    assert not (tmp_path / "o.json").exists()


def test_log_gets_the_summary_of_a_failed_run_too(tmp_path: Path) -> None:
    _, printed = _job(
        tmp_path,
        "--input",
        str(tmp_path / "absent.txt"),
        "--output",
        str(tmp_path / "o.json"),
        "--log",
        str(tmp_path / "copy.json"),
    )
    assert printed["status"] == "failed"
    copied = json.loads((tmp_path / "copy.json").read_text(encoding="utf-8"))
    assert copied == read_summary(tmp_path / "runs", printed["run_id"])


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"alpha\nbr\xffavo\n", "not UTF-8 text (byte 0xff at line 2, byte offset 8)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text (byte 0x89 at line 1, byte offset 0)"),
        (b"a\nb\nc\x00d\n", "binary data, not text (a NUL byte at line 3, byte offset 5)"),
        ("ok\n\u00e9t\u00e9\n".encode("latin-1"), "(byte 0xe9 at line 2, byte offset 3)"),
    ],
)
def test_input_that_is_not_utf8_text_fails_with_where(
    tmp_path: Path, content: bytes, where: str
) -> None:
    items = tmp_path / "items.bin"
    items.write_bytes(content)
    result, printed = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"))
    summary = _failed_cleanly(tmp_path, result, printed)
    message = summary["first_error"]["message"]
    assert message.startswith(f"cannot read input {items}: ")
    assert message.endswith(where)
    assert not (tmp_path / "o.json").exists()


def test_utf8_input_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_bytes(b"\xef\xbb\xbfa\nb\n")
    result, _ = _job(tmp_path, "--input", str(items), "--output", str(tmp_path / "o.json"))
    assert result.returncode == 0
    assert [r["item"] for r in json.loads((tmp_path / "o.json").read_text())] == ["a", "b"]


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("missing/dir/o.json", "directory missing/dir is missing"),
        ("items.txt/o.json", "items.txt is not a directory"),
        (".", "it is a directory"),
    ],
)
def test_output_that_cannot_be_written_fails_the_run_before_the_work(
    tmp_path: Path, output: str, reason: str
) -> None:
    items = _input(tmp_path, "a\nb\n")
    result, printed = _job(tmp_path, "--input", str(items), "--output", output)
    summary = _failed_cleanly(tmp_path, result, printed)
    assert summary["first_error"]["message"] == f"cannot write output {output}: {reason}"
    assert not (tmp_path / "missing").exists()


def test_unusable_log_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    items = _input(tmp_path, "a\n")
    result = python_command(
        str(SCRIPT),
        "--input",
        str(items),
        "--output",
        "o.json",
        "--log-dir",
        "items.txt/runs",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("process_items: cannot log to items.txt/runs: ")
    assert result.stderr.count("\n") == 1


def test_log_in_a_read_only_directory_fails_the_run(tmp_path: Path) -> None:
    """Permission bits apply to root too once CAP_DAC_OVERRIDE is dropped (setpriv)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing to drop DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    items = _input(tmp_path, "a\n")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = subprocess.run(
        [
            *prefix,
            sys.executable,
            str(SCRIPT),
            *("--log-dir", str(tmp_path / "runs"), "--input", str(items), "--output", "o.json"),
            *("--log", "locked/summary.json"),
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 0:
        pytest.skip("the directory stayed writable: permission bits are not enforced here")
    summary = _failed_cleanly(tmp_path, result, json.loads(result.stdout))
    assert summary["first_error"]["message"] == (
        "cannot write log locked/summary.json: Permission denied"
    )
