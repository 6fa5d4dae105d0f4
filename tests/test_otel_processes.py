"""OpenTelemetry in real processes: exit paths end the run span, children share the trace,
spans reach an OTLP/HTTP receiver, and opentelemetry stays unimported when unused."""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import clean_env, communicate, python_command, read_jsonl, read_summary, run_python

#: The program's own OpenTelemetry setup (the SDK is the user's): every ended span is
#: written as one JSON line to $SPANS_FILE, synchronously, so the test reads what ended.
SDK_SETUP = """
import json, logging, os, sys, time
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

_spans_out = open(os.environ["SPANS_FILE"], "a", encoding="utf-8")
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
    out=_spans_out, formatter=lambda span: span.to_json(indent=None) + "\\n")))
trace.set_tracer_provider(_provider)
"""

RUNLOGGER_SETUP = """
import runlogger
root = logging.getLogger()
root.setLevel(logging.INFO)
_out = logging.StreamHandler(sys.stdout)
_out.addFilter(runlogger.RunContextFilter())
_out.setFormatter(runlogger.RunJsonFormatter())
root.addHandler(_out)
root.addHandler(runlogger.RunSummaryHandler("runs", handle_signals=True))
log = logging.getLogger("app")
"""

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env(SPANS_FILE=str(tmp_path / "spans.jsonl"), RUNLOGGER_OTEL="1", **extra)
    env.pop("TRACEPARENT", None)
    env.pop("TRACESTATE", None)
    for name in [key for key in env if key.startswith("OTEL_")]:
        del env[name]
    env.update(extra)
    return env


def _spans(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "spans.jsonl"
    return read_jsonl(path) if path.exists() else []


def _one(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [span for span in spans if span["name"] == name]
    return found


def _hex(value: str) -> str:
    """ConsoleSpanExporter writes ids as 0x-prefixed hex."""
    return value.removeprefix("0x")


def test_sigterm_ends_the_process_run_span_as_terminated(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(SDK_SETUP)
        + textwrap.dedent(RUNLOGGER_SETUP)
        + textwrap.dedent("""
            log.info("working")
            print("READY", runlogger.current_run().run_id, flush=True)
            for _ in range(600):
                time.sleep(0.1)
            """),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    while line and not line.startswith("READY"):
        line = process.stdout.readline()
    assert line, "the child exited before it was ready"
    run_id = line.split()[1]
    process.send_signal(signal.SIGTERM)
    _out, err = communicate(process)
    assert process.returncode == 143, err
    span = _one(_spans(tmp_path), "job")
    assert span["status"]["status_code"] == "ERROR"
    assert span["status"]["description"] == "terminated by SIGTERM"
    assert span["attributes"]["runlogger.status"] == "terminated"
    assert span["attributes"]["runlogger.signal"] == "SIGTERM"
    assert span["attributes"]["runlogger.run_id"] == run_id
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["trace_id"] == _hex(span["context"]["trace_id"])


def test_an_uncaught_exception_fails_the_process_run_span(tmp_path: Path) -> None:
    result = run_python(
        SDK_SETUP + RUNLOGGER_SETUP + "raise RuntimeError('disk full')\n",
        cwd=tmp_path,
        env=_env(tmp_path),
        check_exit=1,
    )
    span = _one(_spans(tmp_path), "script_under_test")
    assert span["status"]["status_code"] == "ERROR", result.stderr
    assert span["status"]["description"] == "RuntimeError: disk full"
    assert span["attributes"]["runlogger.status"] == "failed"
    [event] = span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "RuntimeError"


def test_nested_runs_and_the_process_run_form_one_trace_in_a_real_process(
    tmp_path: Path,
) -> None:
    run_python(
        SDK_SETUP
        + RUNLOGGER_SETUP
        + """
with runlogger.run("extract"):
    with runlogger.run("load"):
        log.info("loaded")
""",
        cwd=tmp_path,
        env=_env(tmp_path),
        check_exit=0,
    )
    spans = _spans(tmp_path)
    process_span = _one(spans, "script_under_test")
    extract, load = _one(spans, "extract"), _one(spans, "load")
    assert process_span["parent_id"] is None
    assert extract["parent_id"] == process_span["context"]["span_id"]
    assert load["parent_id"] == extract["context"]["span_id"]
    assert {span["context"]["trace_id"] for span in spans} == {process_span["context"]["trace_id"]}


CHILDREN = """
import multiprocessing as mp, subprocess

def report(_):
    span = trace.get_current_span().get_span_context()
    log.info("in a worker", extra={"event_type": "worker_event"})
    with trace.get_tracer("worker").start_as_current_span("worker-step"):
        pass
    return format(span.trace_id, "032x"), runlogger.current_run().trace_id

if __name__ == "__main__":
    # spawn workers import this module as __mp_main__: the setup above configures them.
    with mp.get_context(sys.argv[1]).Pool(2) as pool:
        from_pool = pool.map(report, range(4))
    child = subprocess.run(
        [sys.executable, "-c",
         "import logging, sys, runlogger; from opentelemetry import trace; "
         "logging.root.addHandler(runlogger.RunSummaryHandler('runs')); "
         "out = logging.StreamHandler(sys.stderr); out.addFilter(runlogger.RunContextFilter()); "
         "out.setFormatter(runlogger.RunJsonFormatter()); logging.root.addHandler(out); "
         "logging.getLogger('child').warning('in a child', extra={'event_type': 'child_event'}); "
         "print(format(trace.get_current_span().get_span_context().trace_id, '032x'), "
         "runlogger.current_run().trace_id)"],
        capture_output=True, text=True, check=True)
    print(child.stderr, end="")
    print(json.dumps({"own": runlogger.current_run().trace_id, "pool": from_pool,
                      "run_id": runlogger.current_run().run_id,
                      "subprocess": child.stdout.split()}))
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_and_a_subprocess_share_the_trace_of_the_run(
    tmp_path: Path, method: str
) -> None:
    result = run_python(
        SDK_SETUP + RUNLOGGER_SETUP + CHILDREN,
        method,
        cwd=tmp_path,
        env=_env(tmp_path),
        check_exit=0,
        timeout=120,
    )
    [report] = [json.loads(line) for line in result.stdout.splitlines() if '"own"' in line]
    own = report["own"]
    assert own is not None
    assert report["pool"] == [[own, own]] * 4
    assert report["subprocess"] == [own, own]
    events = [
        json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"timestamp"')
    ]
    worker_events = [e for e in events if e.get("event_type") == "worker_event"]
    child_events = [e for e in events if e.get("event_type") == "child_event"]
    assert len(worker_events) == 4
    assert len(child_events) == 1
    assert {e["trace_id"] for e in worker_events + child_events} == {own}
    assert {e["run_id"] for e in worker_events + child_events} == {report["run_id"]}
    spans = _spans(tmp_path)
    process_span = _one(spans, "script_under_test")
    steps = [span for span in spans if span["name"] == "worker-step"]
    assert len(steps) == 4
    for step in steps:
        assert _hex(step["context"]["trace_id"]) == own
        assert step["parent_id"] == process_span["context"]["span_id"]


def test_a_run_started_under_traceparent_joins_that_trace(tmp_path: Path) -> None:
    run_python(
        SDK_SETUP + RUNLOGGER_SETUP + "log.info('in the CI trace')\n",
        cwd=tmp_path,
        env=_env(tmp_path, TRACEPARENT=INCOMING, TRACESTATE="ci=7"),
        check_exit=0,
    )
    span = _one(_spans(tmp_path), "script_under_test")
    assert _hex(span["context"]["trace_id"]) == INCOMING_TRACE
    assert span["parent_id"] == "0x00f067aa0ba902b7"
    assert "key=ci, value=7" in span["context"]["trace_state"]


# -- OTLP over HTTP, to a receiver in this test --------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _attribute_values(attributes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in attributes:
        value = attribute.value
        values[attribute.key] = getattr(value, value.WhichOneof("value"))
    return values


def test_run_spans_reach_an_otlp_http_receiver_with_their_attributes(
    tmp_path: Path, receiver: tuple[str, list[bytes]]
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = receiver
    env = _env(
        tmp_path,
        OTEL_TRACES_EXPORTER="otlp_proto_http",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        OTEL_SERVICE_NAME="nightly-batch",
        NO_PROXY="*",
        no_proxy="*",
    )
    # No OpenTelemetry code in the program: runlogger sets the SDK up from OTEL_* and
    # owns it, so it shuts it down (flushing the batch) at exit.
    result = run_python(
        """
        import logging, runlogger
        logging.basicConfig(level=logging.INFO)
        logging.root.addHandler(runlogger.RunSummaryHandler("runs"))
        with runlogger.run("load-items") as run:
            logging.getLogger("app").error("one bad item")
        print("RUN", run.run_id)
        """,
        cwd=tmp_path,
        env=env,
        check_exit=0,
    )
    run_id = result.stdout.split()[1]
    spans = {}
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = _attribute_values(resource_spans.resource.attributes)
            assert resource["service.name"] == "nightly-batch"
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "runlogger"
                for span in scope_spans.spans:
                    spans[span.name] = span
    load, process_span = spans["load-items"], spans["script_under_test"]
    attributes = _attribute_values(load.attributes)
    assert attributes["runlogger.run_id"] == run_id
    assert attributes["runlogger.status"] == "completed"
    assert attributes["runlogger.error_count"] == 1
    assert attributes["runlogger.event_count"] == 3  # run_started, the error, run_finished
    assert load.parent_span_id == process_span.span_id
    assert load.trace_id == process_span.trace_id
    summary = read_summary(tmp_path / "runs", run_id)
    assert summary["trace_id"] == load.trace_id.hex()


# -- nothing imported when nobody asked ------------------------------------------------------


@pytest.mark.parametrize("otel_env", ["", "0"])
def test_runlogger_does_not_import_opentelemetry_when_the_program_does_not(
    tmp_path: Path, otel_env: str
) -> None:
    result = run_python(
        """
        import logging, sys, runlogger
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(runlogger.RunContextFilter())
        handler.setFormatter(runlogger.RunJsonFormatter())
        logging.root.addHandler(handler)
        logging.root.addHandler(runlogger.RunSummaryHandler("runs"))
        logging.root.setLevel(logging.INFO)
        with runlogger.run("plain"):
            logging.getLogger("app").info("hello", extra={"event_type": "greeting"})
            try:
                1 / 0
            except ZeroDivisionError:
                logging.getLogger("app").exception("failed")
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "opentelemetry")
        print("LOADED", loaded)
        """,
        cwd=tmp_path,
        env=clean_env(RUNLOGGER_OTEL=otel_env),
        check_exit=0,
    )
    assert "LOADED []" in result.stdout, result.stdout


def test_run_spans_without_a_tracer_provider_say_so_once(tmp_path: Path) -> None:
    result = run_python(
        """
        import logging, runlogger
        logging.root.addHandler(runlogger.RunSummaryHandler("runs"))
        logging.root.addHandler(runlogger.RunSummaryHandler("runs"))
        with runlogger.run("unrecorded") as run:
            pass
        print("TRACE", run.trace_id)
        """,
        cwd=tmp_path,
        env=_env(tmp_path),
        check_exit=0,
    )
    assert result.stderr.count("no OpenTelemetry TracerProvider is set up") == 1, result.stderr
    assert "TRACE None" in result.stdout


def test_runlogger_run_otel_under_an_incoming_traceparent(
    tmp_path: Path, receiver: tuple[str, list[bytes]]
) -> None:
    """A CI system's trace in, the wrapped run as its child span, the events in that trace."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = receiver
    (tmp_path / "job.py").write_text(
        "import logging, sys\nlogging.getLogger('job').warning('half done')\nsys.exit(3)\n",
        encoding="utf-8",
    )
    env = _env(
        tmp_path,
        TRACEPARENT=INCOMING,
        OTEL_TRACES_EXPORTER="otlp_proto_http",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        NO_PROXY="*",
        no_proxy="*",
    )
    del env["RUNLOGGER_OTEL"]  # --otel sets it
    result = python_command(
        "-m",
        "runlogger",
        "run",
        "--otel",
        "--name",
        "ci-job",
        "--dir",
        "runs",
        "job.py",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 3, result.stderr
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans += [
            span
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
    [span] = [span for span in spans if span.name == "ci-job"]
    assert span.trace_id.hex() == INCOMING_TRACE
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    attributes = _attribute_values(span.attributes)
    assert attributes["runlogger.exit_code"] == 3
    assert attributes["runlogger.status"] == "failed"
    run_id = attributes["runlogger.run_id"]
    assert read_summary(tmp_path / "runs", run_id)["trace_id"] == INCOMING_TRACE
    events = read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")
    [warning] = [event for event in events if event["message"] == "half done"]
    assert warning["trace_id"] == INCOMING_TRACE
    assert warning["span_id"] == span.span_id.hex()
