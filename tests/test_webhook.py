"""Webhooks and healthchecks-style pings: what arrives, when, and that no endpoint harms the job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import runlogger
from http_recorder import http_recorder
from runlogger import MissingBackendError, _destinations, _http, _sinks
from support import clean_env, read_summary, run_python

JOB_SCRIPT = """
    import logging, sys
    import runlogger
    runlogger.start_process_run("nightly")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(runlogger.RunSummaryHandler("runs"))
    logging.getLogger("job").info("hello")
    with runlogger.run("inner"):
        logging.getLogger("job").info("inside")
    print(runlogger.current_run().run_id, flush=True)
    if sys.argv[1:] == ["fail"]:
        raise RuntimeError("boom")
    if sys.argv[1:] == ["exit3"]:
        runlogger.current_run().exit_code = 3
        sys.exit(3)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(RUNLOGGER_DIR=str(tmp_path / "runs"), **extra)


def _run(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    result = run_python(JOB_SCRIPT, *args, cwd=tmp_path, env=_env(tmp_path, **env))
    return result, result.stdout.strip()


def test_a_webhook_gets_the_summary_of_every_run_at_its_finish(tmp_path: Path) -> None:
    with http_recorder() as server:
        result, run_id = _run(tmp_path, RUNLOGGER_WEBHOOK=server.base + "/hooks/abc")
        arrivals = list(server.arrivals)
    assert result.returncode == 0, result.stderr
    assert [(a.method, a.path) for a in arrivals] == [("POST", "/hooks/abc")] * 2
    assert {a.headers["X-Runlogger-Event"] for a in arrivals} == {"finished"}
    assert all(a.headers["Content-Type"] == "application/json" for a in arrivals)
    inner, process = (a.json() for a in arrivals)
    assert inner["name"] == "inner"
    assert process == read_summary(tmp_path / "runs", run_id)
    assert process["status"] == "completed"


def test_a_webhook_fragment_chooses_start_and_failure_only(tmp_path: Path) -> None:
    with http_recorder() as server:
        hook = server.base + "/alert#on=start+failure"
        ok, _ = _run(tmp_path, RUNLOGGER_WEBHOOK=hook)
        after_success = [(a.path, a.headers["X-Runlogger-Event"]) for a in server.arrivals]
        failed, _ = _run(tmp_path, "fail", RUNLOGGER_WEBHOOK=hook)
        after_failure = [a.json()["status"] for a in server.arrivals[len(after_success) :]]
    assert ok.returncode == 0, ok.stderr
    assert failed.returncode == 1
    assert after_success == [("/alert", "started"), ("/alert", "started")]  # process + inner
    assert after_failure == ["running", "running", "failed"]


def test_several_webhooks_separated_by_spaces_or_commas(tmp_path: Path) -> None:
    with http_recorder() as first, http_recorder() as second:
        hooks = f"{first.base}/a, {second.base}/b#on=success {first.base}/c#on=failure"
        result, _ = _run(tmp_path, RUNLOGGER_WEBHOOK=hooks)
        assert result.returncode == 0, result.stderr
        assert first.paths() == ["/a", "/a"]
        assert second.paths() == ["/b", "/b"]


def test_pings_follow_the_healthchecks_convention_on_success(tmp_path: Path) -> None:
    with http_recorder() as server:
        result, run_id = _run(tmp_path, RUNLOGGER_PING_URL=server.base + "/ping/uuid-1?create=1")
        arrivals = list(server.arrivals)
    assert result.returncode == 0, result.stderr
    # the nested run pings nothing: one start and one end per execution of the job
    assert [(a.method, a.path) for a in arrivals] == [
        ("POST", "/ping/uuid-1/start?create=1"),
        ("POST", "/ping/uuid-1?create=1"),
    ]
    assert arrivals[1].json()["run_id"] == run_id


@pytest.mark.parametrize(("args", "suffix"), [(("fail",), "/fail"), (("exit3",), "/3")])
def test_a_failed_run_pings_fail_or_its_exit_code(
    tmp_path: Path, args: tuple[str, ...], suffix: str
) -> None:
    with http_recorder() as server:
        result, _ = _run(tmp_path, *args, RUNLOGGER_PING_URL=server.base + "/ping/uuid-2")
        paths = server.paths()
    assert result.returncode != 0
    assert paths == ["/ping/uuid-2/start", "/ping/uuid-2" + suffix]


def test_a_500_is_retried_once_counted_and_reported_without_secrets(tmp_path: Path) -> None:
    with http_recorder("error") as server:
        secret = f"http://bob:hunter2@127.0.0.1:{server.port}/hook/T0SECRET/B1SECRET?token=tok99"
        result, run_id = _run(tmp_path, RUNLOGGER_WEBHOOK=secret)
        arrivals = list(server.arrivals)
    assert result.returncode == 0, result.stderr
    # inner and process run each: the request and one retry, credentials as Basic auth
    assert len(arrivals) == 4
    assert {a.path for a in arrivals} == {"/hook/T0SECRET/B1SECRET?token=tok99"}
    assert {a.headers["Authorization"] for a in arrivals} == {"Basic Ym9iOmh1bnRlcjI="}
    reports = [line for line in result.stderr.splitlines() if line.startswith("runlogger:")]
    assert reports == [
        f"runlogger: sink webhook http://127.0.0.1:{server.port}/*** failed (DeliveryError: "
        f"webhook POST http://127.0.0.1:{server.port}/*** failed: HTTP 500); "
        "its further failures are counted in logging_errors"
    ]
    for secret_part in ("hunter2", "bob", "T0SECRET", "B1SECRET", "tok99"):
        assert secret_part not in result.stderr
    assert read_summary(tmp_path / "runs", run_id)["logging_errors"] == 1


def test_a_hanging_endpoint_delays_the_exit_only_by_the_bound(tmp_path: Path) -> None:
    with http_recorder("hang") as server:
        env = _env(
            tmp_path,
            RUNLOGGER_PING_URL=server.base + "/ping/slow",
            RUNLOGGER_HTTP_TIMEOUT="30",
            RUNLOGGER_SINK_TIMEOUT="1",
        )
        # The endpoint never answers: only the 1 s exit bound lets the job end.
        result = run_python(JOB_SCRIPT, cwd=tmp_path, env=env, check_exit=0)
    stderr = result.stderr
    assert "sink ping http://127.0.0.1:" in stderr
    assert "did not finish within 1 s at exit" in stderr
    assert "/ping/slow" not in stderr
    summary = read_summary(tmp_path / "runs", result.stdout.strip())
    assert summary["status"] == "completed"
    assert summary["logging_errors"] >= 1


def test_a_slow_endpoint_is_cut_by_the_request_timeout(tmp_path: Path) -> None:
    with http_recorder("hang") as server:
        with pytest.raises(_http.DeliveryError) as caught:
            _http.request("POST", server.base + "/x/SECRETPATH", b"{}", timeout=0.2)
        assert len(server.arrivals) == 2  # one retry
    assert str(caught.value) == (
        f"request POST http://127.0.0.1:{server.port}/*** failed: no answer within 0.2 s"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RUNLOGGER_WEBHOOK": "ftp://example.invalid/x"}, "RUNLOGGER_WEBHOOK must be an http"),
        ({"RUNLOGGER_WEBHOOK": "http://127.0.0.1/x#on=sometimes"}, "#on=MOMENT"),
        ({"RUNLOGGER_PING_URL": "not a url"}, "RUNLOGGER_PING_URL must be an http"),
        ({"RUNLOGGER_PUSHGATEWAY": "gateway:9091"}, "RUNLOGGER_PUSHGATEWAY must be an http"),
        ({"RUNLOGGER_PUSHGATEWAY": "http://g", "RUNLOGGER_PROM_LABELS": "job=x"}, "'job'"),
        ({"RUNLOGGER_PUSHGATEWAY": "http://g", "RUNLOGGER_PROM_LABELS": "a-b=x"}, "label name"),
        ({"RUNLOGGER_PUSHGATEWAY": "http://g", "RUNLOGGER_PROM_LABELS": "env"}, "name=value"),
    ],
)
def test_bad_destinations_are_refused_at_configuration(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        runlogger.RunSummaryHandler(runs_dir)


def test_a_bad_webhook_url_never_shows_its_secret(runs_dir: Path) -> None:
    with pytest.raises(ValueError, match="webhook") as caught:
        runlogger.RunSummaryHandler(runs_dir, webhook="gopher://host/T0SECRET")
    assert "T0SECRET" not in str(caught.value)


def test_the_missing_prometheus_extra_is_named(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MissingBackendError, match=r"pip install 'runlogger\[prometheus\]'"):
        runlogger.RunSummaryHandler(runs_dir, pushgateway="http://127.0.0.1:9091")


def test_arguments_and_environment_naming_one_destination_make_one_sink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two handlers, or a handler argument and the variable, must not ping twice."""
    monkeypatch.setenv("RUNLOGGER_PING_URL", "http://127.0.0.1:9/p")
    from_environment = _destinations.destinations_from_environment()
    from_argument = _destinations.destinations(ping_url="http://127.0.0.1:9/p/")
    assert len(from_environment) == 1
    assert from_argument[0] is from_environment[0]
    assert _sinks.sink_label(from_argument[0]) == "ping http://127.0.0.1:9/***"


def test_redacted_urls_keep_only_scheme_host_and_port() -> None:
    assert _http.redact_url("https://u:p@hc-ping.com/abc-uuid?x=1") == "https://hc-ping.com/***"
    assert _http.redact_url("http://[::1]:9091") == "http://[::1]:9091"
    assert _http.redact_url("http://host:notaport/x") == "<url>"
    assert json.dumps(_http.redact_url("nonsense")) == '"<url>"'
