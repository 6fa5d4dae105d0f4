"""A record belongs to the run it was logged in: fields it carries never re-route it.

``extra={"run_id": ...}`` used to send records to a run of that name (an events file and
a summary per distinct value, never closed, lost to the real run; an invalid value failed
the record). Now the run comes from the stamp RunContextFilter leaves (or the current
context), the user's value is written under ``extra``, and RunFileHandler keeps a bounded
number of files open.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest

import runlogger
from runlogger import RunContextFilter, RunFileHandler, RunJsonFormatter
from runlogger._stamp import RunStamp, run_fields
from support import parse_line, read_jsonl, read_summary, run_python


def _record(msg: str = "m", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def _stamped_in(run_name: str) -> tuple[logging.LogRecord, runlogger.Run]:
    """A record logged (and stamped) inside a run of its own, as another process would."""
    with runlogger.run(run_name) as elsewhere:
        record = _record(f"from {run_name}")
        RunContextFilter().filter(record)
    return record, elsewhere


def test_a_user_run_id_does_not_change_the_run_the_filter_stamps() -> None:
    record = _record(run_id="not-my-run")

    RunContextFilter().filter(record)

    assert run_fields(record.__dict__) == (runlogger.current_run().run_id, None)
    assert record.run_id == "not-my-run"  # type: ignore[attr-defined]  # the caller's, kept


def test_a_stamped_record_keeps_its_run_through_another_filter_and_pickling() -> None:
    record, elsewhere = _stamped_in("child")

    copy = logging.makeLogRecord(pickle.loads(pickle.dumps(record.__dict__)))
    RunContextFilter().filter(copy)

    assert run_fields(copy.__dict__) == (elsewhere.run_id, elsewhere.parent_run_id)
    assert copy.run_id == elsewhere.run_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", ["json", "orjson"])
@pytest.mark.parametrize("given", ["other-run", "../../etc/passwd", 42, None, {"a": 1}])
def test_the_event_names_the_real_run_and_keeps_the_user_value_under_extra(
    backend: str, given: object
) -> None:
    record = _record(run_id=given, parent_run_id="fake-parent")
    RunContextFilter().filter(record)

    event = parse_line(RunJsonFormatter(backend=backend).format(record))

    assert event["run_id"] == runlogger.current_run().run_id
    assert "parent_run_id" not in event
    assert event["extra"] == {"run_id": given, "parent_run_id": "fake-parent"}


def test_without_a_filter_the_current_run_decides() -> None:
    with runlogger.run("inner") as inner:
        event = parse_line(RunJsonFormatter().format(_record(run_id="elsewhere")))

    assert (event["run_id"], event["parent_run_id"]) == (inner.run_id, inner.parent_run_id)
    assert event["extra"] == {"run_id": "elsewhere"}


ROUTING_JOB = """
    import logging, os, sys
    import runlogger

    directory = sys.argv[1]
    run_filter = runlogger.RunContextFilter()
    events = runlogger.RunFileHandler(directory)
    summary = runlogger.RunSummaryHandler(directory)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (events, summary):
        handler.addFilter(run_filter)
        root.addHandler(handler)
    log = logging.getLogger("job")

    def event_files():
        # Descriptors open on event files: the sinks' own (a catalog's database, its
        # journal) come and go on their threads and are no concern of this test.
        names = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                names.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
        return sum(name.endswith(".jsonl") for name in names)

    log.info("warm up")
    before = event_files()
    for n in range(2000):
        given = f"user-{n}" if n % 4 else ("../escape", 7, None)[n % 3]
        log.info("item %d", n, extra={"run_id": given})
    print(runlogger.current_run().run_id)
    print(event_files() - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_user_run_ids_open_no_files_and_every_record_stays_in_its_run(tmp_path: Path) -> None:
    directory = tmp_path / "runs"

    result = run_python(ROUTING_JOB, str(directory), cwd=tmp_path, check_exit=0)

    run_id, opened = result.stdout.split()
    assert result.stderr == ""
    assert int(opened) == 0  # one event file per user value was 1,500 open descriptors
    run_files = sorted(p.name for p in directory.iterdir() if p.suffix in (".json", ".jsonl"))
    assert run_files == [f"{run_id}.json", f"{run_id}.jsonl"]
    items = [e for e in read_jsonl(directory / f"{run_id}.jsonl") if e["logger"] == "job"]
    assert len(items) == 2001
    assert {e["run_id"] for e in items} == {run_id}
    assert items[2]["extra"] == {"run_id": "user-1"}
    summary = read_summary(directory, run_id)
    assert summary["counts_by_level"]["INFO"] >= 2001
    assert summary["logging_errors"] == 0


def test_forwarded_records_keep_at_most_max_open_files_open(tmp_path: Path) -> None:
    handler = RunFileHandler(tmp_path, max_open_files=2)
    forwarded = [_stamped_in(f"worker-{n}") for n in range(5)]
    try:
        for _ in range(2):  # the second round reopens files closed to make room
            for record, _run in forwarded:
                handler.handle(record)
                assert len(handler._fds) <= 2
    finally:
        handler.close()

    for record, run in forwarded:
        lines = read_jsonl(tmp_path / f"{run.run_id}.jsonl")
        assert [line["message"] for line in lines] == [record.getMessage()] * 2
        assert {line["run_id"] for line in lines} == {run.run_id}


def test_a_forged_stamp_with_an_unusable_run_id_goes_to_the_current_run(tmp_path: Path) -> None:
    handler = RunFileHandler(tmp_path)
    try:
        handler.handle(_record(run_id=RunStamp("../escape")))
    finally:
        handler.close()

    (path,) = tmp_path.iterdir()
    assert path.name == f"{runlogger.current_run().run_id}.jsonl"
    assert [e["message"] for e in read_jsonl(path) if e["logger"] == "app"] == ["m"]


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "8"])
def test_max_open_files_must_be_a_positive_whole_number(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="max_open_files"):
        RunFileHandler(tmp_path, max_open_files=bad)  # type: ignore[arg-type]


FORWARDING_JOB = """
    import logging, logging.handlers, multiprocessing, sys
    import runlogger

    def child(queue, id_file):
        handler = logging.handlers.QueueHandler(queue)
        handler.addFilter(runlogger.RunContextFilter())
        log = logging.getLogger("child")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        with runlogger.run("child-job") as job:
            for n in range(3):
                log.info("item %d", n, extra={"run_id": "user-x", "event_type": "item"})
        with open(id_file, "w") as out:
            out.write(job.run_id)

    if __name__ == "__main__":
        directory, id_file = sys.argv[1:]
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        listener = logging.handlers.QueueListener(
            queue, runlogger.RunFileHandler(directory), runlogger.RunSummaryHandler(directory)
        )
        listener.start()
        process = spawn.Process(target=child, args=(queue, id_file))
        process.start()
        process.join()
        listener.stop()
        print(runlogger.current_run().run_id)
"""


def test_records_forwarded_from_a_child_process_keep_its_run(tmp_path: Path) -> None:
    """The stamp survives pickling through a multiprocessing queue; the user field does not
    re-route the records in the parent either."""
    directory, id_file = tmp_path / "runs", tmp_path / "child-run-id"

    result = run_python(
        FORWARDING_JOB, str(directory), str(id_file), cwd=tmp_path, check_exit=0, timeout=120
    )

    child_run = id_file.read_text()
    assert result.stderr == ""
    items = [e for e in read_jsonl(directory / f"{child_run}.jsonl") if e["logger"] == "child"]
    assert [e["message"] for e in items] == ["item 0", "item 1", "item 2"]
    assert {e["run_id"] for e in items} == {child_run}
    assert {e["parent_run_id"] for e in items} != {None}
    assert all(e["extra"] == {"run_id": "user-x"} for e in items)
    assert not (directory / "user-x.jsonl").exists()
    assert read_summary(directory, child_run)["counts_by_event_type"]["item"] == 3
