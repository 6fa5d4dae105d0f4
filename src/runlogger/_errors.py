"""Exceptions raised by runlogger.

Each subclass also inherits the builtin it refines, so callers that already catch
``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "CorruptSummaryError",
    "InvalidRunIdError",
    "MissingBackendError",
    "RunIdInUseError",
    "RunNotFoundError",
    "RunloggerError",
]


class RunloggerError(Exception):
    """Base class of every error runlogger raises on purpose."""


class InvalidRunIdError(RunloggerError, ValueError):
    """A run id that cannot be used as a file name."""


class MissingBackendError(RunloggerError, ImportError):
    """A JSON backend was asked for by name but is not installed."""


class RunIdInUseError(RunloggerError, ValueError):
    """A run id given for a new run already names a run in the summaries directory.

    A run id names one run: starting a second run under it would overwrite the first
    run's summary or mix both runs' counts, so it is refused -- for a ``run(run_id=...)``
    chosen in code, and for a process run that cannot be renamed safely. (A process run
    re-run under a finished run's id otherwise becomes its next attempt, ``<id>.<n>``.)
    """


class RunNotFoundError(RunloggerError, LookupError):
    """No run (or no unique run) matches the id or prefix asked for."""


class CorruptSummaryError(RunloggerError, ValueError):
    """A summary file exists but is not a readable runlogger summary."""
