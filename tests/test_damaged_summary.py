"""A damaged summary is repaired on the next write, never a wedge for the rest of its run.

Each test damages a running summary the way a hand edit or a buggy tool would, then a
process that joins the run writes its counts, then the owner finishes the run: both
writes must succeed, keep every valid count and leave strict JSON behind.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from runlogger._store import repair_summary
from support import parse_line, read_jsonl, run_python

OWNER = """
import json, logging, os, subprocess, sys
import runlogger
root = logging.getLogger(); root.setLevel(logging.INFO)
events = runlogger.RunFileHandler("runs"); events.addFilter(runlogger.RunContextFilter())
root.addHandler(events)
root.addHandler(runlogger.RunSummaryHandler("runs"))
log = logging.getLogger("owner")
run_id = runlogger.current_run().run_id
for i in range(3):
    log.info("before", extra={"event_type": "owner"})
runlogger.current_run().progress(1, 2)          # the checkpoint on disk has the counts
path = os.path.join("runs", run_id + ".json")
with open(path) as stream:
    doc = json.load(stream)
DAMAGE
if doc is not None:                             # None: the damage wrote the file itself
    with open(path, "w") as stream:
        json.dump(doc, stream)                  # NaN and Infinity written as such
joiner = subprocess.run([sys.executable, "joiner.py"], capture_output=True, text=True)
sys.stderr.write(joiner.stderr)
print("JOINER", joiner.returncode)
for i in range(2):
    log.info("after", extra={"event_type": "owner"})
print(run_id)
"""

JOINER = """
import logging
import runlogger
root = logging.getLogger(); root.setLevel(logging.INFO)
events = runlogger.RunFileHandler("runs"); events.addFilter(runlogger.RunContextFilter())
root.addHandler(events)
root.addHandler(runlogger.RunSummaryHandler("runs"))
for i in range(4):
    logging.getLogger("joiner").info("joined", extra={"event_type": "joiner"})
"""

DAMAGES = {
    "contributor_is_a_number": 'doc["contributors"]["a"] = 1',
    "contributors_is_a_list": 'doc["contributors"] = ["x"]',
    "nan_in_metadata": 'doc["duration_ms"] = float("nan"); doc["attributes"] = {"x": float("inf")}',
    "nan_in_progress": 'doc["progress"] = {"done": 1, "total": 2, "rate": float("nan")}',
    "nan_in_a_contributor": 'doc["contributors"]["b"] = {"event_count": float("nan"), "first_error": {"message": float("-inf")}}',
    "wrong_types": 'doc["status"] = ["running"]; doc["name"] = 7; doc["argv"] = "job.py"; doc["pid"] = "12"',
    "wrong_count_types": 'doc["contributors"]["c"] = {"event_count": True, "counts_by_level": {"INFO": "3", "ERROR": -2}, "error_count": 1.5}',
    "nested_too_deep": 'text = json.dumps(doc)[:-1] + ", \\"deep\\": " + "[" * 100000 + "]" * 100000 + "}"; doc = None; open(path, "w").write(text)',
    "not_json_at_all": 'doc = None; open(path, "w").write("{not json")',
}


def _owner_then_joiner(tmp_path: Path, damage: str) -> tuple[dict[str, Any], int, str, str]:
    (tmp_path / "joiner.py").write_text(JOINER, encoding="utf-8")
    code = OWNER.replace("DAMAGE", damage)
    result = run_python(code, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    run_id = lines[-1]
    text = (tmp_path / "runs" / f"{run_id}.json").read_text(encoding="utf-8")
    summary = parse_line(text.replace("\n", " "))  # strict: no NaN, no Infinity
    joiner_code = int(next(line for line in lines if line.startswith("JOINER")).split()[1])
    return summary, joiner_code, run_id, result.stderr


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_summary_is_repaired_and_nobody_loses_counts(tmp_path: Path, damage: str) -> None:
    summary, joiner_code, run_id, stderr = _owner_then_joiner(tmp_path, DAMAGES[damage])
    assert joiner_code == 0
    assert "Traceback" not in stderr
    assert "could not write" not in stderr
    events = read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")
    assert summary["status"] == "completed"
    assert summary["counts_by_event_type"]["joiner"] == 4
    assert summary["counts_by_event_type"]["owner"] == 5
    assert summary["event_count"] == len(events)
    assert all(isinstance(part, dict) for part in summary["contributors"].values())
    if "doc = None" not in DAMAGES[damage]:  # unreadable: replaced, as before
        assert f"the summary of run {run_id} was damaged and is repaired" in stderr


def test_the_joiner_keeps_the_owners_valid_metadata(tmp_path: Path) -> None:
    summary, _, _, _ = _owner_then_joiner(tmp_path, 'doc["name"] = 7; doc["argv"] = ["x", 1]')
    assert summary["argv"] is not None  # the owner's final write restores it
    assert summary["host"]


def test_repair_keeps_what_is_valid_and_names_what_is_not() -> None:
    damaged = {
        "run_id": "r1",
        "status": "running",
        "duration_ms": math.nan,
        "attributes": {"ok": 1, "bad": math.inf},
        "contributors": {
            "a": 1,
            "h:2": {"event_count": 3, "counts_by_level": {"INFO": 3, "X": "2"}},
        },
    }
    repaired, problems = repair_summary(damaged)
    assert repaired == {
        "run_id": "r1",
        "status": "running",
        "attributes": {"ok": 1, "bad": None},
        "contributors": {"h:2": {"event_count": 3, "counts_by_level": {"INFO": 3}}},
    }
    assert len(problems) == 4
    assert json.dumps(repaired, allow_nan=False)
    assert damaged["contributors"]["a"] == 1  # the caller's document is not changed


def test_an_intact_summary_needs_no_repair() -> None:
    intact = {
        "run_id": "r1",
        "status": "completed",
        "duration_ms": 5,
        "attributes": {"k": [1, 2.5, None]},
        "contributors": {"h:1": {"event_count": 1, "counts_by_level": {"INFO": 1}}},
    }
    assert repair_summary(intact) == (intact, [])
