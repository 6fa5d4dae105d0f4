"""Signals, kills and forks in real processes: the run ends as it really ended."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from support import clean_env, communicate, json_lines, read_summary, run_python

SETUP = """
import logging, os, signal, sys, threading, time
import runlogger
root = logging.getLogger()
root.setLevel(logging.INFO)
out = logging.StreamHandler(sys.stdout)
out.setFormatter(runlogger.RunJsonFormatter())
root.addHandler(out)
root.addHandler(runlogger.RunSummaryHandler("runs", handle_signals=@HANDLE@, checkpoint_interval=@INTERVAL@))
log = logging.getLogger("app")
"""


def _start(
    tmp_path: Path, body: str, handle: bool = True, interval: float = 30.0, before: str = ""
) -> subprocess.Popen[str]:
    """Run SETUP then ``body``; ``before`` is the application's code ahead of runlogger's."""
    code = SETUP.replace("@HANDLE@", str(handle)).replace("@INTERVAL@", repr(interval))
    code = code.replace("root = ", textwrap.dedent(before) + "root = ", 1)
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code) + textwrap.dedent(body), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


WAIT = """
log.info("working")
print("READY", runlogger.current_run().run_id, flush=True)
for _ in range(300):
    time.sleep(0.1)
"""


def _ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        assert line, "the child exited before it was ready"
        if line.startswith("READY"):
            return line.split()[1]


def _signal_and_wait(
    tmp_path: Path, signum: int, body: str = WAIT, **kwargs: Any
) -> tuple[int, dict[str, Any], str, str]:
    process = _start(tmp_path, body, **kwargs)
    run_id = _ready(process)
    process.send_signal(signum)
    out, err = communicate(process)
    return process.returncode, read_summary(tmp_path / "runs", run_id), out, err


def test_sigterm_terminates_the_run_with_status_143(tmp_path: Path) -> None:
    code, summary, out, _ = _signal_and_wait(tmp_path, signal.SIGTERM)
    assert code == 143
    assert (summary["status"], summary["signal"]) == ("terminated", "SIGTERM")
    assert json_lines(out)[-1]["event_type"] == "run_finished"


def test_sigint_terminates_the_run_with_the_interrupt_status(tmp_path: Path) -> None:
    code, summary, _, err = _signal_and_wait(tmp_path, signal.SIGINT)
    assert code in (130, -signal.SIGINT)  # Python re-raises SIGINT on an uncaught Ctrl-C
    assert (summary["status"], summary["signal"]) == ("terminated", "SIGINT")
    assert "KeyboardInterrupt" in err


def test_without_the_option_sigterm_kills_and_leaves_the_checkpoint(tmp_path: Path) -> None:
    code, summary, _, _ = _signal_and_wait(tmp_path, signal.SIGTERM, handle=False)
    assert code == -signal.SIGTERM
    assert summary["status"] == "running"


def test_application_sigterm_handler_is_chained(tmp_path: Path) -> None:
    body = """
    def graceful(signum, frame):
        print("APP HANDLER", flush=True)
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, graceful)
    """
    process = _start(tmp_path, WAIT, before=body)  # the app's handler comes first
    run_id = _ready(process)
    process.send_signal(signal.SIGTERM)
    out, _ = communicate(process)
    assert "APP HANDLER" in out
    assert process.returncode == 0  # the application's own decision
    summary = read_summary(tmp_path / "runs", run_id)
    assert (summary["status"], summary["signal"]) == ("terminated", "SIGTERM")


def test_ignored_signal_is_left_alone(tmp_path: Path) -> None:
    body = "assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN\n" + textwrap.dedent(WAIT)
    process = _start(tmp_path, body, before="signal.signal(signal.SIGTERM, signal.SIG_IGN)\n")
    run_id = _ready(process)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert process.poll() is None  # still running: SIGTERM stays ignored
    process.kill()
    communicate(process)
    assert read_summary(tmp_path / "runs", run_id)["status"] == "running"


def test_installing_from_a_worker_thread_warns(tmp_path: Path) -> None:
    code = """
    import logging, threading, warnings
    import runlogger
    caught = []
    def configure():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            runlogger.RunSummaryHandler("runs", handle_signals=True)
        caught.extend(str(w.message) for w in seen if w.category is RuntimeWarning)
    t = threading.Thread(target=configure); t.start(); t.join()
    print(caught)
    """
    result = run_python(code, cwd=tmp_path, check_exit=0)
    assert "main thread" in result.stdout


def test_sigkill_leaves_the_running_checkpoint_with_identity(tmp_path: Path) -> None:
    code, summary, _, _ = _signal_and_wait(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert summary["status"] == "running"
    assert summary["pid"] > 0
    assert summary["host"]
    assert summary["start_time"].endswith("Z")
    assert summary["end_time"] is None


def test_os_exit_leaves_the_running_checkpoint(tmp_path: Path) -> None:
    process = _start(
        tmp_path,
        'log.info("x")\nprint("READY", runlogger.current_run().run_id, flush=True)\nos._exit(7)\n',
    )
    run_id = _ready(process)
    communicate(process)
    assert process.returncode == 7
    assert read_summary(tmp_path / "runs", run_id)["status"] == "running"


def test_long_runs_refresh_the_checkpoint(tmp_path: Path) -> None:
    body = """
    print("READY", runlogger.current_run().run_id, flush=True)
    for i in range(40):
        log.info("tick", extra={"event_type": "tick"})
        time.sleep(0.05)
    os._exit(0)
    """
    process = _start(tmp_path, body, interval=0.2)
    run_id = _ready(process)
    communicate(process)
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["status"] == "running"
    assert 30 <= summary["counts_by_event_type"]["tick"] <= 40
    assert summary["updated_at"] > summary["start_time"]


def test_fork_while_another_thread_holds_handler_locks_does_not_deadlock(tmp_path: Path) -> None:
    """Port of CPython's test_post_fork_child_no_deadlock idea to runlogger's handlers."""
    code = """
    import logging, os, sys, threading, time
    import runlogger
    root = logging.getLogger(); root.setLevel(logging.INFO)
    events = runlogger.RunFileHandler("runs"); events.addFilter(runlogger.RunContextFilter())
    summary = runlogger.RunSummaryHandler("runs")
    root.addHandler(events); root.addHandler(summary)
    from runlogger import _summary_book, _context
    stop = threading.Event()
    def hold_locks():
        while not stop.is_set():
            with events.lock, _summary_book.book.lock, _context.state.lock, events._fd_lock:
                time.sleep(0.001)
    def log_hard():
        while not stop.is_set():
            logging.getLogger("busy").info("busy")
    threads = [threading.Thread(target=hold_locks), threading.Thread(target=log_hard)]
    for t in threads: t.start()
    time.sleep(0.05)
    children = []
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            logging.getLogger("child").info("child logs after fork")
            os._exit(0)
        children.append(pid)
    stop.set()
    for t in threads: t.join()
    for pid in children:
        deadline = time.monotonic() + 10
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                print("DEADLOCK", pid); sys.exit(1)
            time.sleep(0.01)
    print("ok")
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose
        result = run_python(code, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")
    lines = (tmp_path / "runs").glob("*.jsonl")
    child_lines = [
        line
        for path in lines
        for line in path.read_text().splitlines()
        if "child logs after fork" in line
    ]
    assert len(child_lines) == 20
    assert all(json.loads(line)["message"] == "child logs after fork" for line in child_lines)


def test_a_sigterm_in_the_summary_books_code_waits_for_it_to_return(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SIGTERMed child ends once runlogger's bookkeeping has returned (it may hold a
    summary's write lock): the book's module counts as bookkeeping, as ``_handler`` did."""
    import runlogger
    from runlogger import _signals, _summary_book

    frames: list[FrameType] = []
    monkeypatch.setattr(_summary_book, "checkpoint", lambda _run: frames.append(sys._getframe(1)))
    with runlogger.run("quiet") as quiet:
        _summary_book.book.run_checkpoint(quiet)

    (caller,) = frames
    assert caller.f_code.co_name == "run_checkpoint"
    assert _signals._in_logging_call(caller) is caller
