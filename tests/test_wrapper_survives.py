"""``runlogger run`` records the run truthfully whatever the program does (issue 15).

Every test runs the real command line in a subprocess, on a program doing what real
programs do, and checks the program's own output as well as the summary and events.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from support import (
    SIGTERM_WHEN_HAND_OVER_IS_TAKEN,
    clean_env,
    communicate,
    python_command,
    read_jsonl,
    read_summary,
)


def _write(directory: Path, name: str, code: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def _wrap(tmp_path: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return python_command("-m", "runlogger", "run", *args, cwd=tmp_path, **kwargs)


def _the_run(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The only run in ./runs: its summary and its events."""
    runs = tmp_path / "runs"
    (path,) = runs.glob("*.json")
    summary = read_summary(runs, path.stem)
    events_file = runs / f"{path.stem}.jsonl"
    events = read_jsonl(events_file) if events_file.exists() else []
    return summary, events


def _messages(events: list[dict[str, Any]], logger: str) -> list[str]:
    return [e["message"] for e in events if e["logger"] == logger]


def _popen_wrapper(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runlogger", "run", *args],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ready_pid(process: subprocess.Popen[str]) -> int:
    """Wait for the program's ``READY <pid>`` line; return the program's pid."""
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        assert line, "the program ended before it was ready"
        if line.startswith("READY"):
            return int(line.split()[1])


# -- capture that survives the program's logging configuration --------------------------

DICTCONFIG = """
import logging, logging.config, sys
logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": @DISABLE@,
    "formatters": {"app": {"format": "APP %(levelname)s %(name)s %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                         "formatter": "app"}},
    "root": {"level": "INFO", "handlers": ["out"]},
})
log = logging.getLogger("app")
for i in range(10):
    log.info("item %d", i)
log.error("item 10 failed")
"""

EXPECTED_APP_OUTPUT = [f"APP INFO app item {i}" for i in range(10)] + [
    "APP ERROR app item 10 failed"
]


@pytest.mark.parametrize("disable", ["True", "False"])
def test_dictconfig_with_own_handlers_is_captured(tmp_path: Path, disable: str) -> None:
    _write(tmp_path, "job.py", DICTCONFIG.replace("@DISABLE@", disable))
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == EXPECTED_APP_OUTPUT  # the program's console, as is
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["error_count"]) == ("completed", 1)
    assert summary["counts_by_level"] == {"INFO": 12, "ERROR": 1}  # with run_started/finished
    assert _messages(events, "app") == [f"item {i}" for i in range(10)] + ["item 10 failed"]
    assert summary["event_count"] == len(events)


def test_fileconfig_is_captured(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "logging.ini",
        """
        [loggers]
        keys=root
        [handlers]
        keys=out
        [formatters]
        keys=plain
        [logger_root]
        level=INFO
        handlers=out
        [handler_out]
        class=StreamHandler
        formatter=plain
        args=(sys.stdout,)
        [formatter_plain]
        format=INI %(levelname)s %(message)s
        """,
    )
    _write(
        tmp_path,
        "job.py",
        """
        import logging, logging.config
        logging.config.fileConfig("logging.ini")
        logging.getLogger("app").info("configured from a file")
        logging.getLogger("app").error("and failing")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "INI INFO configured from a file",
        "INI ERROR and failing",
    ]
    summary, events = _the_run(tmp_path)
    assert summary["error_count"] == 1
    assert _messages(events, "app") == ["configured from a file", "and failing"]


def test_basicconfig_force_is_captured(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, sys
        logging.basicConfig(force=True, level=logging.INFO, stream=sys.stdout,
                            format="FORCED %(levelname)s %(message)s")
        logging.getLogger("app").error("broken")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["FORCED ERROR broken"]
    assert "broken" not in result.stderr  # the wrapper's readable handler was removed
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["error_count"]) == ("completed", 1)
    assert _messages(events, "app") == ["broken"]


def test_plain_basicconfig_configures_the_programs_output(tmp_path: Path) -> None:
    """Without force: under python it configures the output, so under the wrapper too."""
    _write(
        tmp_path,
        "job.py",
        """
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="MINE %(message)s")
        logging.getLogger("app").info("configured as I said")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["MINE configured as I said"]
    assert result.stderr == ""
    _, events = _the_run(tmp_path)
    assert _messages(events, "app") == ["configured as I said"]


def test_handlers_removed_by_hand_are_still_captured(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        logging.getLogger("app").warning("nobody listens")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert "nobody listens" in result.stderr  # logging's last resort, as under python
    summary, events = _the_run(tmp_path)
    assert summary["warning_count"] == 1
    assert _messages(events, "app") == ["nobody listens"]


def test_propagate_false_logger_with_own_handler_is_captured(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, sys
        own = logging.getLogger("audit")
        own.propagate = False
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("AUDIT %(message)s"))
        own.addHandler(handler)
        own.error("kept to itself")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["AUDIT kept to itself"]
    assert "kept to itself" not in result.stderr  # never reached the root's handlers
    summary, events = _the_run(tmp_path)
    assert summary["error_count"] == 1
    assert _messages(events, "audit") == ["kept to itself"]


def test_module_that_configures_logging_like_pip(tmp_path: Path) -> None:
    package = tmp_path / "fakepip"
    package.mkdir()
    _write(package, "__init__.py", "")
    _write(
        package,
        "__main__.py",
        """
        import logging, logging.config, sys
        logging.config.dictConfig({
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler",
                                     "stream": "ext://sys.stdout", "formatter": "plain"}},
            "root": {"level": "INFO", "handlers": ["console"]},
        })
        log = logging.getLogger("fakepip._internal.commands.download")
        log.info("Collecting %s", sys.argv[2])
        log.info("Saved ./dl/%s-1.0.whl", sys.argv[2])
        """,
    )
    result = _wrap(tmp_path, "-m", "fakepip", "download", "six", "-d", "dl")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Collecting six", "Saved ./dl/six-1.0.whl"]
    summary, events = _the_run(tmp_path)
    assert summary["counts_by_level"]["INFO"] == 4  # two lines, run_started, run_finished
    assert [e["message"] for e in events][1:3] == ["Collecting six", "Saved ./dl/six-1.0.whl"]


def test_lifecycle_records_stay_out_of_the_programs_console(tmp_path: Path) -> None:
    _write(tmp_path, "job.py", DICTCONFIG.replace("@DISABLE@", "True") + "raise ValueError('x')\n")
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 1
    assert result.stdout.splitlines() == EXPECTED_APP_OUTPUT
    assert "ValueError: x" in result.stderr  # the traceback, as Python prints it
    summary, events = _the_run(tmp_path)
    assert summary["exception"] == {"type": "ValueError", "message": "x"}
    assert [e.get("event_type") for e in events][-2:] == ["uncaught_exception", "run_finished"]


# -- supervision: the program dies, the wrapper finishes the run ---------------------------


def test_os_exit_is_recorded_by_the_wrapper(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, os
        logging.getLogger("app").warning("about to leave")
        print("bye", flush=True)
        os._exit(5)
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 5
    assert result.stdout == "bye\n"
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["exit_code"], summary["signal"]) == ("failed", 5, None)
    assert summary["counts_incomplete"] is True
    assert summary["end_time"] is not None
    assert summary["warning_count"] == 1
    assert summary["event_count"] == len(events) == 3
    assert [e.get("event_type") for e in events[::2]] == ["run_started", "run_finished"]
    assert (events[-1]["status"], events[-1]["exit_code"]) == ("failed", 5)


def test_segfault_is_recorded_with_its_python_traceback(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import ctypes, logging
        logging.getLogger("app").error("before the crash")
        ctypes.string_at(0)
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 128 + signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in result.stderr
    assert 'job.py", line 4' in result.stderr
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGSEGV",
        139,
    )
    assert summary["error_count"] == 1
    assert summary["first_error"]["message"] == "before the crash"
    assert summary["counts_incomplete"] is True
    assert summary["event_count"] == len(events)


def test_sigkill_of_the_program_is_recorded(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, os, time
        logging.getLogger("app").info("working")
        print("READY", os.getpid(), flush=True)
        time.sleep(60)
        """,
    )
    process = _popen_wrapper(tmp_path, "job.py")
    os.kill(_ready_pid(process), signal.SIGKILL)
    communicate(process)
    assert process.returncode == 137
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGKILL",
        137,
    )
    assert summary["counts_by_level"] == {"INFO": 3}  # run_started, working, run_finished
    assert _messages(events, "app") == ["working"]


def test_sys_exit_with_a_message_keeps_the_message(tmp_path: Path) -> None:
    _write(tmp_path, "job.py", "import sys\nsys.exit('fatal: bad config')\n")
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 1
    assert "fatal: bad config" in result.stderr
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["exit_code"]) == ("failed", 1)
    assert summary["exception"] == {"type": "SystemExit", "message": "fatal: bad config"}


@pytest.mark.parametrize(("value", "code"), [("True", 1), ("256", 0), ("-1", 255), ("3", 3)])
def test_exit_code_is_what_the_os_reports(tmp_path: Path, value: str, code: int) -> None:
    _write(tmp_path, "job.py", f"import sys\nsys.exit({value})\n")
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == code
    summary, _ = _the_run(tmp_path)
    assert summary["exit_code"] == code
    assert type(summary["exit_code"]) is int
    assert summary["status"] == ("completed" if code == 0 else "failed")


def test_module_in_the_current_directory_runs_like_python_m(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "jobmod.py",
        """
        import logging, sys
        print("path0", sys.path[0])
        logging.getLogger("jobmod").info("ran")
        """,
    )
    result = _wrap(tmp_path, "-m", "jobmod")
    assert result.returncode == 0, result.stderr
    plain = python_command("-m", "jobmod", cwd=tmp_path)
    assert result.stdout == plain.stdout  # same sys.path[0]
    summary, events = _the_run(tmp_path)
    assert summary["status"] == "completed"
    assert _messages(events, "jobmod") == ["ran"]


def test_script_sees_its_own_directory_first_on_sys_path(tmp_path: Path) -> None:
    sub = tmp_path / "tools"
    sub.mkdir()
    _write(sub, "helper.py", "VALUE = 'from the script directory'\n")
    _write(sub, "job.py", "import sys, helper\nprint(sys.path[0])\nprint(helper.VALUE)\n")
    result = _wrap(tmp_path, "tools/job.py")
    plain = python_command("tools/job.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.stdout


def test_keyboard_interrupt_raised_by_the_program_is_an_exception(tmp_path: Path) -> None:
    _write(tmp_path, "job.py", "raise KeyboardInterrupt\n")
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 130
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == ("failed", None, 130)
    assert summary["exception"]["type"] == "KeyboardInterrupt"


# -- signals ------------------------------------------------------------------------------

SLEEPER = """
import logging, os, signal, sys, time
if "ignore" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "catch" in sys.argv:
    try:
        print("READY", os.getpid(), flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        print("caught it", flush=True)
        sys.exit(0)
print("READY", os.getpid(), flush=True)
while not os.path.exists("stop"):
    time.sleep(0.05)
logging.getLogger("app").info("stopped by the file")
"""


def test_a_program_ignoring_sigterm_is_still_waited_for(tmp_path: Path) -> None:
    _write(tmp_path, "job.py", SLEEPER)
    process = _popen_wrapper(tmp_path, "job.py", "ignore")
    _ready_pid(process)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert process.poll() is None  # the wrapper waits for its program
    (tmp_path / "stop").touch()
    communicate(process)
    assert process.returncode == 0
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["exit_code"]) == ("completed", 0)
    assert "stopped by the file" in _messages(events, "app")


def test_a_program_that_catches_ctrl_c_keeps_its_exit_status(tmp_path: Path) -> None:
    _write(tmp_path, "job.py", SLEEPER)
    process = _popen_wrapper(tmp_path, "job.py", "catch")
    _ready_pid(process)
    process.send_signal(signal.SIGINT)
    out, _ = communicate(process)
    assert process.returncode == 0
    assert "caught it" in out
    summary, _ = _the_run(tmp_path)
    assert (summary["exit_code"], summary["signal"]) == (0, "SIGINT")


def test_sigterm_during_shutdown_with_a_leftover_thread_records_143(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, os, threading, time
        threading.Thread(target=time.sleep, args=(60,)).start()  # non-daemon, left behind
        logging.getLogger("app").info("main code done")
        print("READY", os.getpid(), flush=True)
        """,
    )
    process = _popen_wrapper(tmp_path, "job.py")
    _ready_pid(process)
    time.sleep(0.3)  # into interpreter shutdown, waiting for the thread
    process.send_signal(signal.SIGTERM)
    communicate(process)
    assert process.returncode == 143
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGTERM",
        143,
    )


def test_blocking_scheduler_loop_stopped_by_sigterm(tmp_path: Path) -> None:
    """APScheduler's BlockingScheduler: a main-thread loop and an executor's workers."""
    _write(
        tmp_path,
        "job.py",
        """
        import logging, os, threading
        from concurrent.futures import ThreadPoolExecutor
        log = logging.getLogger("scheduler")
        executor = ThreadPoolExecutor(2)
        wakeup = threading.Event()
        executor.submit(log.info, "job ran").result()
        print("READY", os.getpid(), flush=True)
        while True:
            wakeup.wait(0.05)
            executor.submit(log.debug, "tick")
        """,
    )
    process = _popen_wrapper(tmp_path, "job.py")
    _ready_pid(process)
    process.send_signal(signal.SIGTERM)
    communicate(process)
    assert process.returncode == 143
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGTERM",
        143,
    )
    assert _messages(events, "scheduler") == ["job ran"]


# -- exit like python -----------------------------------------------------------------------


def test_module_level_thread_pool_does_not_keep_the_program_alive(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(4)
        print(pool.submit(pow, 2, 10).result())
        pool.submit(logging.getLogger("worker").info, "from a worker").result()
        """,
    )
    result = _wrap(tmp_path, "job.py", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1024\n"
    summary, events = _the_run(tmp_path)
    assert summary["status"] == "completed"
    assert _messages(events, "worker") == ["from a worker"]


def test_atexit_records_of_the_program_are_in_the_run(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import atexit, logging
        atexit.register(logging.getLogger("app").warning, "cleaning up at exit")
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    summary, events = _the_run(tmp_path)
    assert events[-2]["message"] == "cleaning up at exit"
    assert events[-1]["event_type"] == "run_finished"
    assert summary["warning_count"] == 1


# -- children of the program -----------------------------------------------------------------


def test_forked_children_hand_over_their_counts_when_sigterm_lands_at_their_exit(
    tmp_path: Path,
) -> None:
    """The wrapper handles SIGTERM in the program; its forked children must not inherit
    that (SystemExit raised anywhere): Pool.terminate() signals workers mid-exit."""
    job = """
import logging, multiprocessing

def child():
    for i in range(500):
        logging.getLogger("worker").info("item %d", i, extra={"event_type": "item"})
    sigterm_when_hand_over_is_taken()

if __name__ == "__main__":
    children = [multiprocessing.get_context("fork").Process(target=child) for _ in range(2)]
    for process in children: process.start()
    for process in children: process.join()
"""
    (tmp_path / "job.py").write_text(SIGTERM_WHEN_HAND_OVER_IS_TAKEN + job, encoding="utf-8")
    result = _wrap(tmp_path, "job.py", timeout=60)
    assert result.returncode == 0, result.stderr
    summary, events = _the_run(tmp_path)
    assert len([e for e in events if e.get("event_type") == "item"]) == 1000
    assert summary["counts_by_event_type"]["item"] == 1000, result.stderr
    assert summary["event_count"] == len(events)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawn_pool_workers_are_part_of_the_run(tmp_path: Path, method: str) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, multiprocessing, sys
        def work(i):
            logging.getLogger("worker").info("item %d", i)
            if i == 3:
                logging.getLogger("worker").error("item %d failed", i)
            return i
        if __name__ == "__main__":
            logging.getLogger("main").info("start")
            with multiprocessing.get_context(sys.argv[1]).Pool(2) as pool:
                print(sum(pool.map(work, range(20))))
            logging.getLogger("main").info("end")
        """,
    )
    result = _wrap(tmp_path, "job.py", method, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "190\n"
    summary, events = _the_run(tmp_path)
    assert len(events) == 25  # run_started, 2 main, 20 items, 1 error, run_finished
    assert summary["event_count"] == 25
    assert summary["error_count"] == 1
    assert summary["first_error"]["message"] == "item 3 failed"
    assert {e["run_id"] for e in events} == {summary["run_id"]}


def test_fork_pool_workers_are_part_of_the_run(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import logging, multiprocessing
        def work(i):
            logging.getLogger("worker").warning("item %d", i)
        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                pool.map(work, range(10))
                # Workers that end by themselves; Pool.terminate()'s hand-over is
                # tested with the multiprocessing support (test_multiprocess.py).
                pool.close()
                pool.join()
        """,
    )
    result = _wrap(tmp_path, "job.py", timeout=120)
    assert result.returncode == 0, result.stderr
    summary, events = _the_run(tmp_path)
    assert summary["warning_count"] == 10
    assert summary["event_count"] == len(events) == 12


def test_python_subprocess_joins_the_run_without_configuring(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "job.py",
        """
        import subprocess, sys
        code = "import logging; logging.getLogger('child').error('from a subprocess')"
        subprocess.run([sys.executable, "-c", code], check=True)
        """,
    )
    result = _wrap(tmp_path, "job.py")
    assert result.returncode == 0, result.stderr
    summary, events = _the_run(tmp_path)
    assert _messages(events, "child") == ["from a subprocess"]
    assert summary["error_count"] == 1
    assert summary["event_count"] == len(events)


def test_another_sitecustomize_still_runs_in_children(tmp_path: Path) -> None:
    theirs = tmp_path / "site_theirs"
    theirs.mkdir()
    _write(theirs, "sitecustomize.py", "import os\nos.environ['THEIRS_RAN'] = 'yes'\n")
    _write(
        tmp_path,
        "job.py",
        """
        import subprocess, sys
        code = "import os; print(os.environ.get('THEIRS_RAN'))"
        subprocess.run([sys.executable, "-c", code], check=True)
        """,
    )
    env = clean_env(PYTHONPATH=str(theirs))
    result = _wrap(tmp_path, "job.py", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "yes\n"


def test_nested_runlogger_run_joins_the_outer_run(tmp_path: Path) -> None:
    _write(tmp_path, "inner.py", "import logging\nlogging.getLogger('inner').warning('inside')\n")
    _write(
        tmp_path,
        "outer.py",
        """
        import logging, subprocess, sys
        logging.getLogger("outer").info("before")
        subprocess.run([sys.executable, "-m", "runlogger", "run", "inner.py"], check=True)
        """,
    )
    result = _wrap(tmp_path, "--run-id", "outer-1", "outer.py")
    assert result.returncode == 0, result.stderr
    assert sorted(
        p.name for p in (tmp_path / "runs").iterdir() if not p.name.startswith("runlogger.sqlite3")
    ) == ["outer-1.json", "outer-1.jsonl"]  # one run's files, beside the run catalog
    summary = read_summary(tmp_path / "runs", "outer-1")
    events = read_jsonl(tmp_path / "runs" / "outer-1.jsonl")
    assert _messages(events, "inner") == ["inside"]
    assert summary["warning_count"] == 1
    assert summary["event_count"] == len(events)


# -- any command --------------------------------------------------------------------------


def test_command_lines_become_events_and_pass_through(tmp_path: Path) -> None:
    result = _wrap(
        tmp_path, "--", "sh", "-c", "echo out one; echo err one >&2; printf 'no newline'; exit 3"
    )
    assert result.returncode == 3
    assert result.stdout == "out one\nno newline"
    assert result.stderr == "err one\n"
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["exit_code"], summary["name"]) == ("failed", 3, "sh")
    lines = [(e["level"], e["stream"], e["message"]) for e in events if "stream" in e]
    assert sorted(lines) == sorted(
        [
            ("INFO", "stdout", "out one"),
            ("WARNING", "stderr", "err one"),
            ("INFO", "stdout", "no newline"),
        ]
    )
    assert events[-1]["event_type"] == "run_finished"
    assert summary["event_count"] == len(events)


def test_command_stderr_level_is_configurable(tmp_path: Path) -> None:
    result = _wrap(tmp_path, "--stderr-level", "error", "--", "sh", "-c", "echo bad >&2")
    assert result.returncode == 0
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["error_count"]) == ("completed", 1)


def test_command_killed_by_a_signal_is_terminated(tmp_path: Path) -> None:
    result = _wrap(tmp_path, "--", "sh", "-c", "echo going; kill -9 $$")
    assert result.returncode == 137
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGKILL",
        137,
    )


def test_command_python_m_runs_as_a_command(tmp_path: Path) -> None:
    _write(tmp_path, "tool.py", "import sys\nprint('tool says', sys.argv[1:])\n")
    result = _wrap(tmp_path, "--", sys.executable, "-m", "tool", "--flag")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tool says ['--flag']\n"
    summary, events = _the_run(tmp_path)
    assert [e["message"] for e in events if "stream" in e] == ["tool says ['--flag']"]
    assert summary["argv"] == [sys.executable, "-m", "tool", "--flag"]


def test_command_without_a_shebang_runs_as_a_shell_script(tmp_path: Path) -> None:
    """As a shell (and cron) runs an executable file with no ``#!`` line: through sh."""
    script = _write(tmp_path, "backup.sh", 'echo saved "$1"\nexit 3\n')
    script.chmod(0o755)
    result = _wrap(tmp_path, "--", "./backup.sh", "db")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "saved db\n"
    summary, events = _the_run(tmp_path)
    assert (summary["status"], summary["exit_code"]) == ("failed", 3)
    assert [e["message"] for e in events if "stream" in e] == ["saved db"]


def test_command_not_found_is_one_line_and_no_run(tmp_path: Path) -> None:
    result = _wrap(tmp_path, "--", "no-such-command-xyz")
    assert result.returncode == 127
    assert result.stderr == "runlogger: command not found: no-such-command-xyz\n"
    assert not (tmp_path / "runs").exists()


def test_sigterm_to_the_wrapper_reaches_the_command(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "runlogger", "run", "--", "sh", "-c", "echo READY 0; exec sleep 60"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _ready_pid(process)
    process.send_signal(signal.SIGTERM)
    communicate(process)
    assert process.returncode == 143
    summary, _ = _the_run(tmp_path)
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGTERM",
        143,
    )


# -- library mode is unchanged ------------------------------------------------------------------


def test_library_mode_does_not_install_the_capture_hook(runs_dir: Path) -> None:
    import runlogger

    original = logging.Logger.callHandlers
    handler = runlogger.RunSummaryHandler(runs_dir)
    try:
        assert logging.Logger.callHandlers is original
    finally:
        handler.close()


def test_sitecustomize_is_inert_outside_a_wrapped_run(tmp_path: Path) -> None:
    from runlogger._capture import boot_directory

    code = "import sys; print('runlogger' in sys.modules, 'logging' in sys.modules)"
    result = python_command(
        "-c", code, cwd=tmp_path, env=clean_env(PYTHONPATH=str(boot_directory()))
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False False\n"


def test_without_sigtimedwait_signals_are_still_passed_on(tmp_path: Path) -> None:
    """The fallback for platforms without sigtimedwait (macOS), exercised here."""
    code = """
    import os, signal, threading, time
    from runlogger import _supervise
    forward = _supervise.signals_to_forward()
    signal.pthread_sigmask(signal.SIG_BLOCK, forward | {signal.SIGCHLD})
    pid = os.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        time.sleep(60)
        os._exit(0)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    status, first = _supervise._wait_with_handlers(pid, forward)
    print(_supervise.status_of(status), first)
    """
    result = python_command("-c", textwrap.dedent(code), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "(143, 'SIGTERM') SIGTERM\n"


def test_command_output_in_bulk_is_one_event_a_line(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write(''.join(f'line {i}\\n' for i in range(5000)))"
    result = _wrap(tmp_path, "--", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 5000
    summary, events = _the_run(tmp_path)
    lines = [e["message"] for e in events if "stream" in e]
    assert lines == [f"line {i}" for i in range(5000)]
    assert summary["event_count"] == len(events)


def test_command_line_longer_than_the_limit_is_recorded_in_pieces(tmp_path: Path) -> None:
    from runlogger._command import MAX_LINE

    code = f"import sys; sys.stdout.write('x' * {MAX_LINE * 2 + 10} + '\\n')"
    result = _wrap(tmp_path, "--", sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == MAX_LINE * 2 + 11  # passed through whole
    _, events = _the_run(tmp_path)
    assert len([e for e in events if "stream" in e]) == 3
