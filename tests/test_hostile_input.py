"""Hostile and broken input: logging never raises, and nothing else is lost.

Every record goes through a real logger into RunFileHandler and RunSummaryHandler and is
read back from the ``.jsonl``: exactly one strict (no NaN), UTF-8 JSON line per record,
no exception in the calling code, and the record counted in the summary, whether
``logging.raiseExceptions`` is on (development) or off (production). Failures of the
output itself (a full disk, a read-only directory) reach ``handleError``, are counted as
``logging_errors`` and the application carries on.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlogger
from runlogger import RunContextFilter, RunFileHandler, RunJsonFormatter, RunSummaryHandler
from strategies import extras_with_secret, messages
from support import (
    all_strings,
    clean_env,
    nested_dicts,
    nested_lists,
    parse_line,
    read_summary,
    run_python,
)

DEFAULT_LIMIT = 16 * 1024
MEGABYTE = 1024 * 1024
LOGGING_ERROR = "--- Logging error ---"
_names = itertools.count()


# --- the pipeline under test --------------------------------------------------------------


@dataclass
class Pipeline:
    """A logger wired as in production: filter, RunFileHandler and RunSummaryHandler."""

    log: logging.Logger
    directory: Path
    run_id: str

    @property
    def events_file(self) -> Path:
        return self.directory / f"{self.run_id}.jsonl"

    def lines(self) -> list[str]:
        """The event file's lines after the run's ``run_started``, split on ``\\n`` only;
        the bytes must be strict UTF-8."""
        data = self.events_file.read_bytes()
        assert data.endswith(b"\n"), data[-200:]
        started, *lines = data.decode("utf-8").split("\n")[:-1]
        assert parse_line(started)["event_type"] == "run_started"
        return lines

    def events(self) -> list[dict[str, Any]]:
        return [parse_line(line) for line in self.lines()]

    def finish(self) -> dict[str, Any]:
        """End the process run and return its final summary."""
        runlogger.current_run().finish()
        return read_summary(self.directory, self.run_id)


def _private_logger() -> logging.Logger:
    """A logger outside the logger tree, whose records reach only the handlers given here.

    pytest attaches its capture handler to the root and to every registered
    non-propagating logger, and that handler fails the test on a formatting error, the
    very input these tests feed in on purpose.
    """
    log = logging.Logger(f"hostile.{next(_names)}", logging.DEBUG)
    log.propagate = False
    return log


@pytest.fixture(params=[True, False], ids=["raiseExceptions", "quiet"])
def raise_exceptions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(logging, "raiseExceptions", request.param)
    return bool(request.param)


@pytest.fixture
def make_pipeline(runs_dir: Path) -> Iterator[Callable[..., Pipeline]]:
    handlers: list[logging.Handler] = []

    def make(**formatter_options: Any) -> Pipeline:
        log = _private_logger()
        run_filter = RunContextFilter()
        events = RunFileHandler(runs_dir)
        if formatter_options:
            events.setFormatter(RunJsonFormatter(**formatter_options))
        summary = RunSummaryHandler(runs_dir)
        for handler in (events, summary):
            handler.addFilter(run_filter)
            log.addHandler(handler)
            handlers.append(handler)
        return Pipeline(log, runs_dir, runlogger.current_run().run_id)

    yield make
    for handler in handlers:
        handler.close()


@pytest.fixture
def pipeline(make_pipeline: Callable[..., Pipeline], raise_exceptions: bool) -> Pipeline:
    return make_pipeline()


def _assert_nothing_lost(
    pipeline: Pipeline, records: int, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    """One parseable line per record, all counted, no logging error anywhere."""
    events = pipeline.events()
    assert len(events) == records
    assert {event["run_id"] for event in events} == {pipeline.run_id}
    summary = pipeline.finish()
    assert summary["event_count"] == records + 1  # and the run's run_started
    assert summary["logging_errors"] == 0
    assert LOGGING_ERROR not in capsys.readouterr().err
    return events


def _only_event(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (event,) = _assert_nothing_lost(pipeline, 1, capsys)
    return event


def _depth(value: object) -> int:
    depth = 0
    while isinstance(value, (list, dict)) and value:
        value = value[0] if isinstance(value, list) else next(iter(value.values()))
        depth += 1
    return depth


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


# --- odd values ---------------------------------------------------------------------------


def test_cyclic_dict_and_list_become_cycle_markers(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    cyclic_dict: dict[str, Any] = {"name": "loop"}
    cyclic_dict["self"] = cyclic_dict
    cyclic_list: list[Any] = [1]
    cyclic_list.append(cyclic_list)

    pipeline.log.info("cycles", extra={"d": cyclic_dict, "l": cyclic_list})

    event = _only_event(pipeline, capsys)
    assert event["d"] == {"name": "loop", "self": "[cycle]"}
    assert event["l"] == [1, "[cycle]"]


@pytest.mark.parametrize("build", [nested_lists, nested_dicts], ids=["lists", "dicts"])
def test_nesting_100000_deep_is_cut_and_marked(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], build: Callable[[int], Any]
) -> None:
    pipeline.log.info("deep", extra={"deep": build(100_000)})

    event = _only_event(pipeline, capsys)
    assert 1 <= _depth(event["deep"]) <= 64
    assert "[max depth]" in pipeline.lines()[0]


def test_non_json_values_become_placeholders(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    moment = dt.datetime(2026, 11, 30, 21, 34, 52, 123456, tzinfo=dt.timezone.utc)

    pipeline.log.info(
        "odd values",
        extra={
            "raw": b"\xff\x00ok",
            "tags": {"b", "a"},
            "price": Decimal("19.990"),
            "when": moment,
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": float("-inf"),
            "broken": BrokenRepr(),
        },
    )

    event = _only_event(pipeline, capsys)
    assert event["raw"] == "\\xff\x00ok"
    assert event["tags"] == ["a", "b"]
    assert event["price"] == "19.990"
    assert event["when"] == "2026-11-30T21:34:52.123456+00:00"
    assert (event["nan"], event["inf"], event["ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert event["broken"] == "<unrepresentable BrokenRepr>"


def test_object_with_broken_str_as_message_never_raises_and_is_counted(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """``log.info(obj)`` where ``str(obj)`` raises: the caller goes on, the record counts."""
    pipeline.log.info(BrokenRepr())
    pipeline.log.info("next record")

    summary = pipeline.finish()
    assert summary["event_count"] == 3  # and the run's run_started
    assert pipeline.events()[-1]["message"] == "next record"


@pytest.mark.parametrize("ensure_ascii", [False, True], ids=["utf8", "ascii"])
@pytest.mark.parametrize("backend", ["json", "orjson"])
def test_lone_surrogates_become_replacement_characters(
    make_pipeline: Callable[..., Pipeline],
    raise_exceptions: bool,
    capsys: pytest.CaptureFixture[str],
    ensure_ascii: bool,
    backend: str,
) -> None:
    pipeline = make_pipeline(json_ensure_ascii=ensure_ascii, backend=backend)

    pipeline.log.info("file \udcff name", extra={"key\ud800": "value\udc80", "pair": "\U0001f600"})

    event = _only_event(pipeline, capsys)
    assert event["message"] == "file \ufffd name"
    assert event["key\ufffd"] == "value\ufffd"
    assert event["pair"] == "\U0001f600"
    assert pipeline.lines()[0].isascii() is ensure_ascii


# --- line structure -----------------------------------------------------------------------

LINE_BREAKERS = {
    "crlf": "before\r\nafter",
    "nul": "before\x00after",
    "ansi": "\x1b[2J\x1b[31mred\x1b[0m\x07",
    "fake-json-line": '\n{"run_id": "forged", "level": "CRITICAL"}\n',
    "vertical-tab-ff-fs": "a\x0bb\x0cc\x1cd\x1de\x1ef",
}


@pytest.mark.parametrize("text", LINE_BREAKERS.values(), ids=LINE_BREAKERS.keys())
def test_control_characters_in_message_and_keys_stay_in_one_line(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    pipeline.log.warning(text, extra={text: text, "nested": {text: [text]}})

    event = _only_event(pipeline, capsys)
    (line,) = pipeline.lines()
    assert line.splitlines() == [line]
    assert all(char >= " " for char in line)
    assert event["message"] == text
    assert event[text] == text
    assert event["nested"] == {text: [text]}


def test_forged_json_line_in_a_message_is_not_an_event(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = '\n{"run_id": "forged", "message": "fake"}\n'

    pipeline.log.info("user said: " + forged, extra={forged: forged})
    pipeline.log.info("%s", forged)

    events = _assert_nothing_lost(pipeline, 2, capsys)
    assert all(event["run_id"] == pipeline.run_id for event in events)
    assert not any(event.get("message") == "fake" for event in events)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_unicode_line_separators_are_escaped(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], separator: str
) -> None:
    text = f"one{separator}two"

    pipeline.log.info(text, extra={text: text})

    event = _only_event(pipeline, capsys)
    assert event["message"] == text
    (line,) = pipeline.lines()
    assert line.splitlines() == [line]


# --- size limits --------------------------------------------------------------------------


def test_one_megabyte_message_is_truncated_and_marked(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.log.info("m" * MEGABYTE)

    event = _only_event(pipeline, capsys)
    message = event["message"]
    assert len(message) <= DEFAULT_LIMIT
    assert message.startswith("m" * 16_000)
    dropped = MEGABYTE - message.count("m")
    assert message.endswith(f"…[truncated {dropped} chars]")
    assert len(pipeline.events_file.read_bytes()) < 2 * DEFAULT_LIMIT


def test_one_megabyte_extra_value_is_truncated_and_marked(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.log.info("big value", extra={"payload": "v" * MEGABYTE, "nested": ["w" * MEGABYTE]})

    event = _only_event(pipeline, capsys)
    for value in (event["payload"], event["nested"][0]):
        assert len(value) <= DEFAULT_LIMIT
        assert "…[truncated " in value


def test_string_limit_is_configurable(
    make_pipeline: Callable[..., Pipeline],
    raise_exceptions: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pipeline = make_pipeline(max_string=1000)

    pipeline.log.info("m" * MEGABYTE, extra={"payload": "v" * 5000})

    event = _only_event(pipeline, capsys)
    assert len(event["message"]) <= 1000
    assert len(event["payload"]) <= 1000
    assert event["payload"].endswith(" chars]")


def test_ten_thousand_extra_keys_are_capped_and_marked(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = {f"key{i}": i for i in range(10_000)}

    pipeline.log.info("wide", extra=extra)

    event = _only_event(pipeline, capsys)
    assert len(event) <= 1001
    assert list(event)[:5] == ["timestamp", "level", "logger", "message", "run_id"]
    assert event["_truncated_keys"] == 10_000 + 5 - 1000


def test_exception_survives_the_extra_key_cap(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        pipeline.log.exception("failed", extra={f"key{i}": i for i in range(10_000)})

    event = _only_event(pipeline, capsys)
    assert event["exc_type"] == "ZeroDivisionError"
    assert "boom" in event["exc_info"]
    assert "_truncated_keys" in event


# --- %-format mismatches ------------------------------------------------------------------


def test_mismatched_format_args_never_raise_and_are_counted(
    pipeline: Pipeline, raise_exceptions: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever else happens to ``log.info("%d", "x")``, the caller goes on and the
    summary still counts the record; the following records are untouched."""
    pipeline.log.error("%d items", "x")
    pipeline.log.info("%s and %s", "only one")
    pipeline.log.info("next record")

    summary = pipeline.finish()
    assert summary["event_count"] == 4  # and the run's run_started
    assert summary["error_count"] == 1
    assert summary["first_error"]["message"] == "%d items"
    assert pipeline.events()[-1]["message"] == "next record"


@pytest.mark.parametrize(
    ("msg", "args", "message", "error"),
    [
        ("%d items", ("x",), "%d items", "TypeError"),
        ("%s and %s", ("one",), "%s and %s", "TypeError"),
        (BrokenRepr(), (), "<unrepresentable BrokenRepr>", "RuntimeError"),
    ],
    ids=["bad-type", "too-few-args", "broken-str"],
)
def test_unformattable_message_still_writes_one_marked_line(
    pipeline: Pipeline,
    capsys: pytest.CaptureFixture[str],
    msg: object,
    args: tuple[object, ...],
    message: str,
    error: str,
) -> None:
    """The decision: the template (or a placeholder) is the message, the args and the
    error are kept beside it, and nothing counts as a logging error: nothing was lost."""
    pipeline.log.info(msg, *args)

    event = _only_event(pipeline, capsys)
    assert event["message"] == message
    assert event["args"] == list(args)
    assert event["format_error"].startswith(error)


# --- output failures ----------------------------------------------------------------------


class FailingStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_stream_that_raises_reaches_handle_error_not_the_caller(
    runs_dir: Path, raise_exceptions: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain StreamHandler's failure is stdlib's business: reported, not counted."""
    log = _private_logger()
    stream_handler = logging.StreamHandler(FailingStream())
    stream_handler.setFormatter(RunJsonFormatter())
    summary_handler = RunSummaryHandler(runs_dir)
    log.addHandler(stream_handler)
    log.addHandler(summary_handler)
    try:
        log.warning("lost on the stream")
        after = "the caller carried on"
    finally:
        log.removeHandler(stream_handler)
        summary_handler.close()

    assert after == "the caller carried on"
    run_id = runlogger.current_run().run_id
    runlogger.current_run().finish()
    summary = read_summary(runs_dir, run_id)
    assert summary["event_count"] == 2  # the warning and the run's run_started
    assert summary["logging_errors"] == 0
    assert (LOGGING_ERROR in capsys.readouterr().err) is raise_exceptions


def test_file_handler_failure_is_counted_and_the_caller_carries_on(
    make_pipeline: Callable[..., Pipeline],
    runs_dir: Path,
    raise_exceptions: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A directory where the events file should be: open() fails with EISDIR, as root too.

    Reported once, in one line naming the directory, not with a traceback per record.
    """
    runlogger.start_process_run(run_id="planted")
    (runs_dir / "planted.jsonl").mkdir(parents=True)
    pipeline = make_pipeline()

    pipeline.log.info("cannot be written")
    pipeline.log.info("nor this one")
    carried_on = True

    summary = pipeline.finish()
    assert carried_on
    assert summary["event_count"] == 3  # and the run's run_started
    assert summary["logging_errors"] == 2
    err = capsys.readouterr().err
    assert LOGGING_ERROR not in err
    reports = [line for line in err.splitlines() if "RunFileHandler cannot write" in line]
    assert len(reports) == (1 if raise_exceptions else 0), err
    assert all(str(runs_dir) in line and "Is a directory" in line for line in reports)


FULL_DISK = """
    import logging, os, resource, signal, sys
    import runlogger

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    runlogger.start_process_run(run_id="full-disk")
    logging.raiseExceptions = sys.argv[1] == "1"
    log = logging.getLogger("job")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    run_filter = runlogger.RunContextFilter()
    for handler in (runlogger.RunFileHandler("runs"), runlogger.RunSummaryHandler("runs", catalog=False)):
        handler.addFilter(run_filter)
        log.addHandler(handler)
    log.info("first")
    size = os.path.getsize("runs/full-disk.jsonl")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, hard))  # the disk fills up
    log.info("x" * 500)  # written in part, then EFBIG
    log.info("y" * 500)  # EFBIG at once
    print("carried on", flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    log.info("after")
"""


@dataclass
class FullDisk:
    result: subprocess.CompletedProcess[str]
    runs: Path
    raise_exceptions: bool


@pytest.fixture(scope="module", params=[True, False], ids=["raiseExceptions", "quiet"])
def full_disk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FullDisk:
    """One program whose file system fills up mid-record and frees up again (run once)."""
    if sys.platform == "win32":
        pytest.skip("RLIMIT_FSIZE is POSIX")
    directory = tmp_path_factory.mktemp("full_disk")
    result = run_python(FULL_DISK, "1" if request.param else "0", cwd=directory)
    return FullDisk(result, directory / "runs", bool(request.param))


def test_full_disk_reaches_handle_error_and_the_program_carries_on(full_disk: FullDisk) -> None:
    result = full_disk.result
    assert result.returncode == 0, result.stderr
    assert result.stdout == "carried on\n"
    summary = read_summary(full_disk.runs, "full-disk")
    assert summary["status"] == "completed"
    assert summary["event_count"] == 5  # and the run's run_started
    assert summary["logging_errors"] == 2
    # One line for the handler's first failure, no traceback per record.
    assert (result.stderr.count("File too large") == 1) is full_disk.raise_exceptions
    assert LOGGING_ERROR not in result.stderr


def test_record_after_a_torn_write_starts_on_a_fresh_line(full_disk: FullDisk) -> None:
    runs = full_disk.runs
    lines = (runs / "full-disk.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    assert parse_line(lines[0])["event_type"] == "run_started"
    assert parse_line(lines[1])["message"] == "first"
    assert lines[2].startswith('{"timestamp"')  # the torn fragment of the "x" record
    assert parse_line(lines[-2])["message"] == "after"
    assert len(lines) == 5


READ_ONLY_DIRECTORY = """
    import logging, os, sys
    import runlogger

    runlogger.start_process_run(run_id="read-only")
    logging.raiseExceptions = sys.argv[1] == "1"
    log = logging.getLogger("job")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    os.mkdir("events")
    os.chmod("events", 0o500)
    try:
        open("events/probe", "w").close()
    except PermissionError:
        pass
    else:
        print("WRITABLE")
        raise SystemExit(0)
    run_filter = runlogger.RunContextFilter()
    for handler in (runlogger.RunFileHandler("events"), runlogger.RunSummaryHandler("runs")):
        handler.addFilter(run_filter)
        log.addHandler(handler)
    log.info("cannot be written")
    log.warning("nor this one")
    print("carried on")
"""


def _without_dac_override() -> list[str]:
    """A command prefix under which the permission bits apply, even to root.

    root ignores a directory's mode (CAP_DAC_OVERRIDE); dropping that capability from the
    bounding set before exec gives a root process that obeys chmod like anyone else.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing to drop DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("raise_exceptions", [True, False], ids=["raiseExceptions", "quiet"])
def test_read_only_directory_reaches_handle_error_and_is_counted(
    tmp_path: Path, raise_exceptions: bool
) -> None:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(READ_ONLY_DIRECTORY), encoding="utf-8")
    flag = "1" if raise_exceptions else "0"
    command = [*_without_dac_override(), sys.executable, str(script), flag]

    result = subprocess.run(
        command, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60
    )

    if result.stdout == "WRITABLE\n":
        pytest.skip("the directory stayed writable: permission bits are not enforced here")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "carried on\n"
    assert LOGGING_ERROR not in result.stderr  # not a traceback per record
    assert result.stderr.count("cannot write") == 1  # the warning when it was configured
    summary = read_summary(tmp_path / "runs", "read-only")
    # The run_started counted, the two records failed (its own write failed before the
    # summary handler existed).
    assert (summary["event_count"], summary["logging_errors"]) == (3, 2)
    assert list((tmp_path / "events").iterdir()) == []


# --- property -----------------------------------------------------------------------------

LIMIT = 200
FORMATTERS = [
    {"backend": backend, "json_ensure_ascii": ensure_ascii}
    for backend in ("json", "orjson")
    for ensure_ascii in (False, True)
]


def test_any_message_and_extras_give_one_safe_line() -> None:
    formatters = [RunJsonFormatter(max_string=LIMIT, **options) for options in FORMATTERS]
    run_filter = RunContextFilter()
    run_id = runlogger.current_run().run_id

    @settings(max_examples=200, deadline=None, database=None)
    @given(
        message=messages,
        payload=extras_with_secret(),
        formatter=st.sampled_from(formatters),
    )
    def check(
        message: str, payload: tuple[dict[str, Any], str], formatter: RunJsonFormatter
    ) -> None:
        fields, secret = payload
        record = logging.LogRecord("prop", logging.INFO, __file__, 1, message, None, None)
        record.__dict__.update(fields)
        run_filter.filter(record)

        line = formatter.format(record)

        assert "\n" not in line
        assert "\r" not in line
        line.encode("utf-8")  # strict: no lone surrogate survives
        event = parse_line(line)
        assert event["run_id"] == run_id
        assert secret not in line
        assert all(len(text) <= LIMIT for text in all_strings(event))

    check()
