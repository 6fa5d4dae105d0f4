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

from ._context import Run, current_run, in_current_run, run, start_process_run
from ._errors import (
    CorruptSummaryError,
    InvalidRunIdError,
    MissingBackendError,
    RunloggerError,
    RunNotFoundError,
)
from ._events import RunFileHandler
from ._filter import RunContextFilter
from ._formatter import RunJsonFormatter
from ._handler import RunSummaryHandler
from ._progress import track
from ._sampling import RunSampleFilter

__all__ = [
    "CorruptSummaryError",
    "InvalidRunIdError",
    "MissingBackendError",
    "Run",
    "RunContextFilter",
    "RunFileHandler",
    "RunJsonFormatter",
    "RunNotFoundError",
    "RunSampleFilter",
    "RunSummaryHandler",
    "RunloggerError",
    "__version__",
    "current_run",
    "in_current_run",
    "run",
    "start_process_run",
    "track",
]

__version__ = "0.1.0"
