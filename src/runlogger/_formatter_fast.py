"""The formatter's one-pass path: a record's JSON line without building the raw event.

:func:`build_fast_format` makes the function :class:`~runlogger.RunJsonFormatter` uses as its
``format`` when it can (``RunJsonFormatter._make_fast_format`` says when it cannot).

**Invariant: for every record it accepts, it returns the very same line, byte for byte, as
the general path** (``RunJsonFormatter._format_general``, the reference: build the event,
let ``process_log_record`` see it, sanitize it whole, encode it). It accepts a record only
when it can keep that promise and hands everything else to the general path: a message that
is not a string, a record layout whose extra keys need cleaning, collide with runlogger's
own or are too many (:func:`_plan_layout`), a ``run_id`` or ``parent_run_id`` of the
caller's own, trace ids of an odd shape, a line the encoder refuses or that holds a lone
surrogate, any exception. What makes it cheaper: record layouts are planned once, values
are type-checked as they are placed and cleaned only when they need it, the level/logger/run
fields and the millisecond text are cached, and with the stdlib ``json`` backend the line is
written directly from pre-encoded key parts. ``tests/test_formatter_fast_path.py`` holds it
to the invariant: generated records (extras, messages, run fields, backends) formatted both
ways must give equal lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, Protocol

from ._context import current_var
from ._jsonline import encodable, escape_line_separators
from ._process_run import ensure_process_run
from ._sanitize import REDACTED, Sanitizer
from ._stamp import STAMP, RunStamp
from ._timefmt import micros_z_table, milli_prefix
from ._trace import TRACE, TRACE_MODULE, current_trace

__all__ = ["INF", "NEG_INF", "FormatterView", "Plan", "build_fast_format"]

#: Record layouts remembered by a formatter; bounded so ever-new extra keys cannot grow it.
_PLAN_CACHE_LIMIT = 256
#: Event types remembered as checked, likewise bounded.
_EVENT_TYPE_CACHE_LIMIT = 1024
_LOG_RECORD = logging.LogRecord
_GET_MESSAGE = logging.LogRecord.getMessage

#: A record layout's extras, for the event dict: (attribute, or None when the key looks
#: secret so the value is never read; key in the event).
_Entries = tuple[tuple[str | None, str], ...]
#: The same, for writing JSON directly: (attribute or None; ``,"key":``). None when the
#: layout cannot be written directly (a key met twice, fields this path does not place).
_JsonEntries = tuple[tuple[str | None, str], ...] | None
#: What :func:`_plan_layout` works out once per record layout; False sends the
#: layout to the general path.
Plan = tuple[_Entries, _JsonEntries]
#: The recurring fields as last seen, ``(levelname, logger name, run_id, parent_run_id)``
#: or ``_UNSEEN``; their checked values; the JSON around the message for the direct path.
_Known = tuple[Any, Any, Any, Any, Any, str, str]
_UNSEEN = (object(),)
INF = float("inf")
NEG_INF = -INF
_int_repr = int.__repr__
_float_repr = float.__repr__


class FormatterView(Protocol):
    """What the one-pass path reads of its formatter: :class:`~runlogger.RunJsonFormatter`.

    Spelled out here, so that this module, which the formatter imports, need not import
    the formatter back: the formatter satisfies it as it is (mypy checks that where it
    calls :func:`build_fast_format`). Read-only, as the path only reads its settings and
    fills ``_plans``. A new setting the path reads is added here first.
    """

    @property
    def backend(self) -> str: ...
    @property
    def datefmt(self) -> str | None: ...
    @property
    def prefix(self) -> str: ...
    @property
    def rename_fields(self) -> dict[str, str]: ...
    @property
    def rename_fields_keep_missing(self) -> bool: ...
    @property
    def sanitizer(self) -> Sanitizer: ...
    @property
    def _plans(self) -> dict[tuple[Any, ...], Plan | bool]: ...
    @property
    def _keys(self) -> tuple[str, ...]: ...
    @property
    def _key_parent(self) -> str: ...
    @property
    def _key_event_type(self) -> str: ...
    @property
    def _key_trace(self) -> str: ...
    @property
    def _key_span(self) -> str: ...
    @property
    def _json_keys(self) -> tuple[str, str, str, str, str]: ...
    @property
    def _json_string(self) -> Callable[[str], str] | None: ...
    @property
    def _json_direct(self) -> bool: ...
    @property
    def _limit(self) -> int: ...
    @property
    def _int_low(self) -> int: ...
    @property
    def _int_high(self) -> int: ...
    @property
    def _max_keys(self) -> int | None: ...
    @property
    def _needs_asctime(self) -> bool: ...
    @property
    def _defaults(self) -> tuple[object, ...]: ...
    @property
    def _fmt_keys(self) -> tuple[object, ...]: ...
    @property
    def _static(self) -> tuple[object, ...]: ...
    @property
    def _fixed_keys(self) -> tuple[str, ...]: ...
    @property
    def _reserved(self) -> frozenset[str]: ...
    @property
    def _trailing_keys(self) -> frozenset[str]: ...
    @property
    def _skip(self) -> frozenset[str]: ...
    @property
    def _secret_sources(self) -> frozenset[str]: ...
    @property
    def _clean_value(self) -> Callable[[object], object]: ...
    @property
    def _encode(self) -> Callable[[dict[str, Any]], str]: ...
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str: ...
    def _format_general(self, record: logging.LogRecord) -> str: ...
    def _place_fixed_fields(self, out: dict[str, Any], attrs: dict[str, Any]) -> None: ...
    def _place_trailing_fields(self, out: dict[str, Any], record: logging.LogRecord) -> None: ...
    def _plain_orjson_dumps(self) -> Callable[[Any], bytes] | None: ...
    def _json_value(self, value: object) -> str: ...
    def _checked(self, value: object) -> object: ...


def build_fast_format(formatter: FormatterView) -> Callable[[logging.LogRecord], str]:
    """Return the one-pass ``format`` for ``formatter``, which the caller found eligible.

    Longer than 200 lines for a reason: it is one closure so that what it reads on every
    record -- settings, pre-encoded keys, the last layout seen -- is a local of its own
    rather than an attribute of the formatter, and splitting its body into functions would
    add calls per record to the hot path.
    """
    plans = formatter._plans
    general = formatter._format_general
    place_fixed = formatter._place_fixed_fields
    place_trailing = formatter._place_trailing_fields
    json_value = formatter._json_value
    limit, low, high = formatter._limit, formatter._int_low, formatter._int_high
    clean = formatter._clean_value
    k_ts, k_level, k_logger, k_message, k_run = formatter._keys
    k_parent, k_event_type = formatter._key_parent, formatter._key_event_type
    k_trace, k_span = formatter._key_trace, formatter._key_span
    modules = sys.modules
    needs_asctime = formatter._needs_asctime
    fixed_fields = bool(formatter._defaults or formatter._fmt_keys or formatter._static)
    keep_missing = bool(formatter.rename_fields_keep_missing)
    dumps = formatter._plain_orjson_dumps()
    encode = formatter._encode
    check_line = formatter.backend != "orjson"  # orjson refuses lone surrogates itself
    # The direct JSON path's pre-encoded parts (unused, and built with str, without it)
    string = formatter._json_string or str
    j_ts = "{" + string(k_ts) + ':"'
    j_event_type = "," + string(k_event_type) + ":"
    j_trace, j_span = "," + string(k_trace) + ":", "," + string(k_span) + ":"
    j_redacted = string(REDACTED)
    micros_z = micros_z_table()
    # Caches, each one value swapped whole (atomic for threads): the last record
    # layout and its plan; the last millisecond and its text; the last level, logger
    # and run fields, checked (see _know_fields). And event types that passed the check,
    # recognized by identity.
    last_plan: tuple[tuple[Any, ...], _Entries, _JsonEntries, bool, bool] = (
        _UNSEEN,
        (),
        None,
        False,
        False,
    )
    last_milli: tuple[int, str] = (-(10**30), "")  # (first microsecond, its text)
    known: _Known = (_UNSEEN, None, None, None, None, "", "")
    event_types: dict[str, str] = {}
    last_trace: tuple[Any, str] = (_UNSEEN, "")  # trace ids and their JSON
    event_jsons: dict[Any, str] = {}  # those event types' members of a direct JSON line
    direct = formatter._json_string is not None  # the stdlib json backend: lines written here

    def format_fast(record: logging.LogRecord) -> str:
        nonlocal last_plan, last_milli, known, last_trace
        msg = record.msg
        if type(msg) is not str:
            return general(record)
        attrs = record.__dict__
        message: Any
        try:
            args = record.args
            if type(record) is _LOG_RECORD or type(record).getMessage is _GET_MESSAGE:
                message = msg % args if args else msg  # getMessage, without the call
                record.message = message
                if len(message) > limit:
                    message = clean(message)
            else:
                message = record.message = record.getMessage()
                if not (type(message) is str and len(message) <= limit):
                    message = clean(message)
            if needs_asctime:
                record.asctime = formatter.formatTime(record, formatter.datefmt)
            keys = tuple(attrs)
            last_keys, entries, json_entries, has_parent, has_trace = last_plan
            if keys != last_keys:
                planned = plans.get(keys)
                plan = _plan_layout(formatter, keys) if planned is None else planned
                if plan is False:
                    return general(record)
                entries, json_entries = plan  # type: ignore[misc]
                # Whether the record carries these is the layout's, like its extras.
                has_parent, has_trace = "parent_run_id" in keys, TRACE in keys
                last_plan = (keys, entries, json_entries, has_parent, has_trace)

            # Strings are only measured here, not scanned: a lone surrogate makes
            # orjson raise, and check_line finds it in the line for the other encoders.
            # The run: stamped by RunContextFilter, else the current one (see
            # runlogger._stamp). A run_id of the caller's own, or a parent_run_id that
            # is not the run's, goes under COLLIDED: the general path's work.
            run_id = attrs.get("run_id")
            trace: Any
            if type(run_id) is RunStamp:
                # The stamp stands for its id in the fields checked below (_know_fields
                # reads the id); trace ids were left by RunContextFilter.
                parent_id = run_id.parent
                trace = attrs[TRACE] if has_trace else None
            elif run_id is None and "run_id" not in attrs and STAMP not in attrs:
                run = current_var.get() or ensure_process_run()
                run_id = run.run_id
                parent = run.parent
                parent_id = parent.run_id if parent is not None else None
                # Trace ids looked up as RunContextFilter would.
                if TRACE_MODULE in modules or run.trace_id is not None:
                    trace = current_trace(run)
                else:
                    trace = None
            else:
                return general(record)
            if has_parent:
                given = attrs["parent_run_id"]
                if given is not parent_id and given != parent_id:
                    return general(record)
            # The same span's ids come as the same tuple: checked (and encoded for
            # the direct JSON path) once, then recognized by identity.
            if trace is not None:
                cached = last_trace  # read once: another thread may replace it
                if cached[0] is not trace:
                    if not (
                        type(trace) is tuple
                        and len(trace) == 2
                        and type(trace[0]) is str
                        and type(trace[1]) is str
                    ):
                        return general(record)
                    json_trace = j_trace + string(trace[0]) + j_span + string(trace[1])
                    cached = last_trace = (trace, json_trace)
                json_trace = cached[1]
            level = record.levelname
            name = record.name
            # The level, logger and run fields recur from record to record: checked
            # (and JSON-encoded) once, then recognized by identity (a tuple compares
            # its items by identity first).
            seen = (level, name, run_id, parent_id)
            current = known  # read once: another thread may replace it meanwhile
            if seen != current[0]:
                current = known = _know_fields(formatter, seen)
            _, clean_level, clean_name, clean_run_id, clean_parent_id, json_head, json_run = current
            event_type = attrs.get("event_type")
            if event_type is not None and event_types.get(event_type) is not event_type:
                if type(event_type) is str and len(event_type) <= limit:
                    if len(event_types) >= _EVENT_TYPE_CACHE_LIMIT:
                        event_types.clear()
                        event_jsons.clear()
                    event_types[event_type] = event_type  # passed: recognized next time
                    if direct:  # and its member of the direct JSON line
                        event_jsons[event_type] = j_event_type + string(event_type)
                else:
                    event_type = clean(event_type)
            trailing = record.exc_info or record.exc_text or record.stack_info or keep_missing
            # utc_timestamp(record.created), inlined, with the text up to the millisecond
            # cached: records of the same millisecond only look up their microseconds.
            first_micro, stamp = last_milli
            micros = int(record.created * 1_000_000) - first_micro
            if micros >= 1000 or micros < 0:
                milli = (micros + first_micro) // 1000
                stamp = milli_prefix(milli)
                last_milli = (milli * 1000, stamp)
                micros += first_micro - milli * 1000
            stamp += micros_z[micros]
            value: Any
            line: str

            if json_entries is not None and not trailing:
                # The stdlib json backend: the line itself, as its C encoder would
                # write the event dict, from pre-encoded parts; no dict, no encoder.
                line = (
                    j_ts
                    + stamp
                    + json_head
                    + (string(message) if type(message) is str else json_value(message))
                    + json_run
                )
                if trace is not None:
                    line += json_trace
                if event_type is not None:  # encoded above, unless it was cleaned
                    line += event_jsons.get(event_type) or j_event_type + json_value(event_type)
                for key, json_key in json_entries:
                    if key is None:  # a secret-looking key: the value is never read
                        line += json_key + j_redacted
                        continue
                    value = attrs[key]
                    kind = type(value)
                    if kind is str:
                        if len(value) <= limit:
                            line += json_key + string(value)
                            continue
                    elif kind is int:
                        if low < value < high:
                            line += json_key + _int_repr(value)
                            continue
                    elif kind is float:
                        if NEG_INF < value < INF:
                            line += json_key + _float_repr(value)
                            continue
                    elif value is None:
                        line += json_key + "null"
                        continue
                    elif kind is bool:
                        line += json_key + ("true" if value else "false")
                        continue
                    line += json_key + json_value(clean(value))
                line += "}"
            else:
                out: dict[str, Any] = {
                    k_ts: stamp,
                    k_level: clean_level,
                    k_logger: clean_name,
                    k_message: message,
                    k_run: clean_run_id,
                }
                if clean_parent_id is not None:
                    out[k_parent] = clean_parent_id
                if trace is not None:
                    out[k_trace], out[k_span] = trace
                if event_type is not None:
                    out[k_event_type] = event_type
                if fixed_fields:
                    place_fixed(out, attrs)
                for key, out_key in entries:
                    if key is None:  # a secret-looking key: the value is never read
                        out[out_key] = REDACTED
                        continue
                    value = attrs[key]
                    kind = type(value)
                    if kind is str:
                        if len(value) > limit:
                            value = clean(value)
                    elif kind is int:
                        if not low < value < high:
                            value = clean(value)
                    elif kind is float:
                        if not NEG_INF < value < INF:  # NaN and the infinities
                            value = clean(value)
                    elif not (kind is bool or value is None):
                        value = clean(value)
                    out[out_key] = value
                if trailing:
                    place_trailing(out, record)
                line = dumps(out).decode() if dumps is not None else encode(out)
            if not line.isascii():
                if check_line and not encodable(line):
                    return general(record)
                line = escape_line_separators(line)
            elif check_line and "\\ud" in line:
                return general(record)
        except Exception:  # the general path reports odd values in the line itself
            return general(record)
        return formatter.prefix + line

    return format_fast


def _know_fields(formatter: FormatterView, seen: tuple[Any, Any, Any, Any]) -> _Known:
    """Check the recurring fields (and encode them for the direct JSON path).

    ``seen`` is ``(levelname, logger name, run_id, parent_run_id)`` as the record has
    them (the run id may be the :class:`RunStamp`, whose text it is). They are remembered
    for the next records only when they are strings (or no parent), which cannot change
    while they compare equal.
    """
    level, name, run_id, parent_id = seen
    if type(run_id) is RunStamp:  # it stands for its id, and equals the id as a key
        run_id = run_id.id
    checked = formatter._checked
    clean_level = checked(level)
    clean_name = checked(name)
    clean_run_id = checked(run_id)
    clean_parent_id = checked(parent_id) if parent_id is not None else None
    json_head = json_run = ""
    if formatter._json_string is not None:
        value = formatter._json_value
        j_level, j_logger, j_message, j_run, j_parent = formatter._json_keys
        json_head = j_level + value(clean_level) + j_logger + value(clean_name) + j_message
        json_run = j_run + value(clean_run_id)
        if clean_parent_id is not None:
            json_run += j_parent + value(clean_parent_id)
    cacheable = (
        type(level) is str
        and type(name) is str
        and type(run_id) is str
        and (parent_id is None or type(parent_id) is str)
    )
    return (
        seen if cacheable else _UNSEEN,
        clean_level,
        clean_name,
        clean_run_id,
        clean_parent_id,
        json_head,
        json_run,
    )


def _plan_layout(formatter: FormatterView, keys: tuple[Any, ...]) -> Plan | bool:
    """Work out, once per record layout, which attributes are extras and their keys.

    False sends records of this layout to the general path: a key that needs cleaning
    (its clean form could collide with another key), or more keys than ``max_keys``
    could allow. Writing JSON directly is also ruled out when an extra's key is met
    twice (the dict would keep one; a line would repeat it).
    """
    skip = formatter._skip
    rename = formatter.rename_fields
    hide = formatter._secret_sources
    # With the exception's and the stack's keys, which collide only on records that
    # have them: the general path looks at each record.
    reserved = formatter._reserved | formatter._trailing_keys
    entries: list[tuple[str | None, str]] = []
    plan: Plan | bool = False
    for key in keys:
        if type(key) is not str:
            break
        if key in skip or key[:1] == "_":
            continue
        out_key = rename.get(key, key) if rename else key
        if type(out_key) is not str:
            break
        name, secret = formatter.sanitizer.clean_key(out_key)
        if name != out_key or name in reserved:  # reserved: moved under COLLIDED
            break
        entries.append((None if secret or key in hide else key, name))
    else:
        max_keys = formatter._max_keys
        if max_keys is None or len(formatter._fixed_keys) + len(entries) <= max_keys:
            plan = (tuple(entries), _json_entries(formatter, entries))
    plans = formatter._plans
    if len(plans) >= _PLAN_CACHE_LIMIT:
        plans.clear()
    plans[keys] = plan
    return plan


def _json_entries(formatter: FormatterView, entries: list[tuple[str | None, str]]) -> _JsonEntries:
    """The entries with their JSON key parts, if this layout can be written directly."""
    string = formatter._json_string
    if string is None or not formatter._json_direct:
        return None
    names = [name for _, name in entries]
    if len(set(names)) != len(names) or not set(names).isdisjoint(formatter._fixed_keys):
        return None
    return tuple((key, "," + string(name) + ":") for key, name in entries)
