"""The OTel logs bridge: OpenTelemetry's LoggingHandler beside runlogger's handlers in one
dictConfig; every record reaches it with the run's fields and the extras as attributes."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

import runlogger
from support import read_summary


@pytest.fixture
def log_exporter() -> InMemoryLogRecordExporter:
    return InMemoryLogRecordExporter()


@pytest.fixture
def logger_provider(log_exporter: InMemoryLogRecordExporter) -> Iterator[LoggerProvider]:
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    yield provider
    provider.shutdown()


def _config(runs_dir: Path, logger_provider: LoggerProvider, stream: io.StringIO) -> dict[str, Any]:
    """The README's recipe: one RunContextFilter on every handler, the OTel handler last."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"run": {"()": "runlogger.RunContextFilter"}},
        "formatters": {"json": {"()": "runlogger.RunJsonFormatter"}},
        "handlers": {
            "jsonl": {
                "class": "logging.StreamHandler",
                "stream": stream,
                "formatter": "json",
                "filters": ["run"],
            },
            "summary": {"class": "runlogger.RunSummaryHandler", "directory": str(runs_dir)},
            "otel": {
                "()": "opentelemetry.instrumentation.logging.handler.LoggingHandler",
                "logger_provider": logger_provider,
                "filters": ["run"],
            },
        },
        "root": {"level": "INFO", "handlers": ["jsonl", "summary", "otel"]},
    }


def test_records_reach_the_otel_handler_with_run_id_event_type_and_extras(
    runs_dir: Path, logger_provider: LoggerProvider, log_exporter: InMemoryLogRecordExporter
) -> None:
    stream = io.StringIO()
    logging.config.dictConfig(_config(runs_dir, logger_provider, stream))
    log = logging.getLogger("test.bridge.extras")
    with runlogger.run("bridge") as run:
        log.info("item %s", "a-1", extra={"event_type": "item_processed", "items": 3})
    [exported] = [
        data.log_record
        for data in log_exporter.get_finished_logs()
        if data.log_record.body == "item a-1"
    ]
    attributes = dict(exported.attributes or {})
    assert attributes["run_id"] == run.run_id
    assert attributes["parent_run_id"] == run.parent_run_id
    assert attributes["event_type"] == "item_processed"
    assert attributes["items"] == 3
    assert exported.severity_text == "INFO"
    # The same record, as runlogger's JSON line, carries the same run.
    [line] = [json.loads(text) for text in stream.getvalue().splitlines() if "item a-1" in text]
    assert line["run_id"] == attributes["run_id"]


def test_lifecycle_events_reach_the_otel_handler_too(
    runs_dir: Path, logger_provider: LoggerProvider, log_exporter: InMemoryLogRecordExporter
) -> None:
    logging.config.dictConfig(_config(runs_dir, logger_provider, io.StringIO()))
    with runlogger.run("bridge-lifecycle") as run:
        pass
    finished = [
        dict(data.log_record.attributes or {})
        for data in log_exporter.get_finished_logs()
        if (data.log_record.attributes or {}).get("event_type") == "run_finished"
    ]
    assert [(item["run_id"], item["status"]) for item in finished] == [(run.run_id, "completed")]
    assert read_summary(runs_dir, run.run_id)["status"] == "completed"


def test_log_records_carry_the_run_span_when_runs_are_spans(
    runs_dir: Path, logger_provider: LoggerProvider, log_exporter: InMemoryLogRecordExporter
) -> None:
    config = _config(runs_dir, logger_provider, io.StringIO())
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    config["handlers"]["summary"]["otel"] = tracer_provider
    logging.config.dictConfig(config)
    with runlogger.run("bridge-traced") as run:
        logging.getLogger("test.bridge.traced").warning("inside")
    [exported] = [
        data.log_record
        for data in log_exporter.get_finished_logs()
        if data.log_record.body == "inside"
    ]
    assert format(exported.trace_id or 0, "032x") == run.trace_id
    assert format(exported.span_id or 0, "016x") == run.span_id
    tracer_provider.shutdown()
