"""The original "operational run logger" batch job, rebuilt on runlogger.

Reads items (one per non-empty line), "processes" each, writes them as a JSON list,
and leaves a run summary. Records are JSON events in ``<log-dir>/<run_id>.jsonl``;
readable lines go to stderr; stdout gets ``{"run_id", "status", "events"}``.

A million-line input neither floods the log nor leaves it silent: the per-item events
are sampled on the outputs (the first ten, then one in a thousand, each carrying the
``sample_weight`` it stands for) while the summary counts every one of them, and
``progress`` heartbeats (done, total, rate, ETA) show how far the run got.

    python examples/process_items.py --input examples/data/items.txt \\
        --output out.json --log summary.json

Exit status: 0 when the run completed, 1 when it failed (for example a missing input).
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import runlogger

log = logging.getLogger("process_items")


def logging_config(log_dir: str, level: str) -> dict[str, Any]:
    """JSON events to the run's file, readable lines to stderr, the summary beside them."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "run_context": {"()": "runlogger.RunContextFilter"},
            # One sampler for both outputs: they show the same sample.
            "sample": {"()": "runlogger.RunSampleFilter", "first": 10, "every": 1000},
        },
        "formatters": {
            "json": {"()": "runlogger.RunJsonFormatter"},
            "readable": {
                "format": "%(asctime)s %(levelname)-8s %(name)s [%(run_id)s] %(message)s",
            },
        },
        "handlers": {
            "events": {
                "class": "runlogger.RunFileHandler",
                "directory": log_dir,
                "formatter": "json",
                "filters": ["run_context", "sample"],
            },
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "readable",
                "filters": ["run_context", "sample"],
            },
            # No sampler here: the summary counts every record.
            "summary": {
                "class": "runlogger.RunSummaryHandler",
                "directory": log_dir,
                "filters": ["run_context"],
            },
        },
        "root": {"level": level, "handlers": ["events", "stderr", "summary"]},
    }


def read_items(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as stream:
        return [line.strip() for line in stream if line.strip()]


def process(items: list[str], progress_every: float) -> list[dict[str, Any]]:
    results = []
    for index, item in enumerate(runlogger.track(items, every=progress_every)):
        results.append({"index": index, "item": item, "processed": True})
        log.info("processed item %d", index, extra={"event_type": "item_processed", "item": item})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, type=Path, help="text file, one item a line")
    parser.add_argument("--output", required=True, type=Path, help="where the JSON list goes")
    parser.add_argument("--log", type=Path, help="also copy the run summary to this file")
    parser.add_argument(
        "--log-dir",
        default=os.environ.get("RUNLOGGER_DIR", "runs"),
        help="directory of summaries and event files (default: $RUNLOGGER_DIR or ./runs)",
    )
    parser.add_argument("--run-id", help="use this run id instead of a generated one")
    parser.add_argument("--level", default="INFO", help="lowest level logged (default INFO)")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between two progress events (default 5)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.progress_every < float("inf"):
        parser.error(f"--progress-every must be 0 or more seconds, not {args.progress_every}")

    try:
        job = runlogger.start_process_run("process_items", run_id=args.run_id)
    except runlogger.InvalidRunIdError as exc:
        parser.error(str(exc))
    logging.config.dictConfig(logging_config(args.log_dir, args.level))

    job.exit_code = 0
    log.info(
        "processing started", extra={"event_type": "processing_started", "input": str(args.input)}
    )
    try:
        items = read_items(args.input)
    except OSError as exc:
        log.error(
            "cannot read input %s: %s",
            args.input,
            exc.strerror,
            extra={"event_type": "input_error"},
        )
        job.exit_code = 1
    else:
        if not items:
            log.warning("input %s holds no items", args.input, extra={"event_type": "input_empty"})
        results = process(items, args.progress_every)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        log.info(
            "processing completed",
            extra={
                "event_type": "processing_completed",
                "items": len(results),
                "output": str(args.output),
            },
        )

    job.finish()
    summary_file = Path(args.log_dir) / f"{job.run_id}.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(summary_file, args.log)
    print(
        json.dumps(
            {"run_id": job.run_id, "status": summary["status"], "events": summary["event_count"]}
        )
    )
    return 0 if summary["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
