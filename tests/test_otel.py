"""OpenTelemetry: a run as a span, W3C trace context in and out, trace ids in summaries."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import runlogger
from runlogger import _lifecycle, _otel, _process_run
from runlogger._otel import parse_traceparent
from support import read_summary, write_summary

INCOMING_TRACE = "0af7651916cd43dd8448eb211c80319c"
INCOMING_SPAN = "b7ad6b7169203331"
INCOMING = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture(autouse=True)
def _no_incoming_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACEPARENT", raising=False)
    monkeypatch.delenv("TRACESTATE", raising=False)
    monkeypatch.delenv("RUNLOGGER_OTEL", raising=False)


def _configure(provider: TracerProvider, runs_dir: Path) -> logging.Logger:
    handler = runlogger.RunSummaryHandler(runs_dir, otel=provider)
    handler.addFilter(runlogger.RunContextFilter())
    logger = logging.getLogger(f"test.otel.{id(handler)}")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def _hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def _hex_span(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_a_run_is_a_span_named_after_it_with_its_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    log = _configure(provider, runs_dir)
    with runlogger.run("nightly-etl") as run:
        log.info("one")
        log.error("two")
    span = _by_name(exporter)["nightly-etl"]
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert attributes["runlogger.run_id"] == run.run_id
    assert attributes["runlogger.status"] == "completed"
    assert attributes["runlogger.event_count"] == 2  # the handler is on the test logger only
    assert attributes["runlogger.error_count"] == 1
    assert attributes["host.name"] == run.host
    assert attributes["runlogger.parent_run_id"] == run.parent_run_id
    assert span.status.status_code is StatusCode.UNSET


def test_the_span_covers_the_run_from_its_start_to_its_end(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    with runlogger.run("timed") as run:
        pass
    span = _by_name(exporter)["timed"]
    assert run.end_time is not None
    assert span.start_time == int(run.start_time * 1e9)
    assert span.end_time == int(run.end_time * 1e9)


def test_the_run_span_is_current_inside_the_run(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    tracer = provider.get_tracer("the-program")
    with runlogger.run("outer"), tracer.start_as_current_span("program-step"):
        pass
    spans = _by_name(exporter)
    step, outer = spans["program-step"], spans["outer"]
    assert step.parent is not None
    assert step.parent.span_id == outer.context.span_id  # type: ignore[union-attr]


def test_after_the_run_its_span_is_no_longer_current(
    provider: TracerProvider, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    process_span = trace.get_current_span()
    with runlogger.run("inner"):
        assert trace.get_current_span() is not process_span
    assert trace.get_current_span() is process_span


def test_nested_runs_are_child_spans_of_their_parents(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    with runlogger.run("outer"), runlogger.run("inner"):
        pass
    spans = _by_name(exporter)
    inner, outer = spans["inner"], spans["outer"]
    process_span = trace.get_current_span().get_span_context()
    assert inner.parent is not None
    assert outer.parent is not None
    assert inner.parent.span_id == outer.context.span_id  # type: ignore[union-attr]
    assert outer.parent.span_id == process_span.span_id
    assert _hex_trace(inner) == _hex_trace(outer) == format(process_span.trace_id, "032x")


def test_a_run_in_a_thread_is_a_child_of_the_run_it_was_bound_to(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    import threading

    _configure(provider, runs_dir)

    def work() -> None:
        with runlogger.run("in-thread"):
            pass

    with runlogger.run("outer"):
        thread = threading.Thread(target=runlogger.in_current_run(work))
        thread.start()
        thread.join()
    spans = _by_name(exporter)
    assert spans["in-thread"].parent is not None
    assert spans["in-thread"].parent.span_id == spans["outer"].context.span_id  # type: ignore[union-attr]


def test_a_failed_run_sets_status_error_and_records_the_exception(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    with pytest.raises(KeyError), runlogger.run("breaks"):
        raise KeyError("missing-item")
    span = _by_name(exporter)["breaks"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "KeyError: 'missing-item'"
    assert (span.attributes or {})["runlogger.status"] == "failed"
    [event] = span.events
    assert event.name == "exception"
    assert dict(event.attributes or {}) == {
        "exception.type": "KeyError",
        "exception.message": "'missing-item'",
    }


def test_a_run_ended_by_sys_exit_carries_its_exit_code(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    with pytest.raises(SystemExit), runlogger.run("exits"):
        raise SystemExit(3)
    span = _by_name(exporter)["exits"]
    assert (span.attributes or {})["runlogger.exit_code"] == 3
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "exit code 3"


def test_the_summary_carries_the_trace_id_of_the_run_span(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    with runlogger.run("traced") as run:
        started = read_summary(runs_dir, run.run_id)
    span = _by_name(exporter)["traced"]
    assert started["trace_id"] == _hex_trace(span)
    assert read_summary(runs_dir, run.run_id)["trace_id"] == _hex_trace(span)
    assert (run.trace_id, run.span_id) == (_hex_trace(span), _hex_span(span))


def test_without_otel_the_summary_has_a_null_trace_id(runs_dir: Path) -> None:
    handler = runlogger.RunSummaryHandler(runs_dir)
    try:
        with runlogger.run("plain") as run:
            pass
    finally:
        handler.close()
    assert read_summary(runs_dir, run.run_id)["trace_id"] is None


def test_the_process_run_exports_its_span_as_traceparent(
    provider: TracerProvider, runs_dir: Path
) -> None:
    _configure(provider, runs_dir)
    process_run = _process_run.current_run()
    exported = parse_traceparent(os.environ["TRACEPARENT"])
    assert exported is not None
    trace_id, span_id, flags = exported
    assert (trace_id, span_id) == (process_run.trace_id, process_run.span_id)
    assert flags & 1  # sampled
    assert "TRACESTATE" not in os.environ


def test_a_process_run_started_under_traceparent_is_its_child(
    provider: TracerProvider, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", INCOMING)
    monkeypatch.setenv("TRACESTATE", "vendor=abc")
    _configure(provider, runs_dir)
    process_run = _process_run.current_run()
    assert process_run.trace_id == INCOMING_TRACE
    assert process_run.span_id != INCOMING_SPAN
    current = trace.get_current_span()
    assert isinstance(current, ReadableSpan)
    assert current.parent is not None
    assert format(current.parent.span_id, "016x") == INCOMING_SPAN
    # Children continue this process's span, with the incoming trace state.
    assert os.environ["TRACEPARENT"] == f"00-{INCOMING_TRACE}-{process_run.span_id}-01"
    assert os.environ["TRACESTATE"] == "vendor=abc"


def test_a_joined_process_continues_the_trace_without_a_span_of_its_own(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLOGGER_RUN_ID", "owned-elsewhere")
    monkeypatch.setenv("RUNLOGGER_RUN_OWNER", "owned-elsewhere@parent-host:1")
    monkeypatch.setenv("TRACEPARENT", INCOMING)
    _configure(provider, runs_dir)
    process_run = _process_run.current_run()
    assert not process_run.owner
    assert (process_run.trace_id, process_run.span_id) == (INCOMING_TRACE, INCOMING_SPAN)
    with provider.get_tracer("program").start_as_current_span("child-work"):
        pass
    _lifecycle.finish_run(process_run)
    [span] = exporter.get_finished_spans()
    assert span.name == "child-work"
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == INCOMING_SPAN
    assert os.environ["TRACEPARENT"] == INCOMING


def test_an_invalid_traceparent_is_reported_and_the_run_starts_a_trace(
    provider: TracerProvider,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRACEPARENT", "00-not-a-trace-01")
    _configure(provider, runs_dir)
    assert "ignoring TRACEPARENT='00-not-a-trace-01'" in capsys.readouterr().err
    current = trace.get_current_span()
    assert isinstance(current, ReadableSpan)
    assert current.parent is None


def test_a_run_going_before_otel_was_configured_becomes_a_span(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    runlogger.RunContextFilter()  # starts the process run
    with runlogger.run("early"):
        _configure(provider, runs_dir)
    span = _by_name(exporter)["early"]
    assert span.parent is not None
    assert span.parent.span_id == trace.get_current_span().get_span_context().span_id


def test_a_span_the_program_has_open_is_the_parent_of_the_process_run(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    with provider.get_tracer("program").start_as_current_span("main") as main:
        _configure(provider, runs_dir)
        process_run = _process_run.current_run()
        _lifecycle.finish_run(process_run)
    spans = _by_name(exporter)
    [process_span] = [s for s in spans.values() if s.name != "main"]
    assert process_span.parent is not None
    assert process_span.parent.span_id == main.get_span_context().span_id


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "ON"])
def test_runlogger_otel_switches_it_on(
    value: str, provider: TracerProvider, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLOGGER_OTEL", value)
    assert _otel.otel_from_environment() is True


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_runlogger_otel_off_values(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLOGGER_OTEL", value)
    assert _otel.otel_from_environment() is False


def test_an_unknown_runlogger_otel_value_is_refused_with_the_reason(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLOGGER_OTEL", "maybe")
    with pytest.raises(ValueError, match=r"RUNLOGGER_OTEL='maybe' is not understood"):
        runlogger.RunSummaryHandler(runs_dir)
    assert not runs_dir.exists()


def test_otel_must_be_a_switch_or_a_provider(runs_dir: Path) -> None:
    with pytest.raises(ValueError, match="otel must be True, False or a TracerProvider"):
        runlogger.RunSummaryHandler(runs_dir, otel="yes")


def test_an_exporter_that_is_not_installed_is_refused(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "nonexistent_exporter")
    with pytest.raises(ValueError, match="'nonexistent_exporter', which is not installed"):
        _otel._sdk_from_environment()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (INCOMING, (INCOMING_TRACE, INCOMING_SPAN, 1)),
        (f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-00", (INCOMING_TRACE, INCOMING_SPAN, 0)),
        (f"01-{INCOMING_TRACE}-{INCOMING_SPAN}-01-future", (INCOMING_TRACE, INCOMING_SPAN, 1)),
        (f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01-extra", None),
        (f"ff-{INCOMING_TRACE}-{INCOMING_SPAN}-01", None),
        (f"00-{'0' * 32}-{INCOMING_SPAN}-01", None),
        (f"00-{INCOMING_TRACE}-{'0' * 16}-01", None),
        (f"00-{INCOMING_TRACE.upper()}-{INCOMING_SPAN}-01", None),
        ("", None),
        (None, None),
    ],
)
def test_traceparent_follows_the_w3c_rules(
    text: str | None, expected: tuple[str, str, int] | None
) -> None:
    assert parse_traceparent(text) == expected


def test_a_rerun_span_carries_its_attempt_id(
    provider: TracerProvider, exporter: InMemorySpanExporter, runs_dir: Path
) -> None:
    runs_dir.mkdir()
    write_summary(runs_dir, "etl-1", status="failed")
    _otel.enable(provider)
    run = runlogger.start_process_run("etl", run_id="etl-1")  # its span starts as etl-1
    _configure(provider, runs_dir)
    run.finish()
    attributes: dict[str, Any] = dict(_by_name(exporter)["etl"].attributes or {})
    assert (attributes["runlogger.run_id"], attributes["runlogger.attempt"]) == ("etl-1.2", 2)
