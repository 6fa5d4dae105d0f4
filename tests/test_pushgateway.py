"""Run metrics pushed to a real Pushgateway (Debian's prometheus-pushgateway), scraped back."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from http_recorder import http_recorder
from support import clean_env, communicate, python_command, read_summary, run_python

GATEWAY = shutil.which("prometheus-pushgateway")
JOB = "nightly-etl"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A Pushgateway on 127.0.0.1 with a free port, for this test only."""
    if GATEWAY is None:
        if os.environ.get("RUNLOGGER_REQUIRE_PUSHGATEWAY") == "1":
            pytest.fail("RUNLOGGER_REQUIRE_PUSHGATEWAY=1 but prometheus-pushgateway is missing")
        pytest.skip(
            "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [GATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # wait for it to answer (it usually does within a second)
            if process.poll() is not None:
                pytest.fail(f"prometheus-pushgateway exited with {process.returncode}")
            try:
                _get(url + "/-/ready")
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("prometheus-pushgateway did not become ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scrape(url: str, job: str = JOB) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``job`` on the gateway: (name, labels without job/instance) -> value."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(_get(url + "/metrics")):
        for sample in family.samples:
            if sample.labels.get("job") != job:
                continue
            labels = tuple(
                sorted((k, v) for k, v in sample.labels.items() if k not in ("job", "instance"))
            )
            samples[(sample.name, labels)] = sample.value
    return samples


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **extra: str
) -> float:
    labels = tuple(sorted({"env": "test", **extra}.items()))
    return samples[(name, labels)]


def _status(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> str:
    on = [
        status
        for status in ("running", "completed", "failed", "terminated")
        if _value(samples, "runlogger_run_status", status=status) == 1
    ]
    assert len(on) == 1, on
    return on[0]


JOB_SCRIPT = """
    import logging, sys, time
    import runlogger
    runlogger.start_process_run("nightly-etl")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(runlogger.RunSummaryHandler("runs", handle_signals=True))
    log = logging.getLogger("job")
    for i in range(3):
        log.info("item %d", i, extra={"event_type": "item_processed"})
    log.warning("slow partition")
    print(runlogger.current_run().run_id, flush=True)
    if sys.argv[1:] == ["fail"]:
        raise RuntimeError("boom")
    if sys.argv[1:] == ["wait"]:
        runlogger.current_run().progress(5, 10)
        time.sleep(600)
"""


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return clean_env(
        RUNLOGGER_PUSHGATEWAY=url,
        RUNLOGGER_PROM_LABELS="env=test",
        RUNLOGGER_DIR=str(tmp_path / "runs"),
    )


def _succeed(tmp_path: Path, url: str) -> dict[str, object]:
    result = run_python(JOB_SCRIPT, cwd=tmp_path, env=_env(tmp_path, url), check_exit=0)
    assert "runlogger:" not in result.stderr, result.stderr
    return read_summary(tmp_path / "runs", result.stdout.strip())


def _epoch(text: object) -> float:
    assert isinstance(text, str)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_successful_run_is_on_the_gateway(tmp_path: Path, pushgateway: str) -> None:
    summary = _succeed(tmp_path, pushgateway)
    samples = _scrape(pushgateway)
    assert _status(samples) == "completed"
    end = _epoch(summary["end_time"])
    assert _value(samples, "runlogger_run_last_success_timestamp_seconds") == pytest.approx(end)
    assert _value(samples, "runlogger_run_end_timestamp_seconds") == pytest.approx(end)
    assert _value(samples, "runlogger_run_start_timestamp_seconds") == pytest.approx(
        _epoch(summary["start_time"])
    )
    assert _value(samples, "runlogger_run_duration_seconds") == pytest.approx(
        summary["duration_ms"] / 1000  # type: ignore[operator]
    )
    assert _value(samples, "runlogger_run_exit_code") == 0
    assert _value(samples, "runlogger_run_records_total", level="INFO") >= 3
    assert _value(samples, "runlogger_run_records_total", level="WARNING") == 1
    assert _value(samples, "runlogger_run_records_total", level="ERROR") == 0
    assert _value(samples, "runlogger_run_warnings_total") == 1
    assert _value(samples, "runlogger_run_errors_total") == 0
    assert _value(samples, "runlogger_run_events_total", event_type="item_processed") == 3
    assert _value(samples, "runlogger_run_events_total", event_type="_other") == 0


def test_a_failed_run_leaves_the_last_success_alone(tmp_path: Path, pushgateway: str) -> None:
    first = _succeed(tmp_path, pushgateway)
    result = run_python(JOB_SCRIPT, "fail", cwd=tmp_path, env=_env(tmp_path, pushgateway))
    assert result.returncode == 1
    failed = read_summary(tmp_path / "runs", result.stdout.strip())
    samples = _scrape(pushgateway)
    assert _status(samples) == "failed"
    assert _value(samples, "runlogger_run_last_success_timestamp_seconds") == pytest.approx(
        _epoch(first["end_time"])
    )
    assert _value(samples, "runlogger_run_end_timestamp_seconds") == pytest.approx(
        _epoch(failed["end_time"])
    )
    assert _value(samples, "runlogger_run_exit_code") == 1
    assert _value(samples, "runlogger_run_errors_total") >= 1


def test_a_run_killed_by_sigterm_shows_running_then_terminated(
    tmp_path: Path, pushgateway: str
) -> None:
    first = _succeed(tmp_path, pushgateway)
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB_SCRIPT), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), "wait"],
        cwd=tmp_path,
        env=_env(tmp_path, pushgateway),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        for _ in range(1200):  # until the progress checkpoint is on the gateway
            samples = _scrape(pushgateway)
            if _value(samples, "runlogger_run_progress_done") == 5:
                break
            time.sleep(0.05)
        assert _status(samples) == "running"
        assert _value(samples, "runlogger_run_progress_total") == 10
        assert _value(samples, "runlogger_run_checkpoint_interval_seconds") == 30
        assert _value(samples, "runlogger_run_last_success_timestamp_seconds") == pytest.approx(
            _epoch(first["end_time"])
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = communicate(process, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, stderr
    assert read_summary(tmp_path / "runs", run_id)["status"] == "terminated"
    samples = _scrape(pushgateway)
    assert _status(samples) == "terminated"
    assert _value(samples, "runlogger_run_exit_code") == 143
    assert _value(samples, "runlogger_run_last_success_timestamp_seconds") == pytest.approx(
        _epoch(first["end_time"])
    )


def test_an_unreachable_gateway_is_counted_reported_once_and_the_job_goes_on(
    tmp_path: Path,
) -> None:
    port = _free_port()  # nothing listens there
    env = _env(tmp_path, f"http://127.0.0.1:{port}")
    result = run_python(JOB_SCRIPT, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    summary = read_summary(tmp_path / "runs", result.stdout.strip())
    assert summary["status"] == "completed"
    assert summary["logging_errors"] == 2  # the start and the finish
    reports = [line for line in result.stderr.splitlines() if line.startswith("runlogger:")]
    assert len(reports) == 1, result.stderr
    assert f"pushgateway http://127.0.0.1:{port} failed" in reports[0]
    assert "Traceback" not in result.stderr


def test_gateway_credentials_come_from_the_environment(tmp_path: Path) -> None:
    with http_recorder() as server:
        env = _env(tmp_path, server.base)
        env["RUNLOGGER_PUSHGATEWAY_TOKEN"] = "s3cret-token"
        run_python(JOB_SCRIPT, cwd=tmp_path, env=env, check_exit=0)
        arrivals = list(server.arrivals)
    assert [(a.method, a.path) for a in arrivals] == [
        ("POST", "/metrics/job/nightly-etl/env/test"),
        ("POST", "/metrics/job/nightly-etl/env/test"),
    ]
    assert {a.headers["Authorization"] for a in arrivals} == {"Bearer s3cret-token"}
    finished = {f.name for f in text_string_to_metric_families(arrivals[-1].body.decode())}
    started = {f.name for f in text_string_to_metric_families(arrivals[0].body.decode())}
    assert "runlogger_run_last_success_timestamp_seconds" in finished
    assert "runlogger_run_last_success_timestamp_seconds" not in started


def test_runlogger_run_pushgateway_pushes_the_wrapped_scripts_run(
    tmp_path: Path, pushgateway: str
) -> None:
    script = tmp_path / "nightly.py"
    script.write_text(
        "import logging, sys\nlogging.getLogger('job').warning('half done')\nsys.exit(3)\n",
        encoding="utf-8",
    )
    env = clean_env(RUNLOGGER_DIR=str(tmp_path / "runs"), RUNLOGGER_PROM_LABELS="env=test")
    result = python_command(
        "-m",
        "runlogger",
        "run",
        "--pushgateway",
        pushgateway,
        "--name",
        JOB,
        str(script),
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 3, result.stderr
    samples = _scrape(pushgateway)
    assert _status(samples) == "failed"
    assert _value(samples, "runlogger_run_exit_code") == 3
    assert _value(samples, "runlogger_run_warnings_total") == 1


def test_runlogger_run_refuses_a_bad_pushgateway_url_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text("print('never')\n", encoding="utf-8")
    result = python_command(
        "-m", "runlogger", "run", "--pushgateway", "gateway:9091", "job.py", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "runlogger: --pushgateway must be an http:// or https:// URL with a host name\n"
    )
