"""RunSampleFilter: thin out a flood of similar records on an output, never losing a count.

Put the sampler on the handlers that write records out (the JSON file, the console), and
the :class:`~runlogger.RunSummaryHandler` beside them without it: the summary then counts
every record, the output keeps a sample, and the summary's ``suppressed_by_event_type``
says how many records of each kind the output left out.

A record the sampler lets through after holding others back carries
``sample_weight: N``: it stands for itself and the ``N - 1`` records of its kind held
back since the previous one let through. Records without the field stand for themselves
alone, so a reader can tell a sampled stream from a quiet job, and the weights of a
kind add up to its count (up to the records held back after the last one let through).

The weight goes on a copy of the record, never on the record other handlers see:

- on Python 3.12 and later the filter returns the copy, which the handler then emits
  (filters may return a replacement record since 3.12);
- on 3.10 and 3.11 a filter can only say yes or no, so for the rare weighted record the
  sampler does what 3.12's ``Handler.handle`` does: it runs the handler's remaining
  filters on the copy, emits the copy under the handler's lock and answers no for the
  original. (It finds the handler through the calling ``Filterer.filter`` frame; used as
  a logger filter, or called by anything else, it sets the field on the record itself,
  which then is what the caller asked for.)
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import FrameType
from typing import TYPE_CHECKING

from ._context import current_var, state
from ._process_run import ensure_process_run
from ._stamp import stamped_run_id
from ._summary import EVENT_TYPE_LIMIT, MAX_EVENT_TYPES, OTHER_EVENT_TYPE, safe_text

if TYPE_CHECKING:
    from ._run import Run

__all__ = ["DEFAULT_MAX_KEYS", "WEIGHT_FIELD", "RunSampleFilter"]

#: The field a weighted record carries: how many records it stands for.
WEIGHT_FIELD = "sample_weight"
#: Kinds of record tracked at once; the least recently seen is forgotten first.
DEFAULT_MAX_KEYS = 10_000
#: Longest kind name reported in the summary (a logger name plus a message template).
_LABEL_LIMIT = EVENT_TYPE_LIMIT
#: Distinct kinds one run's ``suppressed_by_event_type`` holds; the rest share ``(other)``.
_MAX_LABELS = MAX_EVENT_TYPES
_OTHER_LABEL = OTHER_EVENT_TYPE
#: runlogger's own events (``run_started``, ``run_finished``, ``progress``) always pass:
#: they are few, or rate-limited already, and readers rely on them.
_OWN_LOGGER_PREFIX = "runlogger."
#: Hold a record back (a weight of zero).
_HOLD = 0

_FILTERER_CODE = logging.Filterer.filter.__code__


class _KeyState:
    """What the sampler remembers about one kind of record."""

    __slots__ = ("held", "label", "seen", "stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        #: How the summary names this kind (worked out when first needed).
        self.label: str | None = None
        #: Records of this kind seen, held back since the last one let through.
        self.seen = 0
        self.held = 0
        #: The ``per_second`` budget (a token bucket) and when it was last topped up.
        self.tokens = tokens
        self.stamp = stamp


class RunSampleFilter(logging.Filter):
    """Let through the first ``first`` records of each kind, then one in ``every``.

    A record's kind is its ``event_type``, or for a record without one its logger
    and message template (so ``log.info("item %d", i)`` is one kind, whatever ``i``).
    With ``per_second`` set, at most that many records of a kind pass a second (a
    token bucket: ``per_second`` a second on average, in bursts of at most
    ``per_second``). Records at ``min_level_kept`` (a level name or number) and above
    always pass and take no part in the sampling, and so do runlogger's own events
    (``run_started``, ``run_finished``, ``progress``).

    Attach it to an output handler, not to a logger, and leave it off the
    :class:`~runlogger.RunSummaryHandler`, which must see every record to count it.
    One sampler may serve several handlers: each record is decided once, so they
    keep the same sample. It is thread-safe, and its memory is bounded by
    ``max_keys`` kinds (the least recently seen kind is forgotten, and starts over).

    ``clock`` (seconds, monotonic) is there for tests.
    """

    def __init__(
        self,
        first: int = 10,
        every: int = 1000,
        per_second: float | None = None,
        min_level_kept: int | str = "WARNING",
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.first = _count_argument("first", first, 0)
        self.every = _count_argument("every", every, 1)
        self.per_second = _rate_argument(per_second)
        self.min_level_kept = _level_argument(min_level_kept)
        self.max_keys = _count_argument("max_keys", max_keys, 1)
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, not {clock!r}.")
        self._clock = clock
        self._burst = max(1.0, self.per_second or 0.0)
        self._lock = threading.Lock()
        self._states: OrderedDict[Hashable, _KeyState] = OrderedDict()
        # The last record decided in each thread and its weight: a sampler shared by two
        # handlers sees each record twice in a row, and must decide (and count) it once.
        self._last = threading.local()
        ensure_process_run()

    if sys.version_info >= (3, 12):

        def filter(self, record: logging.LogRecord) -> bool | logging.LogRecord:
            """Keep or hold back ``record``; a weighted copy stands for held-back records."""
            try:
                weight = self._weigh(record)
            except Exception:
                return True  # an odd record (no name, a strange level): never lose it
            if weight <= 1:
                return weight == 1
            return _weighted_copy(record, weight)

    else:

        def filter(self, record: logging.LogRecord) -> bool:
            """Keep or hold back ``record``; a weighted copy stands for held-back records."""
            try:
                weight = self._weigh(record)
            except Exception:
                return True  # an odd record (no name, a strange level): never lose it
            if weight <= 1:
                return weight == 1
            return _emit_weighted_copy(self, record, weight, sys._getframe(1))

    def _weigh(self, record: logging.LogRecord) -> int:
        """How many records ``record`` stands for if let through, 0 to hold it back.

        Holding a record back counts it in its run's ``suppressed_by_event_type``.
        Asking again about the same record gives the same answer and counts nothing.
        """
        if record.levelno >= self.min_level_kept or record.name.startswith(_OWN_LOGGER_PREFIX):
            return 1
        last = self._last.__dict__
        decided = last.get("decided")
        if decided is not None and decided[0]() is record:
            return decided[1]  # type: ignore[no-any-return]
        event_type = record.__dict__.get("event_type")
        if event_type is not None:
            key: Hashable = event_type if type(event_type) is str else _printable(event_type)
        else:
            msg = record.msg
            key = (record.name, msg if type(msg) is str else f"<{type(msg).__name__}>")
        with self._lock:
            weight, state = self._decide(key)
            if weight == _HOLD and state.label is None:
                state.label = _label_of(key)
            label = state.label
        last["decided"] = (weakref.ref(record), weight)
        if weight == _HOLD:
            assert label is not None
            _note_held_back(record, label)
        return weight

    def _decide(self, key: Hashable) -> tuple[int, _KeyState]:
        """Count one more record of ``key`` and decide (the caller holds the lock)."""
        states = self._states
        state = states.get(key)
        if state is None:
            if len(states) >= self.max_keys:
                states.popitem(last=False)
            stamp = self._clock() if self.per_second is not None else 0.0
            state = states[key] = _KeyState(self._burst, stamp)
        else:
            states.move_to_end(key)
        state.seen += 1
        state.held += 1
        beyond = state.seen - self.first
        if beyond > 0 and beyond % self.every:
            return _HOLD, state
        if self.per_second is not None and not self._spend_token(state):
            return _HOLD, state
        weight, state.held = state.held, 0
        return weight, state

    def _spend_token(self, state: _KeyState) -> bool:
        now = self._clock()
        assert self.per_second is not None
        tokens = min(self._burst, state.tokens + (now - state.stamp) * self.per_second)
        state.stamp = now
        if tokens >= 1.0:
            state.tokens = tokens - 1.0
            return True
        state.tokens = tokens
        return False

    def __repr__(self) -> str:
        level = logging.getLevelName(self.min_level_kept)
        return (
            f"<{type(self).__name__} first={self.first} every={self.every} "
            f"per_second={self.per_second} min_level_kept={level}>"
        )


# -- what a record is, and whose ----------------------------------------------------------


def _label_of(key: Hashable) -> str:
    """How the summary names a kind: the event type, or ``"<logger>:<template>"``."""
    if isinstance(key, tuple):
        return safe_text(f"{key[0]}:{key[1]}", _LABEL_LIMIT)
    return safe_text(str(key), _LABEL_LIMIT)


def _printable(value: object) -> str:
    """A non-string ``event_type`` as the summary's counts name it (never raises)."""
    try:
        return safe_text(str(value), _LABEL_LIMIT)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _run_of(record: logging.LogRecord) -> Run | None:
    """The run ``record`` belongs to: the current one, or one it is nested in."""
    run: Run | None = current_var.get() or ensure_process_run()
    run_id = stamped_run_id(record.__dict__)
    if run_id is None:
        return run
    while run is not None and run.run_id != run_id:
        run = run.parent
    return run  # None: a record forwarded from another process's run


def _note_held_back(record: logging.LogRecord, label: str) -> None:
    run = _run_of(record)
    if run is None:
        return
    with state.lock:  # Run.note_suppressed's lock: two threads may hold back at once
        held = run.suppressed_by_event_type
        if label not in held and len(held) >= _MAX_LABELS:
            label = _OTHER_LABEL
        run.note_suppressed(label)


# -- putting the weight on a copy ---------------------------------------------------------


def _weighted_copy(record: logging.LogRecord, weight: int) -> logging.LogRecord:
    """A shallow copy of ``record`` (same class, as ``QueueHandler`` copies) with its weight."""
    weighted = copy.copy(record)
    weighted.__dict__[WEIGHT_FIELD] = weight
    return weighted


def _emit_weighted_copy(
    sampler: RunSampleFilter, record: logging.LogRecord, weight: int, caller: FrameType
) -> bool:
    """Python < 3.12: emit a weighted copy through the handler and drop the original.

    This is what ``Handler.handle`` does with a returned record on 3.12: the filters
    after the sampler run on the copy, and the copy is emitted under the handler's lock.
    """
    handler = caller.f_locals.get("self") if caller.f_code is _FILTERER_CODE else None
    if not isinstance(handler, logging.Handler) or not any(f is sampler for f in handler.filters):
        # A logger filter (every handler after it is downstream) or a direct call.
        record.__dict__[WEIGHT_FIELD] = weight
        return True
    weighted = _weighted_copy(record, weight)
    filters = handler.filters
    position = next(i for i, f in enumerate(filters) if f is sampler)
    for later in filters[position + 1 :]:
        result = later.filter(weighted) if hasattr(later, "filter") else later(weighted)
        if not result:
            return False
    handler.acquire()
    try:
        handler.emit(weighted)
    finally:
        handler.release()
    return False


# -- arguments ----------------------------------------------------------------------------


def _count_argument(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")
    return value


def _rate_argument(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"per_second must be a positive number of records a second, or None, not {value!r}."
        )
    return float(value)


def _level_argument(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        for name in (value, value.upper()):
            level = logging.getLevelName(name)
            if isinstance(level, int):
                return level
    raise ValueError(
        f"min_level_kept must be a level name such as 'WARNING' or a level number, not {value!r}."
    )
