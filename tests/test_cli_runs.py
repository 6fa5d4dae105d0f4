"""``runlogger runs`` (and the parsing of ``runlogger run``), mostly through main() in-process."""

from __future__ import annotations

import gc
import io
import json
import math
import os
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from runlogger import _cmd_query
from runlogger._cli import main
from runlogger._cli._parsing import DEFAULT_DIR
from runlogger._cli._runs import _start_texts
from support import at, write_summary


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    """Run ``runs`` and return the run ids of the table's rows, in order."""
    assert main(["runs", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    return [line.split()[0] for line in lines[1:]]


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "COLUMNS", "RUNLOGGER_DIR", "TERM"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- the table


def test_runs_prints_a_table_newest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "older", start_time=at(1))
    write_summary(tmp_path, "newer", start_time=at(2))

    assert listed(capsys, "--dir", str(tmp_path)) == ["newer", "older"]


def test_runs_table_has_headers_and_human_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", duration_ms=245_000, event_count=12, error_count=2)

    assert main(["runs", "--dir", str(tmp_path), "--utc"]) == 0

    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "RUN", "ID", "NAME", "STATUS", "START", "(UTC)", "DURATION", "EVENTS", "ERRORS"
    ]  # fmt: skip
    assert row.split() == ["a", "job", "completed", "2026-11-30", "21:00:00", "4m05s", "12", "2"]


def test_runs_table_says_local_time_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")

    main(["runs", "--dir", str(tmp_path)])

    assert "START (local)" in capsys.readouterr().out


_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_CHANGE = 1_796_072_430  # 2026-11-30T21:00:30Z: the middle of a minute


def _shifted(offset: int) -> Callable[[float], time.struct_time]:
    return lambda epoch: time.gmtime(math.floor(epoch) + offset)


def _clock_change(epoch: float) -> time.struct_time:
    """A zone that puts its clocks forward an hour half-way through a minute."""
    return time.gmtime(math.floor(epoch) + (3600 if epoch >= _CHANGE else 0))


def _leap_second(epoch: float) -> time.struct_time:
    """A clock that repeats second :59 just before _CHANGE, as around a leap second."""
    second = math.floor(epoch)
    return time.gmtime(second - (1 if second >= _CHANGE - 30 else 0))


@pytest.mark.parametrize(
    "to_struct",
    [
        time.gmtime,
        _shifted(19 * 60 + 32),
        _shifted(-(4 * 3600 + 56 * 60 + 2)),
        _clock_change,
        _leap_second,
    ],
    ids=["utc", "offset-not-whole-minutes", "negative-odd-offset", "clock-change", "leap"],
)
def test_start_times_match_formatting_each_one(
    to_struct: Callable[[float], time.struct_time],
) -> None:
    """Minutes are formatted once and shared by their seconds only where that is exact."""
    epochs: list[float | None] = [None, -1.5, -60.0, 0.25]
    epochs += [_CHANGE + delta + 0.75 for delta in range(-200, 200, 7)]
    epochs += [float(_CHANGE - 30), 1e18]

    expected = []
    for epoch in epochs:
        try:
            expected.append("-" if epoch is None else time.strftime(_TIME_FORMAT, to_struct(epoch)))
        except (OverflowError, OSError, ValueError):
            expected.append("-")
    assert _start_texts(epochs, to_struct) == expected


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "right/Europe/London"])
def test_start_times_in_real_zones_match_localtime(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across 1900-1940 (offsets in seconds) and daylight-saving changes, in the local zone."""
    if not Path("/usr/share/zoneinfo", zone).is_file() or not hasattr(time, "tzset"):
        pytest.skip(f"no zone {zone} here")
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        epochs = [
            float(start + step) for start in (-2_208_988_800, -1_500_000_000, 1_792_800_000)
            for step in range(0, 40_000_000, 86_413)
        ]  # fmt: skip
        epochs += [1_483_228_790.0 + second for second in range(30)]  # the 2016 leap second
        expected = [time.strftime(_TIME_FORMAT, time.localtime(epoch)) for epoch in epochs]

        assert _start_texts(epochs, time.localtime) == expected
    finally:
        monkeypatch.undo()
        time.tzset()


def test_runs_uses_runlogger_dir_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_summary(tmp_path, "from-env")
    monkeypatch.setenv("RUNLOGGER_DIR", str(tmp_path))

    assert listed(capsys) == ["from-env"]


def test_runs_catalogues_a_directory_without_a_catalog_and_drops_the_old_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")
    (tmp_path / ".runlogger-index").write_bytes(b"an index of an older version")

    assert listed(capsys, "--dir", str(tmp_path)) == ["a"]

    assert (tmp_path / "runlogger.sqlite3").is_file()
    assert not (tmp_path / ".runlogger-index").exists()


@pytest.mark.parametrize("enabled_before", [True, False])
def test_runs_pauses_the_garbage_collector_and_restores_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    enabled_before: bool,
) -> None:
    write_summary(tmp_path, "a")
    seen: list[bool] = []
    select_runs = _cmd_query.select_runs

    def spy(*args: Any, **options: Any) -> _cmd_query.Selection:
        seen.append(gc.isenabled())
        return select_runs(*args, **options)

    monkeypatch.setattr(_cmd_query, "select_runs", spy)
    (gc.enable if enabled_before else gc.disable)()
    try:
        assert listed(capsys, "--dir", str(tmp_path)) == ["a"]
        assert (seen, gc.isenabled()) == ([False], enabled_before)
    finally:
        gc.enable()


def test_runs_reflects_a_summary_changed_behind_the_catalog_after_sync(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", status="running", updated_at=at(0))
    listed(capsys, "--dir", str(tmp_path))
    write_summary(tmp_path, "a", status="failed", duration_ms=123_456, updated_at=at(2))
    assert main(["sync", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()

    assert listed(capsys, "--dir", str(tmp_path), "--status", "failed") == ["a"]


def test_runs_fits_the_terminal_width_by_cutting_the_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_summary(tmp_path, "run-1", name="a-rather-long-name-for-a-job " * 3)
    monkeypatch.setenv("COLUMNS", "80")

    main(["runs", "--dir", str(tmp_path)])

    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split()[:2] == ["run-1", "a-rather-long\u2026"]


def test_runs_does_not_cut_lines_going_to_a_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "a-rather-long-name-for-a-job-" * 5
    write_summary(tmp_path, "run-1", name=name)

    main(["runs", "--dir", str(tmp_path)])

    assert name in capsys.readouterr().out


def test_runs_escapes_control_characters_in_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", name="evil\x1b[2J\nname")

    main(["runs", "--dir", str(tmp_path)])

    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "evil\\x1b[2J\\nname" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_on_terminal(monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(list(args)) == 0
    return terminal.getvalue()


def test_runs_colours_the_status_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_summary(tmp_path, "a", status="failed")

    out = run_on_terminal(monkeypatch, "runs", "--dir", str(tmp_path))

    assert "\x1b[31mfailed\x1b[0m" in out


def test_runs_honours_no_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_summary(tmp_path, "a", status="failed")
    monkeypatch.setenv("NO_COLOR", "1")

    out = run_on_terminal(monkeypatch, "runs", "--dir", str(tmp_path))

    assert "\x1b[" not in out


def test_runs_has_no_colour_in_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "a", status="failed")

    main(["runs", "--dir", str(tmp_path)])

    assert "\x1b[" not in capsys.readouterr().out


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_runs_into_a_closed_pipe_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``runlogger runs | head -1``: no traceback, no error line, the status a shell expects."""
    write_summary(tmp_path, "a")
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())

    assert main(["runs", "--dir", str(tmp_path)]) == 141
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- filters


def test_runs_filters_by_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "ok", status="completed", start_time=at(1))
    write_summary(tmp_path, "bad", status="failed", start_time=at(2))
    write_summary(tmp_path, "killed", status="terminated", start_time=at(3))

    args = ["--dir", str(tmp_path), "--status", "failed,terminated"]
    assert listed(capsys, *args) == ["killed", "bad"]


def test_runs_status_may_be_repeated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "ok", status="completed", start_time=at(1))
    write_summary(tmp_path, "bad", status="failed", start_time=at(2))
    write_summary(tmp_path, "killed", status="terminated", start_time=at(3))

    args = ["--dir", str(tmp_path), "--status", "failed", "--status", "completed"]
    assert listed(capsys, *args) == ["bad", "ok"]


def test_runs_filters_by_min_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "quick", duration_ms=4999)
    write_summary(tmp_path, "slow", duration_ms=5000)

    assert listed(capsys, "--dir", str(tmp_path), "--min-duration", "5s") == ["slow"]


def test_runs_filters_by_max_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "quick", duration_ms=250)
    write_summary(tmp_path, "slow", duration_ms=251)

    assert listed(capsys, "--dir", str(tmp_path), "--max-duration", "250ms") == ["quick"]


def test_runs_filters_by_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "before", start_time=at(29))
    write_summary(tmp_path, "after", start_time=at(30))

    args = ["--dir", str(tmp_path), "--since", "2026-11-30T21:30:00Z"]
    assert listed(capsys, *args) == ["after"]


def test_runs_filters_by_relative_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "old", start_time="2000-01-01T00:00:00Z")
    recent = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    write_summary(tmp_path, "recent", start_time=recent)

    assert listed(capsys, "--dir", str(tmp_path), "--since", "2h") == ["recent"]


def test_runs_until_date_includes_that_whole_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "that-day", start_time="2026-11-30T12:00:00")
    write_summary(tmp_path, "next-day", start_time="2026-12-01T12:00:00")

    # Naive summary times are UTC, --until dates are local midnight: noon keeps clear of
    # the boundary in every zone from UTC-11 to UTC+11.
    assert listed(capsys, "--dir", str(tmp_path), "--until", "2026-11-30") == ["that-day"]


def test_runs_filters_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "a", name="nightly-etl")
    write_summary(tmp_path, "b", name="nightly-etl-v2")

    assert listed(capsys, "--dir", str(tmp_path), "--name", "nightly-etl") == ["a"]


def test_runs_filters_by_name_pattern(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary(tmp_path, "a", name="etl-a", start_time=at(1))
    write_summary(tmp_path, "b", name="report", start_time=at(2))
    write_summary(tmp_path, "c", name="etl-c", start_time=at(3))

    assert listed(capsys, "--dir", str(tmp_path), "--name", "etl-*") == ["c", "a"]


def test_runs_limit_keeps_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for minute in range(5):
        write_summary(tmp_path, f"r{minute}", start_time=at(minute))

    assert listed(capsys, "--dir", str(tmp_path), "--limit", "2") == ["r4", "r3"]


# --------------------------------------------------------------------------- lost runs


def test_runs_shows_a_running_run_with_a_dead_process_as_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=dead_pid())

    assert main(["runs", "--dir", str(tmp_path)]) == 0

    assert capsys.readouterr().out.splitlines()[1].split()[2] == "lost"


def test_runs_keeps_a_running_run_with_a_live_process_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=os.getpid())

    assert listed(capsys, "--dir", str(tmp_path), "--status", "running") == ["a"]


def test_runs_status_lost_selects_lost_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = socket.gethostname()
    write_summary(tmp_path, "alive", status="running", host=host, pid=os.getpid())
    write_summary(tmp_path, "gone", status="running", host=host, pid=dead_pid())

    assert listed(capsys, "--dir", str(tmp_path), "--status", "lost") == ["gone"]


# --------------------------------------------------------------------------- --json


def test_runs_json_prints_one_summary_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", start_time=at(1), extra_key={"kept": True})
    write_summary(tmp_path, "b", start_time=at(2))

    assert main(["runs", "--dir", str(tmp_path), "--json"]) == 0

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["run_id"] for d in documents] == ["b", "a"]
    assert documents[1]["extra_key"] == {"kept": True}


def test_runs_json_gives_lost_as_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a", status="running", host=socket.gethostname(), pid=dead_pid())

    main(["runs", "--dir", str(tmp_path), "--json"])

    assert json.loads(capsys.readouterr().out)["status"] == "lost"


# --------------------------------------------------------------------------- problems


def test_runs_reports_a_corrupt_summary_once_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "good")
    (tmp_path / "bad.json").write_text('{"schema": "runlogger.summary/1", "torn', encoding="utf-8")

    assert main(["runs", "--dir", str(tmp_path)]) == 0

    captured = capsys.readouterr()
    assert captured.out.splitlines()[1].startswith("good")
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"runlogger: skipped corrupt summary {tmp_path / 'bad.json'}: ")


def test_runs_with_no_runs_says_so_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--dir", str(tmp_path)]) == 0

    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"runlogger: no runs in {tmp_path} yet\n")


def test_runs_with_no_match_says_how_many_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")

    assert main(["runs", "--dir", str(tmp_path), "--status", "failed"]) == 0

    assert "no runs in" in capsys.readouterr().err


def test_runs_in_a_missing_directory_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--dir", str(tmp_path / "nope")]) == 2

    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"runlogger: no such directory: {tmp_path / 'nope'}\n",
    )


def test_runs_on_a_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")

    assert main(["runs", "--dir", str(tmp_path / "file")]) == 2

    assert capsys.readouterr().err == f"runlogger: not a directory: {tmp_path / 'file'}\n"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--min-duration", "5x", "invalid duration '5x'"),
        ("--max-duration", "5", "invalid duration '5'"),
        ("--since", "yesterday", "invalid time 'yesterday'"),
        ("--until", "2026-13-01", "invalid"),
        ("--limit", "0", "must be at least 1"),
        ("--limit", "many", "invalid count"),
        ("--status", "done", "invalid status 'done'"),
    ],
)
def test_runs_bad_option_value_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    assert main(["runs", "--dir", str(tmp_path), option, value]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"runlogger: argument {option}: ")
    assert message in err
    assert err.count("\n") == 1


def test_unknown_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--fast"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("runlogger: unrecognized arguments: --fast")
    assert err.count("\n") == 1


def test_no_command_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2

    assert "a command is needed" in capsys.readouterr().err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0

    out = capsys.readouterr().out
    assert all(f"    {command} " in out for command in ("run", "runs", "show"))


@pytest.mark.parametrize("command", ["run", "runs", "show"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0

    assert capsys.readouterr().out.startswith(f"usage: runlogger {command}")


def test_runs_help_explains_lost(capsys: pytest.CaptureFixture[str]) -> None:
    main(["runs", "--help"])

    assert '"status": "lost"' in capsys.readouterr().out


# --------------------------------------------------------------------------- real processes


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runlogger", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_subprocess_runs_lists_runs(tmp_path: Path) -> None:
    write_summary(tmp_path, "older", start_time=at(1), status="failed")
    write_summary(tmp_path, "newer", start_time=at(2))

    result = run_cli("runs", "--dir", str(tmp_path))

    assert (result.returncode, result.stderr) == (0, "")
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["RUN", "newer", "older"]


def test_subprocess_bad_duration_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli("runs", "--dir", str(tmp_path), "--min-duration", "soon")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("runlogger: argument --min-duration: invalid duration")
    assert "Traceback" not in result.stderr


def test_subprocess_runs_does_not_import_the_wrapper(tmp_path: Path) -> None:
    write_summary(tmp_path, "a")
    code = (
        "import sys\n"
        "from runlogger._cli import main\n"
        f"main(['runs', '--dir', {str(tmp_path)!r}])\n"
        "print('WRAP' if 'runlogger._wrap' in sys.modules else 'NO-WRAP')\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.splitlines()[-1] == "NO-WRAP"


def test_subprocess_runs_imports_no_other_command(tmp_path: Path) -> None:
    """Each command is a module of its own, loaded only when that command runs."""
    write_summary(tmp_path, "a")
    others = ["runlogger._cli._run", "runlogger._cli._show", "runlogger._cli._sync"]
    others += ["runlogger._cli._stats", "runlogger._command", "runlogger._cmd_stats"]
    code = (
        "import sys\n"
        "from runlogger._cli import main\n"
        f"status = main(['runs', '--dir', {str(tmp_path)!r}])\n"
        f"print(status, [name for name in {others!r} if name in sys.modules])\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.splitlines()[-1] == "0 []"


def test_the_default_directory_is_the_stores() -> None:
    from runlogger import _store

    assert DEFAULT_DIR == _store.DEFAULT_DIR


# --------------------------------------------------------------------------- run (parsing only)


@pytest.fixture
def wrap_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stand-in for runlogger._wrap that records how run_target was called."""
    calls: list[dict[str, Any]] = []

    def run_target(target: str, script_args: list[str], **options: Any) -> int:
        calls.append({"target": target, "script_args": script_args, **options})
        return 7

    fake = types.ModuleType("runlogger._wrap")
    fake.run_target = run_target  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runlogger._wrap", fake)
    return calls


def test_run_passes_everything_after_the_script_to_it(wrap_calls: list[dict[str, Any]]) -> None:
    code = main(["run", "--name", "etl", "job.py", "--name", "x", "-m", "y", "--", "--help"])

    assert code == 7
    assert wrap_calls == [
        {
            "target": "job.py",
            "script_args": ["--name", "x", "-m", "y", "--", "--help"],
            "module": False,
            "name": "etl",
            "run_id": None,
            "directory": None,
            "level": None,
        }
    ]


def test_run_module(wrap_calls: list[dict[str, Any]]) -> None:
    main(["run", "--dir", "out", "--run-id", "n-1", "--level", "debug", "-m", "pkg.job", "-v"])

    assert wrap_calls == [
        {
            "target": "pkg.job",
            "script_args": ["-v"],
            "module": True,
            "name": None,
            "run_id": "n-1",
            "directory": "out",
            "level": 10,
        }
    ]


def test_run_module_written_together(wrap_calls: list[dict[str, Any]]) -> None:
    main(["run", "-mpkg.job", "a"])

    assert (wrap_calls[0]["target"], wrap_calls[0]["module"]) == ("pkg.job", True)


def test_run_option_with_equals(wrap_calls: list[dict[str, Any]]) -> None:
    main(["run", "--name=etl", "job.py"])

    assert (wrap_calls[0]["name"], wrap_calls[0]["target"]) == ("etl", "job.py")


def test_run_double_dash_ends_options(wrap_calls: list[dict[str, Any]]) -> None:
    main(["run", "--", "-odd.py", "arg"])

    assert (wrap_calls[0]["target"], wrap_calls[0]["script_args"]) == ("-odd.py", ["arg"])


def test_run_without_a_script_is_exit_2(
    wrap_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--name", "x"]) == 2

    assert "needs a script path or -m MODULE" in capsys.readouterr().err
    assert wrap_calls == []


def test_run_refuses_a_bad_run_id_before_starting(
    wrap_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--run-id", "../etc", "job.py"]) == 2

    assert "Invalid run id '../etc'" in capsys.readouterr().err
    assert wrap_calls == []


def test_run_refuses_an_unknown_level(
    wrap_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--level", "loud", "job.py"]) == 2

    assert "unknown level 'loud'" in capsys.readouterr().err


def test_run_refuses_unknown_options_before_the_script(
    wrap_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--nmae", "x", "job.py"]) == 2

    assert "unrecognized arguments: --nmae" in capsys.readouterr().err


def test_runs_ignores_a_jobs_own_json_files_beside_the_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What ``make demo`` once left in its runs directory: an output and a status line."""
    write_summary(tmp_path, "20261130T210000.000000Z-0123456789")
    (tmp_path / "output.json").write_text('[{"index": 0, "status": "ok"}]\n', encoding="utf-8")
    (tmp_path / "last-run.json").write_text(
        '{"run_id": "20261130T210000.000000Z-0123456789", "status": "completed", "events": 3}\n',
        encoding="utf-8",
    )

    assert main(["runs", "--dir", str(tmp_path)]) == 0

    captured = capsys.readouterr()
    assert captured.err == ""
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == [
        "20261130T210000.000000Z-0123456789"
    ]
