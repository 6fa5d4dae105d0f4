"""``runlogger run``: an unmodified script as a run, its exit status passed through."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from support import clean_env, communicate, python_command, read_jsonl, read_summary

SCRIPT = """
import logging, sys, time
log = logging.getLogger("job")
log.info("started with %s", sys.argv[1:], extra={"event_type": "job_started"})
log.debug("details")
mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
if mode == "raise":
    raise ValueError("bad input")
if mode == "exit":
    sys.exit(int(sys.argv[2]))
if mode == "exit-none":
    sys.exit()
if mode == "sleep":
    print("ready", flush=True)
    time.sleep(30)
log.info("done", extra={"event_type": "job_done"})
"""


def _runlogger(
    tmp_path: Path, *args: str, script: str = SCRIPT, name: str = "job.py"
) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(textwrap.dedent(script), encoding="utf-8")
    return python_command("-m", "runlogger", "run", *args, cwd=tmp_path)


def _only_summary(runs: Path) -> dict[str, Any]:
    (path,) = runs.glob("*.json")
    return read_summary(runs, path.stem)


def test_normal_end_is_completed_with_exit_code_zero(tmp_path: Path) -> None:
    result = _runlogger(tmp_path, "job.py", "ok", "--verbose")
    assert result.returncode == 0, result.stderr
    summary = _only_summary(tmp_path / "runs")
    assert (summary["status"], summary["exit_code"], summary["name"]) == ("completed", 0, "job")
    events = read_jsonl(tmp_path / "runs" / f"{summary['run_id']}.jsonl")
    assert events[0]["event_type"] == "run_started"
    assert events[0]["argv"] == ["job.py", "ok", "--verbose"]
    assert events[1]["message"] == "started with ['ok', '--verbose']"
    assert {e["run_id"] for e in events} == {summary["run_id"]}
    assert events[-1]["event_type"] == "run_finished"
    assert summary["event_count"] == len(events)
    assert summary["argv"] == ["job.py", "ok", "--verbose"]


def test_stderr_has_readable_lines_with_level_logger_and_run_id(tmp_path: Path) -> None:
    result = _runlogger(tmp_path, "job.py")
    run_id = _only_summary(tmp_path / "runs")["run_id"]
    line = next(line for line in result.stderr.splitlines() if "started with" in line)
    assert "INFO" in line
    assert " job " in line
    assert f"[{run_id}]" in line


def test_sys_exit_code_is_passed_through_and_fails_the_run(tmp_path: Path) -> None:
    result = _runlogger(tmp_path, "job.py", "exit", "3")
    assert result.returncode == 3
    summary = _only_summary(tmp_path / "runs")
    assert (summary["status"], summary["exit_code"]) == ("failed", 3)


@pytest.mark.parametrize("args", [("exit", "0"), ("exit-none",)])
def test_sys_exit_zero_or_none_completes(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _runlogger(tmp_path, "job.py", *args)
    assert result.returncode == 0
    summary = _only_summary(tmp_path / "runs")
    assert (summary["status"], summary["exit_code"]) == ("completed", 0)


def test_uncaught_exception_exits_1_with_traceback(tmp_path: Path) -> None:
    result = _runlogger(tmp_path, "job.py", "raise")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: bad input" in result.stderr
    assert "runpy" not in result.stderr
    summary = _only_summary(tmp_path / "runs")
    assert (summary["status"], summary["exit_code"]) == ("failed", 1)
    assert summary["exception"] == {"type": "ValueError", "message": "bad input"}
    assert summary["first_error"]["exc_type"] == "ValueError"


def _interrupt(tmp_path: Path, signum: int) -> tuple[int, dict[str, Any]]:
    (tmp_path / "job.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "runlogger", "run", "job.py", "sleep"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signum)
    communicate(process)
    return process.returncode, _only_summary(tmp_path / "runs")


def test_ctrl_c_exits_130_and_terminates_the_run(tmp_path: Path) -> None:
    code, summary = _interrupt(tmp_path, signal.SIGINT)
    assert code == 130
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGINT",
        130,
    )


def test_sigterm_exits_143_and_terminates_the_run(tmp_path: Path) -> None:
    code, summary = _interrupt(tmp_path, signal.SIGTERM)
    assert code == 143
    assert (summary["status"], summary["signal"], summary["exit_code"]) == (
        "terminated",
        "SIGTERM",
        143,
    )


def test_missing_script_is_one_line_exit_2_and_no_run(tmp_path: Path) -> None:
    result = python_command("-m", "runlogger", "run", "absent.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["runlogger: no such script: absent.py"]
    assert not (tmp_path / "runs").exists()


def test_missing_module_is_exit_2(tmp_path: Path) -> None:
    result = python_command("-m", "runlogger", "run", "-m", "no_such_module_xyz", cwd=tmp_path)
    assert result.returncode == 2
    assert "no module named 'no_such_module_xyz'" in result.stderr
    assert "Traceback" not in result.stderr


def test_module_runs_as_main_with_its_arguments(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tool.py").write_text(
        "import logging, sys\n"
        "if __name__ == '__main__':\n"
        "    logging.getLogger('tool').warning('args %s', sys.argv[1:])\n"
    )
    result = python_command(
        "-m", "runlogger", "run", "--name", "tool", "-m", "pkg.tool", "-x", "--y", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    summary = _only_summary(tmp_path / "runs")
    assert (summary["name"], summary["warning_count"]) == ("tool", 1)
    events = read_jsonl(tmp_path / "runs" / f"{summary['run_id']}.jsonl")
    assert events[0]["event_type"] == "run_started"
    assert events[1]["message"] == "args ['-x', '--y']"


def test_options_choose_id_dir_and_level(tmp_path: Path) -> None:
    result = _runlogger(
        tmp_path, "--run-id", "nightly-7", "--dir", "out", "--level", "DEBUG", "job.py"
    )
    assert result.returncode == 0, result.stderr
    summary = read_summary(tmp_path / "out", "nightly-7")
    assert summary["counts_by_level"]["DEBUG"] == 1


def test_invalid_run_id_is_exit_2(tmp_path: Path) -> None:
    result = _runlogger(tmp_path, "--run-id", "../escape", "job.py")
    assert result.returncode == 2
    assert "Invalid run id" in result.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_script_calling_basicconfig_keeps_working(tmp_path: Path) -> None:
    script = (
        "import logging\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s:%(message)s')\n"
        "logging.getLogger('legacy').info('hello from a basicConfig script')\n"
    )
    result = _runlogger(tmp_path, "legacy.py", script=script, name="legacy.py")
    assert result.returncode == 0, result.stderr
    summary = _only_summary(tmp_path / "runs")
    events = read_jsonl(tmp_path / "runs" / f"{summary['run_id']}.jsonl")
    assert events[1]["message"] == "hello from a basicConfig script"
    assert events[1]["run_id"] == summary["run_id"]
    assert summary["counts_by_level"]["INFO"] == 3  # with run_started and run_finished


def test_non_daemon_threads_finish_inside_the_run(tmp_path: Path) -> None:
    script = (
        "import logging, threading, time\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    logging.getLogger('worker').info('late record')\n"
        "threading.Thread(target=late).start()\n"
    )
    result = _runlogger(tmp_path, "threads.py", script=script, name="threads.py")
    assert result.returncode == 0, result.stderr
    summary = _only_summary(tmp_path / "runs")
    events = read_jsonl(tmp_path / "runs" / f"{summary['run_id']}.jsonl")
    assert [e.get("event_type") for e in events[::2]] == ["run_started", "run_finished"]
    assert events[1]["message"] == "late record"
    assert summary["event_count"] == 3


def test_duration_is_measured(tmp_path: Path) -> None:
    script = "import time\ntime.sleep(0.25)\n"
    started = time.monotonic()
    _runlogger(tmp_path, "slow.py", script=script, name="slow.py")
    elapsed_ms = (time.monotonic() - started) * 1000
    duration = _only_summary(tmp_path / "runs")["duration_ms"]
    assert 250 <= duration <= elapsed_ms


def test_inside_a_run_the_wrapper_joins_it(tmp_path: Path) -> None:
    """With RUNLOGGER_RUN_ID set (a parent run started this), the script's records join it."""
    (tmp_path / "job.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    result = python_command(
        "-m",
        "runlogger",
        "run",
        "job.py",
        cwd=tmp_path,
        env=clean_env(RUNLOGGER_RUN_ID="outer-1", RUNLOGGER_RUN_OWNER="outer-1@host:1"),
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "outer-1.json",
        "outer-1.jsonl",
    ]
    summary = read_summary(tmp_path / "runs", "outer-1")
    assert summary["counts_by_event_type"] == {"job_started": 1, "job_done": 1}
    events = read_jsonl(tmp_path / "runs" / "outer-1.jsonl")
    assert {e["run_id"] for e in events} == {"outer-1"}
    assert not any(e.get("event_type") == "run_finished" for e in events)  # the owner ends it


def test_run_id_option_starts_a_separate_run_even_inside_one(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(textwrap.dedent(SCRIPT), encoding="utf-8")
    result = python_command(
        "-m",
        "runlogger",
        "run",
        "--run-id",
        "own-2",
        "job.py",
        cwd=tmp_path,
        env=clean_env(RUNLOGGER_RUN_ID="outer-1"),
    )
    assert result.returncode == 0, result.stderr
    assert read_summary(tmp_path / "runs", "own-2")["status"] == "completed"
