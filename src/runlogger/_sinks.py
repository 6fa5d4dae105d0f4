"""Run sinks: where a run's state goes besides its summary file.

The run lifecycle builds the summary document once per state change -- ``started``,
``checkpoint`` (progress, heartbeat), ``finished`` -- writes it to the summary file (the
record of truth, always first, in the caller's thread) and then hands the same document
to every registered sink. A sink only writes it somewhere (a database, a metrics
gateway, a webhook); *when* is the lifecycle's business, as with OpenTelemetry's span
processors and exporters.

A sink must never harm the job, so each one is fed by a worker thread of its own:

- a slow or hanging sink delays neither the program nor the other sinks;
- a failing sink's error is counted in the run's ``logging_errors`` (through the
  ``on_error`` callback the caller passes) and reported on stderr once per sink;
- a pending ``checkpoint`` is replaced by a newer one of the same run (a sink that
  falls behind catches up with the latest state instead of replaying every beat);
- at interpreter exit :func:`drain` waits for all sinks together, at most
  ``RUNLOGGER_SINK_TIMEOUT`` seconds (default :data:`DEFAULT_EXIT_TIMEOUT`); a document a
  sink has not taken by then is counted as an error and abandoned with its daemon thread.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "DEFAULT_EXIT_TIMEOUT",
    "SINKS_ENV",
    "SINK_TIMEOUT_ENV",
    "RunEvent",
    "RunSink",
    "SinkSet",
    "drain",
    "exit_timeout",
    "load_sink",
    "sinks_from_environment",
]

#: The three moments a run's state is published.
RunEvent = Literal["started", "checkpoint", "finished"]
_EVENTS = ("started", "checkpoint", "finished")

SINKS_ENV = "RUNLOGGER_SINKS"
SINK_TIMEOUT_ENV = "RUNLOGGER_SINK_TIMEOUT"
#: Seconds all sinks together may take at interpreter exit to deliver what is pending.
DEFAULT_EXIT_TIMEOUT = 5.0

OnError = Callable[[str, BaseException], None]


@runtime_checkable
class RunSink(Protocol):
    """What a destination of run states implements.

    ``publish`` is called from a runlogger worker thread, never from the thread that
    logs, with ``event`` one of ``"started"``, ``"checkpoint"``, ``"finished"`` and
    ``summary`` the run's summary document as written to its summary file (treat it as
    read-only: every sink is handed the same object). Raise to report a failure; it is
    counted in the run's ``logging_errors``. Bound your own network calls with timeouts.
    An optional ``close()`` is called once at interpreter exit, after the last publish.
    """

    def publish(self, event: RunEvent, summary: Mapping[str, Any]) -> None: ...


def exit_timeout() -> float:
    """The exit bound in seconds: ``$RUNLOGGER_SINK_TIMEOUT`` if valid, else the default."""
    text = os.environ.get(SINK_TIMEOUT_ENV)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if value >= 0 and value != float("inf"):
            return value
        _report_line(f"ignoring {SINK_TIMEOUT_ENV}={text!r}: not a number of seconds")
    return DEFAULT_EXIT_TIMEOUT


def _report_line(text: str) -> None:
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.write(f"runlogger: {text}\n")


def sink_label(sink: object) -> str:
    """How a sink is named in error lines: its ``name`` attribute, else its class."""
    name = getattr(sink, "name", None)
    if isinstance(name, str) and name:
        return name
    return type(sink).__qualname__


def load_sink(spec: object) -> RunSink:
    """A sink from a configuration value.

    Accepted: a sink object (anything with ``publish``); a class or factory called
    without arguments (what dictConfig's ``ext://module.Class`` gives); or a string
    ``"module:attribute"`` / ``"module.attribute"`` naming either. Raises ValueError
    with the reason, since a misspelt sink must fail at configuration, not at exit.
    """
    target = spec
    if isinstance(spec, str):
        target = _import_object(spec)
    if not _is_sink(target) and callable(target):
        try:
            target = target()
        except Exception as exc:
            raise ValueError(f"could not create the sink {spec!r}: {exc!r}") from exc
    if not _is_sink(target):
        raise ValueError(
            f"{spec!r} is not a run sink: a sink has a publish(event, summary) method."
        )
    return target  # type: ignore[return-value]


def _is_sink(value: object) -> bool:
    return not isinstance(value, type) and callable(getattr(value, "publish", None))


def _import_object(path: str) -> object:
    module_name, colon, attribute = path.strip().partition(":")
    if not colon:
        module_name, _, attribute = module_name.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"sink {path!r} must be written module:attribute or module.attribute.")
    try:
        value: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load the sink {path!r}: {exc}") from exc
    return value


def sinks_from_environment() -> list[RunSink]:
    """The sinks named in ``$RUNLOGGER_SINKS`` (comma-separated ``module:attribute``)."""
    text = os.environ.get(SINKS_ENV, "")
    return [load_sink(part) for part in text.split(",") if part.strip()]


class _Worker:
    """One sink, its queue of documents, and the daemon thread that feeds it."""

    def __init__(self, sink: RunSink) -> None:
        self.sink = sink
        self.label = sink_label(sink)
        self.reset()

    def reset(self) -> None:
        """Fresh state: at creation, and in a forked child (the thread did not fork)."""
        self.condition = threading.Condition(threading.Lock())
        self.pending: deque[tuple[RunEvent, Mapping[str, Any], OnError]] = deque()
        self.busy = False
        #: The on_error of the document being published, for a sink that hangs on it.
        self.current: OnError = _ignore
        self.thread: threading.Thread | None = None
        self.reported = False
        self.closed = False

    def submit(self, event: RunEvent, summary: Mapping[str, Any], on_error: OnError) -> None:
        with self.condition:
            if self.closed:
                return
            if event == "checkpoint":
                run_id = summary.get("run_id")
                stale = [
                    item
                    for item in self.pending
                    if item[0] == "checkpoint" and item[1].get("run_id") == run_id
                ]
                for item in stale:
                    self.pending.remove(item)
            self.pending.append((event, summary, on_error))
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._loop, name=f"runlogger-sink-{self.label}", daemon=True
                )
                self.thread.start()
            self.condition.notify()

    def _loop(self) -> None:
        while True:
            with self.condition:
                while not self.pending:
                    self.condition.wait()
                event, summary, on_error = self.pending.popleft()
                self.busy = True
                self.current = on_error
            try:
                self.sink.publish(event, summary)
            except BaseException as exc:  # a sink's failure is counted, never propagated
                self.failed(exc, on_error)
            finally:
                with self.condition:
                    self.busy = False
                    self.condition.notify_all()

    def failed(self, exc: BaseException, on_error: OnError) -> None:
        with contextlib.suppress(Exception):
            on_error(self.label, exc)
        if not self.reported:
            self.reported = True
            _report_line(
                f"sink {self.label} failed ({type(exc).__name__}: {exc}); "
                "its further failures are counted in logging_errors"
            )

    def wait_idle(self, deadline: float) -> bool:
        """Wait until everything submitted was published, or ``deadline``; True if idle."""
        with self.condition:
            while self.pending or self.busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.condition.wait(remaining)
            return True

    def abandon(self, seconds: float) -> None:
        """Give up on what is still pending at exit: count each as an error."""
        with self.condition:
            left = [on_error for _event, _summary, on_error in self.pending]
            if self.busy:
                left.insert(0, self.current)
            self.pending.clear()
            self.closed = True
        error = TimeoutError(f"did not finish within {seconds:g} s at exit")
        for on_error in left:
            self.failed(error, on_error)

    def close(self) -> None:
        close = getattr(self.sink, "close", None)
        if callable(close):
            close()


def _ignore(_label: str, _exc: BaseException) -> None:
    """on_error where no run is concerned (a failing ``close()``): reported, not counted."""


class SinkSet:
    """The sinks registered for one summaries directory, each with its own worker."""

    def __init__(self) -> None:
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        _sets.add(self)
        _register_fork_hook()

    def add(self, sinks: Iterable[RunSink]) -> None:
        """Register ``sinks`` (a sink already registered is not added twice)."""
        with self._lock:
            known = {id(worker.sink) for worker in self._workers}
            for sink in sinks:
                if id(sink) not in known:
                    self._workers.append(_Worker(sink))
                    known.add(id(sink))

    def __bool__(self) -> bool:
        return bool(self._workers)

    def __len__(self) -> int:
        return len(self._workers)

    def publish(self, event: RunEvent, summary: Mapping[str, Any], on_error: OnError) -> None:
        """Hand ``summary`` to every sink; returns at once (each sink has its thread)."""
        if event not in _EVENTS:
            raise ValueError(f"event must be one of {', '.join(_EVENTS)}, not {event!r}.")
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.submit(event, summary, on_error)

    def workers(self) -> list[_Worker]:
        with self._lock:
            return list(self._workers)

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        for worker in self._workers:
            worker.reset()


_sets: weakref.WeakSet[SinkSet] = weakref.WeakSet()
_drained = False


def drain(timeout: float | None = None) -> bool:
    """Wait for every sink to publish what is pending, all together within ``timeout``.

    Called at interpreter exit after the last summary was written. Sinks still busy
    when the time is up are abandoned (their items counted as errors) and every sink
    gets its ``close()``. Returns True when every sink finished in time. Idempotent.
    """
    global _drained
    if _drained:
        return True
    _drained = True
    seconds = exit_timeout() if timeout is None else timeout
    deadline = time.monotonic() + seconds
    workers = [worker for sink_set in list(_sets) for worker in sink_set.workers()]
    all_idle = True
    for worker in workers:
        if not worker.wait_idle(deadline):
            all_idle = False
            worker.abandon(seconds)
    for worker in workers:
        if not worker.busy:  # a sink still hung in publish is not closed under its feet
            try:
                worker.close()
            except Exception as exc:
                worker.failed(exc, _ignore)
    return all_idle


def reset() -> None:
    """Forget every sink set (for tests)."""
    global _drained
    _drained = False
    _sets.clear()


def _after_fork_in_child() -> None:
    global _drained
    _drained = False
    for sink_set in list(_sets):
        sink_set.after_fork()


_fork_hook_registered = False


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_registered = True
