"""OpenTelemetry: a run as a span, and W3C trace context across processes.

Opt-in (``RunSummaryHandler(otel=True)``, ``RUNLOGGER_OTEL=1``). Only then is
``opentelemetry`` imported, and only its API: the SDK, its processors and exporters are
the program's (or, see :func:`_sdk_from_environment`, set up from ``OTEL_*`` variables).

A run's span cannot live in a sink's worker thread: it must be *current while the run
is*, so that the program's own spans become its children and every record of the run
sees it. So the span is opened and closed by a run listener, in the thread that starts
and ends the run (``with run()`` entry and exit, configuration and interpreter exit for
the process run, the crash and signal paths that end in ``finish_run``).

The environment is the carrier across processes (W3C trace context in environment
variables, as OpenTelemetry specifies): a process that starts a run exports its span as
``TRACEPARENT``/``TRACESTATE`` beside ``RUNLOGGER_RUN_ID``; a process whose run starts
with ``TRACEPARENT`` set makes it the parent (a CI system's trace), and a process that
joined a run continues its trace without a span of its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from . import _context
from ._errors import MissingBackendError
from ._run import Run
from ._version import __version__

__all__ = [
    "OTEL_ENV",
    "TRACEPARENT_ENV",
    "TRACESTATE_ENV",
    "enable",
    "otel_from_environment",
    "parse_traceparent",
    "reset",
]

OTEL_ENV = "RUNLOGGER_OTEL"
TRACEPARENT_ENV = "TRACEPARENT"
TRACESTATE_ENV = "TRACESTATE"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

#: version-traceid-spanid-flags; a future version may append fields after a dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16

#: The instrumentation scope of runlogger's spans.
_SCOPE = "runlogger"


def otel_from_environment() -> bool:
    """``$RUNLOGGER_OTEL`` as a switch; anything but a yes/no word is refused."""
    text = os.environ.get(OTEL_ENV, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"{OTEL_ENV}={os.environ.get(OTEL_ENV)!r} is not understood: use 1 to make each "
        "run an OpenTelemetry span, 0 (or leave it unset) not to."
    )


def parse_traceparent(text: str | None) -> tuple[str, str, int] | None:
    """``(trace_id, span_id, flags)`` from a W3C ``traceparent`` value, or None if invalid.

    Follows the W3C rules: version ``ff`` and all-zero ids are invalid, version ``00``
    has exactly four fields, a later version may carry more.
    """
    if not text:
        return None
    match = _TRACEPARENT.fullmatch(text.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == _INVALID_TRACE or span_id == _INVALID_SPAN:
        return None
    return trace_id, span_id, int(flags, 16)


def _import_api() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        raise MissingBackendError(
            "otel=True (RUNLOGGER_OTEL=1) needs the OpenTelemetry API: "
            "pip install 'runlogger[otel]'."
        ) from None
    return trace


def _report(text: str) -> None:
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {text}\n")


class _Live:
    """What runlogger opened for one run: its span (None for a joined run) and the
    token that made it current, with the context variable the token belongs to."""

    __slots__ = ("span", "token")

    def __init__(self, span: Any, token: object) -> None:
        self.span = span
        self.token = token


class _RunSpans:
    """The run listener that opens a span when a run starts and ends it when it ends."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        self.live: weakref.WeakKeyDictionary[Run, _Live] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()

    # RunListener --------------------------------------------------------------------------
    def run_started(self, run: Run) -> None:
        try:
            self._start(run)
        except Exception as exc:  # tracing must never stop a run from starting
            _report(f"could not open the span of run {run.run_id}: {exc!r}")

    def run_finished(self, run: Run) -> None:
        with self.lock:
            live = self.live.pop(run, None)
        if live is None:
            return
        try:
            if live.span is not None and run.owner:
                self._end(run, live.span)
        except Exception as exc:
            _report(f"could not end the span of run {run.run_id}: {exc!r}")
        finally:
            _detach(live.token)

    def run_checkpoint(self, run: Run) -> None:
        pass  # a span has no intermediate state to write

    def counts(self, run: Run) -> tuple[int, int] | None:
        return None

    # spans --------------------------------------------------------------------------------
    def _start(self, run: Run) -> None:
        from opentelemetry import context, trace

        with self.lock:
            if run in self.live or run.finished:
                return
        if not run.owner:
            self._join(run)
            return
        current = trace.get_current_span()
        parent_context = None  # the current context: a span the program has open
        if not current.get_span_context().is_valid:
            parent_live = self.live.get(run.parent) if run.parent is not None else None
            if parent_live is not None and parent_live.span is not None:
                parent_context = trace.set_span_in_context(parent_live.span)
            elif run.is_process_run:
                incoming = _incoming_span()
                if incoming is not None:
                    parent_context = trace.set_span_in_context(incoming)
        attributes: dict[str, Any] = {
            "runlogger.run_id": run.run_id,
            "host.name": run.host,
            "process.pid": run.pid,
        }
        if run.name is not None:
            attributes["runlogger.name"] = run.name
        if run.parent_run_id is not None:
            attributes["runlogger.parent_run_id"] = run.parent_run_id
        span = self.tracer.start_span(
            _span_name(run),
            context=parent_context,
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=int(run.start_time * 1e9),
        )
        _note_ids(run, span.get_span_context())
        token = context.attach(trace.set_span_in_context(span))
        with self.lock:
            self.live[run] = _Live(span, token)
        if run.is_process_run:
            _export(span.get_span_context())

    def _join(self, run: Run) -> None:
        """A joined run's span is its owner's: continue that trace without a span."""
        from opentelemetry import context, trace

        incoming = _incoming_span()
        if incoming is None:
            return
        _note_ids(run, incoming.get_span_context())
        if trace.get_current_span().get_span_context().is_valid:
            return  # the program already has a span open here: leave it current
        token = context.attach(trace.set_span_in_context(incoming))
        with self.lock:
            self.live[run] = _Live(None, token)

    def _end(self, run: Run, span: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        counted = _counted(run)
        # The id again: a re-run takes its attempt's id after its span has started.
        attributes: dict[str, Any] = {
            "runlogger.run_id": run.run_id,
            "runlogger.status": run.status,
        }
        if run.attempt is not None:
            attributes["runlogger.attempt"] = run.attempt
        if counted is not None:
            attributes["runlogger.event_count"] = counted[0]
            attributes["runlogger.error_count"] = counted[1]
        if run.exit_code is not None:
            attributes["runlogger.exit_code"] = run.exit_code
        if run.signal is not None:
            attributes["runlogger.signal"] = run.signal
        span.set_attributes(attributes)
        if run.status == "failed":
            exception = run.exception
            if exception is not None:
                # The exception as OpenTelemetry's semantic conventions record it.
                span.add_event(
                    "exception",
                    {
                        "exception.type": exception["type"],
                        "exception.message": exception["message"],
                    },
                )
                description = f"{exception['type']}: {exception['message']}"
            else:
                description = f"exit code {run.exit_code}"
            span.set_status(Status(StatusCode.ERROR, description))
        elif run.status == "terminated":
            span.set_status(Status(StatusCode.ERROR, f"terminated by {run.signal or 'a signal'}"))
        end_time = run.end_time
        span.end(end_time=int(end_time * 1e9) if end_time is not None else None)


def _span_name(run: Run) -> str:
    """The run's name; unnamed runs by their program (span names should not be ids)."""
    if run.name:
        return run.name
    program = os.path.basename(run.argv[0]) if run.argv and run.argv[0] else ""
    return program or "run"


def _note_ids(run: Run, span_context: Any) -> None:
    if span_context.is_valid:
        run.trace_id = format(span_context.trace_id, "032x")
        run.span_id = format(span_context.span_id, "016x")


def _counted(run: Run) -> tuple[int, int] | None:
    for listener in _context.current_listeners():
        if isinstance(listener, _RunSpans):
            continue
        counted = listener.counts(run)
        if counted is not None:
            return counted
    return None


def _incoming_span() -> Any:
    """A non-recording span for ``$TRACEPARENT`` (the parent's, or a CI system's), or None."""
    text = os.environ.get(TRACEPARENT_ENV)
    parsed = parse_traceparent(text)
    if parsed is None:
        if text:
            _report(f"ignoring {TRACEPARENT_ENV}={text!r}: not a W3C traceparent")
        return None
    from opentelemetry import trace

    trace_id, span_id, flags = parsed
    state = trace.TraceState.from_header([os.environ.get(TRACESTATE_ENV, "")])
    span_context = trace.SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(flags),
        trace_state=state,
    )
    return trace.NonRecordingSpan(span_context)


#: Environment values runlogger replaced, to put back in :func:`reset` (tests).
_saved_environment: dict[str, str | None] = {}


def _export(span_context: Any) -> None:
    """Hand the process run's span to the children through the environment."""
    if not span_context.is_valid:
        return
    for name in (TRACEPARENT_ENV, TRACESTATE_ENV):
        _saved_environment.setdefault(name, os.environ.get(name))
    os.environ[TRACEPARENT_ENV] = (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{int(span_context.trace_flags):02x}"
    )
    state = span_context.trace_state.to_header() if span_context.trace_state else ""
    if state:
        os.environ[TRACESTATE_ENV] = state
    else:
        os.environ.pop(TRACESTATE_ENV, None)


def _detach(token: object) -> None:
    """Make the run's span no longer current, if this is the context that made it so.

    A run may be finished from another thread or context (``Run.finish()``); resetting a
    context variable from there is refused, and OpenTelemetry's ``detach`` would log that
    as an error into the very handlers of the run. So a token is only used where it can be.
    """
    if isinstance(token, contextvars.Token):
        with contextlib.suppress(ValueError, RuntimeError):
            token.var.reset(token)
        return
    from opentelemetry import context

    context.detach(token)  # type: ignore[arg-type]


# -- setting up ----------------------------------------------------------------------------


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listener: _RunSpans | None = None
        #: The SDK provider runlogger set up from OTEL_* variables (it then owns it).
        self.owned_provider: Any = None


_state = _State()


def enable(provider: Any = None) -> None:
    """Make every run from now on (and those going) an OpenTelemetry span.

    ``provider`` is a TracerProvider to use; by default the global one, which runlogger
    sets up itself from ``OTEL_TRACES_EXPORTER`` when the program has none (see README).
    Raises MissingBackendError when the OpenTelemetry API is not installed, ValueError
    when ``OTEL_TRACES_EXPORTER`` names an exporter that is not installed.
    """
    trace = _import_api()
    with _state.lock:
        if provider is None:
            provider = trace.get_tracer_provider()
            if _is_unset(provider):
                owned = _sdk_from_environment()
                if owned is not None:
                    trace.set_tracer_provider(owned)
                    _state.owned_provider = owned
                    provider = owned
                elif _state.listener is None:
                    _report(
                        "run spans are on but no OpenTelemetry TracerProvider is set up "
                        "(set one up before configuring logging, or set OTEL_TRACES_EXPORTER): "
                        "spans started before one is set are not recorded"
                    )
        tracer = provider.get_tracer(_SCOPE, __version__)
        listener = _state.listener
        if listener is None:
            listener = _state.listener = _RunSpans(tracer)
            _context.add_after_exit_handler(_flush_at_exit)
        else:
            listener.tracer = tracer
    _context.add_listener(listener, first=True)
    # Runs that started before the integration was configured (the process run starts
    # when the first runlogger component is made) become spans now, outermost first.
    going: list[Run] = []
    run = _context.current_run_if_started()
    while run is not None:
        going.append(run)
        run = run.parent
    process_run = _context.state.process_run
    if process_run is not None and process_run not in going:
        going.append(process_run)
    for run in reversed(going):
        if not run.finished:
            listener.run_started(run)


def _is_unset(provider: Any) -> bool:
    """True when the program configured no tracer provider (the API's placeholder)."""
    return type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider")


def _sdk_from_environment() -> Any:
    """A TracerProvider from ``OTEL_TRACES_EXPORTER``, or None when it is unset or none.

    The exporter names are those the OpenTelemetry distribution registers
    (``otlp_proto_http``, ``otlp_proto_grpc``, ``otlp``, ``console``); the exporters
    read their own ``OTEL_EXPORTER_*`` variables, the resource ``OTEL_SERVICE_NAME`` and
    ``OTEL_RESOURCE_ATTRIBUTES``. runlogger owns this provider: it shuts it down (which
    flushes its processors) at interpreter exit, after the process run's span ended.
    """
    names = [
        part.strip()
        for part in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if part.strip() and part.strip().lower() != "none"
    ]
    if not names:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise MissingBackendError(
            "OTEL_TRACES_EXPORTER is set but the OpenTelemetry SDK is not installed: "
            "pip install opentelemetry-sdk and the exporter, or configure a TracerProvider."
        ) from None
    exporters = [_load_exporter(name) for name in names]
    owned = TracerProvider(resource=Resource.create(), shutdown_on_exit=False)
    for exporter in exporters:
        owned.add_span_processor(BatchSpanProcessor(exporter))
    return owned


def _load_exporter(name: str) -> Any:
    from importlib.metadata import entry_points

    found = {point.name: point for point in entry_points(group="opentelemetry_traces_exporter")}
    point = found.get(name)
    if point is None:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER names {name!r}, which is not installed; installed: "
            f"{', '.join(sorted(found)) or 'none'}."
        )
    exporter_class: Callable[[], Any] = point.load()
    return exporter_class()


def _flush_at_exit(_process_run: Run) -> None:
    """After the process run's span ended: get the spans out before the process ends.

    A provider runlogger set up is shut down (flushing its processors). The program's
    own provider is only flushed, bounded like the sinks: it shuts itself down at exit,
    but not in the exits that skip atexit (multiprocessing children, SIGTERM there).
    """
    from ._sinks import exit_timeout

    owned = _state.owned_provider
    if owned is not None:
        _state.owned_provider = None
        owned.shutdown()
        return
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return
    force_flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if callable(force_flush):
        force_flush(int(exit_timeout() * 1000))


def reset() -> None:
    """Forget the integration and put back the environment (for tests)."""
    with _state.lock:
        listener = _state.listener
        _state.listener = None
        _state.owned_provider = None
    if listener is not None:
        _context.remove_listener(listener)
        for live in list(listener.live.values()):
            _detach(live.token)
        listener.live.clear()
    for name, value in _saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_environment.clear()
