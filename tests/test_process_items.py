"""Seed parity: examples/process_items.py keeps the original batch job's command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support import REPO, python_command, read_jsonl, read_summary

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
    assert types[0] == "processing_started"
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
