"""The catalog on a real PostgreSQL server (a throwaway cluster started for the session)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pg_cluster import Cluster, start_cluster
from support import clean_env, communicate, read_summary, run_python


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    started = start_cluster()
    try:
        yield started
    finally:
        with contextlib.suppress(Exception):
            started.stop()
        started.remove()


@pytest.fixture
def database(cluster: Cluster) -> str:
    return cluster.new_database()


def _rows(url: str) -> dict[str, dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, connect_timeout=10, row_factory=dict_row) as connection:
        return {row["run_id"]: row for row in connection.execute("SELECT * FROM runs")}


def _wait_for_row(url: str, run_id: str) -> None:
    import psycopg

    for _ in range(600):
        try:
            if run_id in _rows(url):
                return
        except psycopg.Error:
            pass  # the table is created by the run's first write
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached the catalog")


#: A job that poses as host $POSE_HOST (socket.gethostname is what runlogger records).
POSING_JOB = """
    import logging, os, socket
    socket.gethostname = lambda: os.environ["POSE_HOST"]
    import runlogger
    logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
    with runlogger.run("nightly"):
        logging.getLogger("job").warning("done on %s", socket.gethostname())
    print(runlogger.current_run().run_id)
"""


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runlogger", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_runs_of_three_hosts_land_in_one_table_and_count_together(
    tmp_path: Path, database: str
) -> None:
    for host in ("host-a", "host-b", "host-c"):
        workdir = tmp_path / host
        workdir.mkdir()
        env = clean_env(RUNLOGGER_CATALOG=database, POSE_HOST=host)
        result = run_python(POSING_JOB, cwd=workdir, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
    rows = _rows(database)
    nightly = [row for row in rows.values() if row["name"] == "nightly"]
    assert sorted(row["host"] for row in nightly) == ["host-a", "host-b", "host-c"]
    assert {row["status"] for row in rows.values()} == {"completed"}
    assert all(row["summary"]["run_id"] == row["run_id"] for row in rows.values())
    stats = _cli(
        "stats",
        "--json",
        "--name",
        "night*",
        cwd=tmp_path,
        env=clean_env(RUNLOGGER_CATALOG=database),
    )
    assert stats.returncode == 0, stats.stderr
    (item,) = [json.loads(line) for line in stats.stdout.splitlines()]
    assert (item["name"], item["runs"], item["failed"]) == ("nightly", 3, 0)
    env = clean_env(RUNLOGGER_CATALOG=database)
    listed = _cli("runs", "--json", "--name", "nightly", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    documents = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(document["host"] for document in documents) == ["host-a", "host-b", "host-c"]
    only_b = _cli("runs", "--json", "--host", "host-b", cwd=tmp_path, env=env)
    assert {json.loads(line)["host"] for line in only_b.stdout.splitlines()} == {"host-b"}


def test_show_finds_a_run_of_another_host_by_prefix_in_the_catalog(
    tmp_path: Path, database: str
) -> None:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = clean_env(RUNLOGGER_CATALOG=database, POSE_HOST="host-z")
    result = run_python(POSING_JOB, cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    shown = _cli(
        "show", run_id[:24], "--json", "--catalog", database, cwd=tmp_path, env=clean_env()
    )
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert (document["run_id"], document["host"]) == (run_id, "host-z")


def test_the_job_survives_the_database_stopping_and_sync_brings_the_run_in(
    tmp_path: Path, cluster: Cluster, database: str
) -> None:
    code = """
        import logging, sys
        import runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        log = logging.getLogger("job")
        log.warning("before")
        print(runlogger.current_run().run_id, flush=True)
        sys.stdin.readline()  # the database goes away here
        log.warning("after")
        print("carried on", flush=True)
    """
    script = tmp_path / "job.py"
    script.write_text(code.replace("\n        ", "\n"), encoding="utf-8")
    env = clean_env(RUNLOGGER_CATALOG=database, RUNLOGGER_SINK_TIMEOUT="10")
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    try:
        _wait_for_row(database, run_id)  # the run's start reached the database
        cluster.stop()
        out, err = communicate(process, timeout=60)
    finally:
        cluster.start()
    assert process.returncode == 0, err
    assert out == "carried on\n"
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["status"] == "completed"
    assert summary["logging_errors"] >= 1
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("runlogger: sink catalog failed (CatalogError: catalog ")
    assert _rows(database)[run_id]["status"] == "running"
    result = _cli("sync", "--dir", "runs", "--catalog", database, cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    row = _rows(database)[run_id]
    assert row["status"] == "completed"
    assert row["summary"] == summary


@pytest.mark.parametrize("bad", ["password", "host"])
def test_an_unreachable_catalog_is_one_stderr_line_and_the_job_ends(
    tmp_path: Path, cluster: Cluster, bad: str
) -> None:
    url = (
        cluster.url(password="wrong")
        if bad == "password"
        else "postgresql://postgres:x@no-such-host.invalid:5432/runs"
    )
    code = """
        import logging
        import runlogger
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        logging.getLogger("job").warning("working")
        print(runlogger.current_run().run_id)
    """
    # The subprocess timeout is the bound: a hang past connect timeout + exit bound fails.
    result = run_python(code, cwd=tmp_path, env=clean_env(RUNLOGGER_CATALOG=url), timeout=30)
    assert result.returncode == 0
    summary = read_summary(tmp_path / "runs", result.stdout.strip())
    assert summary["status"] == "completed"
    assert summary["logging_errors"] >= 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("runlogger: sink catalog failed (CatalogError: catalog ")
    assert "wrong" not in lines[0]  # the password is never printed
    if bad == "password":
        assert "password authentication failed" in lines[0]


def test_a_query_of_an_unreachable_catalog_is_one_line_and_exit_2(
    tmp_path: Path, cluster: Cluster
) -> None:
    url = cluster.url(password="wrong")
    result = _cli("stats", "--catalog", url, cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("runlogger: catalog postgresql://postgres:***@127.0.0.1:")
