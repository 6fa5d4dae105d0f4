"""A re-run under a finished run's id runs as that run's next attempt (``<id>.<n>``),
recorded apart from the finished run; the cases where renaming is not safe still refuse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from support import (
    clean_env,
    python_command,
    read_jsonl,
    read_summary,
    run_python,
    write_summary,
)

JOB = """
import logging, logging.config, os, sys
LOGGING = {
    "version": 1,
    "filters": {"run": {"()": "runlogger.RunContextFilter"}},
    "handlers": {
        "events": {"class": "runlogger.RunFileHandler", "directory": "runs", "filters": ["run"]},
        "summary": {"class": "runlogger.RunSummaryHandler", "directory": "runs",
                    "filters": ["run"]},
    },
    "root": {"level": "INFO", "handlers": ["events", "summary"]},
}
logging.config.dictConfig(LOGGING)
logging.getLogger("job").info("working as %s", os.environ["RUNLOGGER_RUN_ID"])
if os.environ.get("JOB_FAILS"):
    raise RuntimeError("the nightly load failed")
"""


def _job_file(directory: Path, body: str = JOB) -> Path:
    script = directory / "job.py"
    script.write_text(body, encoding="utf-8")
    return script


def _markers(runs: Path) -> list[str]:
    return sorted(path.name for path in runs.glob(".*.attempt"))


def test_library_rerun_after_a_failed_run_is_attempt_two(tmp_path: Path) -> None:
    script = _job_file(tmp_path)
    runs = tmp_path / "runs"
    first = python_command(
        str(script), cwd=tmp_path, env=clean_env(RUNLOGGER_RUN_ID="nightly", JOB_FAILS="1")
    )
    assert first.returncode == 1
    assert read_summary(runs, "nightly")["status"] == "failed"
    summary_before = (runs / "nightly.json").read_bytes()
    events_before = (runs / "nightly.jsonl").read_bytes()

    again = python_command(str(script), cwd=tmp_path, env=clean_env(RUNLOGGER_RUN_ID="nightly"))

    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(
        "runlogger: run id 'nightly' already names a failed run (started "
    )
    assert again.stderr.rstrip("\n").endswith("this run is 'nightly.2'")
    assert again.stderr.count("\n") == 1
    summary = read_summary(runs, "nightly.2")
    assert summary["run_id"] == "nightly.2"
    assert (summary["status"], summary["attempt"], summary["attempt_of"]) == (
        "completed",
        2,
        "nightly",
    )
    assert summary["first_error"] is None
    assert "attempt" not in read_summary(runs, "nightly")
    assert (runs / "nightly.json").read_bytes() == summary_before
    assert (runs / "nightly.jsonl").read_bytes() == events_before
    events = read_jsonl(runs / "nightly.2.jsonl")
    assert {event["run_id"] for event in events} == {"nightly.2"}
    assert [events[0]["event_type"], events[-1]["event_type"]] == ["run_started", "run_finished"]
    assert "working as nightly.2" in [event["message"] for event in events]
    assert _markers(runs) == []


def test_start_process_run_with_a_finished_id_becomes_the_next_attempt(tmp_path: Path) -> None:
    code = """
        import logging, runlogger
        run = runlogger.start_process_run("etl", run_id="etl-7")
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        logging.getLogger().warning("loaded")
        print(run.run_id)
    """
    first = run_python(code, cwd=tmp_path, env=clean_env(), check_exit=0)
    again = run_python(code, cwd=tmp_path, env=clean_env(), check_exit=0)
    assert (first.stdout.strip(), again.stdout.strip()) == ("etl-7", "etl-7.2")
    summary = read_summary(tmp_path / "runs", "etl-7.2")
    assert (summary["attempt"], summary["attempt_of"], summary["warning_count"]) == (2, "etl-7", 1)
    assert "attempt" not in read_summary(tmp_path / "runs", "etl-7")


def test_wrapper_reruns_become_attempts_two_and_three(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "import logging, os\nlogging.warning('as %s', os.environ['RUNLOGGER_RUN_ID'])\n",
        encoding="utf-8",
    )
    args = ("-m", "runlogger", "run", "--run-id", "daily", "job.py")
    runs = tmp_path / "runs"
    results = [python_command(*args, cwd=tmp_path) for _ in range(3)]

    assert [result.returncode for result in results] == [0, 0, 0]
    assert "already names" not in results[0].stderr
    assert results[2].stderr.startswith(
        "runlogger: run id 'daily' already names a completed run (started "
    )
    assert "this run is 'daily.3'" in results[2].stderr
    for run_id, attempt in (("daily.2", 2), ("daily.3", 3)):
        summary = read_summary(runs, run_id)
        assert (summary["status"], summary["attempt"], summary["attempt_of"]) == (
            "completed",
            attempt,
            "daily",
        )
        events = read_jsonl(runs / f"{run_id}.jsonl")
        assert {event["run_id"] for event in events} == {run_id}
        assert f"as {run_id}" in [event["message"] for event in events]
    assert read_summary(runs, "daily")["event_count"] == 3  # run_started, x, run_finished
    assert _markers(runs) == []
    listed = python_command("-m", "runlogger", "runs", "--dir", "runs", cwd=tmp_path)
    assert listed.returncode == 0
    assert {line.split()[0] for line in listed.stdout.splitlines()[1:]} == {
        "daily",
        "daily.2",
        "daily.3",
    }
    shown = python_command("-m", "runlogger", "show", "daily.3", "--dir", "runs", cwd=tmp_path)
    assert shown.returncode == 0
    assert "attempt:        3 of daily" in shown.stdout.splitlines()
    first = python_command("-m", "runlogger", "show", "daily", "--dir", "runs", cwd=tmp_path)
    assert first.stdout.splitlines()[-1] == "later attempts: daily.2, daily.3"


def test_a_command_rerun_is_an_attempt_and_the_command_sees_its_id(tmp_path: Path) -> None:
    args = (
        "-m",
        "runlogger",
        "run",
        "--run-id",
        "sync",
        "--",
        "sh",
        "-c",
        "echo $RUNLOGGER_RUN_ID",
    )
    first = python_command(*args, cwd=tmp_path)
    again = python_command(*args, cwd=tmp_path)
    assert (first.returncode, again.returncode) == (0, 0), again.stderr
    assert (first.stdout, again.stdout) == ("sync\n", "sync.2\n")
    summary = read_summary(tmp_path / "runs", "sync.2")
    assert (summary["status"], summary["attempt"], summary["attempt_of"]) == (
        "completed",
        2,
        "sync",
    )
    assert _markers(tmp_path / "runs") == []


def test_children_of_an_attempt_join_it(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(
        "import logging, os, subprocess, sys\n"
        "print('PARENT', os.environ['RUNLOGGER_RUN_ID'], os.environ['RUNLOGGER_RUN_OWNER'])\n"
        "child = \"import logging, os; print('CHILD', os.environ['RUNLOGGER_RUN_ID']); "
        "logging.getLogger('child').warning('from the child')\"\n"
        "subprocess.run([sys.executable, '-c', child], check=True)\n",
        encoding="utf-8",
    )
    args = ("-m", "runlogger", "run", "--run-id", "batch", "job.py")
    assert python_command(*args, cwd=tmp_path).returncode == 0
    before = (tmp_path / "runs" / "batch.json").read_bytes()

    again = python_command(*args, cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    printed = dict(line.split(" ", 1) for line in again.stdout.splitlines())
    assert printed["PARENT"].startswith("batch.2 batch.2@")
    assert printed["CHILD"] == "batch.2"
    summary = read_summary(tmp_path / "runs", "batch.2")
    assert len(summary["contributors"]) == 2
    assert summary["warning_count"] == 1
    events = read_jsonl(tmp_path / "runs" / "batch.2.jsonl")
    child = [event for event in events if event["message"] == "from the child"]
    assert [event["run_id"] for event in child] == ["batch.2"]
    assert (tmp_path / "runs" / "batch.json").read_bytes() == before


WAIT_THEN_JOB = """
import os, time
while not os.path.exists("go"):
    time.sleep(0.01)
""" + JOB.replace("import logging,", "import logging, runlogger,").replace(
    'logging.getLogger("job")',
    'print(runlogger.current_run().run_id, flush=True)\nlogging.getLogger("job")',
)


def test_concurrent_reruns_get_distinct_attempts(tmp_path: Path) -> None:
    script = _job_file(tmp_path, WAIT_THEN_JOB)
    runs = tmp_path / "runs"
    (tmp_path / "go").touch()
    python_command(str(script), cwd=tmp_path, env=clean_env(RUNLOGGER_RUN_ID="shared"))
    (tmp_path / "go").unlink()
    env = clean_env(RUNLOGGER_RUN_ID="shared")
    processes = [
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    time.sleep(0.5)  # let them all reach the wait (not a timing assertion: only a head start)
    (tmp_path / "go").touch()
    outputs = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0] * 5, outputs
    ids = sorted(out.strip() for out, _ in outputs)
    assert ids == [f"shared.{n}" for n in range(2, 7)]
    for run_id in ids:
        summary = read_summary(runs, run_id)
        assert summary["status"] == "completed"
        assert len(summary["contributors"]) == 1
        assert summary["event_count"] == 3
    assert _markers(runs) == []


def test_a_nested_run_with_a_finished_id_is_refused_with_advice(tmp_path: Path) -> None:
    code = """
        import logging, runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        with runlogger.run("step", run_id="step-1"):
            pass
        try:
            with runlogger.run("step", run_id="step-1"):
                print("ran")
        except runlogger.RunIdInUseError as exc:
            print("refused:", exc)
    """
    result = run_python(code, cwd=tmp_path, env=clean_env(), check_exit=0)
    assert "ran" not in result.stdout.split()
    assert result.stdout.startswith("refused: run id 'step-1' already names a run (completed")
    assert "give this run an id of its own (e.g. 'step-1.2')" in result.stdout


def test_a_process_run_that_logged_before_its_summary_handler_is_refused(
    tmp_path: Path,
) -> None:
    code = """
        import logging, sys, runlogger
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(runlogger.RunContextFilter())
        logging.getLogger().addHandler(handler)
        logging.getLogger().warning("early")
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
    """
    env = clean_env(RUNLOGGER_RUN_ID="early-1")
    run_python(code, cwd=tmp_path, env=env, check_exit=0)
    before = (tmp_path / "runs" / "early-1.json").read_bytes()

    again = run_python(code, cwd=tmp_path, env=env)

    assert again.returncode == 1
    assert "RunIdInUseError: run id 'early-1' already names a completed run" in again.stderr
    assert "configure runlogger's handlers before logging anything" in again.stderr
    assert (tmp_path / "runs" / "early-1.json").read_bytes() == before
    assert not (tmp_path / "runs" / "early-1.2.json").exists()


def test_an_attempt_id_over_64_characters_is_refused_in_one_line(tmp_path: Path) -> None:
    long_id = "n" * 63
    (tmp_path / "job.py").write_text("import logging\nlogging.warning('x')\n", encoding="utf-8")
    args = ("-m", "runlogger", "run", "--run-id", long_id, "job.py")
    assert python_command(*args, cwd=tmp_path).returncode == 0
    before = (tmp_path / "runs" / f"{long_id}.json").read_bytes()

    again = python_command(*args, cwd=tmp_path)

    assert again.returncode == 2
    assert again.stderr == (
        f"runlogger: run id {long_id!r} already names a completed run in "
        f"{tmp_path / 'runs' / (long_id + '.json')}, and its next attempt id "
        f"{long_id + '.2'!r} would be longer than 64 characters; choose a shorter run id.\n"
    )
    assert (tmp_path / "runs" / f"{long_id}.json").read_bytes() == before
    assert _markers(tmp_path / "runs") == []


def test_a_running_summary_is_taken_over_and_the_next_rerun_is_an_attempt(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "left", status="running", end_time=None, contributors={})
    script = _job_file(tmp_path)
    env = clean_env(RUNLOGGER_RUN_ID="left")

    taken_over = python_command(str(script), cwd=tmp_path, env=env)
    again = python_command(str(script), cwd=tmp_path, env=env)

    assert (taken_over.returncode, again.returncode) == (0, 0), again.stderr
    assert "already names" not in taken_over.stderr
    summary = read_summary(runs, "left")
    assert summary["status"] == "completed"
    assert "attempt" not in summary
    assert "this run is 'left.2'" in again.stderr
    assert read_summary(runs, "left.2")["attempt_of"] == "left"


def test_wrapper_finishes_an_attempt_whose_program_died_under_its_own_id(
    tmp_path: Path,
) -> None:
    (tmp_path / "job.py").write_text(
        "import logging, os\nlogging.warning('dying')\nos._exit(7)\n", encoding="utf-8"
    )
    env = clean_env(RUNLOGGER_RUN_ID="hard")
    args = ("-m", "runlogger", "run", "job.py")
    first = python_command(*args, cwd=tmp_path, env=env)
    before = (tmp_path / "runs" / "hard.json").read_bytes()

    again = python_command(*args, cwd=tmp_path, env=env)

    assert (first.returncode, again.returncode) == (7, 7)
    assert "this run is 'hard.2'" in again.stderr
    summary = read_summary(tmp_path / "runs", "hard.2")
    assert (summary["status"], summary["exit_code"], summary["attempt"]) == ("failed", 7, 2)
    assert summary["counts_incomplete"] is True
    assert (tmp_path / "runs" / "hard.json").read_bytes() == before
    assert _markers(tmp_path / "runs") == []
