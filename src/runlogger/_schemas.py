"""Output schemas for log platforms: the same event under ECS or OpenTelemetry field names.

:class:`RunJsonFormatter` builds each event in runlogger's own shape (``timestamp``,
``level``, ``logger``, ``message``, ``run_id``, ...). A platform that ingests without a
pipeline wants its own names instead: Elastic (Filebeat, Elastic Agent) the Elastic Common
Schema, an OpenTelemetry collector the log data model. This module only renames and nests
the fields of one event; it knows nothing of JSON encoding, so the formatter keeps its
guarantees (one line, JSON-safe values, redaction, truncation) for every schema.

Where runlogger's own fields go (the documented namespace):

- ECS: ``runlogger.run_id``, ``runlogger.parent_run_id``, ``runlogger.event_type``; the
  fields of runlogger's own records (``run_started``, ``run_finished``, ...) under
  ``runlogger`` too; the program's ``extra`` fields at the top level as Elastic's
  ``ecs-logging`` puts them, except one whose name is an ECS field set here, which goes
  under ``runlogger.extra``.
- OpenTelemetry: ``event_type`` is the ``event_name``; the run ids are the attributes
  ``runlogger.run_id`` / ``runlogger.parent_run_id``; ``extra`` fields are attributes under
  their own names (runlogger's own records' fields as ``runlogger.<name>``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["ECS_VERSION", "SCHEMAS", "ecs_event", "otel_event", "severity_number"]

#: The schemas :class:`RunJsonFormatter` accepts.
SCHEMAS = ("default", "ecs", "otel")

#: The ECS version whose field names the ``ecs`` schema follows.
ECS_VERSION = "8.11.0"

#: Keys of the default event that are not ``extra`` fields.
_OWN = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "message",
        "run_id",
        "parent_run_id",
        "event_type",
        "exc_info",
        "exc_type",
        "stack_info",
        "trace_id",
        "span_id",
    }
)

#: Top-level names the ``ecs`` schema sets itself: an extra field by one of these names
#: would overwrite (or be merged into) an ECS field.
_ECS_ROOTS = frozenset(
    {
        "@timestamp",
        "log.level",
        "message",
        "ecs.version",
        "ecs",
        "log",
        "error",
        "process",
        "host",
        "trace",
        "span",
        "runlogger",
    }
)

_SEVERITY_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def severity_number(levelno: object) -> int:
    """The OpenTelemetry severity of a stdlib level: DEBUG 5, INFO 9, WARNING 13, ERROR 17,
    CRITICAL 21; a custom level between two standard ones ranks within the lower one's four
    steps (25 -> 11, INFO3); below DEBUG is TRACE (1-4); a level that is no number is 0."""
    if type(levelno) is not int or levelno <= 0:
        return 0
    if levelno >= 50:
        return min(21 + (levelno - 50) * 4 // 10, 24)
    return (levelno // 10) * 4 + 1 + (levelno % 10) * 4 // 10


def _is_runlogger_record(record: logging.LogRecord) -> bool:
    name = record.name
    return name == "runlogger" or name.startswith("runlogger.")


def _exception_message(record: logging.LogRecord) -> str | None:
    exc_info = record.exc_info
    if not exc_info or exc_info[1] is None:
        return None
    try:
        return str(exc_info[1])
    except Exception:
        return f"<unprintable {type(exc_info[1]).__name__}>"


def ecs_event(event: Mapping[str, Any], record: logging.LogRecord, host: str) -> dict[str, Any]:
    """``event`` (runlogger's shape) under Elastic Common Schema names."""
    out: dict[str, Any] = {
        "@timestamp": event.get("timestamp"),
        "log.level": str(event.get("level", "")).lower(),
        "message": event.get("message"),
        "ecs.version": ECS_VERSION,
    }
    out["log"] = {
        "logger": event.get("logger"),
        "origin": {
            "file": {"name": record.filename, "line": record.lineno},
            "function": record.funcName,
        },
    }
    exc_type = event.get("exc_type")
    if exc_type is not None or "exc_info" in event:
        error: dict[str, Any] = {}
        if exc_type is not None:
            error["type"] = exc_type
        message = _exception_message(record)
        if message is not None:
            error["message"] = message
        if "exc_info" in event:
            error["stack_trace"] = event["exc_info"]
        out["error"] = error
    out["process"] = {
        "pid": record.process,
        "name": record.processName,
        "thread": {"id": record.thread, "name": record.threadName},
    }
    out["host"] = {"hostname": host}
    if event.get("trace_id") is not None:
        out["trace"] = {"id": event["trace_id"]}
    if event.get("span_id") is not None:
        out["span"] = {"id": event["span_id"]}
    own: dict[str, Any] = {}
    for key in ("run_id", "parent_run_id", "event_type"):
        if event.get(key) is not None:
            own[key] = event[key]
    if event.get("stack_info") is not None:
        out["log"]["origin"]["stack_trace"] = event["stack_info"]
    runlogger_record = _is_runlogger_record(record)
    collided: dict[str, Any] = {}
    for key, value in event.items():
        if key in _OWN:
            continue
        if runlogger_record:
            own[key] = value
        elif key in _ECS_ROOTS or key.split(".", 1)[0] in _ECS_ROOTS:
            collided[key] = value
        else:
            out[key] = value
    if collided:
        own["extra"] = collided
    out["runlogger"] = own
    return out


def otel_event(event: Mapping[str, Any], record: logging.LogRecord, host: str) -> dict[str, Any]:
    """``event`` (runlogger's shape) as an OpenTelemetry log record (the log data model,
    with the field names of the OpenTelemetry SDK's JSON)."""
    level = event.get("level")
    out: dict[str, Any] = {
        "timestamp": event.get("timestamp"),
        "severity_text": _SEVERITY_TEXT.get(level, level) if isinstance(level, str) else level,
        "severity_number": severity_number(record.levelno),
        "body": event.get("message"),
    }
    if event.get("trace_id") is not None:
        out["trace_id"] = event["trace_id"]
    if event.get("span_id") is not None:
        out["span_id"] = event["span_id"]
    if event.get("event_type") is not None:
        out["event_name"] = event["event_type"]
    attributes: dict[str, Any] = {}
    for key in ("run_id", "parent_run_id"):
        if event.get(key) is not None:
            attributes[f"runlogger.{key}"] = event[key]
    if event.get("exc_type") is not None:
        attributes["exception.type"] = event["exc_type"]
    message = _exception_message(record)
    if message is not None:
        attributes["exception.message"] = message
    if "exc_info" in event:
        attributes["exception.stacktrace"] = event["exc_info"]
    attributes["code.file.path"] = record.pathname
    attributes["code.function.name"] = record.funcName
    attributes["code.line.number"] = record.lineno
    attributes["thread.id"] = record.thread
    attributes["thread.name"] = record.threadName
    prefix = "runlogger." if _is_runlogger_record(record) else ""
    for key, value in event.items():
        if key not in _OWN:
            attributes[prefix + key] = value
    out["attributes"] = attributes
    out["resource"] = {"attributes": {"host.name": host, "process.pid": record.process}}
    out["instrumentation_scope"] = {"name": event.get("logger")}
    return out
