"""``runlogger run``'s own options: read by hand when plain, by argparse otherwise.

The hand-read path (``_run.read_options``) exists so a wrapped job does not pay for
building argparse's parser; these tests hold it to argparse's results and make sure
everything it does not read reaches argparse's messages and help unchanged.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runlogger._cli import _run
from support import python_command, read_summary

JOB = """
import logging, sys
logging.getLogger("job").debug("detail")
logging.getLogger("job").info("loaded: %s", sorted(
    name for name in ("argparse", "runlogger._cli._parsing") if name in sys.modules))
"""


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        ([], {}),
        (["--name", "etl"], {"name": "etl"}),
        (["--name=etl", "--name", "last"], {"name": "last"}),
        (["--name="], {"name": ""}),
        (["--run-id", "r-1", "--dir=out"], {"run_id": "r-1", "dir": "out"}),
        (["--level", "debug", "--stderr-level=ERROR"], {"level": 10, "stderr_level": 40}),
        (["--level", "15"], {"level": 15}),
        (["--pushgateway", "http://pg:9091", "--otel"], {"pushgateway": "http://pg:9091"}),
    ],
)
def test_plain_options_are_read_without_argparse(
    own: list[str], expected: dict[str, object]
) -> None:
    options = _run.read_options(own)
    assert options is not None
    defaults = {
        "name": None,
        "run_id": None,
        "dir": None,
        "level": None,
        "stderr_level": None,
        "pushgateway": None,
        "module": None,
        "otel": "--otel" in own,
    }
    assert {key: getattr(options, key) for key in defaults} == {**defaults, **expected}


@pytest.mark.parametrize(
    "own",
    [
        ["-h"],
        ["--help"],
        ["--nam", "x"],  # an abbreviation: argparse refuses it for run
        ["--name"],  # no value
        ["--name", "-x"],  # a value that looks like an option
        ["--level", "loud"],
        ["--level=-1"],
        ["--otel=yes"],
        ["--unknown"],
        ["-q"],
    ],
)
def test_anything_else_is_left_to_argparse(own: list[str]) -> None:
    assert _run.read_options(own) is None


def _run_job(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB), encoding="utf-8")
    result = python_command("-m", "runlogger", "run", *args, cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


def test_a_plain_run_neither_imports_nor_builds_the_parser(tmp_path: Path) -> None:
    code, _out, err = _run_job(tmp_path, "--name=etl", "--level", "debug", "job.py")
    assert code == 0, err
    assert "loaded: []" in err
    (path,) = (tmp_path / "runs").glob("*.json")
    summary = read_summary(tmp_path / "runs", path.stem)
    assert summary["name"] == "etl"
    assert summary["counts_by_level"]["DEBUG"] == 1  # --level=debug reached the run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nam", "x", "job.py"], "unrecognized arguments: --nam"),
        (["--level", "loud", "job.py"], "argument --level: unknown level 'loud'"),
        (["--name", "job.py"], "run needs a script path"),
        (["--otel=1", "job.py"], "argument --otel: ignored explicit argument '1'"),
    ],
)
def test_argparse_still_reports_what_the_plain_reading_leaves(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, _out, err = _run_job(tmp_path, *args)
    assert code == 2
    assert message in err
    assert err.startswith("runlogger: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_run_help_is_argparses(tmp_path: Path) -> None:
    code, out, _err = _run_job(tmp_path, "--help")
    assert code == 0
    assert out.startswith("usage: runlogger run [-h] [--name N]")
    assert "--stderr-level L" in out
