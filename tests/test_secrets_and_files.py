"""Secrets stay out of every output; run ids, modes, symlinks and crashes cannot hurt files.

Secret-looking keys are redacted by default (configurable, can be turned off) and a
secret's bytes appear in no file and no stream of a ``runlogger run``. Run ids are file
names, so anything that could leave the runs directory is refused. Summary and event
files are 0600 whatever the umask, a planted symlink is neither followed nor read, a
summary survives SIGKILL at any moment as the old or the new complete file, and temp
files of dead writers are cleaned up.
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import runlogger
from runlogger import (
    InvalidRunIdError,
    RunContextFilter,
    RunFileHandler,
    RunJsonFormatter,
    RunSummaryHandler,
)
from strategies import SECRET_KEY_NAMES
from support import (
    DOCUMENTED_SUMMARY_KEYS,
    Collect,
    clean_env,
    parse_line,
    python_command,
    read_jsonl,
    read_summary,
    run_python,
)

REDACTED = "[REDACTED]"
SECRET = "hunter2-Zx9q-S3cr3t-7731"
SUMMARY_KEYS = set(DOCUMENTED_SUMMARY_KEYS)
_names = itertools.count()

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file semantics")


def _short(value: object) -> str:
    """A readable test id for odd strings (NUL, 65 characters)."""
    text = ascii(value)
    return text if len(text) <= 16 else text[:12] + "..."


def _format(formatter: RunJsonFormatter, **extra: object) -> dict[str, Any]:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "message", None, None)
    record.__dict__.update(extra)
    return parse_line(formatter.format(record))


def _logger(*handlers: logging.Handler) -> logging.Logger:
    """A logger outside the tree (pytest's capture handler never joins it) with a run filter."""
    log = logging.Logger(f"files.{next(_names)}", logging.DEBUG)
    log.propagate = False
    run_filter = RunContextFilter()
    for handler in handlers:
        handler.addFilter(run_filter)
        log.addHandler(handler)
    return log


def _finish() -> None:
    runlogger.current_run().finish()


def _assert_complete(document: dict[str, Any], run_id: str) -> None:
    assert document.keys() >= SUMMARY_KEYS
    assert document["schema"] == "runlogger.summary/1"
    assert document["run_id"] == run_id
    assert isinstance(document["event_count"], int)


# --- redaction ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", SECRET_KEY_NAMES)
def test_secret_looking_keys_are_redacted_by_default(key: str) -> None:
    event = _format(RunJsonFormatter(), **{key: SECRET})

    assert event[key] == REDACTED


@pytest.mark.parametrize("key", ["user", "auth_method", "host", "count", "path"])
def test_ordinary_keys_are_kept(key: str) -> None:
    event = _format(RunJsonFormatter(), **{key: "visible"})

    assert event[key] == "visible"


def test_secrets_are_redacted_at_any_depth_and_inside_lists() -> None:
    event = _format(
        RunJsonFormatter(),
        request={
            "headers": [{"Authorization": f"Bearer {SECRET}"}, {"Accept": "json"}],
            "body": {"user": "ann", "credentials": {"PASSWORD": SECRET}},
            "cookies": [SECRET, SECRET],
        },
    )

    assert event["request"] == {
        "headers": [{"Authorization": REDACTED}, {"Accept": "json"}],
        "body": {"user": "ann", "credentials": REDACTED},
        "cookies": REDACTED,
    }


def test_secret_key_list_is_configurable() -> None:
    formatter = RunJsonFormatter(secret_keys=["pin", "ssn"])

    event = _format(formatter, card_pin="1234", SSN="078-05-1120", password="kept")

    assert (event["card_pin"], event["SSN"]) == (REDACTED, REDACTED)
    assert event["password"] == "kept"


def test_redaction_can_be_turned_off() -> None:
    event = _format(RunJsonFormatter(secret_keys=()), password=SECRET, auth={"token": SECRET})

    assert event["password"] == SECRET
    assert event["auth"] == {"token": SECRET}


@pytest.mark.parametrize("backend", ["json", "orjson"])
def test_a_secret_field_renamed_to_an_ordinary_name_is_still_redacted(backend: str) -> None:
    formatter = RunJsonFormatter(backend=backend, rename_fields={"password": "pw", "user": "u"})

    event = _format(formatter, password=SECRET, user="ann")

    assert (event["pw"], event["u"]) == (REDACTED, "ann")
    assert SECRET not in json.dumps(event)


def test_a_renamed_secret_in_a_dict_message_or_in_fmt_is_still_redacted() -> None:
    formatter = RunJsonFormatter("%(message)s %(password)s", rename_fields={"password": "pw"})
    record = logging.LogRecord("app", logging.INFO, __file__, 1, {"password": SECRET}, None, None)

    assert parse_line(formatter.format(record))["pw"] == REDACTED
    assert _format(formatter, password=SECRET)["pw"] == REDACTED


def test_a_renamed_secret_is_kept_when_redaction_is_off() -> None:
    formatter = RunJsonFormatter(rename_fields={"password": "pw"}, secret_keys=())

    assert _format(formatter, password=SECRET)["pw"] == SECRET


def test_secret_run_attributes_are_redacted_in_the_summary_and_the_run_started_event(
    runs_dir: Path,
) -> None:
    collect = Collect()
    lines = Collect()
    lines.setFormatter(RunJsonFormatter(secret_keys=["nothing-matches-this"]))
    run_logger = logging.getLogger("runlogger.run")
    run_logger.setLevel(logging.INFO)
    for handler in (RunSummaryHandler(runs_dir), collect, lines):
        handler.addFilter(RunContextFilter())
        run_logger.addHandler(handler)
    try:
        with runlogger.run("job", password=SECRET, db={"token": SECRET, "host": "db1"}) as job:
            pass
    finally:
        run_logger.setLevel(logging.NOTSET)
        for handler in run_logger.handlers[:]:
            run_logger.removeHandler(handler)
            handler.close()

    expected = {"password": REDACTED, "db": {"token": REDACTED, "host": "db1"}}
    assert read_summary(runs_dir, job.run_id)["attributes"] == expected
    (started,) = [
        r
        for r in collect.records
        if getattr(r, "event_type", None) == "run_started" and r.run_id == job.run_id
    ]
    assert started.attributes == expected  # type: ignore[attr-defined]
    assert not any(SECRET in lines.format(record) for record in lines.records)


def test_a_run_attribute_json_cannot_hold_still_lets_the_summary_be_written(
    runs_dir: Path,
) -> None:
    _logger(RunSummaryHandler(runs_dir))

    with runlogger.run("job", day=datetime.date(2026, 12, 4), tags={"a"}) as job:
        pass

    summary = read_summary(runs_dir, job.run_id)
    assert summary["status"] == "completed"
    assert summary["attributes"] == {"day": "2026-12-04", "tags": ["a"]}


SECRET_JOB = """
    import logging

    log = logging.getLogger("job")
    log.warning(
        "signing in",
        extra={{
            "password": {secret!r},
            "auth": {{"token": {secret!r}}},
            "headers": [{{"X-Api-Key": {secret!r}}}],
        }},
    )
    log.error("request failed", extra={{"session": {{"cookie": {secret!r}}}}})
"""


def test_secret_appears_in_no_output_of_runlogger_run(tmp_path: Path) -> None:
    """The secret lives only in the script's source: not on argv (the summary records
    argv) nor in the environment."""
    (tmp_path / "job.py").write_text(
        textwrap.dedent(SECRET_JOB).format(secret=SECRET), encoding="utf-8"
    )

    result = subprocess.run(
        [sys.executable, "-m", "runlogger", "run", "job.py"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    secret = SECRET.encode()
    outputs = sorted((tmp_path / "runs").rglob("*"))
    assert {path.suffix for path in outputs} >= {".json", ".jsonl"}
    for path in outputs:
        assert secret not in path.read_bytes(), path
    assert secret not in result.stdout
    assert secret not in result.stderr
    (events_file,) = (tmp_path / "runs").glob("*.jsonl")
    signing_in = next(e for e in read_jsonl(events_file) if e["message"] == "signing in")
    assert signing_in["password"] == REDACTED
    assert signing_in["auth"] == {"token": REDACTED}
    assert b"signing in" in result.stderr


# --- run ids ------------------------------------------------------------------------------

BAD_RUN_IDS = ["../x", "a/b", "a\x00b", "", ".hidden", "-flag", "x" * 65, "a b", "caf\u00e9"]


@pytest.mark.parametrize("run_id", BAD_RUN_IDS, ids=_short)
def test_bad_run_id_is_refused_by_run(run_id: str) -> None:
    with pytest.raises(InvalidRunIdError, match="Invalid run id"):
        runlogger.run(run_id=run_id)


def _python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return python_command("-c", textwrap.dedent(code), cwd=cwd, env=clean_env(**env))


# NUL cannot be put into an environment variable or argv, so only run() meets it.
@pytest.mark.parametrize("run_id", ["../x", "a/b", ".hidden", "x" * 65], ids=_short)
def test_bad_run_id_in_the_environment_is_refused(tmp_path: Path, run_id: str) -> None:
    work = tmp_path / "work"
    work.mkdir()

    result = _python(
        "import runlogger; runlogger.RunFileHandler('runs')", work, RUNLOGGER_RUN_ID=run_id
    )

    assert result.returncode == 1
    assert f"InvalidRunIdError: Invalid run id {run_id!r}" in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["runs", "work"]


@pytest.mark.parametrize("handler", ["RunFileHandler", "RunSummaryHandler"])
@pytest.mark.parametrize(
    ("directory", "run_id"),
    [("runs", "../x"), ("a-file/runs", "")],
    ids=["refused-run-id", "unusable-directory"],
)
def test_handler_refused_at_construction_is_the_only_error_at_exit(
    tmp_path: Path, handler: str, directory: str, run_id: str
) -> None:
    """The uncaught error keeps the half-built handler alive until logging.shutdown()."""
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    env = {"RUNLOGGER_RUN_ID": run_id} if run_id else {}

    result = _python(f"import runlogger; runlogger.{handler}({directory!r})", tmp_path, **env)

    assert result.returncode == 1
    assert result.stderr.startswith("Traceback")
    assert "Exception ignored" not in result.stderr
    assert "AttributeError" not in result.stderr


@pytest.mark.parametrize("run_id", ["../x", "a/b", ".hidden", "x" * 65], ids=_short)
def test_bad_run_id_is_refused_by_the_command_line(tmp_path: Path, run_id: str) -> None:
    (tmp_path / "job.py").write_text("open('ran', 'w').close()\n", encoding="utf-8")

    result = python_command("-m", "runlogger", "run", "--run-id", run_id, "job.py", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith(f"runlogger: Invalid run id {run_id!r}")
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.py"]


# --- file modes ---------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], ids=oct)
def test_event_and_summary_files_are_0600_whatever_the_umask(runs_dir: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        events = RunFileHandler(runs_dir)
        _logger(events, RunSummaryHandler(runs_dir)).info("hello")
        events.close()
    finally:
        os.umask(previous)

    run_id = runlogger.current_run().run_id
    for name in (f"{run_id}.json", f"{run_id}.jsonl"):
        assert stat.S_IMODE((runs_dir / name).stat().st_mode) == 0o600, name


@posix_only
@pytest.mark.parametrize("mode", [0o640, 0o644, 0o660], ids=oct)
def test_file_mode_is_configurable_for_both_files(runs_dir: Path, mode: int) -> None:
    previous = os.umask(0o077)
    try:
        events = RunFileHandler(runs_dir, file_mode=mode)
        _logger(events, RunSummaryHandler(runs_dir, file_mode=mode)).info("hello")
        events.close()
        _finish()  # the final summary is a new file too: it keeps the mode
    finally:
        os.umask(previous)

    run_id = runlogger.current_run().run_id
    for name in (f"{run_id}.json", f"{run_id}.jsonl"):
        assert stat.S_IMODE((runs_dir / name).stat().st_mode) == mode, name


# --- planted symlinks ---------------------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file the attacker wants overwritten or read, outside the runs directory."""
    path = tmp_path / "victim.json"
    path.write_text(
        json.dumps(
            {
                "run_id": "planted",
                "status": "completed",
                "contributors": {"evil:1": {"event_count": 1000, "error_count": 7}},
            }
        ),
        encoding="utf-8",
    )
    return path


@posix_only
def test_symlink_at_the_summary_path_is_not_followed(runs_dir: Path, victim: Path) -> None:
    before = victim.read_bytes()
    runs_dir.mkdir()
    (runs_dir / "planted.json").symlink_to(victim)
    runlogger.start_process_run(run_id="planted")

    _logger(RunSummaryHandler(runs_dir)).warning("hello")
    _finish()

    assert victim.read_bytes() == before
    summary_file = runs_dir / "planted.json"
    assert stat.S_ISREG(summary_file.lstat().st_mode)
    _assert_complete(read_summary(runs_dir, "planted"), "planted")


@posix_only
def test_symlink_at_the_summary_path_is_not_read(runs_dir: Path, victim: Path) -> None:
    """Following it to read would merge the target's counts (or any JSON) into the run."""
    runs_dir.mkdir()
    (runs_dir / "planted.json").symlink_to(victim)
    runlogger.start_process_run(run_id="planted")

    _logger(RunSummaryHandler(runs_dir)).warning("hello")
    _finish()

    summary = read_summary(runs_dir, "planted")
    assert (summary["event_count"], summary["error_count"]) == (2, 0)  # with run_started
    assert "evil:1" not in summary["contributors"]


@posix_only
def test_symlink_at_the_events_path_is_refused_and_counted(
    runs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.log"
    victim.write_bytes(b"precious\n")
    runs_dir.mkdir()
    (runs_dir / "planted.jsonl").symlink_to(victim)
    runlogger.start_process_run(run_id="planted")
    events = RunFileHandler(runs_dir)
    log = _logger(events, RunSummaryHandler(runs_dir))

    log.info("not through the link")
    log.info("nor this")
    carried_on = True
    events.close()
    _finish()

    assert carried_on
    assert victim.read_bytes() == b"precious\n"
    assert (runs_dir / "planted.jsonl").is_symlink()
    summary = read_summary(runs_dir, "planted")
    # The run_started write was refused too, before the summary handler existed.
    assert (summary["event_count"], summary["logging_errors"]) == (3, 2)
    err = capsys.readouterr().err
    assert "--- Logging error ---" not in err
    assert err.count("RunFileHandler cannot write") == 1


# --- atomic summaries and temp files ------------------------------------------------------

WRITER = """
    import logging, sys
    import runlogger

    runlogger.start_process_run(run_id="atomic")
    log = logging.getLogger("writer")
    log.setLevel(logging.DEBUG)
    log.addHandler(runlogger.RunSummaryHandler("runs", checkpoint_interval=1e-6))
    log.info("first")  # the summary exists before we say so
    print("ready", flush=True)
    if sys.argv[1] == "finish":
        for i in range(20):
            log.info("last %d", i)
    else:
        i = 0
        while True:  # a checkpoint (temp file, fsync, replace) for every record
            log.info("tick %d", i)
            i += 1
"""
KILLS = 6


@dataclass
class KilledWriters:
    delays: list[float] = field(default_factory=list)
    reads: list[dict[str, Any]] = field(default_factory=list)
    after_kill: list[dict[str, Any]] = field(default_factory=list)
    temp_files_after_kills: list[str] = field(default_factory=list)
    temp_files_at_end: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


def _temp_files(runs: Path) -> list[str]:
    return sorted(p.name for p in runs.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def killed_writers(tmp_path_factory: pytest.TempPathFactory) -> KilledWriters:
    """Writers of one run's summary, SIGKILLed at random moments, then one that completes.

    Between start and kill, the summary is read as fast as possible: a reader must only
    ever see a complete document, the old one or the new one.
    """
    if sys.platform == "win32":
        pytest.skip("SIGKILL is POSIX")
    work = tmp_path_factory.mktemp("atomic")
    script = work / "writer.py"
    script.write_text(textwrap.dedent(WRITER), encoding="utf-8")
    summary = work / "runs" / "atomic.json"
    outcome = KilledWriters()
    rng = random.Random()
    for _ in range(KILLS):
        delay = rng.uniform(0.0, 0.06)
        outcome.delays.append(delay)
        writer = subprocess.Popen(
            [sys.executable, str(script), "loop"],
            cwd=work,
            env=clean_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline() == "ready\n"
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:
                outcome.reads.append(json.loads(summary.read_bytes()))
            writer.send_signal(signal.SIGKILL)
        finally:
            writer.kill()
            writer.wait(timeout=30)
            if writer.stdout is not None:
                writer.stdout.close()
        outcome.after_kill.append(json.loads(summary.read_bytes()))
    outcome.temp_files_after_kills = _temp_files(work / "runs")
    subprocess.run(
        [sys.executable, str(script), "finish"], cwd=work, env=clean_env(), check=True, timeout=60
    )
    outcome.temp_files_at_end = _temp_files(work / "runs")
    outcome.final = json.loads(summary.read_bytes())
    return outcome


def test_summary_is_complete_whenever_its_writer_is_killed(killed_writers: KilledWriters) -> None:
    delays = [round(delay, 4) for delay in killed_writers.delays]
    assert len(killed_writers.after_kill) == KILLS
    for document in killed_writers.after_kill + killed_writers.reads:
        _assert_complete(document, "atomic")
        assert document["status"] == "running", delays
    counts = [document["event_count"] for document in killed_writers.after_kill]
    assert counts == sorted(counts), delays  # never an older state than one already seen
    assert killed_writers.final["status"] == "completed"
    assert killed_writers.final["event_count"] >= counts[-1] + 21


def test_temp_files_of_killed_writers_are_gone_when_the_run_ends(
    killed_writers: KilledWriters,
) -> None:
    assert killed_writers.temp_files_at_end == [], killed_writers.temp_files_after_kills


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


@posix_only
def test_only_temp_files_of_dead_writers_of_this_run_are_removed(runs_dir: Path) -> None:
    runlogger.start_process_run(run_id="tidy")
    log = _logger(RunSummaryHandler(runs_dir))
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        planted = {
            f".tidy.json.{dead}.1700000000000000001.tmp": False,  # removed
            f".tidy.json.{live.pid}.1700000000000000002.tmp": True,  # a live writer's
            f".tidy.json.{os.getpid()}.1700000000000000003.tmp": True,  # our own
            f".other.json.{dead}.1700000000000000004.tmp": True,  # another run's
            f".tidy.jsonl.{dead}.1700000000000000005.tmp": True,  # not a summary's
            f".tidy.json.{dead}.not-a-number.tmp": True,  # not a name we make
            ".tidy.json.99999999999999999999999.1.tmp": True,  # no pid can be that big
        }
        for name in planted:
            (runs_dir / name).write_text("{", encoding="utf-8")
        log.info("hello")

        _finish()
    finally:
        live.kill()
        live.wait()

    left = {name for name in planted if (runs_dir / name).exists()}
    assert left == {name for name, kept in planted.items() if kept}
    assert read_summary(runs_dir, "tidy")["status"] == "completed"


# --- torn event files ---------------------------------------------------------------------


def test_torn_last_line_is_ended_before_the_next_record(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that joins a run whose file ends mid-line (its writer crashed)."""
    runs_dir.mkdir()
    torn = b'{"message": "whole", "run_id": "joined"}\n{"message": "tor'
    (runs_dir / "joined.jsonl").write_bytes(torn)
    monkeypatch.setenv("RUNLOGGER_RUN_ID", "joined")
    monkeypatch.setenv("RUNLOGGER_RUN_OWNER", "joined@elsewhere:1")
    events = RunFileHandler(runs_dir)
    log = _logger(events)

    log.info("first of this process")
    log.info("second")
    events.close()

    lines = (runs_dir / "joined.jsonl").read_bytes().split(b"\n")
    assert lines[:2] == torn.split(b"\n")
    assert [parse_line(line.decode())["message"] for line in lines[2:-1]] == [
        "first of this process",
        "second",
    ]
    assert lines[-1] == b""


@posix_only
def test_line_another_process_is_writing_is_not_taken_for_a_torn_one(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joining while another writer is mid-line (its shared lock held): wait, do not cut."""
    import fcntl

    runs_dir.mkdir()
    path = runs_dir / "joined.jsonl"
    other = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    fcntl.flock(other, fcntl.LOCK_SH)
    os.write(other, b'{"message": "first half')
    monkeypatch.setenv("RUNLOGGER_RUN_ID", "joined")
    monkeypatch.setenv("RUNLOGGER_RUN_OWNER", "joined@elsewhere:1")
    events = RunFileHandler(runs_dir)
    joiner = threading.Thread(target=_logger(events).info, args=("joined",))

    joiner.start()
    time.sleep(0.05)  # the joiner now opens the file and meets the half line
    os.write(other, b', second half"}\n')
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    joiner.join(timeout=10)
    events.close()

    lines = path.read_bytes().split(b"\n")
    assert [parse_line(line.decode())["message"] for line in lines[:-1]] == [
        "first half, second half",
        "joined",
    ]


FORK_WHILE_OPENING = """
    import logging, os, sys, threading, time, warnings
    import runlogger

    warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose
    log = logging.getLogger("job")
    log.setLevel(logging.INFO)
    events = runlogger.RunFileHandler("runs")
    log.addHandler(events)
    stop = threading.Event()

    def hold_descriptor_lock():  # stands for a thread opening a file at the fork
        while not stop.is_set():
            with events._fd_lock:
                time.sleep(0.001)

    holder = threading.Thread(target=hold_descriptor_lock)
    holder.start()
    time.sleep(0.02)
    children = []
    for _ in range(10):  # the parent never logged: each child opens the file itself
        pid = os.fork()
        if pid == 0:
            log.info("child logs after fork")
            os._exit(0)
        children.append(pid)
    stop.set()
    holder.join()
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        children = [pid for pid in children if os.waitpid(pid, os.WNOHANG)[0] == 0]
        time.sleep(0.01)
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    print(f"{len(children)} deadlocked")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_forked_while_a_file_is_being_opened_can_log(tmp_path: Path) -> None:
    result = run_python(FORK_WHILE_OPENING, cwd=tmp_path)

    assert (result.returncode, result.stdout) == (0, "0 deadlocked\n"), result.stderr
    (events_file,) = (tmp_path / "runs").glob("*.jsonl")
    events = read_jsonl(events_file)
    assert events[0]["event_type"] == "run_started"  # the parent's handler wrote it
    assert [event["message"] for event in events[1:]] == ["child logs after fork"] * 10
