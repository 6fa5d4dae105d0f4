"""Every test starts with stdlib logging and runlogger's global state as they were."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runlogger import _exit, _handler, _otel, _progress


def pytest_configure(config: pytest.Config) -> None:
    """Let the children the tests interrupt see Ctrl-C, however pytest was started.

    A shell starts a background job with SIGINT ignored, children inherit that, and
    runlogger (rightly) leaves an ignored signal alone: the Ctrl-C tests would then wait
    for a child that never stops. A handler in this process is reset to the default in
    every child it starts.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
    _otel.reset()
    _exit.reset_state()
    _handler.reset_book()
    _progress.reset()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
