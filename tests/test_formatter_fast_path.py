"""RunJsonFormatter's one-pass path writes exactly the line its general path writes.

``format`` builds most events in one pass (record layouts planned once, values checked as
they are placed, JSON written directly for the stdlib backend) and leaves the rest to
``_format_general``, the reference: build the event, let ``process_log_record`` see it,
sanitize it whole, serialize. Each test formats twin records both ways and compares the
lines byte for byte, over hostile extras, option combinations and both backends.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runlogger
from runlogger import RunContextFilter, RunJsonFormatter
from runlogger._stamp import RunStamp
from strategies import payloads, secret_keys, texts
from support import parse_line

BACKENDS = ["json", "orjson"]

#: Formatter options the one-pass path must honour, each a separate configuration.
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "ascii": {"json_ensure_ascii": True},
    "short-strings": {"max_string": 64},
    "few-keys": {"max_keys": 12},
    "no-redaction": {"secret_keys": None},
    "renamed": {"rename_fields": {"level": "severity", "item": "thing", "run_id": "run"}},
    "renamed-secrets": {"rename_fields": {"password": "pw", "api_key": "key", "item": "pw2"}},
    "static-and-defaults": {"static_fields": {"service": "etl"}, "defaults": {"env": "prod"}},
    "fmt-fields": {"fmt": "%(asctime)s %(funcName)s %(lineno)d %(message)s"},
    "keep-missing": {"rename_fields": {"extra_a": "a"}, "rename_fields_keep_missing": True},
    "prefix": {"prefix": "EVENT "},
}

_formatters: dict[tuple[str, str], RunJsonFormatter] = {}

#: Extra keys that meet the formatter's own: core keys, placed attributes, private ones.
colliding_keys = st.sampled_from(
    [
        *("level", "timestamp", "logger", "exc_type", "thing", "severity", "service", "env", "_x"),
        *("password", "pw", "api_key", "key"),
        *("run_id", "parent_run_id", "extra", "run"),
    ]
)
plain_keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
#: Values the one-pass path passes through or cleans itself: strings around the limits,
#: numbers around their edges, secrets nested in small containers.
plain_texts = st.text(st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=90) | (
    st.text("ab", min_size=60, max_size=200)
)
plain_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | plain_texts
    | st.dictionaries(plain_keys | secret_keys, plain_texts | st.integers(), max_size=3)
    | st.lists(plain_texts | st.integers(), max_size=3)
)
#: What ``extra`` cannot set: ``Logger.makeRecord`` refuses the record's own attributes.
RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
extra_keys = (plain_keys | plain_keys | secret_keys | colliding_keys | texts).filter(
    lambda key: key not in RECORD_ATTRS
)
extra_values = (
    plain_values
    | plain_values
    | plain_values
    | payloads
    | st.sampled_from([{1, 2}, frozenset({"a"}), b"\xff", ("t",), 10**400])
)


def _formatter(config: str, backend: str) -> RunJsonFormatter:
    """One formatter per configuration, kept across examples so its caches are exercised."""
    key = (config, backend)
    if key not in _formatters:
        options = dict(CONFIGS[config])
        fmt = options.pop("fmt", None)
        _formatters[key] = RunJsonFormatter(fmt, backend=backend, **options)
    return _formatters[key]


@pytest.fixture(autouse=True)
def _fresh_formatters() -> Iterator[None]:
    """Formatters hold the run state of their test; the next test starts a new process run."""
    yield
    _formatters.clear()


def _twins(make: Callable[[], logging.LogRecord]) -> tuple[logging.LogRecord, logging.LogRecord]:
    first = make()
    second = make()
    for same in ("created", "msecs", "relativeCreated", "exc_info"):
        setattr(second, same, getattr(first, same))
    return first, second


def _both_ways(formatter: RunJsonFormatter, make: Callable[[], logging.LogRecord]) -> None:
    fast_record, general_record = _twins(make)
    fast = formatter.format(fast_record)
    general = formatter._format_general(general_record)
    assert fast == general
    assert fast_record.__dict__ == general_record.__dict__  # the same attributes set, too


@st.composite
def records(draw: st.DrawFn) -> Callable[[], logging.LogRecord]:
    """A recipe for a record: message, level, logger, extras, run fields, exceptions."""
    msg = draw(
        (plain_texts | plain_texts | texts).map(lambda text: text.replace("%", "%%"))
        | st.just("n=%d")
    )
    args = (draw(st.integers()),) if msg == "n=%d" else None
    level = draw(st.sampled_from([5, logging.DEBUG, logging.INFO, logging.ERROR, 45]))
    name = draw(st.sampled_from(["app", "app.db"]) | plain_texts | texts)
    extras = draw(st.dictionaries(extra_keys, extra_values, max_size=6))
    event_type = draw(
        st.none() | st.sampled_from(["item_processed", "x" * 100]) | plain_texts | texts
    )
    run_fields = draw(
        st.none() | st.fixed_dictionaries({"run_id": plain_texts | texts | st.integers()}),
    )
    if run_fields is not None and draw(st.booleans()):
        run_fields["parent_run_id"] = draw(plain_texts | texts | st.none())
    stamp = draw(st.none() | st.tuples(plain_texts, st.none() | plain_texts))
    exc = draw(st.sampled_from([False, False, True]))
    stack = draw(st.none() | st.just("Stack (most recent call last):\n  frame"))
    filtered = draw(st.booleans())

    def make() -> logging.LogRecord:
        exc_info = None
        if exc:
            try:
                raise KeyError("boom")
            except KeyError:
                exc_info = sys.exc_info()
        record = logging.LogRecord(name, level, __file__, 7, msg, args, exc_info)
        record.stack_info = stack
        record.__dict__.update(extras)
        if event_type is not None:
            record.__dict__["event_type"] = event_type
        if stamp is not None:  # stamped by a filter in another process
            record.__dict__["run_id"] = RunStamp(*stamp)
            if stamp[1] is not None:
                record.__dict__["parent_run_id"] = stamp[1]
        if run_fields is not None:
            record.__dict__.update(run_fields)
        if filtered:
            RunContextFilter().filter(record)
        return record

    return make


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("config", sorted(CONFIGS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(make=records())
def test_fast_path_writes_the_general_line(
    config: str, backend: str, make: Callable[[], logging.LogRecord]
) -> None:
    _both_ways(_formatter(config, backend), make)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(makes=st.lists(records(), min_size=2, max_size=6))
def test_layout_and_field_caches_follow_changing_records(
    backend: str, makes: list[Callable[[], logging.LogRecord]]
) -> None:
    """Alternating layouts, levels, loggers and runs never reuse a stale cached answer."""
    formatter = _formatter("default", backend)
    for make in makes + makes[::-1]:
        _both_ways(formatter, make)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_runs_change_the_run_fields_of_the_next_record(backend: str) -> None:
    formatter = RunJsonFormatter(backend=backend)
    outer = _format(formatter)
    with runlogger.run("inner") as inner:
        nested = _format(formatter)
    after = _format(formatter)
    assert "parent_run_id" not in outer
    assert (nested["run_id"], nested["parent_run_id"]) == (inner.run_id, outer["run_id"])
    assert after["run_id"] == outer["run_id"]
    assert "parent_run_id" not in after


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_path_is_taken_for_plain_records(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparisons above mean something only if the one-pass path really runs."""
    calls: list[logging.LogRecord] = []
    general = RunJsonFormatter._format_general

    def counting(self: RunJsonFormatter, record: logging.LogRecord) -> str:
        calls.append(record)
        return general(self, record)

    monkeypatch.setattr(RunJsonFormatter, "_format_general", counting)
    formatter = RunJsonFormatter(backend=backend)
    for index in range(3):
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "item %d", (index,), None)
        record.__dict__.update(event_type="item_processed", item_id=index, ratio=0.5, ok=True)
        RunContextFilter().filter(record)
        assert parse_line(formatter.format(record))["item_id"] == index
    assert calls == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_lone_surrogates_go_the_general_way_and_are_replaced(backend: str) -> None:
    formatter = RunJsonFormatter(backend=backend)
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "bad \udcff name", None, None)
    record.__dict__["path"] = "x\ud800y"
    line = formatter.format(record)
    line.encode("utf-8")  # must not raise
    event = parse_line(line)
    assert (event["message"], event["path"]) == ("bad \ufffd name", "x\ufffdy")


def test_message_on_the_record_is_not_truncated() -> None:
    formatter = RunJsonFormatter(max_string=64)
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "m" * 100, None, None)
    event = parse_line(formatter.format(record))
    assert len(event["message"]) <= 64
    assert event["message"].endswith("chars]")
    assert record.message == "m" * 100


def test_subclass_hooks_see_the_event_as_before() -> None:
    """process_log_record and serialize_log_record overrides keep being called."""
    seen: list[dict[str, Any]] = []

    class Hooked(RunJsonFormatter):
        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            seen.append(dict(log_data))
            log_data["hooked"] = True
            return log_data

        def serialize_log_record(self, log_data: dict[str, Any]) -> str:
            return "HOOK " + super().serialize_log_record(log_data)

    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hi", None, None)
    line = Hooked().format(record)
    assert line.startswith("HOOK ")
    assert parse_line(line[len("HOOK ") :])["hooked"] is True
    assert seen[0]["message"] == "hi"


def test_subclass_overriding_format_keeps_its_own() -> None:
    class Upper(RunJsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return super().format(record).upper()

    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hi", None, None)
    assert '"MESSAGE":"HI"' in Upper().format(record)


def _format(formatter: RunJsonFormatter) -> dict[str, Any]:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hi", None, None)
    RunContextFilter().filter(record)
    return parse_line(formatter.format(record))


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_in_different_runs_share_a_formatter(backend: str) -> None:
    """The caches of the one-pass path never give one thread's run fields to another."""
    formatter = RunJsonFormatter(backend=backend)
    failures: list[str] = []

    def work(index: int) -> None:
        with runlogger.run(f"worker-{index}") as own:
            for count in range(1500):
                record = logging.LogRecord(f"w{index}", logging.INFO, __file__, 1, "x", None, None)
                record.__dict__["n"] = count
                if count % 2:
                    RunContextFilter().filter(record)
                event = parse_line(formatter.format(record))
                if (event["run_id"], event["logger"]) != (own.run_id, f"w{index}"):
                    failures.append(f"{index}: {event}")

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert failures == []


#: The event keys runlogger writes itself on every record (with the default names).
RESERVED = ("timestamp", "level", "logger", "run_id", "parent_run_id", "event_type")
json_plain = st.integers(-1000, 1000) | st.text("abc", max_size=8) | st.booleans()


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(
    extras=st.dictionaries(
        st.sampled_from([k for k in RESERVED if k != "event_type"]) | plain_keys,
        json_plain,
        max_size=6,
    ),
    filtered=st.booleans(),
    nested=st.booleans(),
)
def test_required_fields_are_authoritative_and_collisions_go_under_extra(
    backend: str, extras: dict[str, Any], filtered: bool, nested: bool
) -> None:
    """One rule on both paths: a field named like one of runlogger's goes under ``extra``."""
    formatter = _formatter("default", backend)
    extras.pop("extra", None)
    with runlogger.run("nested") if nested else contextlib.nullcontext():
        run = runlogger.current_run()
        record = logging.LogRecord("app.db", logging.WARNING, __file__, 7, "m", None, None)
        record.__dict__.update(extras)
        if filtered:
            RunContextFilter().filter(record)
        twin = logging.makeLogRecord(dict(record.__dict__))
        fast = parse_line(formatter.format(record))
        general = parse_line(formatter._format_general(twin))
    for event in (fast, general):
        assert (event["level"], event["logger"], event["run_id"]) == (
            "WARNING",
            "app.db",
            run.run_id,
        )
        assert event.get("parent_run_id") == run.parent_run_id
        collided = {k: v for k, v in extras.items() if k in RESERVED}
        if run.parent_run_id is not None and extras.get("parent_run_id") == run.parent_run_id:
            collided.pop("parent_run_id")  # the run's own value: nothing to move
        assert event.get("extra", {}) == collided
        for key, value in extras.items():
            if key not in RESERVED:
                assert event[key] == value
