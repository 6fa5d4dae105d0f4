"""RunSummaryHandler: exact counts, first error, checkpoints, files, the handler contract."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runlogger
from runlogger import RunContextFilter, RunSummaryHandler
from support import DOCUMENTED_SUMMARY_KEYS, read_summary


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    """A named logger whose records reach ``handler`` on the root, as in real setups."""
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return logging.getLogger(f"test.{name}")


def _finish_process_run() -> runlogger.Run:
    process_run = runlogger.current_run()
    process_run.finish()
    return process_run


def test_ever_new_event_types_are_capped_and_cut_in_the_summary(runs_dir: Path) -> None:
    log = _logger("cardinality", RunSummaryHandler(runs_dir))
    for index in range(1500):
        log.info("request", extra={"event_type": f"GET /items/{index}"})
    log.info("huge", extra={"event_type": "y" * 100_000})

    summary = read_summary(runs_dir, _finish_process_run().run_id)

    counts = summary["counts_by_event_type"]
    assert len(counts) == 1001
    assert counts["GET /items/0"] == 1
    assert counts["(other)"] >= 501  # the last 500 requests and the huge name, at least
    assert sum(counts.values()) == summary["event_count"]  # every record had an event type
    assert max(len(name) for name in counts) <= 200


def test_checkpoint_is_written_when_the_run_starts(runs_dir: Path) -> None:
    RunSummaryHandler(runs_dir)
    summary = read_summary(runs_dir, runlogger.current_run().run_id)
    assert summary["schema"] == "runlogger.summary/1"
    assert summary["status"] == "running"
    assert summary["end_time"] is None
    assert summary["pid"] == os.getpid()


def test_counts_by_level_and_event_type(runs_dir: Path) -> None:
    log = _logger("counts", RunSummaryHandler(runs_dir))
    log.debug("d")
    log.info("i", extra={"event_type": "item_processed"})
    log.info("i", extra={"event_type": "item_processed"})
    log.warning("w")
    log.error("e", extra={"event_type": "item_failed"})
    log.critical("c")
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    assert summary["counts_by_level"] == {
        "DEBUG": 1,
        "INFO": 4,
        "WARNING": 1,
        "ERROR": 1,
        "CRITICAL": 1,
    }  # INFO 4: run_started, two records and run_finished
    assert summary["counts_by_event_type"] == {
        "run_started": 1,
        "item_processed": 2,
        "item_failed": 1,
        "run_finished": 1,
    }
    assert (summary["event_count"], summary["error_count"], summary["warning_count"]) == (8, 2, 1)


def test_first_error_is_the_first_one(runs_dir: Path) -> None:
    log = _logger("first", RunSummaryHandler(runs_dir))
    log.info("fine")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("first failure %d", 1)
    log.error("second failure")
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    first = summary["first_error"]
    assert first["message"] == "first failure 1"
    assert first["exc_type"] == "KeyError"
    assert first["logger"] == "test.first"
    assert first["timestamp"].endswith("Z")


def test_first_error_is_null_without_errors(runs_dir: Path) -> None:
    _logger("noerr", RunSummaryHandler(runs_dir)).info("fine")
    assert read_summary(runs_dir, _finish_process_run().run_id)["first_error"] is None


def test_final_summary_has_status_times_and_duration(runs_dir: Path) -> None:
    RunSummaryHandler(runs_dir)
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    assert summary["status"] == "completed"
    assert summary["end_time"] >= summary["start_time"]
    assert isinstance(summary["duration_ms"], int)
    assert summary["duration_ms"] >= 0


def test_nested_run_gets_its_own_summary(runs_dir: Path) -> None:
    log = _logger("nested", RunSummaryHandler(runs_dir))
    handler_filter = RunContextFilter()
    logging.getLogger().handlers[-1].addFilter(handler_filter)
    with runlogger.run("inner", batch=7) as inner:
        assert read_summary(runs_dir, inner.run_id)["status"] == "running"
        log.info("inside")
    summary = read_summary(runs_dir, inner.run_id)
    assert summary["name"] == "inner"
    assert summary["parent_run_id"] == runlogger.current_run().run_id
    assert summary["attributes"] == {"batch": 7}
    assert summary["counts_by_level"] == {"INFO": 3}  # run_started, inside, run_finished
    assert summary["counts_by_event_type"] == {"run_started": 1, "run_finished": 1}


def test_failed_run_records_the_exception(runs_dir: Path) -> None:
    RunSummaryHandler(runs_dir)
    with pytest.raises(ValueError, match="boom"), runlogger.run("bad") as bad:
        raise ValueError("boom")
    summary = read_summary(runs_dir, bad.run_id)
    assert summary["status"] == "failed"
    assert summary["exception"] == {"type": "ValueError", "message": "boom"}


def test_summary_file_mode_is_0600_whatever_the_umask(runs_dir: Path) -> None:
    old = os.umask(0)
    try:
        RunSummaryHandler(runs_dir)
    finally:
        os.umask(old)
    path = runs_dir / f"{runlogger.current_run().run_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_file_mode_is_configurable(runs_dir: Path) -> None:
    RunSummaryHandler(runs_dir, file_mode=0o640)
    path = runs_dir / f"{runlogger.current_run().run_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"file_mode": "rw"}, "file_mode"), ({"checkpoint_interval": 0}, "checkpoint_interval")],
)
def test_bad_arguments_are_refused(runs_dir: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RunSummaryHandler(runs_dir, **kwargs)


def test_no_temp_files_are_left(runs_dir: Path) -> None:
    log = _logger("tmp", RunSummaryHandler(runs_dir, checkpoint_interval=1e-9, catalog=False))
    for _ in range(20):
        log.info("x")
    _finish_process_run()
    assert [p.name for p in runs_dir.iterdir()] == [f"{runlogger.current_run().run_id}.json"]


def test_close_is_idempotent_and_does_not_end_the_run(runs_dir: Path) -> None:
    handler = RunSummaryHandler(runs_dir)
    handler.close()
    handler.close()
    summary = read_summary(runs_dir, runlogger.current_run().run_id)
    assert summary["status"] == "running"


def test_reconfiguring_keeps_the_run_and_its_counts(runs_dir: Path) -> None:
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "summary": {"class": "runlogger.RunSummaryHandler", "directory": str(runs_dir)}
        },
        "root": {"level": "INFO", "handlers": ["summary"]},
    }
    logging.config.dictConfig(config)
    run_id = runlogger.current_run().run_id
    logging.getLogger("a").info("one")
    logging.config.dictConfig(config)  # closes the first handler
    assert read_summary(runs_dir, run_id)["status"] == "running"
    logging.getLogger("a").info("two")
    assert runlogger.current_run().run_id == run_id
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    assert summary["counts_by_level"] == {"INFO": 4}  # run_started, one, two, run_finished


def test_default_dictconfig_does_not_silence_run_events(runs_dir: Path) -> None:
    """dictConfig disables existing loggers by default; run_finished must still be counted."""
    import runlogger._lifecycle  # noqa: F401  (the lifecycle logger exists before the call)

    logging.config.dictConfig(
        {
            "version": 1,
            "handlers": {
                "summary": {"class": "runlogger.RunSummaryHandler", "directory": str(runs_dir)}
            },
            "root": {"level": "INFO", "handlers": ["summary"]},
        }
    )
    assert logging.getLogger("runlogger.run").disabled
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    assert summary["counts_by_event_type"] == {"run_started": 1, "run_finished": 1}


def test_periodic_checkpoint_shows_progress(runs_dir: Path) -> None:
    log = _logger("ckpt", RunSummaryHandler(runs_dir, checkpoint_interval=1e-9))
    for _ in range(3):
        log.info("x")
    run_id = runlogger.current_run().run_id
    deadline = time.monotonic() + 30  # the heartbeat thread writes it, soon
    while read_summary(runs_dir, run_id)["event_count"] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    summary = read_summary(runs_dir, run_id)
    assert summary["status"] == "running"
    assert summary["event_count"] == 4  # run_started and the three records


def test_emit_failure_reaches_handle_error(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = RunSummaryHandler(runs_dir)
    seen: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", seen.append)
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    del broken.__dict__["levelno"]
    handler.handle(broken)  # must not raise
    assert seen == [broken]


def test_recursion_error_is_not_swallowed(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runlogger import _handler

    def recurse(record: logging.LogRecord) -> None:
        raise RecursionError

    handler = RunSummaryHandler(runs_dir)
    monkeypatch.setattr(_handler, "event_type_of", recurse)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.event_type = 42  # not a string: counted by its text, which here recurses
    with pytest.raises(RecursionError):
        handler.handle(record)


def test_failed_writes_of_a_run_file_handler_are_counted(runs_dir: Path) -> None:
    summary_handler = RunSummaryHandler(runs_dir)
    run_id = runlogger.current_run().run_id
    (runs_dir / f"{run_id}.jsonl").mkdir()  # the event file cannot be opened
    file_handler = runlogger.RunFileHandler(runs_dir)
    log = _logger("broken", summary_handler)
    logging.getLogger().addHandler(file_handler)
    old = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        log.info("cannot be written")
        log.info("nor this")
    finally:
        logging.raiseExceptions = old
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    # run_started (written when the file handler was made), two records and run_finished
    assert summary["logging_errors"] == 4
    assert summary["counts_by_level"]["INFO"] == 4


def test_counts_are_exact_across_threads(runs_dir: Path) -> None:
    log = _logger("threads", RunSummaryHandler(runs_dir))

    def work() -> None:
        for _ in range(2000):
            log.info("x", extra={"event_type": "tick"})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    assert summary["counts_by_event_type"]["tick"] == 16_000


def test_summary_is_valid_json_with_all_documented_keys(runs_dir: Path) -> None:
    RunSummaryHandler(runs_dir)
    summary = read_summary(runs_dir, _finish_process_run().run_id)
    documented = list(DOCUMENTED_SUMMARY_KEYS)
    assert list(summary)[: len(documented)] == documented
    assert summary["argv"] == sys.argv
    json.dumps(summary, allow_nan=False)


def test_queue_listener_keeps_the_run_of_the_thread_that_logged(runs_dir: Path) -> None:
    import logging.handlers
    import queue

    records: queue.Queue[logging.LogRecord] = queue.Queue()
    producer = logging.handlers.QueueHandler(records)
    producer.addFilter(RunContextFilter())
    out = io.StringIO()
    stream = logging.StreamHandler(out)
    stream.setFormatter(runlogger.RunJsonFormatter())
    listener = logging.handlers.QueueListener(records, stream, RunSummaryHandler(runs_dir))
    listener.start()
    log = logging.getLogger("test.queue")
    log.addHandler(producer)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        with runlogger.run("queued") as queued:
            log.info("through the queue", extra={"event_type": "queued_item"})
            listener.stop()  # drained before the run ends
    finally:
        log.removeHandler(producer)
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["run_id"] == queued.run_id
    assert read_summary(runs_dir, queued.run_id)["counts_by_event_type"]["queued_item"] == 1


def test_records_of_a_finished_run_reach_its_summary_at_exit(tmp_path: Path) -> None:
    # A thread that outlives its run: its records still count, written when the process ends.
    code = """
        import logging, sys, threading
        import runlogger
        handler = runlogger.RunSummaryHandler(sys.argv[1])
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        with runlogger.run("batch") as batch:
            logging.getLogger("job").info("inside", extra={"event_type": "item"})
            late = threading.Thread(
                target=runlogger.in_current_run(
                    lambda: [logging.getLogger("job").error("late %d", n) for n in range(3)]
                )
            )
        late.start()
        late.join()
        print(batch.run_id)
    """
    from support import run_python

    result = run_python(code, str(tmp_path / "runs"), cwd=tmp_path, check_exit=0)
    summary = read_summary(tmp_path / "runs", result.stdout.strip())
    assert summary["status"] == "completed"
    assert summary["error_count"] == 3
    assert summary["counts_by_event_type"]["item"] == 1
    assert summary["first_error"]["message"] == "late 0"


def test_a_record_counted_while_the_final_summary_is_written_is_not_lost(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runlogger import _summary_book
    from runlogger._summary import RunTally

    log = _logger("during-write", RunSummaryHandler(runs_dir))
    take_snapshot = RunTally.snapshot
    logged: list[str] = []

    def snapshot_then_log(self: RunTally) -> dict[str, Any]:
        taken = take_snapshot(self)
        if batch.end_time is not None and not logged:  # the final write, after its snapshot
            logged.append("late")
            log.info("late", extra={"run_id": batch.run_id, "event_type": "late"})
        return taken

    with runlogger.run("batch") as batch:
        monkeypatch.setattr(RunTally, "snapshot", snapshot_then_log)
    assert logged == ["late"]
    assert "late" not in read_summary(runs_dir, batch.run_id)["counts_by_event_type"]

    _summary_book.book.flush()  # what interpreter exit does

    assert read_summary(runs_dir, batch.run_id)["counts_by_event_type"]["late"] == 1


def test_a_subclass_emit_still_sees_every_record(runs_dir: Path) -> None:
    """handle() counts without calling emit() (a call per record saved), unless a
    subclass has an emit of its own: then that emit gets each record, as stdlib's do."""
    seen: list[str] = []

    class Noting(RunSummaryHandler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())
            super().emit(record)

    log = _logger("noting", Noting(runs_dir))
    with runlogger.run("noted") as noted:
        log.info("one", extra={"event_type": "step"})
        log.info("two", extra={"event_type": "step"})

    assert [message for message in seen if message in ("one", "two")] == ["one", "two"]
    assert read_summary(runs_dir, noted.run_id)["counts_by_event_type"]["step"] == 2


def _count_statements(function: Any) -> list[str]:
    """The statements of ``function``'s ``try`` block, as AST dumps (returns without value)."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    (block,) = [node for node in ast.walk(tree) if isinstance(node, ast.Try)]
    for node in ast.walk(block):
        if isinstance(node, ast.Return):
            node.value = None
    return [ast.dump(statement) for statement in block.body]


def test_handle_counts_exactly_as_emit_does() -> None:
    """``handle`` repeats ``emit``'s count to save a call per record: the copies must agree
    statement for statement (a change to one alone fails here)."""
    assert _count_statements(RunSummaryHandler.handle) == _count_statements(RunSummaryHandler.emit)
