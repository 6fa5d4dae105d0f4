"""bench/bench.py --quick runs to the end and prints its table (timings are not checked)."""

from __future__ import annotations

import sys
from pathlib import Path

from support import REPO, python_command


def test_quick_bench_prints_the_table_and_every_target(tmp_path: Path) -> None:
    result = python_command(str(REPO / "bench" / "bench.py"), "--quick", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "| pipeline | ns/record | x stdlib plain | x pjl JsonFormatter |" in out
    for row in (
        "stdlib Formatter",
        "python-json-logger JsonFormatter",
        "runlogger pipeline, backend=json",
        "runlogger pipeline, backend=orjson",
    ):
        assert f"| {row}" in out
    for target in ("| 1. ", "| 2. ", "| 3. ", "| 4. ", "| 5. ", "| 6. "):
        assert target in out
    assert not (tmp_path / "runs").exists()  # summaries go to a temporary directory


def test_quick_wrapper_bench_prints_its_figures(tmp_path: Path) -> None:
    result = python_command(
        str(REPO / "bench" / "wrapper_bench.py"), "--quick", cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "extra (median of pair diffs)" in result.stdout
    assert "ratio hook / direct" in result.stdout
    assert result.stderr == ""
    assert not (tmp_path / "runs").exists()


def test_quick_start_bench_prints_every_comparison(tmp_path: Path) -> None:
    result = python_command(
        str(REPO / "bench" / "start_bench.py"), "--quick", "--breakdown", cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "python -m runlogger run job.py" in out
    assert "import logging, pythonjsonlogger.json" in out
    script = (Path(sys.executable).parent / "runlogger").is_file()  # the console script
    assert out.count("extra, limit") == (3 if script else 2)
    assert "+ the SQLite catalog" in out
    assert result.stderr == ""
    assert not (tmp_path / "runs").exists()
