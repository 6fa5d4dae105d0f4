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

Exit status: 0 when the run completed, 1 when it failed: a missing or unreadable input,
input that is not UTF-8 text, an output or --log that cannot be written, an unknown
--level. Each of these is one ERROR line naming the file, what is wrong and where (line
and byte offset in the input), the run's first error; the run log and the status line
are written all the same. 2 for a bad command line or a log directory that cannot be used.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import logging.config
import os
import sys
from pathlib import Path
from typing import Any, BinaryIO

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


class InputError(ValueError):
    """The input file is not text this job can read; the message says where."""


def read_items(path: Path) -> list[str]:
    """The non-empty lines of ``path``, stripped; the file must be UTF-8 text.

    Read as bytes, line by line, so a bad byte is reported with its line and its offset
    in the file (a decoding error in text mode knows neither).
    """
    items: list[str] = []
    offset = 0
    with path.open("rb") as stream:
        for line_no, raw in enumerate(stream, 1):
            nul = raw.find(b"\0")
            if nul >= 0:
                raise InputError(
                    f"binary data, not text (a NUL byte at line {line_no}, "
                    f"byte offset {offset + nul})"
                )
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                start = exc.start + (3 if line_no == 1 and raw.startswith(codecs.BOM_UTF8) else 0)
                raise InputError(
                    f"not UTF-8 text (byte 0x{raw[start]:02x} at line {line_no}, "
                    f"byte offset {offset + start})"
                ) from None
            offset += len(raw)
            item = text.strip()
            if item:
                items.append(item)
    return items


def process(items: list[str], progress_every: float) -> list[dict[str, Any]]:
    results = []
    for index, item in enumerate(runlogger.track(items, every=progress_every)):
        results.append({"index": index, "item": item, "processed": True})
        log.info("processed item %d", index, extra={"event_type": "item_processed", "item": item})
    return results


def parse_level(text: str) -> int | None:
    """A level name (any case) or number, as logging knows it; None if it knows no such level."""
    if text.strip().isdigit():
        return int(text)
    level = logging.getLevelName(text.strip().upper())
    return level if isinstance(level, int) else None


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot take the output, found before the work rather than after it."""
    if path.is_dir():
        return "it is a directory"
    parent = path.parent
    if not parent.is_dir():
        return (
            f"{parent} is not a directory" if parent.exists() else f"directory {parent} is missing"
        )
    if not os.access(path if path.exists() else parent, os.W_OK):
        return "permission denied"
    return None


def fail(message: str, *args: object, event_type: str) -> None:
    """One clear ERROR line (the run's first error) instead of a traceback."""
    log.error(message, *args, extra={"event_type": event_type})


def run_job(args: argparse.Namespace) -> bool:
    """Read, process, write; False (with the error logged) where that could not be done."""
    problem = output_problem(args.output)
    if problem is not None:
        fail("cannot write output %s: %s", args.output, problem, event_type="output_error")
        return False
    try:
        items = read_items(args.input)
    except OSError as exc:
        fail("cannot read input %s: %s", args.input, exc.strerror, event_type="input_error")
        return False
    except InputError as exc:
        fail("cannot read input %s: %s", args.input, exc, event_type="input_error")
        return False
    if not items:
        log.warning("input %s holds no items", args.input, extra={"event_type": "input_empty"})
    results = process(items, args.progress_every)
    try:
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        fail("cannot write output %s: %s", args.output, exc.strerror, event_type="output_error")
        return False
    log.info(
        "processing completed",
        extra={
            "event_type": "processing_completed",
            "items": len(results),
            "output": str(args.output),
        },
    )
    return True


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
    level = parse_level(args.level)
    try:
        logging.config.dictConfig(logging_config(args.log_dir, level or logging.INFO))
    except ValueError as exc:  # dictConfig's wrapper around the handler's own error
        cause = exc.__cause__ or exc
        reason = cause.strerror if isinstance(cause, OSError) else cause
        print(f"process_items: cannot log to {args.log_dir}: {reason}", file=sys.stderr)
        return 2

    job.exit_code = 0
    log.info(
        "processing started", extra={"event_type": "processing_started", "input": str(args.input)}
    )
    failed = False
    summary_copy: BinaryIO | None = None
    if args.log is not None:
        try:
            # Opened now, so that a --log that cannot be written fails the run before the
            # work, not after it; it gets the summary whatever the outcome.
            summary_copy = open(args.log, "wb")  # noqa: SIM115 - closed in report()
        except OSError as exc:
            fail("cannot write log %s: %s", args.log, exc.strerror, event_type="log_error")
            failed = True
    if level is None:
        fail(
            "unknown level %r for --level: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number",
            args.level,
            event_type="usage_error",
        )
        failed = True
    if failed or not run_job(args):
        job.exit_code = 1

    job.finish()
    return report(job, Path(args.log_dir) / f"{job.run_id}.json", args.log, summary_copy)


def report(
    job: runlogger.Run, summary_file: Path, log_path: Path | None, summary_copy: BinaryIO | None
) -> int:
    """Print the status line (and fill the --log copy) from the summary as written."""
    status, events = job.status, None
    try:
        raw = summary_file.read_bytes()
        summary = json.loads(raw)
        status, events = summary["status"], summary["event_count"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not a summary ({exc})"
        print(
            f"process_items: cannot read the run summary {summary_file}: {reason}", file=sys.stderr
        )
        raw, status = b"", "failed" if status == "completed" else status
    if summary_copy is not None:
        try:
            with summary_copy:
                summary_copy.write(raw)
        except OSError as exc:
            print(f"process_items: cannot write log {log_path}: {exc.strerror}", file=sys.stderr)
            status = "failed" if status == "completed" else status
    print(json.dumps({"run_id": job.run_id, "status": status, "events": events}))
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
