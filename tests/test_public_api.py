"""The public surface: what ``import runlogger`` offers and what it must not do."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runlogger


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(runlogger) if not name.startswith("_")}
    not_exported = {"annotations", "importlib", "TYPE_CHECKING", "Any"}
    assert set(runlogger.__all__) - {"__version__"} == public - not_exported


def test_every_name_in_all_resolves() -> None:
    for name in runlogger.__all__:
        assert getattr(runlogger, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        runlogger.nope  # noqa: B018


def test_all_is_sorted() -> None:
    names = [name for name in runlogger.__all__ if name != "__version__"]
    assert names == sorted(names)


def test_import_configures_nothing() -> None:
    """No handlers, no run, no environment change, no hooks at import."""
    code = (
        "import logging, os, sys, threading\n"
        "hook, thook = sys.excepthook, threading.excepthook\n"
        "import runlogger\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "assert logging.getLogger('runlogger').handlers == []\n"
        "assert 'RUNLOGGER_RUN_ID' not in os.environ\n"
        "assert sys.excepthook is hook and threading.excepthook is thook\n"
        "from runlogger import _context\n"
        "assert _context.state.process_run is None\n"
        "print('clean')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RUNLOGGER_")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_errors_refine_builtins() -> None:
    assert issubclass(runlogger.InvalidRunIdError, ValueError)
    assert issubclass(runlogger.MissingBackendError, ImportError)
    assert issubclass(runlogger.RunNotFoundError, LookupError)
    for error in (runlogger.InvalidRunIdError, runlogger.MissingBackendError):
        assert issubclass(error, runlogger.RunloggerError)


def test_a_run_made_by_hand_says_it_cannot_finish_or_report() -> None:
    """Only runs that runlogger made have a lifecycle to hand ``finish``/``progress`` to."""
    made = runlogger.Run("made-by-hand")
    with pytest.raises(RuntimeError, match="Run made-by-hand was made by hand"):
        made.finish()
    with pytest.raises(RuntimeError, match="Run made-by-hand was made by hand"):
        made.progress(1)
    assert (made.status, made.finished, made.last_progress) == ("running", False, None)
