"""``runs`` and ``show`` on hostile files: reported and skipped, never a traceback.

Whatever a summary or an event line holds (values of the wrong type, NaN and infinities,
deep nesting, control characters), the commands end with status 0 or 2, and what they
print as JSON parses strictly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runlogger._cli import main
from strategies import hostile_text
from support import DOCUMENTED_SUMMARY_KEYS, at, parse_line, write_summary


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_events(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def event(message: str, **fields: Any) -> str:
    document = {"timestamp": at(0), "level": "INFO", "logger": "job", "message": message}
    return json.dumps({**document, "run_id": "a", **fields})


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "COLUMNS", "RUNLOGGER_DIR", "TERM"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- event_type


@pytest.mark.parametrize("kind", [["a", "b"], {"x": 1}, 7, None, True])
def test_event_type_filter_skips_events_whose_type_is_not_a_string(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: object
) -> None:
    write_summary(tmp_path, "a")
    write_events(
        tmp_path / "a.jsonl",
        [event("odd", event_type=kind), event("wanted", event_type="item")],
    )

    code, out, err = run(
        capsys, "show", "a", "--dir", str(tmp_path), "--event-type", "item", "--json"
    )

    assert (code, err) == (0, "")
    assert [parse_line(line)["message"] for line in out.splitlines()] == ["wanted"]


@pytest.mark.parametrize("kind", [["a", "b"], {"x": [1]}])
def test_events_with_an_odd_event_type_are_shown_readably(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: object
) -> None:
    write_summary(tmp_path, "a")
    write_events(tmp_path / "a.jsonl", [event("odd", event_type=kind)])

    code, out, err = run(capsys, "show", "a", "--dir", str(tmp_path), "--events")

    assert (code, err) == (0, "")
    assert "odd" in out


def test_run_id_of_an_odd_type_in_a_parents_file_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A nested run's events come from its parent's file, filtered by run_id."""
    write_summary(tmp_path, "parent")
    write_summary(tmp_path, "child", parent_run_id="parent")
    write_events(
        tmp_path / "parent.jsonl",
        [
            event("listed", run_id=["child"]),
            event("dict", run_id={"child": 1}),
            event("mine", run_id="child", parent_run_id="parent"),
        ],
    )

    code, out, err = run(capsys, "show", "child", "--dir", str(tmp_path), "--json", "--events")

    assert (code, err) == (0, "")
    assert [parse_line(line)["message"] for line in out.splitlines()] == ["mine"]


# --------------------------------------------------------------------------- NaN


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_show_reports_a_summary_holding_a_non_finite_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = write_summary(tmp_path, "a")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"duration_ms": 1000', f'"duration_ms": {value}'), "utf-8")

    code, out, err = run(capsys, "show", "a", "--dir", str(tmp_path))

    assert (code, out) == (2, "")
    assert err.startswith(f"runlogger: unreadable summary {path}: not valid JSON")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e400"])
def test_runs_json_is_valid_json_when_a_summary_holds_a_non_finite_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    write_summary(tmp_path, "good")
    path = write_summary(tmp_path, "bad", progress=None)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"progress": null', f'"progress": {value}'), "utf-8")

    code, out, err = run(capsys, "runs", "--dir", str(tmp_path), "--json")

    assert code == 0
    assert [parse_line(line)["run_id"] for line in out.splitlines()] == ["good"]
    assert err.startswith(f"runlogger: skipped corrupt summary {path}: not valid JSON")


def test_show_events_skips_and_reports_lines_holding_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_summary(tmp_path, "a")
    write_events(
        tmp_path / "a.jsonl",
        [event("one"), event("bad").replace('"job"', "NaN"), event("two")],
    )

    code, out, err = run(capsys, "show", "a", "--dir", str(tmp_path), "--json", "--events")

    assert code == 0
    assert [parse_line(line)["message"] for line in out.splitlines()] == ["one", "two"]
    assert err == f"runlogger: skipped corrupt line 2 of {tmp_path / 'a.jsonl'}\n"


def test_deeply_nested_summary_is_reported_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_summary(tmp_path, "a")
    text = path.read_text(encoding="utf-8")
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(text.replace('"progress": null', f'"progress": {deep}'), "utf-8")

    code, _, err = run(capsys, "show", "a", "--dir", str(tmp_path))

    assert code == 2
    assert err.startswith(f"runlogger: unreadable summary {path}: not valid JSON (nested")


# --------------------------------------------------------------------------- property

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)
#: Known keys with any value (right type, wrong type, odd strings), and unknown keys.
hostile_summaries = st.fixed_dictionaries(
    {},
    optional={
        key: json_values for key in DOCUMENTED_SUMMARY_KEYS if key not in ("schema", "run_id")
    }
    | {"status": st.sampled_from(["running", "completed", "", "lost"]) | json_values},
)
hostile_events = st.dictionaries(
    st.sampled_from(["timestamp", "level", "logger", "message", "run_id", "parent_run_id"])
    | st.sampled_from(["event_type", "exc_info", "exc_type"])
    | hostile_text,
    json_values,
    max_size=8,
)
#: Raw event lines: JSON objects, and now and then something that is not one.
event_lines = hostile_events.map(
    lambda data: json.dumps(data, ensure_ascii=False)
) | st.sampled_from(
    ["{", "[]", '"text"', "NaN", '{"message": NaN}', '{"a": 1e999}', "\x00\x01", "{}" * 3]
)


def _strict_lines(text: str) -> list[dict[str, Any]]:
    """One strict JSON object per ``\n`` line (U+2028 inside a string is no line break)."""
    return [parse_line(line) for line in text.split("\n") if line]


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(summary=hostile_summaries, lines=st.lists(event_lines, max_size=6))
def test_any_summary_and_events_give_a_clean_exit_and_strict_json(
    capsys: pytest.CaptureFixture[str], summary: dict[str, Any], lines: list[str]
) -> None:
    directory = Path(tempfile.mkdtemp())
    try:
        document = {"schema": "runlogger.summary/1", "run_id": "a", **summary}
        (directory / "a.json").write_text(json.dumps(document), "utf-8")  # \ud800 escaped
        (directory / "a.jsonl").write_text(
            "".join(line + "\n" for line in lines), encoding="utf-8", errors="surrogatepass"
        )
        where = ("--dir", str(directory))

        for args in (
            ("show", "a", *where),
            ("show", "a", *where, "--events", "--level", "warning"),
            ("show", "a", *where, "--events", "--event-type", "x"),
            ("runs", *where),
            ("runs", *where, "--status", "completed", "--min-duration", "1s"),
        ):
            code, _, err = run(capsys, *args)
            assert code == 0, (args, err)
            assert "Traceback" not in err

        code, out, _ = run(capsys, "show", "a", *where, "--json")
        assert code == 0
        assert _strict_lines(out)[0]["run_id"] == "a"
        code, out, _ = run(capsys, "show", "a", *where, "--json", "--events")
        assert code == 0
        _strict_lines(out)
        code, out, _ = run(capsys, "runs", *where, "--json")
        assert code == 0
        assert [line["run_id"] for line in _strict_lines(out)] == ["a"]
    finally:
        shutil.rmtree(directory)
