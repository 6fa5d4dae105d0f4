"""Trace ids for records: the current OpenTelemetry span, else the run's span."""

from __future__ import annotations

import logging
import pickle
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider

from runlogger import RunContextFilter, RunJsonFormatter, _trace, current_run
from runlogger._run import Run
from support import parse_line


@pytest.fixture
def tracer() -> Iterator[trace.Tracer]:
    provider = TracerProvider(shutdown_on_exit=False)
    _trace.reset()
    yield provider.get_tracer("test")
    provider.shutdown()
    _trace.reset()


def _ids(span: trace.Span) -> tuple[str, str]:
    span_context = span.get_span_context()
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def test_no_span_and_no_run_span_means_no_trace(tracer: trace.Tracer) -> None:
    assert _trace.current_trace(None) is None


def test_the_current_span_gives_the_ids(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("outer") as outer:
        assert _trace.current_trace(None) == _ids(outer)
        with tracer.start_as_current_span("inner") as inner:
            assert _trace.current_trace(None) == _ids(inner)
        assert _trace.current_trace(None) == _ids(outer)
    assert _trace.current_trace(None) is None


def test_ids_are_lowercase_hex_of_w3c_sizes(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("sized"):
        ids = _trace.current_trace(None)
    assert ids is not None
    trace_id, span_id = ids
    assert len(trace_id) == 32
    assert len(span_id) == 16
    assert int(trace_id, 16) > 0
    assert trace_id == trace_id.lower()


def test_a_context_attached_by_hand_is_seen(tracer: trace.Tracer) -> None:
    span = tracer.start_span("manual")
    token = context.attach(trace.set_span_in_context(span))
    try:
        assert _trace.current_trace(None) == _ids(span)
    finally:
        context.detach(token)
        span.end()


def test_a_run_that_is_a_span_gives_its_ids_where_no_span_is_current(
    tracer: trace.Tracer,
) -> None:
    run = Run("run-with-span")
    run.trace_id, run.span_id = "ab" * 16, "cd" * 8
    assert _trace.current_trace(run) == ("ab" * 16, "cd" * 8)
    with tracer.start_as_current_span("program") as program:
        assert _trace.current_trace(run) == _ids(program)


def test_threads_see_their_own_context(tracer: trace.Tracer) -> None:
    seen: list[tuple[str, str] | None] = []
    with tracer.start_as_current_span("main-thread") as main:
        thread = threading.Thread(target=lambda: seen.append(_trace.current_trace(None)))
        thread.start()
        thread.join()
        assert _trace.current_trace(None) == _ids(main)
    assert seen == [None]


# -- on events ------------------------------------------------------------------------------

BACKENDS = ["json", "orjson"]


def _stamped(message: str = "item", **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("app.trace", logging.INFO, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    RunContextFilter().filter(record)
    return record


@pytest.mark.parametrize("backend", BACKENDS)
def test_events_inside_a_span_carry_its_ids_after_the_run_fields(
    tracer: trace.Tracer, backend: str
) -> None:
    formatter = RunJsonFormatter(backend=backend)
    with tracer.start_as_current_span("work") as span:
        record = _stamped(event_type="item_processed", item_id=7)
    event = parse_line(formatter.format(record))
    assert (event["trace_id"], event["span_id"]) == _ids(span)
    assert list(event) == [
        "timestamp",
        "level",
        "logger",
        "message",
        "run_id",
        "trace_id",
        "span_id",
        "event_type",
        "item_id",
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_events_outside_spans_have_no_trace_fields(tracer: trace.Tracer, backend: str) -> None:
    event = parse_line(RunJsonFormatter(backend=backend).format(_stamped()))
    assert "trace_id" not in event
    assert "span_id" not in event


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_one_pass_path_writes_the_general_line_inside_a_span(
    tracer: trace.Tracer, backend: str
) -> None:
    formatter = RunJsonFormatter(backend=backend)
    with tracer.start_as_current_span("work"):
        fast_record = _stamped(item_id=1)
        general_record = _stamped(item_id=1)
    general_record.created = fast_record.created
    assert formatter.format(fast_record) == formatter._format_general(general_record)


def test_an_exception_event_inside_a_span_carries_its_ids(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("work") as span:
        try:
            raise ValueError("bad")
        except ValueError:
            record = logging.LogRecord(
                "app.trace", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
            )
        RunContextFilter().filter(record)
    event = parse_line(RunJsonFormatter().format(record))
    assert (event["trace_id"], event["span_id"]) == _ids(span)
    assert event["exc_type"] == "ValueError"


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_a_filter_the_formatter_looks_the_span_up(
    tracer: trace.Tracer, backend: str
) -> None:
    """fileConfig cannot attach filters: the formatter then finds the span itself."""
    formatter = RunJsonFormatter(backend=backend)
    with tracer.start_as_current_span("work") as span:
        record = logging.LogRecord("app.trace", logging.INFO, __file__, 1, "plain", None, None)
        event = parse_line(formatter.format(record))
    assert (event["trace_id"], event["span_id"]) == _ids(span)


def test_the_span_where_a_record_was_logged_wins_over_where_it_is_formatted(
    tracer: trace.Tracer,
) -> None:
    with tracer.start_as_current_span("logged-here") as logged:
        record = _stamped()
    with tracer.start_as_current_span("formatted-here"):
        event = parse_line(RunJsonFormatter().format(record))
    assert event["span_id"] == _ids(logged)[1]


def test_a_callers_own_trace_id_goes_under_extra(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("work") as span:
        record = _stamped(trace_id="from-my-own-tracer")
    event = parse_line(RunJsonFormatter().format(record))
    assert event["trace_id"] == _ids(span)[0]
    assert event["extra"] == {"trace_id": "from-my-own-tracer"}


def test_a_run_span_gives_its_ids_to_records_of_threads_without_the_context(
    tracer: trace.Tracer,
) -> None:
    run = current_run()
    run.trace_id, run.span_id = "ab" * 16, "cd" * 8
    records: list[logging.LogRecord] = []
    thread = threading.Thread(target=lambda: records.append(_stamped()))
    thread.start()
    thread.join()
    event = parse_line(RunJsonFormatter().format(records[0]))
    assert (event["trace_id"], event["span_id"]) == ("ab" * 16, "cd" * 8)


def test_records_forwarded_through_a_queue_keep_their_trace(tracer: trace.Tracer) -> None:
    import logging.handlers
    import queue

    with tracer.start_as_current_span("work") as span:
        record = _stamped()
    forwarded = logging.handlers.QueueHandler(queue.Queue()).prepare(record)
    event = parse_line(RunJsonFormatter().format(pickle.loads(pickle.dumps(forwarded))))
    assert (event["trace_id"], event["span_id"]) == _ids(span)


def test_a_callers_own_trace_id_outside_spans_stays_where_it_was(tracer: trace.Tracer) -> None:
    event = parse_line(RunJsonFormatter().format(_stamped(trace_id="from-my-own-tracer")))
    assert event["trace_id"] == "from-my-own-tracer"
    assert "extra" not in event
