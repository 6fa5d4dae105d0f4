"""RunJsonFormatter(schema="ecs" | "otel"): the same events under the names log platforms
know, checked side by side with Elastic's own ecs-logging formatter."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import ecs_logging
import pytest
from opentelemetry.sdk.trace import TracerProvider

import runlogger
from runlogger._schemas import ECS_VERSION, severity_number
from support import parse_line


def _record(
    message: str = "item %s done",
    args: tuple[Any, ...] = ("a-1",),
    level: int = logging.INFO,
    name: str = "app.items",
    extra: dict[str, Any] | None = None,
    exc: BaseException | None = None,
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.getLogger(name).makeRecord(
        name, level, __file__, 42, message, args, exc_info, func="work", extra=extra
    )
    runlogger.RunContextFilter().filter(record)
    return record


def _failure() -> BaseException:
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        return exc


def _flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys: ECS readers treat ``{"log": {"logger": x}}`` and
    ``{"log.logger": x}`` alike, and ecs-logging mixes both."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _ecs(record: logging.LogRecord) -> dict[str, Any]:
    return parse_line(runlogger.RunJsonFormatter(schema="ecs").format(record))


def _otel(record: logging.LogRecord) -> dict[str, Any]:
    return parse_line(runlogger.RunJsonFormatter(schema="otel").format(record))


def _elastic(record: logging.LogRecord) -> dict[str, Any]:
    return parse_line(ecs_logging.StdlibFormatter().format(record))


RECORDS = {
    "plain": lambda: _record(),
    "extras": lambda: _record(extra={"event_type": "item_processed", "items": 3}),
    "error": lambda: _record("failed", (), logging.ERROR, exc=_failure()),
    "warning": lambda: _record("careful", (), logging.WARNING),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_ecs_fields_both_produce_have_the_same_keys_as_elastics_formatter(kind: str) -> None:
    record = RECORDS[kind]()
    ours, theirs = _flat(_ecs(record)), _flat(_elastic(record))
    # Fields only one side has: runlogger's own namespace and host/trace (which
    # ecs-logging takes from an APM agent), ecs-logging's log.original and process.thread.
    assert set(ours) - set(theirs) <= {
        "runlogger.run_id",
        "runlogger.event_type",
        "runlogger.parent_run_id",
        "host.hostname",
        "event_type",
    }
    shared = set(ours) & set(theirs)
    assert {"@timestamp", "log.level", "message", "log.logger", "process.pid"} <= shared
    # Same values too, except the version each follows, the timestamp's precision
    # (microseconds here, milliseconds there) and the traceback, which runlogger writes
    # whole, header and exception line included (ecs-logging: the frames only).
    for key in shared - {"@timestamp", "ecs.version", "error.stack_trace"}:
        assert ours[key] == theirs[key], key
    assert ours["@timestamp"][:23] == theirs["@timestamp"][:23]
    if "error.stack_trace" in shared:
        assert theirs["error.stack_trace"] in ours["error.stack_trace"]


def test_ecs_error_fields_match_elastics() -> None:
    record = RECORDS["error"]()
    ours, theirs = _flat(_ecs(record)), _flat(_elastic(record))
    assert ours["error.type"] == "ValueError"
    assert ours["error.message"] == theirs["error.message"] == "bad input"
    assert "ValueError: bad input" in ours["error.stack_trace"]


def test_ecs_event_layout() -> None:
    record = _record(extra={"event_type": "item_processed", "items": 3})
    event = _ecs(record)
    assert list(event)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
    assert event["ecs.version"] == ECS_VERSION
    assert event["log.level"] == "info"
    assert event["message"] == "item a-1 done"
    assert event["log"]["logger"] == "app.items"
    assert event["host"]["hostname"]
    assert event["runlogger"] == {
        "run_id": runlogger.current_run().run_id,
        "event_type": "item_processed",
    }
    assert event["items"] == 3
    assert event["@timestamp"].endswith("Z")


def test_ecs_extra_fields_named_like_ecs_fields_go_under_the_namespace() -> None:
    event = _ecs(_record(extra={"host": "db-1", "error": "none", "items": 1}))
    assert event["host"] == {"hostname": runlogger.current_run().host}
    assert "error" not in event
    assert event["runlogger"]["extra"] == {"host": "db-1", "error": "none"}
    assert event["items"] == 1


def test_ecs_runloggers_own_records_keep_their_fields_under_the_namespace() -> None:
    record = _record(
        "run %s finished: %s",
        ("r", "completed"),
        name="runlogger.run",
        extra={"event_type": "run_finished", "status": "completed", "duration_ms": 5},
    )
    event = _ecs(record)
    assert event["runlogger"]["status"] == "completed"
    assert event["runlogger"]["duration_ms"] == 5
    assert "status" not in event


@pytest.fixture
def active_span() -> Iterator[tuple[str, str]]:
    provider = TracerProvider(shutdown_on_exit=False)
    with provider.get_tracer("test").start_as_current_span("work") as span:
        context = span.get_span_context()
        yield format(context.trace_id, "032x"), format(context.span_id, "016x")
    provider.shutdown()


def test_ecs_and_otel_carry_the_trace_of_the_current_span(active_span: tuple[str, str]) -> None:
    trace_id, span_id = active_span
    record = _record()
    ecs = _ecs(record)
    assert (ecs["trace"]["id"], ecs["span"]["id"]) == (trace_id, span_id)
    otel = _otel(record)
    assert (otel["trace_id"], otel["span_id"]) == (trace_id, span_id)
    default = parse_line(runlogger.RunJsonFormatter().format(record))
    assert (default["trace_id"], default["span_id"]) == (trace_id, span_id)


def test_otel_event_layout() -> None:
    record = _record(extra={"event_type": "item_processed", "items": 3})
    event = _otel(record)
    assert list(event)[:4] == ["timestamp", "severity_text", "severity_number", "body"]
    assert event["severity_text"] == "INFO"
    assert event["severity_number"] == 9
    assert event["body"] == "item a-1 done"
    assert event["event_name"] == "item_processed"
    attributes = event["attributes"]
    assert attributes["runlogger.run_id"] == runlogger.current_run().run_id
    assert attributes["items"] == 3
    assert attributes["code.line.number"] == 42
    assert attributes["code.function.name"] == "work"
    assert event["resource"]["attributes"]["host.name"] == runlogger.current_run().host
    assert event["instrumentation_scope"] == {"name": "app.items"}


def test_otel_exception_attributes_follow_the_semantic_conventions() -> None:
    event = _otel(_record("failed", (), logging.CRITICAL, exc=_failure()))
    assert event["severity_text"] == "FATAL"
    assert event["severity_number"] == 21
    attributes = event["attributes"]
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "bad input"
    assert "ValueError: bad input" in attributes["exception.stacktrace"]


def test_schemas_keep_redaction_and_json_safety() -> None:
    record = _record(extra={"password": "hunter2", "blob": b"\xff\x00", "cycle": None})
    for schema in ("ecs", "otel"):
        line = runlogger.RunJsonFormatter(schema=schema).format(record)
        assert "hunter2" not in line
        assert "\n" not in line
        parse_line(line)


def test_the_default_schema_is_unchanged() -> None:
    record = _record(extra={"event_type": "item_processed"})
    default = parse_line(runlogger.RunJsonFormatter().format(record))
    named = parse_line(runlogger.RunJsonFormatter(schema="default").format(record))
    assert list(default)[:5] == ["timestamp", "level", "logger", "message", "run_id"]
    assert default == named


def test_an_unknown_schema_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"schema must be one of default, ecs, otel, not 'gelf'"):
        runlogger.RunJsonFormatter(schema="gelf")


def test_a_schema_works_from_dictconfig(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"ecs": {"()": "runlogger.RunJsonFormatter", "schema": "ecs"}},
            "handlers": {
                "out": {"class": "logging.StreamHandler", "stream": sys.stdout, "formatter": "ecs"}
            },
            "loggers": {"test.schema.dictconfig": {"handlers": ["out"], "level": "INFO"}},
        }
    )
    logging.getLogger("test.schema.dictconfig").info("configured")
    [event] = [parse_line(line) for line in capsys.readouterr().out.splitlines()]
    assert event["message"] == "configured"
    assert event["log"]["logger"] == "test.schema.dictconfig"
    logger = logging.getLogger("test.schema.dictconfig")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


@pytest.mark.parametrize(
    ("levelno", "expected"),
    [(10, 5), (20, 9), (25, 11), (30, 13), (40, 17), (50, 21), (5, 3), (0, 0), (99, 24)],
)
def test_severity_numbers(levelno: int, expected: int) -> None:
    assert severity_number(levelno) == expected
