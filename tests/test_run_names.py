"""Every process run has a name to group by: the program's, or $RUNLOGGER_RUN_NAME."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlogger._process_run import process_run_name
from support import clean_env, python_command, read_summary

JOB = """
import logging.config, sys
import runlogger

logging.config.dictConfig({
    "version": 1,
    "handlers": {"summary": {"class": "runlogger.RunSummaryHandler", "catalog": False}},
    "root": {"level": "INFO", "handlers": ["summary"]},
})
logging.getLogger("job").info("working")
print(runlogger.current_run().run_id)
"""


def _name_of(tmp_path: Path, *args: str, **env: str) -> str | None:
    result = python_command(*args, cwd=tmp_path, env=clean_env(**env))
    assert result.returncode == 0, result.stderr
    name = read_summary(tmp_path / "runs", result.stdout.strip())["name"]
    assert name is None or isinstance(name, str)
    return name


def test_a_configured_script_is_named_after_its_file(tmp_path: Path) -> None:
    (tmp_path / "nightly_export.py").write_text(JOB, encoding="utf-8")
    assert _name_of(tmp_path, "nightly_export.py", "2026-11-30") == "nightly_export"


def test_a_script_with_a_sub_command_is_named_with_it(tmp_path: Path) -> None:
    (tmp_path / "manage.py").write_text(JOB, encoding="utf-8")
    assert _name_of(tmp_path, "manage.py", "send-reports", "--all") == "manage send-reports"


def test_a_module_run_with_dash_m_is_named_after_the_module(tmp_path: Path) -> None:
    package = tmp_path / "jobs"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cleanup.py").write_text(JOB, encoding="utf-8")
    assert _name_of(tmp_path, "-m", "jobs.cleanup") == "jobs.cleanup"


def test_runlogger_run_name_names_it_from_outside(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(JOB, encoding="utf-8")
    assert _name_of(tmp_path, "job.py", RUNLOGGER_RUN_NAME="billing-nightly") == "billing-nightly"


def test_an_explicit_name_is_kept(tmp_path: Path) -> None:
    code = "import runlogger\nrunlogger.start_process_run('chosen')\n" + JOB
    (tmp_path / "job.py").write_text(code, encoding="utf-8")
    assert _name_of(tmp_path, "job.py", RUNLOGGER_RUN_NAME="from-env") == "chosen"


@pytest.mark.parametrize(
    ("argv", "module", "expected"),
    [
        (
            ["/usr/local/bin/django-admin", "nightly", "--verbosity", "2"],
            None,
            "django-admin nightly",
        ),
        (["/usr/local/bin/celery", "-A", "proj", "worker"], None, "celery"),
        (["/srv/etl.py", "2026-11-30"], None, "etl"),
        (["/srv/report.py", "out/report.csv"], None, "report"),
        (["/srv/greet.py", "Alice"], None, "greet"),
        (["/srv/backup.py", "full"], None, "backup"),
        (["/srv/manage.py", "nightly"], None, "manage nightly"),
        (["/usr/bin/tool", "Report.csv"], None, "tool"),
        (["/srv/celery/__main__.py", "worker"], "celery.__main__", "celery worker"),
        (["/srv/pkg/__main__.py"], "pkg.__main__", "pkg"),
        (["-c"], None, "python"),
        ([], None, "python"),
    ],
)
def test_the_naming_rule(
    argv: list[str], module: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNLOGGER_RUN_NAME", raising=False)
    assert process_run_name(argv, module or "") == expected
