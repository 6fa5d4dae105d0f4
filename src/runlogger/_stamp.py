"""Which run a record belongs to: the stamp :class:`~runlogger.RunContextFilter` leaves.

A record's run is the one current where it was logged. A plain ``record.run_id`` cannot
say so: ``extra={"run_id": ...}`` sets the same attribute, and trusting it let any user
field re-route records into runs of its own (an events file and a summary per distinct
value). So the filter sets ``record.run_id`` to a :class:`RunStamp`, a ``str`` (every
formatter shows it as the id) that only runlogger makes, and which also carries the
parent run's id. When the caller's own ``run_id`` is in the way, the filter leaves that
value alone and puts the stamp under the private attribute :data:`STAMP` instead. Handlers
and the formatter go by the stamp (or by the current context when no filter ran); a
``run_id`` or ``parent_run_id`` that is not the stamp's is the caller's field, written
under ``extra`` like any field that collides with runlogger's own.

The stamp pickles as itself, so it travels with a record that a ``QueueHandler`` on a
``multiprocessing`` queue or a ``SocketHandler`` sends to another process; the receiver
needs runlogger installed to unpickle it. One key is added per record in the common case,
as before: each new key can cost a resize of the record's ``__dict__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._context import current_var
from ._ids import validate_run_id
from ._process_run import ensure_process_run

if TYPE_CHECKING:
    from ._run import Run

__all__ = [
    "STAMP",
    "RunStamp",
    "record_run_id",
    "run_fields",
    "stamp_for",
    "stamp_of",
    "stamped_run_id",
    "valid_run_id",
]

#: Where the stamp goes when the record carries a ``run_id`` of the caller's own.
STAMP = "_runlogger_run"


class RunStamp(str):
    """A run id as :class:`~runlogger.RunContextFilter` stamps it: the id itself, plus
    ``id`` (the same text as a plain ``str``) and ``parent`` (the parent's id, or None)."""

    id: str
    parent: str | None

    def __new__(cls, run_id: str, parent: str | None = None) -> RunStamp:
        stamp = super().__new__(cls, run_id)
        stamp.id = str.__str__(run_id)
        stamp.parent = parent
        return stamp

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunStamp, (self.id, self.parent))


def stamp_for(run: Run) -> RunStamp:
    """``run``'s stamp, made once and kept on the run (the filter reads it from there)."""
    stamp: RunStamp | None = getattr(run, "_runlogger_stamp", None)
    if stamp is None:
        parent = run.parent
        stamp = RunStamp(run.run_id, parent.run_id if parent is not None else None)
        run._runlogger_stamp = stamp  # type: ignore[attr-defined]
    return stamp


def stamp_of(attrs: dict[str, Any]) -> RunStamp | None:
    """The stamp a record (its ``__dict__``) carries, or None if no filter stamped it."""
    stamp = attrs.get("run_id")
    if type(stamp) is RunStamp:
        return stamp
    stamp = attrs.get(STAMP)
    return stamp if type(stamp) is RunStamp else None


def run_fields(attrs: dict[str, Any]) -> tuple[str, str | None]:
    """``(run_id, parent_run_id)`` of a record: stamped, else the current run's."""
    stamp = stamp_of(attrs)
    if stamp is not None:
        return stamp.id, stamp.parent
    run = current_var.get() or ensure_process_run()
    parent = run.parent
    return run.run_id, parent.run_id if parent is not None else None


def stamped_run_id(attrs: dict[str, Any]) -> str | None:
    """The id of the run a filter stamped on the record, if one did."""
    stamp = stamp_of(attrs)
    return stamp.id if stamp is not None else None


def record_run_id(attrs: dict[str, Any]) -> str:
    """The id of the run a record belongs to, always a usable run id.

    For handlers that file records by run (on their rare paths: it validates). A stamp
    can only be forged on purpose; one whose id could not be a file name counts for the
    current run rather than failing the record.
    """
    run_id = run_fields(attrs)[0]
    if type(run_id) is str and valid_run_id(run_id):
        return run_id
    return (current_var.get() or ensure_process_run()).run_id


def valid_run_id(run_id: str) -> bool:
    try:
        validate_run_id(run_id)
    except ValueError:
        return False
    return True
