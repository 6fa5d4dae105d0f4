"""Run sinks: every state of a run reaches each sink, and no sink can harm the job."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import runlogger
from runlogger import _sinks
from support import clean_env, read_jsonl, read_summary, run_python

#: A module the child processes import their sinks from: each sink appends what it is
#: given to a JSON-lines file named by $SINK_LOG, so the test reads what arrived.
SINK_MODULE = """
import json, os, time

class Recorder:
    name = "recorder"

    def publish(self, event, summary):
        line = json.dumps({"event": event, "pid": os.getpid(), "summary": summary})
        with open(os.environ["SINK_LOG"], "a", encoding="utf-8") as stream:
            stream.write(line + "\\n")


class Broken:
    name = "broken"

    def publish(self, event, summary):
        raise ConnectionError("database is down")


class Hanging:
    name = "hanging"

    def publish(self, event, summary):
        time.sleep(3600)
"""


def _write_sink_module(tmp_path: Path) -> None:
    (tmp_path / "test_sinks_module.py").write_text(SINK_MODULE, encoding="utf-8")


def _env(tmp_path: Path, sinks: str, **extra: str) -> dict[str, str]:
    return clean_env(
        PYTHONPATH=str(tmp_path),
        RUNLOGGER_SINKS=sinks,
        SINK_LOG=str(tmp_path / "sink.jsonl"),
        RUNLOGGER_DIR=str(tmp_path / "runs"),
        **extra,
    )


def _arrived(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "sink.jsonl"
    return read_jsonl(path) if path.exists() else []


CONFIGURED_JOB = """
    import logging, logging.config, sys
    import runlogger

    logging.config.dictConfig({
        "version": 1,
        "filters": {"run": {"()": "runlogger.RunContextFilter"}},
        "handlers": {"summary": {"class": "runlogger.RunSummaryHandler", "filters": ["run"]}},
        "root": {"level": "INFO", "handlers": ["summary"]},
    })
    log = logging.getLogger("job")
    log.info("hello")
    with runlogger.run("inner"):
        log.warning("inside")
    if sys.argv[1:] == ["crash"]:
        raise RuntimeError("boom")
    print(runlogger.current_run().run_id)
"""


def _by_run(arrived: list[dict[str, Any]]) -> dict[str, list[str]]:
    events: dict[str, list[str]] = {}
    for item in arrived:
        events.setdefault(item["summary"]["run_id"], []).append(item["event"])
    return events


def test_custom_sink_hears_started_and_finished_of_process_and_nested_runs(
    tmp_path: Path,
) -> None:
    _write_sink_module(tmp_path)
    result = run_python(
        CONFIGURED_JOB, cwd=tmp_path, env=_env(tmp_path, "test_sinks_module:Recorder")
    )
    assert result.returncode == 0, result.stderr
    process_run_id = result.stdout.strip()
    arrived = _arrived(tmp_path)
    by_run = _by_run(arrived)
    assert by_run.pop(process_run_id) == ["started", "finished"]
    assert list(by_run.values()) == [["started", "finished"]]
    final = arrived[-1]["summary"]
    assert final == read_summary(tmp_path / "runs", process_run_id)
    assert final["status"] == "completed"


def test_a_crashed_run_reaches_the_sink_as_failed(tmp_path: Path) -> None:
    _write_sink_module(tmp_path)
    result = run_python(
        CONFIGURED_JOB, "crash", cwd=tmp_path, env=_env(tmp_path, "test_sinks_module:Recorder")
    )
    assert result.returncode == 1
    finished = [item["summary"] for item in _arrived(tmp_path) if item["event"] == "finished"]
    process_finished = [doc for doc in finished if doc["parent_run_id"] is None]
    assert [doc["status"] for doc in process_finished] == ["failed"]
    assert process_finished[0]["exception"]["type"] == "RuntimeError"


def test_joined_processes_publish_nothing_and_their_counts_reach_the_owners_finish(
    tmp_path: Path,
) -> None:
    _write_sink_module(tmp_path)
    code = """
        import logging, subprocess, sys
        import runlogger
        root = logging.getLogger()
        root.addHandler(runlogger.RunSummaryHandler())
        root.setLevel(logging.INFO)
        if sys.argv[1:] == ["child"]:
            for i in range(5):
                logging.getLogger("child").info("child %d", i)
        else:
            logging.getLogger("parent").info("parent")
            subprocess.run([sys.executable, __file__, "child"], check=True)
            print(runlogger.current_run().run_id)
    """
    result = run_python(code, cwd=tmp_path, env=_env(tmp_path, "test_sinks_module:Recorder"))
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    arrived = _arrived(tmp_path)
    parent_pid = arrived[0]["pid"]
    assert {item["pid"] for item in arrived} == {parent_pid}
    assert [item["event"] for item in arrived] == ["started", "finished"]
    assert (
        arrived[-1]["summary"]["event_count"]
        == read_summary(tmp_path / "runs", run_id)["event_count"]
    )
    assert arrived[-1]["summary"]["counts_by_level"]["INFO"] >= 6


def test_checkpoints_reach_the_sink_between_start_and_finish(tmp_path: Path) -> None:
    _write_sink_module(tmp_path)
    code = """
        import logging, time
        import runlogger
        root = logging.getLogger()
        root.addHandler(runlogger.RunSummaryHandler(checkpoint_interval=0.05))
        root.setLevel(logging.INFO)
        for i in range(4):
            time.sleep(0.1)
            logging.getLogger("job").info("tick %d", i)
    """
    result = run_python(code, cwd=tmp_path, env=_env(tmp_path, "test_sinks_module:Recorder"))
    assert result.returncode == 0, result.stderr
    events = [item["event"] for item in _arrived(tmp_path)]
    assert events[0] == "started"
    assert events[-1] == "finished"
    assert "checkpoint" in events[1:-1]
    assert set(events[1:-1]) == {"checkpoint"}


def test_a_failing_sink_is_counted_reported_once_and_spares_the_others(tmp_path: Path) -> None:
    _write_sink_module(tmp_path)
    env = _env(tmp_path, "test_sinks_module:Broken,test_sinks_module:Recorder")
    result = run_python(CONFIGURED_JOB, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    reports = [line for line in result.stderr.splitlines() if "sink broken failed" in line]
    assert len(reports) == 1, result.stderr
    assert "ConnectionError: database is down" in reports[0]
    assert "Traceback" not in result.stderr
    summary = read_summary(tmp_path / "runs", run_id)
    # started and finished of the process run both failed, the second after the final write.
    assert summary["logging_errors"] == 2
    assert [
        item["event"] for item in _arrived(tmp_path) if item["summary"]["run_id"] == run_id
    ] == [
        "started",
        "finished",
    ]


def test_a_hanging_sink_delays_the_exit_only_by_the_documented_bound(tmp_path: Path) -> None:
    _write_sink_module(tmp_path)
    env = _env(
        tmp_path,
        "test_sinks_module:Hanging,test_sinks_module:Recorder",
        RUNLOGGER_SINK_TIMEOUT="0.5",
    )
    result = run_python(CONFIGURED_JOB, cwd=tmp_path, env=env, check_exit=0)
    stderr = result.stderr
    run_id = result.stdout.strip()
    assert "sink hanging failed (TimeoutError: did not finish within 0.5 s at exit)" in stderr
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["status"] == "completed"
    assert summary["logging_errors"] >= 1
    assert _by_run(_arrived(tmp_path))[run_id] == ["started", "finished"]


def test_a_sink_can_be_given_to_the_handler_in_dictconfig(tmp_path: Path) -> None:
    _write_sink_module(tmp_path)
    code = """
        import logging, logging.config
        import runlogger
        logging.config.dictConfig({
            "version": 1,
            "handlers": {"summary": {
                "class": "runlogger.RunSummaryHandler",
                "sinks": ["test_sinks_module:Recorder"],
            }},
            "root": {"level": "INFO", "handlers": ["summary"]},
        })
        logging.getLogger("job").info("hello")
    """
    env = _env(tmp_path, "")
    result = run_python(code, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert [item["event"] for item in _arrived(tmp_path)] == ["started", "finished"]


class _Memory:
    def __init__(self) -> None:
        self.received: list[tuple[str, Mapping[str, Any]]] = []
        self.done = threading.Event()

    def publish(self, event: str, summary: Mapping[str, Any]) -> None:
        self.received.append((event, summary))
        if event == "finished":
            self.done.set()


def test_nested_run_states_arrive_in_order_in_process(runs_dir: Path) -> None:
    sink = _Memory()
    handler = runlogger.RunSummaryHandler(runs_dir, sinks=[sink])
    logging.getLogger().addHandler(handler)
    with runlogger.run("nested") as nested:
        logging.getLogger("test.sinks").warning("careful")
    assert sink.done.wait(10)
    nested_states = [
        (event, summary["status"], summary["warning_count"])
        for event, summary in sink.received
        if summary["run_id"] == nested.run_id
    ]
    assert nested_states == [("started", "running", 0), ("finished", "completed", 1)]
    assert json.loads((runs_dir / f"{nested.run_id}.json").read_text())["warning_count"] == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_anywhere:Sink", "cannot load the sink"),
        ("json:dumps", "could not create the sink"),
        ("logging:INFO", "is not a run sink"),
        ("nocolon", "must be written module:attribute"),
    ],
)
def test_a_bad_sink_is_refused_at_configuration(runs_dir: Path, spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        runlogger.RunSummaryHandler(runs_dir, sinks=[spec])


def test_a_sink_object_class_or_path_is_accepted() -> None:
    sink = _Memory()
    assert _sinks.load_sink(sink) is sink
    assert isinstance(_sinks.load_sink(_Memory), _Memory)
    assert isinstance(_sinks.load_sink(f"{__name__}:_Memory"), _Memory)
    assert isinstance(sink, runlogger.RunSink)


def test_a_newer_checkpoint_replaces_a_pending_one_of_the_same_run() -> None:
    gate = threading.Event()
    seen: list[tuple[str, int]] = []

    class Slow:
        def publish(self, event: str, summary: Mapping[str, Any]) -> None:
            gate.wait(10)
            seen.append((event, summary["event_count"]))

    sink_set = _sinks.SinkSet()
    sink_set.add([Slow()])
    errors: list[str] = []

    def on_error(label: str, exc: BaseException) -> None:
        errors.append(label)

    sink_set.publish("started", {"run_id": "r", "event_count": 0}, on_error)
    for count in (1, 2, 3):
        sink_set.publish("checkpoint", {"run_id": "r", "event_count": count}, on_error)
    sink_set.publish("finished", {"run_id": "r", "event_count": 4}, on_error)
    gate.set()
    assert sink_set.workers()[0].wait_idle(time.monotonic() + 10)
    assert seen == [("started", 0), ("checkpoint", 3), ("finished", 4)]
    assert errors == []


def test_the_exit_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLOGGER_SINK_TIMEOUT", "2.5")
    assert _sinks.exit_timeout() == 2.5
    monkeypatch.setenv("RUNLOGGER_SINK_TIMEOUT", "soon")
    assert _sinks.exit_timeout() == _sinks.DEFAULT_EXIT_TIMEOUT
