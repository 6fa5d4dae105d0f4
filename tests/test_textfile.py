"""Run metrics as a node_exporter textfile: complete at every moment, last success kept."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from runlogger._prometheus import EVENT_TYPE_CAP, TextfileSink, job_name
from support import clean_env, read_summary, run_python

JOB_SCRIPT = """
    import logging, sys
    import runlogger
    runlogger.start_process_run("nightly/etl")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(runlogger.RunSummaryHandler("runs"))
    logging.getLogger("job").info("one", extra={"event_type": "item_processed"})
    print(runlogger.current_run().run_id)
    if sys.argv[1:] == ["fail"]:
        raise RuntimeError("boom")
"""


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _labels(**extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"job": "nightly/etl", "team": "data", **extra}.items()))


def _run(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    env = clean_env(
        RUNLOGGER_TEXTFILE_DIR=str(tmp_path / "textfiles"),
        RUNLOGGER_PROM_LABELS="team=data",
        RUNLOGGER_DIR=str(tmp_path / "runs"),
    )
    result = run_python(JOB_SCRIPT, *args, cwd=tmp_path, env=env)
    assert "runlogger:" not in result.stderr, result.stderr
    return result.returncode, read_summary(tmp_path / "runs", result.stdout.strip())


def test_the_textfile_parses_and_names_the_job_and_labels(tmp_path: Path) -> None:
    code, summary = _run(tmp_path)
    assert code == 0
    path = tmp_path / "textfiles" / "runlogger_nightly_etl.prom"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o644
    samples = _samples(path)
    assert samples[("runlogger_run_status", _labels(status="completed"))] == 1
    assert samples[("runlogger_run_events_total", _labels(event_type="item_processed"))] == 1
    assert samples[("runlogger_run_duration_seconds", _labels())] == summary["duration_ms"] / 1000


def test_a_failed_run_keeps_the_last_success_of_the_previous_file(tmp_path: Path) -> None:
    _run(tmp_path)
    path = tmp_path / "textfiles" / "runlogger_nightly_etl.prom"
    success = _samples(path)[("runlogger_run_last_success_timestamp_seconds", _labels())]
    code, _ = _run(tmp_path, "fail")
    assert code == 1
    samples = _samples(path)
    assert samples[("runlogger_run_status", _labels(status="failed"))] == 1
    assert samples[("runlogger_run_exit_code", _labels())] == 1
    assert samples[("runlogger_run_last_success_timestamp_seconds", _labels())] == success
    assert samples[("runlogger_run_end_timestamp_seconds", _labels())] > success


def _summary(done: int, status: str = "running") -> Mapping[str, Any]:
    return {
        "run_id": "r1",
        "name": "big",
        "parent_run_id": None,
        "status": status,
        "start_time": "2026-12-04T10:00:00.000000Z",
        "end_time": None if status == "running" else "2026-12-04T10:05:00.000000Z",
        "updated_at": "2026-12-04T10:01:00.000000Z",
        "duration_ms": 1000,
        "counts_by_level": {"INFO": done},
        "counts_by_event_type": {f"type_{i}": done + i for i in range(EVENT_TYPE_CAP + 20)},
        "error_count": 0,
        "warning_count": 0,
        "logging_errors": 0,
        "progress": {"done": done, "total": 1000, "rate": 1.0},
    }


def test_a_reader_in_a_loop_never_sees_a_half_written_file(tmp_path: Path) -> None:
    sink = TextfileSink(tmp_path, {"team": "data"})
    sink.publish("finished", _summary(0, "completed"))
    path = tmp_path / "runlogger_big.prom"
    expected = {f.name for f in text_string_to_metric_families(path.read_text())}
    done = threading.Event()
    seen: list[str] = []
    problems: list[str] = []

    def read() -> None:
        while not done.is_set():
            text = path.read_text(encoding="utf-8")
            try:
                names = {f.name for f in text_string_to_metric_families(text)}
            except ValueError:
                names = set()
            if names != expected or not text.endswith("\n"):
                problems.append(text)
            seen.append(text)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for done_items in range(1, 200):
            sink.publish("checkpoint", _summary(done_items))
    finally:
        done.set()
        reader.join(30)
    assert problems == []
    assert len(seen) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runlogger_big.prom"]
    final = _samples(path)
    assert final[("runlogger_run_progress_done", (("job", "big"), ("team", "data")))] == 199
    # the last success of the earlier finish was carried through every checkpoint
    assert (
        "runlogger_run_last_success_timestamp_seconds",
        (("job", "big"), ("team", "data")),
    ) in final


def test_event_types_beyond_the_cap_are_summed_under_other(tmp_path: Path) -> None:
    sink = TextfileSink(tmp_path)
    sink.publish("checkpoint", _summary(5))
    samples = _samples(tmp_path / "runlogger_big.prom")
    events = {
        dict(labels)["event_type"]: value
        for (name, labels), value in samples.items()
        if name == "runlogger_run_events_total"
    }
    assert len(events) == EVENT_TYPE_CAP + 1
    # the 20 least frequent (type_0 .. type_19, counts 5..24) fall under _other
    assert events["_other"] == sum(5 + i for i in range(20))
    assert "type_0" not in events
    assert events[f"type_{EVENT_TYPE_CAP + 19}"] == 5 + EVENT_TYPE_CAP + 19


def test_the_job_is_the_run_name_else_the_script_and_unnamed_nested_runs_have_none() -> None:
    assert job_name({"name": "etl", "parent_run_id": "p"}) == "etl"
    assert job_name({"name": None, "parent_run_id": None, "argv": ["/opt/jobs/load.py"]}) == "load"
    assert job_name({"name": None, "parent_run_id": None, "argv": ["-c"]}) == "runlogger"
    assert job_name({"name": None, "parent_run_id": "p", "argv": ["/opt/jobs/load.py"]}) is None


def test_an_unnamed_nested_run_writes_no_textfile(tmp_path: Path) -> None:
    sink = TextfileSink(tmp_path)
    sink.publish("finished", {**_summary(1, "completed"), "name": None, "parent_run_id": "p"})
    assert list(tmp_path.iterdir()) == []


def test_the_summarys_own_overflow_is_added_to_other(tmp_path: Path) -> None:
    sink = TextfileSink(tmp_path)
    sink.publish("checkpoint", {**_summary(1), "counts_by_event_type": {"a": 2, "(other)": 7}})
    samples = _samples(tmp_path / "runlogger_big.prom")
    labels = (("event_type", "_other"), ("job", "big"))
    assert samples[("runlogger_run_events_total", labels)] == 7
    assert (
        "runlogger_run_events_total",
        (("event_type", "(other)"), ("job", "big")),
    ) not in samples
