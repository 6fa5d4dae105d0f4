"""Trace ids for records: the current OpenTelemetry span, else the run's span."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider

from runlogger import _trace
from runlogger._context import Run


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
