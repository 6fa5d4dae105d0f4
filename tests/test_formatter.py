"""RunJsonFormatter: the event schema, key order, UTC timestamps, python-json-logger options."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

import pytest
from pythonjsonlogger.json import JsonFormatter

import runlogger
from runlogger import MissingBackendError, RunContextFilter, RunJsonFormatter
from support import parse_line

BACKENDS = ["json", "orjson"]


def _record(
    msg: object = "hello %s",
    args: Any = ("world",),
    level: int = logging.INFO,
    exc_info: Any = None,
    **extra: object,
) -> logging.LogRecord:
    record = logging.LogRecord("app.module", level, __file__, 10, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def _format(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    line = formatter.format(record)
    assert "\n" not in line
    return parse_line(line)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_is_a_python_json_logger_formatter() -> None:
    assert isinstance(RunJsonFormatter(), JsonFormatter)


def test_required_keys_come_first_in_order(backend: str) -> None:
    event = _format(RunJsonFormatter(backend=backend), _record(event_type="x", extra_key=1))
    assert list(event)[:5] == ["timestamp", "level", "logger", "message", "run_id"]
    assert event["level"] == "INFO"
    assert event["logger"] == "app.module"
    assert event["message"] == "hello world"
    assert event["run_id"] == runlogger.current_run().run_id


def test_timestamp_is_utc_with_microseconds(backend: str) -> None:
    record = _record()
    record.created = dt.datetime(
        2026, 11, 30, 21, 34, 52, 123456, tzinfo=dt.timezone.utc
    ).timestamp()
    event = _format(RunJsonFormatter(backend=backend), record)
    assert event["timestamp"] == "2026-11-30T21:34:52.123456Z"


def test_timestamp_matches_the_record_time_across_seconds() -> None:
    formatter = RunJsonFormatter()
    for created in (1.5, 1_700_000_000.000001, 1_700_000_001.999999, 1_700_000_000.25):
        record = _record()
        record.created = created
        expected = dt.datetime.fromtimestamp(created, dt.timezone.utc)
        stamp = _format(formatter, record)["timestamp"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
        parsed = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=dt.timezone.utc
        )
        assert abs((parsed - expected).total_seconds()) < 2e-6


def test_extra_keys_are_top_level(backend: str) -> None:
    event = _format(RunJsonFormatter(backend=backend), _record(item="a", count=3, ratio=0.5))
    assert (event["item"], event["count"], event["ratio"]) == ("a", 3, 0.5)


def test_event_type_follows_the_run_fields() -> None:
    event = _format(RunJsonFormatter(), _record(event_type="item_processed", item="a"))
    assert list(event)[5:7] == ["event_type", "item"]


def test_parent_run_id_only_when_nested() -> None:
    formatter = RunJsonFormatter()
    assert "parent_run_id" not in _format(formatter, _record())
    with runlogger.run("inner") as inner:
        event = _format(formatter, _record())
    assert event["run_id"] == inner.run_id
    assert event["parent_run_id"] == runlogger.current_run().run_id


def test_run_from_a_filter_wins_over_the_context() -> None:
    """A record stamped elsewhere (another process, through a queue) keeps its run."""
    with runlogger.run("elsewhere") as elsewhere:
        record = _record()
        RunContextFilter().filter(record)
    event = _format(RunJsonFormatter(), record)
    assert (event["run_id"], event["parent_run_id"]) == (
        elsewhere.run_id,
        elsewhere.parent_run_id,
    )


def test_exception_gives_traceback_and_qualified_type(backend: str) -> None:
    try:
        raise json.JSONDecodeError("bad", "doc", 0)
    except ValueError:
        record = _record(level=logging.ERROR, exc_info=sys.exc_info())
    event = _format(RunJsonFormatter(backend=backend), record)
    assert event["exc_type"] == "json.decoder.JSONDecodeError"
    assert "Traceback (most recent call last)" in event["exc_info"]


def test_builtin_exception_type_is_its_plain_name() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        record = _record(level=logging.ERROR, exc_info=sys.exc_info())
    assert _format(RunJsonFormatter(), record)["exc_type"] == "KeyError"


def test_backends_give_the_same_json() -> None:
    record_args = {"item": "ü → ✓", "n": 2**40, "f": 1.25, "nested": {"a": [1, None, True]}}
    record = _record(**record_args)
    lines = {backend: RunJsonFormatter(backend=backend).format(record) for backend in BACKENDS}
    assert lines["json"] == lines["orjson"]


def test_orjson_backend_falls_back_for_huge_integers() -> None:
    event = _format(RunJsonFormatter(backend="orjson"), _record(big=2**80))
    assert event["big"] == 2**80


def test_auto_backend_picks_orjson_when_installed() -> None:
    pytest.importorskip("orjson")
    assert RunJsonFormatter().backend == "orjson"


def test_orjson_backend_without_orjson_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "orjson", None)
    with pytest.raises(MissingBackendError, match=r"runlogger\[fast\]"):
        RunJsonFormatter(backend="orjson")
    assert RunJsonFormatter(backend="auto").backend == "json"


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        RunJsonFormatter(backend="yaml")


def test_stdlib_positional_signature_for_fileconfig() -> None:
    formatter = RunJsonFormatter("%(levelname)s %(message)s", "%Y", "%", True)
    event = _format(formatter, _record())
    assert event["levelname"] == "INFO"


def test_rename_fields_renames_core_and_extra_keys(backend: str) -> None:
    formatter = RunJsonFormatter(
        backend=backend, rename_fields={"level": "severity", "item": "thing", "run_id": "run"}
    )
    event = _format(formatter, _record(item="a"))
    assert list(event)[:5] == ["timestamp", "severity", "logger", "message", "run"]
    assert event["thing"] == "a"
    assert "item" not in event


def test_static_fields_are_added(backend: str) -> None:
    event = _format(RunJsonFormatter(backend=backend, static_fields={"service": "etl"}), _record())
    assert event["service"] == "etl"


def test_defaults_can_be_overridden_by_extra() -> None:
    formatter = RunJsonFormatter(defaults={"env": "prod", "team": "data"})
    event = _format(formatter, _record(env="staging"))
    assert (event["env"], event["team"]) == ("staging", "data")


def test_reserved_attrs_controls_which_record_attributes_show() -> None:
    formatter = RunJsonFormatter(reserved_attrs=["msg", "args", "exc_info", "exc_text"])
    event = _format(formatter, _record())
    assert event["lineno"] == 10
    assert event["funcName"] is None


def test_json_default_handles_unknown_objects(backend: str) -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    def encode(obj: object) -> object:
        if isinstance(obj, Point):
            return {"x": obj.x}
        raise TypeError

    event = _format(RunJsonFormatter(backend=backend, json_default=encode), _record(p=Point(3)))
    assert event["p"] == {"x": 3}


def test_prefix_is_kept() -> None:
    line = RunJsonFormatter(prefix="EVENT ").format(_record())
    assert line.startswith("EVENT {")


def test_fmt_fields_are_included() -> None:
    event = _format(RunJsonFormatter("%(asctime)s %(funcName)s"), _record())
    assert "asctime" in event
    assert "funcName" in event


def test_dict_message_is_merged_and_not_mutated() -> None:
    payload = {"action": "load", "rows": 5}
    try:
        raise RuntimeError("x")
    except RuntimeError:
        record = _record(msg=payload, args=None, level=logging.ERROR, exc_info=sys.exc_info())
    event = _format(RunJsonFormatter(), record)
    assert (event["action"], event["rows"], event["message"]) == ("load", 5, "")
    assert payload == {"action": "load", "rows": 5}


def test_extra_dict_values_are_not_mutated() -> None:
    nested = {"password": "hunter2", "user": "bob"}
    event = _format(RunJsonFormatter(), _record(login=nested))
    assert event["login"] == {"password": "[REDACTED]", "user": "bob"}
    assert nested == {"password": "hunter2", "user": "bob"}


def test_ensure_ascii_option_escapes_non_ascii(backend: str) -> None:
    line = RunJsonFormatter(backend=backend, json_ensure_ascii=True).format(_record(item="ü"))
    assert line.isascii()
    assert parse_line(line)["item"] == "ü"


def test_default_output_is_utf8_not_escaped() -> None:
    assert "ü" in RunJsonFormatter().format(_record(item="ü"))


def test_private_attributes_are_not_emitted() -> None:
    assert "_secret_state" not in _format(RunJsonFormatter(), _record(_secret_state=1))


def test_stack_info_is_included() -> None:
    record = _record(stack_info="Stack (most recent call last):\n  frame")
    assert "frame" in _format(RunJsonFormatter(), record)["stack_info"]


def test_a_50_mb_bytes_extra_is_cut_before_it_is_decoded(backend: str) -> None:
    payload = b"\xff" * (50 * 1024 * 1024)

    event = _format(RunJsonFormatter(backend=backend), _record(payload=payload))

    assert event["payload"].startswith("\\xff\\xff")
    assert event["payload"].endswith(" bytes]")
    assert len(event["payload"]) <= 16384


# --- extras that collide with runlogger's own fields ------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_extras_named_like_required_fields_go_under_extra(backend: str) -> None:
    record = _record(
        level=logging.ERROR,
        timestamp="1970-01-01T00:00:00Z",
        logger="impostor",
        parent_run_id="made-up",
        other=1,
    )
    record.__dict__["level"] = "DEBUG"  # an extra named "level", not the record's level

    event = _format(RunJsonFormatter(backend=backend), record)

    assert list(event)[:5] == ["timestamp", "level", "logger", "message", "run_id"]
    assert event["level"] == "ERROR"
    assert event["logger"] == "app.module"
    assert event["timestamp"] != "1970-01-01T00:00:00Z"
    assert event["run_id"] == runlogger.current_run().run_id
    assert "parent_run_id" not in event
    assert event["other"] == 1
    assert event["extra"] == {
        "parent_run_id": "made-up",
        "timestamp": "1970-01-01T00:00:00Z",
        "logger": "impostor",
        "level": "DEBUG",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_exc_type_field_collides_only_with_the_exception_runlogger_writes(
    backend: str,
) -> None:
    """A record without ``exc_info`` may carry ``exc_type`` itself (RunQueueHandler does)."""
    formatter = RunJsonFormatter(backend=backend)
    try:
        raise KeyError("k")
    except KeyError:
        with_exception = _record(exc_info=sys.exc_info(), exc_type="NotAnError")

    plain = _format(formatter, _record(exc_type="pkg.Error"))
    collided = _format(formatter, with_exception)

    assert (plain["exc_type"], "extra" in plain) == ("pkg.Error", False)
    assert (collided["exc_type"], collided["extra"]) == ("KeyError", {"exc_type": "NotAnError"})


def test_collisions_follow_renamed_keys() -> None:
    formatter = RunJsonFormatter(rename_fields={"level": "severity", "user": "level"})

    event = _format(formatter, _record(severity="low", user="ann"))

    assert (event["severity"], event["level"]) == ("INFO", "ann")  # "level" is free now
    assert event["extra"] == {"severity": "low"}


def test_a_field_named_extra_joins_the_collided_ones_so_nothing_is_lost() -> None:
    formatter = RunJsonFormatter()

    alone = _format(formatter, _record(extra={"mine": 1}))
    together = _format(formatter, _record(extra={"mine": 1}, logger="impostor"))

    assert alone["extra"] == {"mine": 1}
    assert together["extra"] == {"logger": "impostor", "extra": {"mine": 1}}


def test_a_dict_message_cannot_replace_required_fields_but_sets_the_message() -> None:
    event = _format(
        RunJsonFormatter(), _record(msg={"message": "hi", "level": "DEBUG", "n": 1}, args=None)
    )

    assert (event["message"], event["level"], event["n"]) == ("hi", "INFO", 1)
    assert event["extra"] == {"level": "DEBUG"}
