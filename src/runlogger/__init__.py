"""runlogger: run-scoped JSON logging and run summaries on top of stdlib ``logging``.

Drop three pieces into an existing logging configuration, with no change to the
logging calls:

- :class:`RunContextFilter` stamps every record with the current run's id;
- :class:`RunJsonFormatter` writes each record as one JSON line;
- :class:`RunSummaryHandler` counts every record and writes one summary per run.

Importing runlogger configures nothing; the process run starts when one of the
components is configured and ends at interpreter exit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    CorruptSummaryError,
    InvalidRunIdError,
    MissingBackendError,
    RunIdInUseError,
    RunloggerError,
    RunNotFoundError,
)
from ._filter import RunContextFilter
from ._process_run import current_run, start_process_run
from ._run import Run
from ._scope import in_current_run, run, track
from ._sinks import RunSink
from ._version import __version__

if TYPE_CHECKING:
    from ._events import RunFileHandler
    from ._formatter import RunJsonFormatter
    from ._handler import RunSummaryHandler
    from ._queue import RunQueueHandler
    from ._sampling import RunSampleFilter

#: Names whose modules are imported on first use: python-json-logger, pathlib and the
#: summary machinery cost more to import than the rest of runlogger together, and the
#: command line's ``runs``/``show`` need none of them.
_LAZY = {
    "RunFileHandler": "._events",
    "RunJsonFormatter": "._formatter",
    "RunSummaryHandler": "._handler",
    "RunQueueHandler": "._queue",
    "RunSampleFilter": "._sampling",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'runlogger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CorruptSummaryError",
    "InvalidRunIdError",
    "MissingBackendError",
    "Run",
    "RunContextFilter",
    "RunFileHandler",
    "RunIdInUseError",
    "RunJsonFormatter",
    "RunNotFoundError",
    "RunQueueHandler",
    "RunSampleFilter",
    "RunSink",
    "RunSummaryHandler",
    "RunloggerError",
    "__version__",
    "current_run",
    "in_current_run",
    "run",
    "start_process_run",
    "track",
]
