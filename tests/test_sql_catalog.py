"""The SQL run catalog on SQLite: written by the runs, repaired by sync, read by stats/prune."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import runlogger
from runlogger import _catalog_schema
from runlogger._catalog_sink import open_catalog
from runlogger._catalog_sql import Filters
from runlogger._cli import main
from runlogger._errors import MissingBackendError
from runlogger._timefmt import utc_timestamp
from support import clean_env, communicate, read_summary, run_python, write_summary

JOB = """
    import logging, sys
    import runlogger

    handler = runlogger.RunSummaryHandler("runs", checkpoint_interval=3600)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    log = logging.getLogger("job")
    log.info("one")
    log.warning("two")
    with runlogger.run("inner"):
        log.error("three")
    print(runlogger.current_run().run_id)
"""


def _rows(path: Path) -> dict[str, dict[str, Any]]:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return {row["run_id"]: dict(row) for row in connection.execute("SELECT * FROM runs")}
    finally:
        connection.close()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_lands_in_the_directorys_sqlite_catalog_with_its_summary(tmp_path: Path) -> None:
    result = run_python(JOB, cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    run_id = result.stdout.strip()
    rows = _rows(tmp_path / "runs" / "runlogger.sqlite3")
    summary = read_summary(tmp_path / "runs", run_id)
    row = rows[run_id]
    assert json.loads(row.pop("summary")) == summary
    assert row == {
        "run_id": run_id,
        "name": "script_under_test",  # named after its program
        "status": "completed",
        "started_at": summary["start_time"],
        "ended_at": summary["end_time"],
        "updated_at": summary["updated_at"],
        "duration_ms": summary["duration_ms"],
        "event_count": summary["event_count"],
        "error_count": 0,  # the error was the nested run's
        "warning_count": 1,
        "exit_code": None,
        "host": summary["host"],
        "pid": summary["pid"],
        "parent_run_id": None,
        "trace_id": None,
    }


def test_a_nested_run_has_its_own_row_with_its_parent(tmp_path: Path) -> None:
    result = run_python(JOB, cwd=tmp_path, env=clean_env())
    run_id = result.stdout.strip()
    rows = _rows(tmp_path / "runs" / "runlogger.sqlite3")
    (inner,) = [row for row in rows.values() if row["name"] == "inner"]
    assert (inner["parent_run_id"], inner["status"], inner["error_count"]) == (
        run_id,
        "completed",
        1,
    )


def test_a_running_run_is_in_the_catalog_before_it_ends(tmp_path: Path) -> None:
    code = """
        import logging, sys, time
        import runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        print(runlogger.current_run().run_id, flush=True)
        sys.stdin.readline()
    """
    script = tmp_path / "job.py"
    script.write_text(code.replace("\n        ", "\n"), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        database = tmp_path / "runs" / "runlogger.sqlite3"
        status = None
        for _ in range(600):  # the sink writes on its own thread: wait for the row
            if database.exists():
                try:
                    status = _rows(database).get(run_id, {}).get("status")
                except sqlite3.OperationalError:  # created, its table not yet
                    status = None
                if status is not None:
                    break
            time.sleep(0.05)
        assert status == "running"
    finally:
        _out, err = communicate(process)
    assert process.returncode == 0, err
    assert _rows(database)[run_id]["status"] == "completed"


def test_the_catalog_file_gets_the_summaries_file_mode(tmp_path: Path) -> None:
    result = run_python(JOB, cwd=tmp_path, env=clean_env())
    assert result.returncode == 0
    mode = (tmp_path / "runs" / "runlogger.sqlite3").stat().st_mode & 0o777
    assert mode == 0o600


def test_the_schema_has_a_version_the_documented_columns_and_indexes(tmp_path: Path) -> None:
    catalog = open_catalog(str(tmp_path / "c.sqlite3"))
    catalog.count()
    catalog.close()
    connection = sqlite3.connect(tmp_path / "c.sqlite3")
    columns = [row[1] for row in connection.execute("PRAGMA table_info(runs)")]
    indexes = {row[1] for row in connection.execute("PRAGMA index_list(runs)")}
    version = connection.execute("SELECT version FROM runlogger_schema").fetchall()
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert columns == list(_catalog_schema.COLUMNS)
    assert {
        "runs_started_at",
        "runs_name_started_at",
        "runs_status_started_at",
        "runs_name_duration",
    } <= indexes
    assert version == [(_catalog_schema.SCHEMA_VERSION,)]
    assert journal == "wal"


@pytest.mark.parametrize(
    ("argument", "environment"), [("False", ""), ("None", "off")], ids=["argument", "environment"]
)
def test_the_catalog_can_be_turned_off(tmp_path: Path, argument: str, environment: str) -> None:
    code = f"""
        import logging, runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs", catalog={argument}))
        logging.getLogger().warning("x")
    """
    result = run_python(code, cwd=tmp_path, env=clean_env(RUNLOGGER_CATALOG=environment))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "runs" / "runlogger.sqlite3").exists()
    assert len(list((tmp_path / "runs").glob("*.json"))) == 1


def test_runlogger_catalog_names_another_sqlite_file(tmp_path: Path) -> None:
    env = clean_env(RUNLOGGER_CATALOG=str(tmp_path / "elsewhere.db"))
    result = run_python(JOB, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in _rows(tmp_path / "elsewhere.db")
    assert not (tmp_path / "runs" / "runlogger.sqlite3").exists()


def test_twenty_processes_finishing_at_once_make_twenty_rows(tmp_path: Path) -> None:
    code = """
        import logging, os, sys, time
        import runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        logging.getLogger("job").warning("started")
        print(runlogger.current_run().run_id, flush=True)
        while not os.path.exists("go"):
            time.sleep(0.005)
    """
    script = tmp_path / "job.py"
    script.write_text(code.replace("\n        ", "\n"), encoding="utf-8")
    processes = [
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    run_ids = []
    for process in processes:
        assert process.stdout is not None
        run_ids.append(process.stdout.readline().strip())
    (tmp_path / "go").touch()  # all twenty finish at the same moment
    errors = [communicate(process, timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 20
    assert errors == [""] * 20
    rows = _rows(tmp_path / "runs" / "runlogger.sqlite3")
    assert sorted(rows) == sorted(run_ids)
    assert {row["status"] for row in rows.values()} == {"completed"}
    for run_id in run_ids:
        assert read_summary(tmp_path / "runs", run_id)["logging_errors"] == 0


def test_a_locked_catalog_never_holds_the_job_and_sync_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    catalog = open_catalog(str(runs / "runlogger.sqlite3"))
    catalog.count()  # created, at the current schema
    catalog.close()
    blocker = sqlite3.connect(runs / "runlogger.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # nobody else may write until we say so
    try:
        result = run_python(
            JOB, cwd=tmp_path, env=clean_env(RUNLOGGER_SINK_TIMEOUT="1"), timeout=60
        )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    summary = read_summary(runs, run_id)
    assert summary["status"] == "completed"
    assert summary["logging_errors"] >= 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("runlogger: sink catalog failed")
    assert run_id not in _rows(runs / "runlogger.sqlite3")
    code, _out, err = _cli(capsys, "sync", "--dir", str(runs))
    assert (code, err) == (0, "")
    assert _rows(runs / "runlogger.sqlite3")[run_id]["status"] == "completed"
    assert json.loads(_rows(runs / "runlogger.sqlite3")[run_id]["summary"]) == summary


def test_an_older_state_never_replaces_a_newer_row(tmp_path: Path) -> None:
    catalog = open_catalog(str(tmp_path / "c.sqlite3"))
    base = {"schema": "runlogger.summary/1", "run_id": "r1", "start_time": "2026-11-30T21:00:00Z"}
    final = {**base, "status": "completed", "updated_at": "2026-11-30T21:05:00Z"}
    stale = {**base, "status": "running", "updated_at": "2026-11-30T21:04:00Z"}
    catalog.upsert([_catalog_schema.row_from_summary(final)])
    catalog.upsert([_catalog_schema.row_from_summary(stale)])
    assert [row.status for row in catalog.select(Filters())] == ["completed"]
    catalog.close()


def test_an_explicit_postgres_catalog_without_psycopg_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingBackendError, match=r"runlogger\[postgres\]"):
        runlogger.RunSummaryHandler(tmp_path / "runs", catalog="postgresql://u@db/runs")


# -- sync -----------------------------------------------------------------------------


def test_sync_catalogs_summaries_written_without_a_catalog_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "old-1", status="failed")
    write_summary(runs, "old-2", schema="runlogger.summary/0", updated_at=None)
    (runs / "output.json").write_text('{"result": 1}', encoding="utf-8")
    (runs / ".runlogger-index").write_bytes(b"legacy")
    code, out, err = _cli(capsys, "sync", "--dir", str(runs))
    assert (code, err) == (0, "")
    assert out.startswith("catalogued 2 runs from")
    rows = _rows(runs / "runlogger.sqlite3")
    assert {run_id: row["status"] for run_id, row in rows.items()} == {
        "old-1": "failed",
        "old-2": "completed",
    }
    assert rows["old-2"]["updated_at"] == "2026-11-30T21:01:00.000000Z"  # from end_time
    assert not (runs / ".runlogger-index").exists()
    code, out, err = _cli(capsys, "sync", "--dir", str(runs))
    assert out.startswith("catalogued 0 runs from")
    assert "(2 already up to date)" in out


def test_sync_brings_in_a_summary_newer_than_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "r1", status="running", updated_at="2026-11-30T21:00:30Z")
    _cli(capsys, "sync", "--dir", str(runs))
    write_summary(runs, "r1", status="failed", updated_at="2026-11-30T21:02:00Z")
    _code, out, _ = _cli(capsys, "sync", "--dir", str(runs))
    assert out.startswith("catalogued 1 run from")
    assert _rows(runs / "runlogger.sqlite3")["r1"]["status"] == "failed"


def test_sync_reports_a_corrupt_summary_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "good")
    (runs / "torn.json").write_text('{"schema": "runlogger.summary/1", "run_id": "to', "utf-8")
    code, _out, err = _cli(capsys, "sync", "--dir", str(runs))
    assert code == 0
    assert err.startswith("runlogger: skipped corrupt summary ")
    assert "torn.json" in err
    assert list(_rows(runs / "runlogger.sqlite3")) == ["good"]


def test_sync_of_a_missing_directory_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "sync", "--dir", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "no such directory" in err


# -- stats ----------------------------------------------------------------------------


def _summaries_for_stats(runs: Path) -> None:
    runs.mkdir()
    for i, (status, duration) in enumerate(
        [("completed", 100), ("completed", 200), ("failed", 300), ("completed", 400)]
    ):
        write_summary(
            runs,
            f"etl-{i}",
            name="etl",
            status=status,
            duration_ms=duration,
            start_time=f"2026-11-30T2{i}:00:00.000000Z",
            end_time=f"2026-11-30T2{i}:30:00.000000Z",
        )
    write_summary(runs, "etl-live", name="etl", status="running", end_time=None, duration_ms=9)
    write_summary(runs, "report-0", name="report", status="terminated", duration_ms=50)


def test_stats_per_name_counts_failures_durations_and_last_outcomes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    _summaries_for_stats(runs)
    code, out, err = _cli(capsys, "stats", "--dir", str(runs), "--json")
    assert (code, err) == (0, "")
    by_name = {item["name"]: item for item in map(json.loads, out.splitlines())}
    assert by_name["etl"] == {
        "name": "etl",
        "runs": 5,
        "failed": 1,
        "ended": 4,
        "failure_rate": 0.25,
        "p50_ms": 200.0,
        "p95_ms": 400.0,
        "max_ms": 400.0,
        "last_success": "2026-11-30T23:30:00.000000Z",
        "last_failure": "2026-11-30T22:30:00.000000Z",
    }
    assert by_name["report"]["failed"] == 1
    assert by_name["report"]["last_success"] is None


def test_stats_filters_by_name_pattern_and_start_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    _summaries_for_stats(runs)
    _code, out, _ = _cli(
        capsys,
        "stats",
        "--dir",
        str(runs),
        "--json",
        "--name",
        "e*",
        "--since",
        "2026-11-30T22:00Z",
    )
    (item,) = map(json.loads, out.splitlines())
    assert (item["name"], item["runs"], item["failed"]) == ("etl", 2, 1)


def test_stats_table_has_a_row_per_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    _summaries_for_stats(runs)
    _code, out, _ = _cli(capsys, "stats", "--dir", str(runs), "--utc")
    header, *rows = out.splitlines()
    assert header.split()[:7] == ["NAME", "RUNS", "FAILED", "FAIL%", "P50", "P95", "MAX"]
    assert [row.split()[:4] for row in rows] == [
        ["etl", "5", "1", "25.0"],
        ["report", "1", "1", "100.0"],
    ]


def test_stats_of_a_catalog_that_does_not_exist_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, "stats", "--catalog", str(tmp_path / "missing.sqlite3"))
    assert (code, out) == (2, "")
    assert err == f"runlogger: no catalog at {tmp_path / 'missing.sqlite3'}\n"


# -- prune ----------------------------------------------------------------------------


def test_prune_removes_old_runs_files_and_rows_and_keeps_running_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    recent = utc_timestamp(time.time() - 3600)
    write_summary(runs, "old-done")
    (runs / "old-done.jsonl").write_text("{}\n", encoding="utf-8")
    write_summary(runs, "old-failed", status="failed")
    write_summary(runs, "old-running", status="running", end_time=None, host=None)
    write_summary(runs, "new-done", start_time=recent, end_time=recent, updated_at=recent)
    code, out, err = _cli(capsys, "prune", "--dir", str(runs), "--older-than", "1d")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("removed 2 runs older than")
    assert sorted(path.name for path in runs.glob("*.json*")) == [
        "new-done.json",
        "old-running.json",
    ]
    assert sorted(_rows(runs / "runlogger.sqlite3")) == ["new-done", "old-running"]


def test_prune_dry_run_removes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "old-done")
    _code, out, _ = _cli(capsys, "prune", "--dir", str(runs), "--older-than", "1d", "--dry-run")
    assert out.splitlines()[0].startswith("would remove old-done  completed")
    assert (runs / "old-done.json").exists()
    assert list(_rows(runs / "runlogger.sqlite3")) == ["old-done"]


def test_prune_status_selects_which_runs_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "old-done")
    write_summary(runs, "old-failed", status="failed")
    _cli(capsys, "prune", "--dir", str(runs), "--older-than", "1d", "--status", "failed")
    assert sorted(path.name for path in runs.glob("*.json")) == ["old-done.json"]


def test_prune_needs_older_than(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "prune", "--dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert "--older-than" in err


def test_catalog_path_in_the_environment_is_used_by_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_summary(runs, "r1")
    monkeypatch.setenv("RUNLOGGER_CATALOG", str(tmp_path / "fleet.sqlite3"))
    _cli(capsys, "sync", "--dir", str(runs))
    assert list(_rows(tmp_path / "fleet.sqlite3")) == ["r1"]
    assert not (runs / "runlogger.sqlite3").exists()
    assert os.path.exists(tmp_path / "fleet.sqlite3")


def test_a_catalog_being_set_up_by_another_process_is_waited_for(tmp_path: Path) -> None:
    """A new catalog held exclusively (another process switching it to WAL, or migrating
    it) is opened once it is free, within the busy timeout, not refused as locked."""
    import threading

    from runlogger._catalog_sqlite import SQLiteCatalog

    path = tmp_path / "runlogger.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    releaser = threading.Timer(0.5, holder.rollback)
    releaser.start()
    try:
        catalog = SQLiteCatalog(str(path), busy_timeout=10)
        connection = catalog.connection()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] >= 1
        catalog.close()
    finally:
        releaser.join()
        holder.close()
