"""The run's lifecycle in the hard cases: heartbeats, ids chosen from outside, a full disk,
run_started as the first event, lifecycle events at a WARNING root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from runlogger._catalog_schema import derive_status
from support import clean_env, python_command, read_jsonl, read_summary, run_python

CONFIG = """
import logging, logging.config, os, sys, time
import runlogger

LOGGING = {
    "version": 1,
    "filters": {"run": {"()": "runlogger.RunContextFilter"}},
    "formatters": {"json": {"()": "runlogger.RunJsonFormatter"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                   "formatter": "json", "filters": ["run"]},
        "events": {"class": "runlogger.RunFileHandler", "directory": "runs",
                   "filters": ["run"]},
        "summary": {"class": "runlogger.RunSummaryHandler", "directory": "runs",
                    "filters": ["run"], "checkpoint_interval": INTERVAL},
    },
    "root": {"level": ROOT_LEVEL, "handlers": ["stdout", "events", "summary"]},
}
"""


def _job(body: str, *, interval: float = 30.0, root_level: str = "INFO") -> str:
    head = CONFIG.replace("INTERVAL", repr(interval)).replace("ROOT_LEVEL", repr(root_level))
    return head + body


def _printed_id(result: subprocess.CompletedProcess[str]) -> str:
    """The run id the script printed as ``ID <run_id>`` among the JSON lines."""
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("ID "))


def _stdout_events(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


# --- 16.1 heartbeat ------------------------------------------------------------------------

SILENT = """
logging.config.dictConfig(LOGGING)
logging.getLogger("job").info("working quietly")
run_id = runlogger.current_run().run_id
print("ID", run_id, flush=True)
path = os.path.join("runs", run_id + ".json")
first = json.load(open(path))["updated_at"]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:             # no record at all meanwhile
    time.sleep(0.05)
    now = json.load(open(path))
    if now["updated_at"] != first:
        print("refreshed", now["status"], now["event_count"], now["checkpoint_interval_s"])
        break
"""


def test_silent_run_keeps_its_checkpoint_fresh(tmp_path: Path) -> None:
    """No record for a while: the heartbeat thread still refreshes updated_at."""
    result = run_python("import json\n" + _job(SILENT, interval=0.2), cwd=tmp_path, check_exit=0)
    assert "refreshed running 2 0.2" in result.stdout, result.stdout + result.stderr
    run_id = _printed_id(result)
    assert read_summary(tmp_path / "runs", run_id)["status"] == "completed"


def test_stale_running_run_of_another_host_is_lost() -> None:
    """Readers: a checkpoint older than 3 intervals is lost, even where no pid is checkable."""
    updated = datetime(2026, 11, 30, 21, 0, tzinfo=timezone.utc).timestamp()
    stale: dict[str, Any] = {"host": "elsewhere.invalid", "pid": 1, "updated_at": updated}
    now = updated + 3600  # an hour later
    here = "this-host.invalid"
    assert derive_status("running", **stale, summary_interval=30, this_host=here, now=now) == "lost"
    assert (
        derive_status("running", **stale, summary_interval=7200, this_host=here, now=now)
        == "running"
    )
    assert (
        derive_status("running", **stale, summary_interval=None, this_host=here, now=now)
        == "running"
    )


def test_runs_lists_a_stale_running_run_as_lost(tmp_path: Path) -> None:
    from support import write_summary

    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "stale-1", status="running", checkpoint_interval_s=30, end_time=None)
    write_summary(runs, "fresh-1", status="running", end_time=None)  # no heartbeat recorded
    result = python_command("-m", "runlogger", "runs", "--dir", str(runs), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    statuses = {
        row["run_id"]: row["status"] for row in map(json.loads, result.stdout.split("\n")[:-1])
    }
    assert statuses == {"stale-1": "lost", "fresh-1": "running"}


FORK_HEARTBEAT = """
logging.config.dictConfig(LOGGING)
log = logging.getLogger("job")
log.info("before fork")
pid = os.fork()
if pid == 0:
    with runlogger.run("child-work") as child:
        path = os.path.join("runs", child.run_id + ".json")
        first = json.load(open(path))["updated_at"]
        deadline = time.monotonic() + 60
        while json.load(open(path))["updated_at"] == first and time.monotonic() < deadline:
            time.sleep(0.02)                     # silent: only the child's heartbeat writes
        print("ID", child.run_id, json.load(open(path))["updated_at"] != first, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_forked_child_runs_its_own_heartbeat(tmp_path: Path) -> None:
    result = run_python(
        "import json\n" + _job(FORK_HEARTBEAT, interval=0.1), cwd=tmp_path, check_exit=0
    )
    child_id = _printed_id(result)
    assert f"ID {child_id} True" in result.stdout  # refreshed while the child was silent
    summary = read_summary(tmp_path / "runs", child_id)
    assert summary["status"] == "completed"
    assert summary["checkpoint_interval_s"] == 0.1


# --- 16.2 + 17.7 run ids chosen from outside ------------------------------------------------

SCHEDULED = """
logging.config.dictConfig(LOGGING)
logging.getLogger("job").info("scheduled work")
"""


def test_scheduler_chosen_id_is_owned_and_completed(tmp_path: Path) -> None:
    result = run_python(
        _job(SCHEDULED), cwd=tmp_path, env=clean_env(RUNLOGGER_RUN_ID="nightly-2026-12-04")
    )
    assert result.returncode == 0, result.stderr
    summary = read_summary(tmp_path / "runs", "nightly-2026-12-04")
    assert summary["status"] == "completed"
    events = read_jsonl(tmp_path / "runs" / "nightly-2026-12-04.jsonl")
    assert [e.get("event_type") for e in (events[0], events[-1])] == ["run_started", "run_finished"]


PARENT = """
logging.config.dictConfig(LOGGING)
import subprocess
child = "import logging.config, sys; sys.path[:0] = ['.']; from parent_config import LOGGING; " \\
        "logging.config.dictConfig(LOGGING); logging.getLogger('child').info('from the child')"
subprocess.run([sys.executable, "-c", child], check=True)
print("ID", runlogger.current_run().run_id, os.environ["RUNLOGGER_RUN_OWNER"])
"""


def test_children_of_an_owner_join_its_run(tmp_path: Path) -> None:
    (tmp_path / "parent_config.py").write_text(
        _job("").replace("import runlogger", ""), encoding="utf-8"
    )
    result = run_python(
        _job(PARENT), cwd=tmp_path, env=clean_env(RUNLOGGER_RUN_ID="nightly-7"), check_exit=0
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("ID "))
    run_id, owner = line.split()[1:]
    assert run_id == "nightly-7"
    assert owner.startswith("nightly-7@")
    summary = read_summary(tmp_path / "runs", "nightly-7")
    assert summary["status"] == "completed"
    assert len(summary["contributors"]) == 2
    events = read_jsonl(tmp_path / "runs" / "nightly-7.jsonl")
    types = [e.get("event_type") for e in events]
    assert types.count("run_started") == 1
    assert types.count("run_finished") == 1
    assert "from the child" in [e["message"] for e in events]


def test_reusing_a_finished_run_id_starts_the_next_attempt(tmp_path: Path) -> None:
    env = clean_env(RUNLOGGER_RUN_ID="nightly-9")
    first = run_python(_job(SCHEDULED), cwd=tmp_path, env=env, check_exit=0)
    assert first.returncode == 0
    before = (tmp_path / "runs" / "nightly-9.json").read_bytes()
    lines_before = (tmp_path / "runs" / "nightly-9.jsonl").read_bytes()

    again = run_python(_job(SCHEDULED), cwd=tmp_path, env=env, check_exit=0)

    assert "this run is 'nightly-9.2'" in again.stderr
    assert read_summary(tmp_path / "runs", "nightly-9.2")["attempt"] == 2
    assert (tmp_path / "runs" / "nightly-9.json").read_bytes() == before
    assert (tmp_path / "runs" / "nightly-9.jsonl").read_bytes() == lines_before


def test_wrapper_runs_a_finished_run_id_as_its_next_attempt(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("import logging\nlogging.warning('x')\n", encoding="utf-8")
    args = ("-m", "runlogger", "run", "--run-id", "daily-1", "job.py")
    assert python_command(*args, cwd=tmp_path).returncode == 0
    again = python_command(*args, cwd=tmp_path)
    assert again.returncode == 0
    assert again.stderr.startswith(
        "runlogger: run id 'daily-1' already names a completed run (started "
    )
    assert read_summary(tmp_path / "runs", "daily-1.2")["status"] == "completed"
    assert read_summary(tmp_path / "runs", "daily-1")["status"] == "completed"


# --- 16.3 full disk ----------------------------------------------------------------------

FAULTS = """
import errno
_real_write, _real_open = os.write, os.open
FAIL = {"events": False, "summary": 0}
def _write(fd, data):
    if FAIL["events"] and fd > 2 and os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl"):
        raise OSError(errno.ENOSPC, "No space left on device")
    return _real_write(fd, data)
def _open(path, flags, *args, **kwargs):
    if FAIL["summary"] and str(path).endswith(".tmp"):
        FAIL["summary"] -= 1
        raise OSError(errno.ENOSPC, "No space left on device", str(path))
    return _real_open(path, flags, *args, **kwargs)
os.write, os.open = _write, _open
logging.config.dictConfig(LOGGING)
log = logging.getLogger("job")
log.info("before the disk fills")
FAIL["events"] = True
for i in range(50):
    log.info("record %d", i)
FAIL["summary"] = int(sys.argv[1])
print("job done", flush=True)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
# 2: the exit-time flush of the counts and the final write fail, the retry gets through.
@pytest.mark.parametrize("summary_failures", [2, 99], ids=["retry-succeeds", "disk-stays-full"])
def test_full_disk_is_reported_once_and_the_final_summary_retried(
    tmp_path: Path, summary_failures: int
) -> None:
    result = run_python(_job(FAULTS), str(summary_failures), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Logging error" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if "RunFileHandler cannot write" in line] == [
        line for line in lines if "No space left" in line and "RunFileHandler" in line
    ]
    assert sum("RunFileHandler cannot write" in line for line in lines) == 1
    run_id = _stdout_events(result)[0]["run_id"]
    summary = read_summary(tmp_path / "runs", str(run_id))
    summary_lines = [line for line in lines if "summary" in line and "RunFileHandler" not in line]
    assert len(lines) == 1 + len(summary_lines), lines
    if summary_failures == 2:
        assert summary["status"] == "completed"
        assert summary["logging_errors"] == 51  # 50 records and run_finished
        assert not any("final summary" in line for line in lines), lines
    else:
        assert summary["status"] == "running"  # the checkpoint before the disk filled
        final = [line for line in lines if "final summary" in line]
        assert len(final) == 1, lines
        assert f"runs/{run_id}.json" in final[0]
        assert len(summary_lines) == 2, lines  # the first failure, then the final one


TMPFS = """
logging.config.dictConfig(LOGGING)
log = logging.getLogger("job")
for i in range(50):
    log.info("record %d %s", i, "x" * 2000)
print("job done", flush=True)
"""


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mounting needs root")
def test_full_tmpfs_is_reported_in_one_line_per_handler(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(runs)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        result = run_python(_job(TMPFS), cwd=tmp_path)
    finally:
        subprocess.run(["umount", str(runs)], check=False)
    assert result.returncode == 0, result.stderr
    assert "job done" in result.stdout
    assert "Traceback" not in result.stderr
    assert "Logging error" not in result.stderr
    lines = result.stderr.splitlines()
    assert sum("RunFileHandler cannot write" in line for line in lines) == 1, lines
    catalog_lines = [line for line in lines if "sink catalog failed" in line]
    assert len(catalog_lines) <= 1, lines  # the SQLite catalog on the same full disk: once
    assert len(lines) - len(catalog_lines) <= 3, lines  # events, a checkpoint, the final summary


# --- 16.5 run_started first, 16.8 WARNING root -------------------------------------------

QUIET_ROOT = """
logging.config.dictConfig(LOGGING)
logging.getLogger("job").warning("only warnings pass")
logging.getLogger("job").info("held back")
print("ID", runlogger.current_run().run_id)
"""


def test_lifecycle_events_reach_every_output_at_a_warning_root(tmp_path: Path) -> None:
    result = run_python(_job(QUIET_ROOT, root_level="WARNING"), cwd=tmp_path, check_exit=0)
    run_id = _printed_id(result)
    for events in (_stdout_events(result), read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")):
        assert [e.get("event_type") or e["message"] for e in events] == [
            "run_started",
            "only warnings pass",
            "run_finished",
        ]
        started = events[0]
        assert (started["run_id"], started["pid"]) == (run_id, started["pid"])
        assert str(started["argv"]).endswith("script_under_test.py']")
        assert isinstance(started["host"], str)
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["event_count"] == 3


def test_lifecycle_events_can_be_silenced_explicitly(tmp_path: Path) -> None:
    body = 'logging.getLogger("runlogger.run").setLevel(logging.WARNING)\n' + QUIET_ROOT
    result = run_python(_job(body, root_level="WARNING"), cwd=tmp_path, check_exit=0)
    assert [e["message"] for e in _stdout_events(result)] == ["only warnings pass"]


LATE_HANDLER = """
logging.config.dictConfig(LOGGING)
logging.getLogger("job").info("first")
late = runlogger.RunFileHandler("late")
logging.getLogger().addHandler(late)
logging.getLogger("job").info("second")
print("ID", runlogger.current_run().run_id)
"""


def test_event_file_configured_later_begins_with_run_started(tmp_path: Path) -> None:
    result = run_python(_job(LATE_HANDLER), cwd=tmp_path, check_exit=0)
    run_id = _printed_id(result)
    late = read_jsonl(tmp_path / "late" / f"{run_id}.jsonl")
    assert [e.get("event_type") or e["message"] for e in late] == [
        "run_started",
        "second",
        "run_finished",
    ]
    stdout = _stdout_events(result)
    assert [e.get("event_type") for e in stdout].count("run_started") == 1


def test_wrapper_events_begin_with_run_started(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("import logging\nlogging.warning('x')\n", encoding="utf-8")
    result = python_command(
        "-m", "runlogger", "run", "--run-id", "w-1", "job.py", "a", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    events = read_jsonl(tmp_path / "runs" / "w-1.jsonl")
    assert events[0]["event_type"] == "run_started"
    assert events[0]["argv"] == ["job.py", "a"]
    assert events[0]["run_name"] == "job"
    assert sys.executable  # the wrapper ran in this interpreter


# --- 16.6 queue recipes -------------------------------------------------------------------

QUEUE_BY_HAND = """
import atexit, logging, logging.handlers, queue
import runlogger

q = queue.Queue(-1)
listener = logging.handlers.QueueListener(
    q, runlogger.RunFileHandler("runs"), runlogger.RunSummaryHandler("runs")
)
handler = runlogger.RunQueueHandler(q, listener)
handler.addFilter(runlogger.RunContextFilter())
root = logging.getLogger()
root.setLevel(logging.INFO)
root.addHandler(handler)
listener.start()
atexit.register(listener.stop)              # runs before runlogger ends the run
log = logging.getLogger("job")
log.info("hello")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("boom")
print("ID", runlogger.current_run().run_id)
"""

QUEUE_DICTCONFIG = """
import atexit, logging, logging.config
import runlogger

logging.config.dictConfig({
    "version": 1,
    "filters": {"run": {"()": "runlogger.RunContextFilter"}},
    "handlers": {
        "events": {"class": "runlogger.RunFileHandler", "directory": "runs"},
        "summary": {"class": "runlogger.RunSummaryHandler", "directory": "runs"},
        "queue": {"class": "runlogger.RunQueueHandler", "handlers": ["events", "summary"],
                  "filters": ["run"]},
    },
    "root": {"level": "INFO", "handlers": ["queue"]},
})
listener = logging.getHandlerByName("queue").listener
listener.start()
atexit.register(listener.stop)
log = logging.getLogger("job")
log.info("hello")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("boom")
print("ID", runlogger.current_run().run_id)
"""


def _check_queue_run(tmp_path: Path, code: str) -> None:
    result = run_python(code, cwd=tmp_path, check_exit=0)
    run_id = _printed_id(result)
    events = read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")
    assert [e.get("event_type") or e["message"] for e in events] == [
        "run_started",
        "hello",
        "boom",
        "run_finished",
    ]
    boom = events[2]
    assert boom["message"] == "boom"
    assert boom["exc_type"] == "ZeroDivisionError"
    assert str(boom["exc_info"]).startswith("Traceback")
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["status"] == "completed"
    assert summary["event_count"] == 4
    assert summary["counts_by_event_type"] == {"run_started": 1, "run_finished": 1}
    assert summary["first_error"]["exc_type"] == "ZeroDivisionError"
    assert summary["first_error"]["message"] == "boom"


def test_queue_listener_by_hand_loses_nothing(tmp_path: Path) -> None:
    _check_queue_run(tmp_path, QUEUE_BY_HAND)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="dictConfig builds listeners from 3.12")
def test_queue_handler_from_dictconfig_loses_nothing(tmp_path: Path) -> None:
    _check_queue_run(tmp_path, QUEUE_DICTCONFIG)


def test_queue_handler_copies_the_record_it_prepares() -> None:
    import logging

    from runlogger import RunQueueHandler

    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info)
    prepared = RunQueueHandler(None).prepare(record)
    assert (prepared.msg, prepared.args, prepared.exc_info) == ("failed x", None, None)
    assert prepared.exc_type == "ZeroDivisionError"  # type: ignore[attr-defined]
    assert (record.msg, record.args, record.exc_info) == ("failed %s", ("x",), exc_info)


_SHARED_NAMES = """
import logging, sys
if sys.argv[1] == "silent":  # no lifecycle records at all
    logging.getLogger("runlogger.run").setLevel(logging.CRITICAL)
import runlogger
handler = runlogger.RunFileHandler("runs")
handler.addFilter(runlogger.RunContextFilter())
logging.getLogger().addHandler(handler)
logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
logging.getLogger().setLevel(logging.INFO)
logging.getLogger("app").info("the first record announces the process run")
# How many attribute names of its own a record can still add without a dict copy.
record = logging.getLogger("app").makeRecord("app", 20, "f", 1, "m", None, None)
size = sys.getsizeof(record.__dict__)
room = 0
while room < 40:
    record.__dict__[f"field_{room}"] = room
    if sys.getsizeof(record.__dict__) != size:
        break
    room += 1
print(room)
"""


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's key-sharing dicts")
def test_runloggers_own_records_leave_the_shared_attribute_names_to_the_programs(
    tmp_path: Path,
) -> None:
    """CPython shares a few attribute names beyond LogRecord's own among all records, first
    come first served; a record adding a name left out gets a dict copy of its own, each
    time. run_started comes first (made with the handlers): its fields must not use them."""
    with_events, silent = (
        int(run_python(_SHARED_NAMES, which, cwd=tmp_path, check_exit=0).stdout)
        for which in ("events", "silent")
    )
    # run_started's fields would take five names (run_name, host, pid, argv, a marker);
    # the one record more made with events can move CPython's count by one.
    assert silent >= 3
    assert with_events >= silent - 1
