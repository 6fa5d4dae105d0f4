"""Runs inside the program: ``with run()``/``@run()``, ``in_current_run``, ``track``.

The public verbs a program uses within its process run: nested runs (a context manager,
sync and async, and a decorator), binding a function to the current run for another
thread, and progress reporting over a loop.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sized
from types import TracebackType
from typing import Any, TypeVar, cast

from . import _progress
from ._context import current_listeners, current_var, state
from ._ids import new_run_id, validate_run_id
from ._lifecycle import finish_run, log_run_started
from ._outcome import exit_status
from ._process_run import current_run
from ._progress_events import LIFECYCLE, tracked
from ._run import Run

__all__ = ["RunScope", "in_current_run", "run", "track"]

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


class RunScope:
    """What :func:`run` returns: a context manager (sync and async) and a decorator.

    Used as a decorator, each call of the function is a run of its own.
    """

    def __init__(self, name: str | None, run_id: str | None, attributes: dict[str, Any]) -> None:
        self._name = name
        self._run_id = validate_run_id(run_id) if run_id is not None else None
        self._attributes = attributes
        self._active: list[tuple[Run, contextvars.Token[Run | None]]] = []

    # context manager ---------------------------------------------------------------
    def __enter__(self) -> Run:
        parent = current_run()
        new_run = Run(
            run_id=self._run_id or new_run_id(),
            name=self._name,
            parent=parent,
            attributes=dict(self._attributes),
            lifecycle=LIFECYCLE,
        )
        new_run.id_chosen = self._run_id is not None
        # The listeners first: the summary book refuses an id that names a run already
        # (RunIdInUseError), and then this run must not have started at all.
        for listener in current_listeners():
            listener.run_started(new_run)
        token = current_var.set(new_run)
        self._active.append((new_run, token))
        state.live_runs.add(new_run)
        log_run_started(new_run)
        return new_run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        finished_run, token = self._active.pop()
        try:
            if isinstance(exc, KeyboardInterrupt):
                finished_run.signal = finished_run.signal or "SIGINT"
            elif isinstance(exc, SystemExit):
                code = exit_status(exc.code)
                if code != 0:
                    finished_run.exit_code = code
            elif exc is not None:
                finished_run.record_exception(exc)
            finish_run(finished_run)
        finally:
            current_var.reset(token)

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # decorator ---------------------------------------------------------------------
    def _fresh(self) -> RunScope:
        return RunScope(self._name, self._run_id, self._attributes)

    def __call__(self, func: _F) -> _F:
        if self._name is None:
            self._name = getattr(func, "__qualname__", None)
        import inspect  # only decorators need it; keeps ``import runlogger`` light

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await cast(Callable[..., Awaitable[Any]], func)(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(_F, wrapper)


def run(name: str | None = None, *, run_id: str | None = None, **attributes: Any) -> RunScope:
    """Start a run nested in the current one, as ``with run(...)`` or ``@run(...)``.

    Records logged inside carry its ``run_id`` and ``parent_run_id``; asyncio tasks
    created inside inherit it. On exit the run is ``completed``, or ``failed`` when an
    exception escapes (the exception still propagates), and its summary is written.
    ``attributes`` go into the ``run_started`` event and the summary.
    """
    return RunScope(name, run_id, attributes)


def in_current_run(func: Callable[..., _T]) -> Callable[..., _T]:
    """Bind ``func`` to the run current now, for calling in another thread.

    Threads do not inherit context variables, so a worker thread logs into the process
    run unless its target is wrapped::

        threading.Thread(target=runlogger.in_current_run(work)).start()
        executor.submit(runlogger.in_current_run(work), item)
    """
    bound_run = current_run()

    @functools.wraps(func)
    def bound(*args: Any, **kwargs: Any) -> _T:
        token = current_var.set(bound_run)
        try:
            return func(*args, **kwargs)
        finally:
            current_var.reset(token)

    return bound


def track(
    iterable: Iterable[_T],
    total: float | None = None,
    *,
    every: float | None = None,
    run: Run | None = None,
    **fields: Any,
) -> Iterator[_T]:
    """Yield the items of ``iterable``, reporting the run's progress as the loop goes.

    ::

        for row in runlogger.track(rows, stage="load"):
            load(row)

    ``total`` defaults to ``len(iterable)`` where there is one; an iterable without a
    length reports its total when it runs out. An item counts as done when the loop
    asks for the next one. ``every`` overrides the process-wide seconds between two
    ``progress`` events; ``run`` defaults to the run current when ``track`` is called;
    ``fields`` go into every ``progress`` event.
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    total = _progress.total_argument(total)
    interval = _progress.interval_argument("every", every) if every is not None else None
    _progress.check_fields(fields)
    return tracked(iterable, total, interval, run if run is not None else current_run(), fields)
