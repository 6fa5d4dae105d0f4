"""The runs directory: created 0700 whatever the umask, and an unwritable one found at once.

Permission tests need a process that obeys the permission bits: as root, the children
run under ``setpriv`` without CAP_DAC_OVERRIDE (skipped where setpriv is missing).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import runlogger
from runlogger._rundir import directory_mode, make_directory
from support import clean_env, read_summary

JOB = """
    import logging
    from pathlib import Path
    Path("started").write_text("yes")
    logging.getLogger("job").warning("hello")
    print("done")
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _unprivileged() -> list[str]:
    """A command prefix under which the permission bits apply, also to root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing to drop DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def _read_only_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    probe = subprocess.run(
        [*_unprivileged(), sys.executable, "-c", f"open({str(directory / 'p')!r}, 'w')"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip("the directory stayed writable: permission bits are not enforced here")
    return directory


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_unprivileged(), sys.executable, *args],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize(
    ("file_mode", "expected"),
    [(0o600, 0o700), (0o400, 0o700), (0o640, 0o750), (0o644, 0o755), (0o660, 0o770)],
)
def test_directory_mode_follows_who_may_read_the_files(file_mode: int, expected: int) -> None:
    assert directory_mode(file_mode) == expected


@pytest.mark.usefixtures("umask_000")
@pytest.mark.parametrize("handler", [runlogger.RunSummaryHandler, runlogger.RunFileHandler])
def test_handler_creates_its_directory_and_parents_0700_under_umask_000(
    tmp_path: Path, handler: type[logging.Handler]
) -> None:
    target = tmp_path / "a" / "b" / "runs"

    handler(target).close()  # type: ignore[call-arg]

    assert [_mode(path) for path in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3


@pytest.mark.usefixtures("umask_000")
def test_group_readable_files_get_a_group_searchable_directory(tmp_path: Path) -> None:
    target = tmp_path / "shared" / "runs"

    runlogger.RunSummaryHandler(target, file_mode=0o640).close()

    assert (_mode(tmp_path / "shared"), _mode(target)) == (0o750, 0o750)


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "runs"
    target.mkdir()
    target.chmod(0o755)

    runlogger.RunSummaryHandler(target).close()

    assert _mode(target) == 0o755


def test_make_directory_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")

    with pytest.raises(FileExistsError):
        make_directory(tmp_path / "file" / "runs")


def test_runlogger_run_creates_its_directory_0700_under_umask_000(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB), encoding="utf-8")
    command = f"umask 000 && exec {sys.executable} -m runlogger run --dir new/runs job.py"

    result = subprocess.run(
        ["sh", "-c", command],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (_mode(tmp_path / "new"), _mode(tmp_path / "new" / "runs")) == (0o700, 0o700)
    (summary,) = (tmp_path / "new" / "runs").glob("*.json")
    assert _mode(summary) == 0o600


# --------------------------------------------------------------------------- read-only


def test_runlogger_run_refuses_a_read_only_directory_before_the_script_starts(
    tmp_path: Path,
) -> None:
    directory = _read_only_directory(tmp_path)
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB), encoding="utf-8")

    result = _run(tmp_path, "-m", "runlogger", "run", "--dir", str(directory), "job.py")

    assert result.returncode == 2
    assert result.stderr == (
        f"runlogger: cannot write to the runs directory {directory}: Permission denied\n"
    )
    assert (result.stdout, (tmp_path / "started").exists()) == ("", False)


def test_runlogger_run_refuses_a_runs_directory_it_cannot_create(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB), encoding="utf-8")
    (tmp_path / "file").write_text("x", encoding="utf-8")

    result = _run(tmp_path, "-m", "runlogger", "run", "--dir", "file/runs", "job.py")

    assert result.returncode == 2
    assert result.stderr.startswith(
        f"runlogger: cannot create the runs directory {tmp_path / 'file' / 'runs'}: "
    )
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "started").exists()


def test_runlogger_run_refuses_a_runs_directory_under_a_read_only_parent(
    tmp_path: Path,
) -> None:
    parent = _read_only_directory(tmp_path)
    (tmp_path / "job.py").write_text(textwrap.dedent(JOB), encoding="utf-8")

    result = _run(tmp_path, "-m", "runlogger", "run", "--dir", str(parent / "a" / "b"), "job.py")

    assert result.returncode == 2
    assert result.stderr == (
        f"runlogger: cannot create the runs directory {parent / 'a' / 'b'}: Permission denied\n"
    )
    assert not (tmp_path / "started").exists()


LIBRARY_JOB = """
    import logging, sys
    import runlogger

    log = logging.getLogger("job")
    log.propagate = False
    log.setLevel(logging.INFO)
    run_filter = runlogger.RunContextFilter()
    for handler in (runlogger.RunFileHandler(sys.argv[1]), runlogger.RunSummaryHandler("ok")):
        handler.addFilter(run_filter)
        log.addHandler(handler)
    for i in range(5):
        log.info("record %d", i)
    print("done")
"""


def test_library_mode_warns_once_and_prints_no_traceback_per_record(tmp_path: Path) -> None:
    directory = _read_only_directory(tmp_path)
    (tmp_path / "job.py").write_text(textwrap.dedent(LIBRARY_JOB), encoding="utf-8")

    result = _run(tmp_path, "job.py", str(directory))

    assert (result.returncode, result.stdout) == (0, "done\n")
    assert result.stderr.count("RuntimeWarning") == 1
    assert f"runlogger cannot write to {directory} (Permission denied)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Logging error" not in result.stderr
    (summary_file,) = (tmp_path / "ok").glob("*.json")
    summary = read_summary(tmp_path / "ok", summary_file.stem)
    # The five records and the run's run_started (counted when the summary handler was made).
    assert (summary["event_count"], summary["logging_errors"]) == (6, 5)


def test_library_mode_warning_can_be_made_an_error_at_configuration(tmp_path: Path) -> None:
    """``-W error`` turns the warning into a refused handler, as dictConfig reports it."""
    directory = _read_only_directory(tmp_path)
    (tmp_path / "job.py").write_text(textwrap.dedent(LIBRARY_JOB), encoding="utf-8")

    result = _run(tmp_path, "-W", "error::RuntimeWarning", "job.py", str(directory))

    assert result.returncode == 1
    assert "RuntimeWarning: runlogger cannot write to" in result.stderr
