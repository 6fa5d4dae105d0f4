"""Every test starts with stdlib logging and runlogger's global state as they were."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from runlogger import _context, _handler, _progress


@pytest.fixture(autouse=True)
def _isolated_logging(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv("RUNLOGGER_RUN_ID", raising=False)
    monkeypatch.setenv("RUNLOGGER_DIR", str(tmp_path / "runs"))
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_level = root.level
    yield
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)
    _context.reset_state()
    _handler.reset_book()
    _progress.reset()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
