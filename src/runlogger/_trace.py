"""Trace ids for records: the OpenTelemetry span current where a record is logged.

Runs for every record, so it is built for two cases:

- the program never imported ``opentelemetry``: one dictionary look-up in ``sys.modules``
  and nothing else (runlogger imports nothing here, ever);
- it did: the current OpenTelemetry context is read straight from its context variable,
  and the hex ids are computed once per context, not once per record (a context is an
  immutable mapping: while the same one is current, so is the same span).

A record logged where no span is current (a thread that did not inherit the context)
still carries the trace of its run when the run is a span (``Run.trace_id``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["TRACE", "TRACE_MODULE", "Traced", "current_trace", "reset"]

#: The module whose presence in ``sys.modules`` means the program uses OpenTelemetry.
TRACE_MODULE = "opentelemetry.trace"
#: The record attribute where RunContextFilter leaves ``(trace_id, span_id)``: private, so
#: no ``extra`` sets it by accident, and copied with the record through a queue.
TRACE = "_runlogger_trace"

_modules = sys.modules

#: Reads the current OpenTelemetry context (set up on first use), and the span in one.
_read_context: Callable[[], Any] | None = None
_span_of: Callable[[Any], Any] | None = None
#: ``(context, ids)`` of the last context seen: one tuple, replaced whole, so threads
#: reading and writing it at once never pair a context with another one's ids.
_last: tuple[object, tuple[str, str] | None] = (object(), None)


def _set_up() -> bool:
    """Find OpenTelemetry's context variable (its default runtime), else its public API."""
    global _read_context, _span_of
    try:
        trace = _modules[TRACE_MODULE]
        context = _modules["opentelemetry.context"]
        variable = getattr(getattr(context, "_RUNTIME_CONTEXT", None), "_current_context", None)
        _read_context = variable.get if isinstance(variable, ContextVar) else context.get_current
        _span_of = trace.get_current_span
    except Exception:  # half imported (another thread is importing it): try next record
        return False
    return True


def _ids_of(current: Any) -> tuple[str, str] | None:
    """The ids of the span in the context ``current`` (a cache miss), remembered."""
    global _last
    span_context = _span_of(current).get_span_context()  # type: ignore[misc]
    ids = (
        (format(span_context.trace_id, "032x"), format(span_context.span_id, "016x"))
        if span_context.is_valid
        else None
    )
    _last = (current, ids)
    return ids


class Traced(Protocol):
    """What a run's own trace is read from: :class:`~runlogger.Run`'s ids, when it is a span."""

    @property
    def trace_id(self) -> str | None: ...
    @property
    def span_id(self) -> str | None: ...


def current_trace(run: Traced | None) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` as lowercase hex for a record logged now in ``run``, or None.

    The same context gives the same tuple object, so callers may cache what they derive
    from it by identity.
    """
    if TRACE_MODULE in _modules and (_read_context is not None or _set_up()):
        try:
            current = _read_context()  # type: ignore[misc]
            last = _last
            ids = last[1] if last[0] is current else _ids_of(current)
        except Exception:
            ids = None
        if ids is not None:
            return ids
    if run is not None and run.trace_id is not None and run.span_id is not None:
        return run.trace_id, run.span_id
    return None


def reset() -> None:
    """Forget the cached context reader (for tests)."""
    global _read_context, _span_of, _last
    _read_context = None
    _span_of = None
    _last = (object(), None)
