"""Seed parity at scale: 100,000 items are all counted, a sample is written, progress shows.

examples/process_items.py samples its per-item events on both outputs (the first 10,
then one in 1000) and reports progress through ``runlogger.track``; the summary must
still count every item.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from support import REPO, python_command, read_jsonl, read_summary

SCRIPT = REPO / "examples" / "process_items.py"
ITEMS = 100_000


def test_hundred_thousand_items_counted_exactly_and_sampled(tmp_path: Path) -> None:
    source = tmp_path / "items.txt"
    source.write_text("".join(f"item-{index}\n" for index in range(ITEMS)), encoding="utf-8")
    runs = tmp_path / "runs"
    started = time.monotonic()
    result = python_command(
        str(SCRIPT),
        "--input",
        str(source),
        "--output",
        str(tmp_path / "out.json"),
        "--log-dir",
        str(runs),
        "--progress-every",
        "0.05",
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    summary = read_summary(runs, run_id)
    events = read_jsonl(runs / f"{run_id}.jsonl")

    # The summary counts every item; the stream holds a sample that says what it stands for.
    assert summary["status"] == "completed"
    assert summary["counts_by_event_type"]["item_processed"] == ITEMS
    items = [event for event in events if event.get("event_type") == "item_processed"]
    held_back = summary["suppressed_by_event_type"]
    assert held_back == {"item_processed": ITEMS - len(items)}
    assert len(items) == 10 + (ITEMS - 10) // 1000
    assert [event.get("sample_weight") for event in items[:11]] == [None] * 10 + [1000]
    assert {event.get("sample_weight") for event in items[10:]} == {1000}
    assert [event["item"] for event in items[:11]] == [f"item-{i}" for i in range(10)] + [
        "item-1009"
    ]
    assert len(events) < 500
    assert events[-1]["event_type"] == "run_finished"
    assert events[-1]["event_count"] == summary["event_count"] > len(events)
    assert summary["event_count"] == len(events) + sum(held_back.values())

    # Progress heartbeats carry done and total, from the start to the last item.
    progress = [event for event in events if event.get("event_type") == "progress"]
    assert (progress[0]["done"], progress[-1]["done"]) == (0, ITEMS)
    assert {event["total"] for event in progress} == {ITEMS}
    assert [event["done"] for event in progress] == sorted(event["done"] for event in progress)
    assert progress[-1]["eta_seconds"] == 0.0
    assert progress[-1]["rate"] > 0
    assert summary["progress"] == {
        "done": ITEMS,
        "total": ITEMS,
        "rate": progress[-1]["rate"],
    }
    assert summary["counts_by_event_type"]["progress"] == len(progress)

    # The readable stderr copy is sampled the same way; the output file has every item.
    assert result.stderr.count("processed item") == len(items)
    assert len(json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))) == ITEMS
    assert elapsed < 20, f"100,000 items took {elapsed:.1f} s"
