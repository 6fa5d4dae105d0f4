"""End to end, in real interpreters: adopting runlogger through dictConfig and fileConfig.

The legacy job in examples/legacy only calls ``logging.getLogger(__name__)``; the
third-party stand-in logs under its own name. Every line must be a JSON event of one
run, and the summary written at exit must count exactly those lines.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from support import REPO, clean_env, json_lines, python_command, read_summary, run_python

EXAMPLES = REPO / "examples"


def _run_example(tmp_path: Path, script: str, *args: str) -> tuple[list[dict[str, Any]], Any]:

    result = python_command(str(EXAMPLES / script), *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return json_lines(result.stdout), result


def _assert_one_run_counted(events: list[dict[str, Any]], runs_dir: Path) -> dict[str, Any]:
    run_ids = {event["run_id"] for event in events}
    assert len(run_ids) == 1, run_ids
    (run_id,) = run_ids
    summary = read_summary(runs_dir, run_id)
    assert summary["status"] == "completed"
    assert summary["event_count"] == len(events)
    assert summary["counts_by_level"] == dict(Counter(event["level"] for event in events))
    assert summary["counts_by_event_type"] == dict(
        Counter(event["event_type"] for event in events if "event_type" in event)
    )
    assert summary["error_count"] == sum(e["level"] in ("ERROR", "CRITICAL") for e in events)
    assert events[-1]["event_type"] == "run_finished"
    assert events[-1]["event_count"] == len(events)
    return summary


def _assert_legacy_job_events(events: list[dict[str, Any]]) -> None:
    loggers = {event["logger"] for event in events}
    assert {"legacy.job", "acme_client", "runlogger.run"} <= loggers
    for event in events:
        assert list(event)[:5] == ["timestamp", "level", "logger", "message", "run_id"]
        assert event["timestamp"].endswith("Z")
    failure = next(e for e in events if e["level"] == "ERROR")
    assert failure["exc_type"] == "ZeroDivisionError"


def test_dictconfig_legacy_job(tmp_path: Path) -> None:
    events, _ = _run_example(tmp_path, "dictconfig_example.py")
    _assert_legacy_job_events(events)
    summary = _assert_one_run_counted(events, tmp_path / "runs")
    assert summary["first_error"]["message"] == "could not compute the ratio"
    assert summary["warning_count"] == 1


def test_fileconfig_legacy_job(tmp_path: Path) -> None:
    events, _ = _run_example(tmp_path, "fileconfig_example.py")
    _assert_legacy_job_events(events)
    _assert_one_run_counted(events, tmp_path / "runs")


@pytest.mark.parametrize("config", ["logging.json", "logging.yaml"])
def test_dictconfig_from_a_file(tmp_path: Path, config: str) -> None:
    events, _ = _run_example(tmp_path, "config_file_example.py", str(EXAMPLES / config))
    _assert_legacy_job_events(events)
    assert {event["service"] for event in events} == {"nightly-job"}
    _assert_one_run_counted(events, tmp_path / "runs")


def test_copied_logging_conf_example_works(tmp_path: Path) -> None:
    shutil.copy(REPO / "logging.conf.example", tmp_path / "logging.conf")
    events, _ = _run_example(tmp_path, "fileconfig_example.py", str(tmp_path / "logging.conf"))
    _assert_one_run_counted(events, tmp_path / "runs")


CONFIGURE = """
import logging, logging.config, sys, threading, asyncio
import runlogger
logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run": {"()": "runlogger.RunContextFilter"}},
    "formatters": {"json": {"()": "runlogger.RunJsonFormatter"}},
    "handlers": {
        "out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                "formatter": "json", "filters": ["run"]},
        "summary": {"class": "runlogger.RunSummaryHandler", "directory": "runs",
                    "filters": ["run"]},
    },
    "root": {"level": "INFO", "handlers": ["out", "summary"]},
})
log = logging.getLogger("app")
"""


def test_uncaught_exception_fails_the_run(tmp_path: Path) -> None:
    result = run_python(
        CONFIGURE + "log.info('before')\nraise RuntimeError('fatal problem')\n",
        cwd=tmp_path,
        check_exit=1,
    )
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: fatal problem" in result.stderr
    events = json_lines(result.stdout)
    summary = _assert_failed(events, tmp_path)
    assert summary["exception"] == {"type": "RuntimeError", "message": "fatal problem"}
    assert summary["first_error"]["exc_type"] == "RuntimeError"
    uncaught = next(e for e in events if e.get("event_type") == "uncaught_exception")
    assert uncaught["level"] == "CRITICAL"
    assert "fatal problem" in uncaught["exc_info"]


def _assert_failed(events: list[dict[str, Any]], tmp_path: Path) -> dict[str, Any]:
    (run_id,) = {event["run_id"] for event in events}
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["status"] == "failed"
    assert summary["event_count"] == len(events)
    assert events[-1]["event_type"] == "run_finished"
    assert events[-1]["status"] == "failed"
    return summary


def test_existing_excepthook_is_chained(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "def mine(t, e, tb):\n"
        "    print('MY HOOK', t.__name__, file=sys.stderr)\n"
        "sys.excepthook = mine\n" + CONFIGURE + "raise ValueError('x')\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=1)
    assert "MY HOOK ValueError" in result.stderr
    _assert_failed(json_lines(result.stdout), tmp_path)


def test_thread_exception_is_an_error_event_of_the_run(tmp_path: Path) -> None:
    code = CONFIGURE + (
        "def boom():\n    raise LookupError('in thread')\n"
        "t = threading.Thread(target=boom, name='worker-1'); t.start(); t.join()\n"
        "log.info('main goes on')\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=0)
    assert "LookupError: in thread" in result.stderr  # the usual report still prints
    events = json_lines(result.stdout)
    failure = next(e for e in events if e.get("event_type") == "thread_exception")
    assert failure["level"] == "ERROR"
    assert failure["exc_type"] == "LookupError"
    assert failure["thread_name"] == "worker-1"
    summary = _assert_one_run_counted(events, tmp_path / "runs")
    assert summary["error_count"] == 1


def test_nested_and_concurrent_asyncio_runs(tmp_path: Path) -> None:
    code = CONFIGURE + (
        "async def job(i):\n"
        "    with runlogger.run(f'job{i}'):\n"
        "        for step in range(3):\n"
        "            log.info('step', extra={'event_type': 'step', 'job': i})\n"
        "            await asyncio.sleep(0)\n"
        "async def main():\n"
        "    with runlogger.run('batch'):\n"
        "        await asyncio.gather(*(job(i) for i in range(3)))\n"
        "asyncio.run(main())\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=0)
    events = json_lines(result.stdout)
    steps = [e for e in events if e.get("event_type") == "step"]
    by_job: dict[int, set[str]] = {}
    for event in steps:
        by_job.setdefault(event["job"], set()).add(event["run_id"])
    assert all(len(ids) == 1 for ids in by_job.values())
    job_ids = {ids.pop() for ids in by_job.values()}
    assert len(job_ids) == 3
    starts = {e["run_id"]: e for e in events if e.get("event_type") == "run_started"}
    batch_id = next(rid for rid, e in starts.items() if e.get("run_name") == "batch")
    process_id = starts[batch_id]["parent_run_id"]
    for job_id in job_ids:
        assert starts[job_id]["parent_run_id"] == batch_id
        summary = read_summary(tmp_path / "runs", job_id)
        assert summary["counts_by_event_type"] == {"run_started": 1, "step": 3, "run_finished": 1}
        assert summary["parent_run_id"] == batch_id
    assert read_summary(tmp_path / "runs", batch_id)["status"] == "completed"
    assert read_summary(tmp_path / "runs", process_id)["status"] == "completed"
    assert events[-1]["run_id"] == process_id


def test_worker_thread_logs_into_the_run_that_started_it(tmp_path: Path) -> None:
    code = CONFIGURE + (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def work(i):\n"
        "    log.info('item', extra={'event_type': 'item', 'i': i})\n"
        "with runlogger.run('threaded') as r:\n"
        "    with ThreadPoolExecutor(4) as pool:\n"
        "        list(pool.map(runlogger.in_current_run(work), range(20)))\n"
        "    t = threading.Thread(target=runlogger.in_current_run(work), args=(99,))\n"
        "    t.start(); t.join()\n"
        "print('RUN', r.run_id, file=sys.stderr)\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=0)
    run_id = result.stderr.split("RUN ")[1].split()[0]
    items = [e for e in json_lines(result.stdout) if e.get("event_type") == "item"]
    assert len(items) == 21
    assert {e["run_id"] for e in items} == {run_id}
    assert read_summary(tmp_path / "runs", run_id)["counts_by_event_type"]["item"] == 21


def test_reconfiguring_mid_run_keeps_one_run_and_all_counts(tmp_path: Path) -> None:
    code = CONFIGURE + (
        "log.info('one')\n"
        + CONFIGURE.split("log = ")[0].split("import runlogger")[1]
        + "log.info('two')\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=0)
    events = json_lines(result.stdout)
    assert events[0]["event_type"] == "run_started"
    assert [e["message"] for e in events][1:3] == ["one", "two"]
    _assert_one_run_counted(events, tmp_path / "runs")
    assert len(list((tmp_path / "runs").glob("*.json"))) == 1


def test_summary_written_after_last_record_before_shutdown(tmp_path: Path) -> None:
    """An atexit handler registered before configuration logs after the run ended: counted late."""
    code = CONFIGURE + (
        "import atexit\n"
        "atexit.register(lambda: log.info('registered after config: runs before the end'))\n"
        "log.info('last normal record')\n"
    )
    result = run_python(code, cwd=tmp_path, check_exit=0)
    events = json_lines(result.stdout)
    assert events[-1]["event_type"] == "run_finished"
    assert events[-2]["message"] == "registered after config: runs before the end"
    _assert_one_run_counted(events, tmp_path / "runs")


def test_runs_dir_from_environment(tmp_path: Path) -> None:
    code = CONFIGURE.replace('"directory": "runs",', "") + "log.info('x')\n"
    script_env = clean_env(RUNLOGGER_DIR=str(tmp_path / "elsewhere"))
    result = run_python(code, cwd=tmp_path, env=script_env, check_exit=0)
    (run_id,) = {e["run_id"] for e in json_lines(result.stdout)}
    assert read_summary(tmp_path / "elsewhere", run_id)["status"] == "completed"


def test_explicit_runs_example(tmp_path: Path) -> None:
    events, result = _run_example(tmp_path, "explicit_runs.py")
    marker = next(line for line in result.stdout.splitlines() if line.startswith("# nightly-etl"))
    etl_id = marker.split()[3].rstrip(":")
    starts = {e["run_id"]: e for e in events if e.get("event_type") == "run_started"}
    assert starts[etl_id]["run_name"] == "nightly-etl"
    assert starts[etl_id]["attributes"] == {"region": "eu"}
    by_name = {e.get("run_name"): rid for rid, e in starts.items()}
    fetched = [e for e in events if e.get("event_type") == "source_fetched"]
    assert {e["run_id"] for e in fetched} == {by_name["fetch"]}
    rows = [e for e in events if e.get("event_type") == "row_transformed"]
    assert {e["run_id"] for e in rows} == {etl_id}
    loads = [e for e in events if e.get("event_type") == "partition_loaded"]
    assert len({e["run_id"] for e in loads}) == 2
    assert all(e["parent_run_id"] == etl_id for e in loads)
    summary = read_summary(tmp_path / "runs", etl_id)
    assert summary["status"] == "completed"
    assert summary["counts_by_event_type"]["row_transformed"] == 2
    assert summary["counts_by_event_type"]["etl_done"] == 1
