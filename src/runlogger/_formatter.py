"""RunJsonFormatter: one JSON object per record, run fields included, never failing.

It is a ``pythonjsonlogger.json.JsonFormatter``, so its documented options
(``rename_fields``, ``static_fields``, ``reserved_attrs``, ``defaults``, ``json_default``,
``prefix``, …) work as there; ``format`` is rewritten for speed and safety. The general
path (:meth:`RunJsonFormatter._format_general`) builds the event, lets
``process_log_record`` see it and has :class:`~runlogger._sanitize.Sanitizer` clean it.
Formatting runs for every record, so ``format`` first tries a one-pass path that gives the
same line for less: which attributes are extras, and whether their keys are clean, is
worked out once per record layout (a "plan"); values are type-checked as they are placed
and cleaned only when they need it; orjson gets the event dict, and with the stdlib
``json`` the line is written directly from pre-encoded key parts, which costs half of
what ``json``'s C encoder does for a small event.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pythonjsonlogger.core import BaseJsonFormatter
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from ._context import _current, ensure_process_run, qualified_name
from ._errors import MissingBackendError
from ._sanitize import (
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_STRING,
    DEFAULT_SECRET_KEYS,
    REDACTED,
    Sanitizer,
)
from ._schemas import SCHEMAS, ecs_event, otel_event
from ._stamp import STAMP, RunStamp, run_fields, stamp_of
from ._timefmt import micros_z_table, milli_prefix, utc_timestamp
from ._trace import TRACE, TRACE_MODULE, current_trace

__all__ = ["BACKENDS", "COLLIDED", "RunJsonFormatter"]

BACKENDS = ("auto", "json", "orjson")

#: The keys every event starts with, in this order (before renaming).
_CORE_KEYS = ("timestamp", "level", "logger", "message", "run_id")
#: Record attributes the formatter places itself, so they are not repeated as extras.
_PLACED_ATTRS = frozenset(
    {"run_id", "parent_run_id", "event_type", "exc_info", "exc_text", "stack_info", "message"}
)
#: Where fields that would replace one of runlogger's own go (``extra={"level": ...}``).
COLLIDED = "extra"
_ABSENT = object()
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
#: What :meth:`RunJsonFormatter._plan` works out once per record layout; False sends the
#: layout to the general path.
_Plan = tuple[_Entries, _JsonEntries]
#: The recurring fields as last seen, ``(levelname, logger name, run_id, parent_run_id)``
#: or ``_UNSEEN``; their checked values; the JSON around the message for the direct path.
_Known = tuple[Any, Any, Any, Any, Any, str, str]
_UNSEEN = (object(),)
_INF = float("inf")
_NEG_INF = -_INF
_int_repr = int.__repr__
_float_repr = float.__repr__


def _orjson_module() -> Any:
    try:
        import orjson
    except ImportError:
        raise MissingBackendError(
            "backend='orjson' needs the orjson package: pip install 'runlogger[fast]'."
        ) from None
    return orjson


class RunJsonFormatter(JsonFormatter):
    """Format each record as one line of JSON carrying its run id.

    Keeps the stdlib positional signature ``(fmt, datefmt, style, validate)`` so that
    ``fileConfig`` can build it; everything else is keyword-only. Without a
    :class:`~runlogger.RunContextFilter` (``fileConfig`` has no filters) it adds the run
    fields itself from the calling context.

    Options beyond python-json-logger's:

    - ``backend``: ``"auto"`` (orjson when installed, else ``json``), ``"json"`` or
      ``"orjson"``; the output is the same JSON either way.
    - ``max_string``: longest string kept (characters, marker included); ``None``: no limit.
    - ``max_keys``: most keys kept per object; ``None``: no limit.
    - ``secret_keys``: key fragments whose values are redacted at any depth;
      ``None`` or ``()`` turns redaction off.
    - ``schema``: ``"default"`` (runlogger's field names, above), ``"ecs"`` (Elastic Common
      Schema) or ``"otel"`` (OpenTelemetry's log data model): the same event under the
      names a log platform ingests without a pipeline (see :mod:`runlogger._schemas`).

    ``json_ensure_ascii`` defaults to False here (UTF-8 out, as orjson writes).
    """

    def __init__(
        self,
        fmt: str | Sequence[str] | None = None,
        datefmt: str | None = None,
        style: str = "%",
        validate: bool = True,
        *,
        backend: str = "auto",
        max_string: int | None = DEFAULT_MAX_STRING,
        max_keys: int | None = DEFAULT_MAX_KEYS,
        secret_keys: Iterable[str] | None = DEFAULT_SECRET_KEYS,
        json_ensure_ascii: bool = False,
        schema: str = "default",
        **kwargs: Any,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}.")
        if schema not in SCHEMAS:
            raise ValueError(f"schema must be one of {', '.join(SCHEMAS)}, not {schema!r}.")
        if schema != "default" and kwargs.get("rename_fields"):
            raise ValueError(
                f"rename_fields cannot be combined with schema={schema!r}: the schema names "
                "the fields."
            )
        self.schema = schema
        self._to_schema: Callable[[dict[str, Any], logging.LogRecord, str], dict[str, Any]]
        self._to_schema = ecs_event if schema == "ecs" else otel_event
        super().__init__(
            fmt, datefmt, style, validate, json_ensure_ascii=json_ensure_ascii, **kwargs
        )
        user_default = kwargs.get("json_default")
        user_encoder = kwargs.get("json_encoder")
        fallback: Callable[[Any], Any] | None = user_default
        if fallback is None and user_encoder is not None and user_encoder is not JsonEncoder:
            fallback = user_encoder().default
        self.sanitizer = Sanitizer(
            max_string=max_string, max_keys=max_keys, secret_keys=secret_keys, fallback=fallback
        )
        self.backend = self._choose_backend(backend, kwargs)
        self._prepare_layout()
        ensure_process_run()

    # construction ------------------------------------------------------------------------
    def _choose_backend(self, backend: str, kwargs: dict[str, Any]) -> str:
        custom_serializer = kwargs.get("json_serializer", json.dumps) is not json.dumps
        if backend == "orjson":
            self._orjson = _orjson_module()
            return "orjson"
        if backend == "auto" and not custom_serializer:
            try:
                self._orjson = _orjson_module()
            except MissingBackendError:
                return "json"
            return "orjson"
        return "json"

    def _prepare_layout(self) -> None:
        rename = self.rename_fields.get
        # Fields whose own name looks secret but whose new name does not (``password``
        # renamed ``pw``): they are redacted by the name they came with.
        is_secret = self.sanitizer.is_secret
        self._secret_sources = frozenset(
            key
            for key, new in self.rename_fields.items()
            if type(key) is str and key != new and is_secret(key)
        )
        hide = self._secret_sources
        self._keys = tuple(rename(key, key) for key in _CORE_KEYS)
        self._key_parent = rename("parent_run_id", "parent_run_id")
        self._key_event_type = rename("event_type", "event_type")
        self._key_exc_info = rename("exc_info", "exc_info")
        self._key_exc_type = rename("exc_type", "exc_type")
        self._key_stack_info = rename("stack_info", "stack_info")
        self._key_trace = rename("trace_id", "trace_id")
        self._key_span = rename("span_id", "span_id")
        #: The keys runlogger writes itself: a field by one of these names goes under
        #: COLLIDED instead of replacing it (the trailing ones only when they are written:
        #: RunQueueHandler passes exc_type on as a field of a record without exc_info; the
        #: trace ids only on records logged in a span).
        self._reserved = frozenset((*self._keys, self._key_parent, self._key_event_type))
        self._trailing_keys = frozenset(
            (
                self._key_exc_info,
                self._key_exc_type,
                self._key_stack_info,
                self._key_trace,
                self._key_span,
            )
        )
        # Fields named in fmt, other than the ones placed anyway, with their event keys.
        self._fmt_keys = tuple(
            (field, rename(field, field))
            for field in self._required_fields
            if field not in _PLACED_ATTRS and field not in _CORE_KEYS
        )
        self._needs_asctime = "asctime" in self._required_fields
        skip = set(self._skip_fields) | _PLACED_ATTRS
        self._skip = frozenset(skip)
        self._static = tuple(
            (rename(k, k), REDACTED if k in hide else v) for k, v in self.static_fields.items()
        )
        self._defaults = tuple(
            (rename(k, k), REDACTED if k in hide else v) for k, v in self.defaults.items()
        )
        self._keep_missing = tuple(self.rename_fields.values())
        self._json_string: Callable[[str], str] | None = None
        self._encode = self._make_encoder()
        self._prepare_fast_path()

    def _prepare_fast_path(self) -> None:
        """Set up what :meth:`format`'s one-pass path needs (see :meth:`_make_fast_format`)."""
        sanitizer = self.sanitizer
        self._limit, self._int_low, self._int_high = sanitizer.scalar_bounds
        self._max_keys = sanitizer.max_keys
        self._clean_value = sanitizer.clean_value
        self._plans: dict[tuple[Any, ...], _Plan | bool] = {}
        self._fixed_keys = (
            *self._keys,
            self._key_parent,
            self._key_event_type,
            *(key for key, _ in self._defaults),
            *(key for _, key in self._fmt_keys),
            *(key for key, _ in self._static),
            self._key_exc_info,
            self._key_exc_type,
            self._key_stack_info,
            self._key_trace,
            self._key_span,
            *(self._keep_missing if self.rename_fields_keep_missing else ()),
        )
        # Writing JSON directly needs the stdlib C encoder's exact output to match, and
        # only covers the core fields, the run fields and the extras.
        self._json_direct = self._json_string is not None and not (
            self._defaults or self._fmt_keys or self._static or self.rename_fields_keep_missing
        )
        self._json_keys = ("", "", "", "", "")
        string = self._json_string
        if string is not None:
            self._json_keys = (
                '",' + string(self._keys[1]) + ":",
                "," + string(self._keys[2]) + ":",
                "," + string(self._keys[3]) + ":",
                "," + string(self._keys[4]) + ":",
                "," + string(self._key_parent) + ":",
            )
        fast_format = self._make_fast_format()
        self._fast_format = fast_format or self._format_general
        if fast_format is not None and type(self).format is RunJsonFormatter.format:
            self.__dict__["format"] = fast_format

    def _plain_orjson_dumps(self) -> Callable[[Any], bytes] | None:
        """``orjson.dumps`` when the encoder is just that (and a decode), else None."""
        plain = self.json_default is None and not self.json_indent and not self.json_ensure_ascii
        return self._orjson.dumps if self.backend == "orjson" and plain else None

    def _make_encoder(self) -> Callable[[dict[str, Any]], str]:
        if self.backend == "orjson":
            orjson = self._orjson
            option = orjson.OPT_INDENT_2 if self.json_indent else 0
            dumps = orjson.dumps
            default = self.json_default

            if default is None and not option:

                def encode_orjson(data: dict[str, Any]) -> str:
                    return dumps(data).decode()  # type: ignore[no-any-return]

            else:

                def encode_orjson(data: dict[str, Any]) -> str:
                    return dumps(data, default=default, option=option).decode()  # type: ignore[no-any-return]

            if self.json_ensure_ascii:
                ascii_encoder, _ = self._stdlib_encoder()

                def encode_orjson_ascii(data: dict[str, Any]) -> str:
                    text = encode_orjson(data)
                    return text if text.isascii() else ascii_encoder(data)

                return encode_orjson_ascii
            return encode_orjson
        if self.json_serializer is not json.dumps:
            serializer = self.json_serializer
            cls, default, indent = self.json_encoder, self.json_default, self.json_indent
            ensure_ascii = self.json_ensure_ascii

            def encode_custom(data: dict[str, Any]) -> str:
                return serializer(  # type: ignore[no-any-return]
                    data, default=default, cls=cls, indent=indent, ensure_ascii=ensure_ascii
                )

            return encode_custom
        encoder, one_shot = self._stdlib_encoder()
        if one_shot:  # the direct path writes JSON exactly as this C encoder does
            self._json_string = (
                json.encoder.encode_basestring_ascii
                if self.json_ensure_ascii
                else json.encoder.encode_basestring
            )
        return encoder

    def _stdlib_encoder(self) -> tuple[Callable[[Any], str], bool]:
        """The stdlib encoder for clean events, and whether it is the C one built once.

        Sanitized data is acyclic and NaN-free: no circular check, strict floats.
        """
        encoder_cls = self.json_encoder if self.json_encoder is not None else json.JSONEncoder
        encoder = encoder_cls(
            ensure_ascii=self.json_ensure_ascii,
            allow_nan=False,
            check_circular=False,
            separators=(",", ":") if self.json_indent is None else None,
            indent=self.json_indent,
            default=self.json_default,
        )
        one_shot = _one_shot_encoder(encoder)
        if one_shot is not None:
            return one_shot, True
        return encoder.encode, False

    # formatting --------------------------------------------------------------------------
    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON object (never raises for odd values).

        Records with a string message take the one-pass path (see the module docstring
        and :meth:`_make_fast_format`); it gives the same line as :meth:`_format_general`,
        and tests hold it to that. (Unless a subclass overrides this method, the instance
        attribute ``format`` is that path itself, saving a call per record.)
        """
        return self._fast_format(record)

    def _make_fast_format(self) -> Callable[[logging.LogRecord], str] | None:
        """Build the one-pass path, or None when this formatter cannot use it.

        It cannot when a subclass hook has to see the raw event or its cleaned form, or a
        key it writes besides the extras needs cleaning or looks secret; the extras are
        checked once per record layout by :meth:`_plan`. It is a closure so that what it
        reads on every record -- settings, pre-encoded keys, the last layout seen -- is a
        local of its own rather than an attribute of the formatter. Whatever it does not
        cover (a key that needs cleaning, a string the encoder refuses, an error) it
        hands to the general path.
        """
        cls = type(self)
        sanitizer = self.sanitizer
        if (
            self.schema != "default"  # a schema renames and nests: the general path's work
            or cls.process_log_record is not BaseJsonFormatter.process_log_record
            or cls.serialize_log_record is not BaseJsonFormatter.serialize_log_record
            or cls.jsonify_log_record is not RunJsonFormatter.jsonify_log_record
            or not all(
                type(key) is str and sanitizer.clean_key(key) == (key, False)
                for key in self._fixed_keys
            )
        ):
            return None
        formatter = self
        plans = self._plans
        plan_for = self._plan
        general = self._format_general
        know = self._know
        place_fixed = self._place_fixed_fields
        place_trailing = self._place_trailing_fields
        json_value = self._json_value
        limit, low, high = self._limit, self._int_low, self._int_high
        clean = self._clean_value
        k_ts, k_level, k_logger, k_message, k_run = self._keys
        k_parent, k_event_type = self._key_parent, self._key_event_type
        k_trace, k_span = self._key_trace, self._key_span
        modules = sys.modules
        needs_asctime = self._needs_asctime
        fixed_fields = bool(self._defaults or self._fmt_keys or self._static)
        keep_missing = bool(self.rename_fields_keep_missing)
        dumps = self._plain_orjson_dumps()
        encode = self._encode
        check_line = self.backend != "orjson"  # orjson refuses lone surrogates itself
        # The direct JSON path's pre-encoded parts (unused, and built with str, without it)
        string = self._json_string or str
        j_ts = "{" + string(k_ts) + ':"'
        j_event_type = "," + string(k_event_type) + ":"
        j_trace, j_span = "," + string(k_trace) + ":", "," + string(k_span) + ":"
        j_redacted = string(REDACTED)
        micros_z = micros_z_table()
        # Caches, each one value swapped whole (atomic for threads): the last record
        # layout and its plan; the last millisecond and its text; the last level, logger
        # and run fields, checked (see _know). And event types that passed the check,
        # recognized by identity.
        last_plan: tuple[tuple[Any, ...], _Entries, _JsonEntries] = (_UNSEEN, (), None)
        last_milli: tuple[int, str] = (-(10**30), "")  # (first microsecond, its text)
        known: _Known = (_UNSEEN, None, None, None, None, "", "")
        event_types: dict[str, str] = {}
        last_trace: tuple[Any, str] = (_UNSEEN, "")  # trace ids and their JSON

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
                last_keys, entries, json_entries = last_plan
                if keys != last_keys:
                    planned = plans.get(keys)
                    plan = plan_for(keys) if planned is None else planned
                    if plan is False:
                        return general(record)
                    entries, json_entries = plan  # type: ignore[misc]
                    last_plan = (keys, entries, json_entries)

                # Strings are only measured here, not scanned: a lone surrogate makes
                # orjson raise, and check_line finds it in the line for the other encoders.
                # The run: stamped by RunContextFilter, else the current one (see
                # runlogger._stamp). A run_id of the caller's own, or a parent_run_id that
                # is not the run's, goes under COLLIDED: the general path's work.
                stamp = attrs.get("run_id")
                if type(stamp) is RunStamp:
                    run_id = stamp.id
                    parent_id = stamp.parent
                elif stamp is None and "run_id" not in attrs and STAMP not in attrs:
                    run = _current.get() or ensure_process_run()
                    run_id = run.run_id
                    parent = run.parent
                    parent_id = parent.run_id if parent is not None else None
                else:
                    return general(record)
                given = attrs.get("parent_run_id", parent_id)
                if given is not parent_id and given != parent_id:
                    return general(record)
                # Trace ids: left by RunContextFilter, else looked up as it would.
                if type(stamp) is RunStamp:
                    trace: Any = attrs.get(TRACE)
                elif TRACE_MODULE in modules or run.trace_id is not None:
                    trace = current_trace(run)
                else:
                    trace = None
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
                    current = known = know(seen)
                _, clean_level, clean_name, clean_run_id, clean_parent_id, json_head, json_run = (
                    current
                )
                event_type = attrs.get("event_type")
                if event_type is not None and event_types.get(event_type) is not event_type:
                    if type(event_type) is str and len(event_type) <= limit:
                        if len(event_types) >= _EVENT_TYPE_CACHE_LIMIT:
                            event_types.clear()
                        event_types[event_type] = event_type  # passed: recognized next time
                    else:
                        event_type = clean(event_type)
                trailing = record.exc_info or record.exc_text or record.stack_info or keep_missing
                # utc_timestamp(record.created), inlined, with the text up to the millisecond
                # cached: records of the same millisecond only look up their microseconds.
                micros = int(record.created * 1_000_000)
                first_micro, stamp = last_milli
                micros -= first_micro
                if not 0 <= micros < 1000:
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
                    if event_type is not None:
                        line += j_event_type + (
                            string(event_type)
                            if type(event_type) is str
                            else json_value(event_type)
                        )
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
                            if _NEG_INF < value < _INF:
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
                            if not _NEG_INF < value < _INF:  # NaN and the infinities
                                value = clean(value)
                        elif not (kind is bool or value is None):
                            value = clean(value)
                        out[out_key] = value
                    if trailing:
                        place_trailing(out, record)
                    line = dumps(out).decode() if dumps is not None else encode(out)
                if not line.isascii():
                    if check_line and not _encodable(line):
                        return general(record)
                    line = _escape_line_separators(line)
                elif check_line and "\\ud" in line:
                    return general(record)
            except Exception:  # the general path reports odd values in the line itself
                return general(record)
            return formatter.prefix + line

        return format_fast

    def _know(self, seen: tuple[Any, Any, Any, Any]) -> _Known:
        """Check the recurring fields (and encode them for the direct JSON path).

        ``seen`` is ``(levelname, logger name, run_id, parent_run_id)`` as the record has
        them. They are remembered for the next records only when they are strings (or no
        parent), which cannot change while they compare equal.
        """
        level, name, run_id, parent_id = seen
        checked = self._checked
        clean_level = checked(level)
        clean_name = checked(name)
        clean_run_id = checked(run_id)
        clean_parent_id = checked(parent_id) if parent_id is not None else None
        json_head = json_run = ""
        if self._json_string is not None:
            value = self._json_value
            j_level, j_logger, j_message, j_run, j_parent = self._json_keys
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

    def _json_value(self, value: Any) -> str:
        """A clean value as the stdlib encoder writes it (for the direct JSON path)."""
        return self._encode(value)

    def _place_fixed_fields(self, out: dict[str, Any], attrs: dict[str, Any]) -> None:
        """Defaults, fields named in ``fmt`` and static fields, in the general order."""
        checked = self._checked
        for key, value in self._defaults:
            if key not in out:
                out[key] = checked(value)
        hide = self._secret_sources
        for field, key in self._fmt_keys:
            out[key] = REDACTED if field in hide else checked(attrs.get(field))
        for key, value in self._static:
            out[key] = checked(value)

    def _place_trailing_fields(self, out: dict[str, Any], record: logging.LogRecord) -> None:
        """The exception, the stack and, with ``rename_fields_keep_missing``, the rest."""
        checked = self._checked
        exc_info = record.exc_info
        if exc_info:
            out[self._key_exc_info] = checked(self.formatException(exc_info))
            exc_class = exc_info[0]
            if exc_class is not None:
                out[self._key_exc_type] = checked(qualified_name(exc_class))
        elif record.exc_text:
            out[self._key_exc_info] = checked(record.exc_text)
        if record.stack_info:
            out[self._key_stack_info] = checked(self.formatStack(record.stack_info))
        if self.rename_fields_keep_missing:
            for renamed in self._keep_missing:
                if renamed not in out:
                    out[renamed] = None

    def _checked(self, value: Any) -> Any:
        """``value`` if it can go out as it is, else its clean form (the rarer fields).

        As in :meth:`format`, a string is only measured: lone surrogates are caught when
        the line is encoded.
        """
        kind = type(value)
        if kind is str:
            if len(value) <= self._limit:
                return value
        elif kind is int:
            if self._int_low < value < self._int_high:
                return value
        elif kind is float:
            if _NEG_INF < value < _INF:
                return value
        elif kind is bool or value is None:
            return value
        return self._clean_value(value)

    def _plan(self, keys: tuple[Any, ...]) -> _Plan | bool:
        """Work out, once per record layout, which attributes are extras and their keys.

        False sends records of this layout to the general path: a key that needs cleaning
        (its clean form could collide with another key), or more keys than ``max_keys``
        could allow. Writing JSON directly is also ruled out when an extra's key is met
        twice (the dict would keep one; a line would repeat it).
        """
        skip = self._skip
        rename = self.rename_fields
        hide = self._secret_sources
        # With the exception's and the stack's keys, which collide only on records that
        # have them: the general path looks at each record.
        reserved = self._reserved | self._trailing_keys
        entries: list[tuple[str | None, str]] = []
        plan: _Plan | bool = False
        for key in keys:
            if type(key) is not str:
                break
            if key in skip or key[:1] == "_":
                continue
            out_key = rename.get(key, key) if rename else key
            if type(out_key) is not str:
                break
            name, secret = self.sanitizer.clean_key(out_key)
            if name != out_key or name in reserved:  # reserved: moved under COLLIDED
                break
            entries.append((None if secret or key in hide else key, name))
        else:
            max_keys = self._max_keys
            if max_keys is None or len(self._fixed_keys) + len(entries) <= max_keys:
                plan = (tuple(entries), self._json_entries(entries))
        plans = self._plans
        if len(plans) >= _PLAN_CACHE_LIMIT:
            plans.clear()
        plans[keys] = plan
        return plan

    def _json_entries(self, entries: list[tuple[str | None, str]]) -> _JsonEntries:
        """The entries with their JSON key parts, if this layout can be written directly."""
        string = self._json_string
        if string is None or not self._json_direct:
            return None
        names = [name for _, name in entries]
        if len(set(names)) != len(names) or not set(names).isdisjoint(self._fixed_keys):
            return None
        return tuple((key, "," + string(name) + ":") for key, name in entries)

    def _format_general(self, record: logging.LogRecord) -> str:
        """Build the raw event, let ``process_log_record`` see it, then sanitize it whole.

        The reference behaviour, and the path for whatever :meth:`format`'s one-pass path
        leaves aside.
        """
        attrs = record.__dict__
        msg = record.msg
        message_dict: dict[str, Any] | None = None
        message = ""
        if isinstance(msg, dict):
            message_dict = dict(msg)
        format_error: str | None = None
        if message_dict is None:
            try:
                message = record.getMessage()
            except Exception as exc:
                # As stdlib would have reached handleError: keep the line, mark the problem.
                message = _template_of(msg)
                format_error = f"{type(exc).__name__}: {_template_of(exc)}"
        record.message = message
        if self._needs_asctime:
            record.asctime = self.formatTime(record, self.datefmt)

        run_id, parent_id = run_fields(attrs)
        k_ts, k_level, k_logger, k_message, k_run = self._keys
        # Fields that would replace runlogger's own: they go under COLLIDED, in this order.
        moved: dict[Any, Any] = {}
        for field, key, ours in (
            ("run_id", k_run, run_id),
            ("parent_run_id", self._key_parent, parent_id),
        ):
            given = attrs.get(field, _ABSENT)
            if given is not _ABSENT and type(given) is not RunStamp and _differs(given, ours):
                moved[key] = given  # the caller's own field, not the record's run
        data: dict[str, Any] = {
            k_ts: utc_timestamp(record.created),
            k_level: record.levelname,
            k_logger: record.name,
            k_message: message,
            k_run: run_id,
        }
        if parent_id is not None:
            data[self._key_parent] = parent_id
        trace = _trace_fields(attrs)
        traced = type(trace) is tuple and len(trace) == 2
        if traced:
            data[self._key_trace], data[self._key_span] = trace
        event_type = attrs.get("event_type")
        if event_type is not None:
            data[self._key_event_type] = event_type
        if format_error is not None:
            data[self._get_rename("format_error")] = format_error
            args = record.args
            data[self._get_rename("args")] = list(args) if isinstance(args, tuple) else args
        for key, value in self._defaults:
            data.setdefault(key, value)
        hide = self._secret_sources
        for field, key in self._fmt_keys:
            data[key] = REDACTED if field in hide else attrs.get(field)
        for key, value in self._static:
            data[key] = value
        trailing: dict[str, Any] = {}
        if record.exc_info:
            trailing[self._key_exc_info] = self.formatException(record.exc_info)
            exc_class = record.exc_info[0]
            if exc_class is not None:
                trailing[self._key_exc_type] = qualified_name(exc_class)
        elif record.exc_text:
            trailing[self._key_exc_info] = record.exc_text
        if record.stack_info:
            trailing[self._key_stack_info] = self.formatStack(record.stack_info)
        # The exception's and the stack's keys are runlogger's only when it writes them.
        reserved = self._reserved.union(trailing) if trailing else self._reserved
        if traced:  # likewise the trace ids: runlogger's only on records logged in a span
            reserved = reserved | {self._key_trace, self._key_span}
        if message_dict is not None:
            for key, value in message_dict.items():
                out_key = self._get_rename(key)
                if out_key in reserved and out_key != k_message:  # a dict's message is the message
                    moved[out_key] = REDACTED if key in hide else value
                else:
                    data[out_key] = REDACTED if key in hide else value
        skip = self._skip
        rename = self.rename_fields
        extras: dict[Any, Any] = {}
        for key, value in attrs.items():
            if key not in skip and (type(key) is not str or key[:1] != "_"):
                out_key = rename.get(key, key) if rename else key
                (moved if out_key in reserved else extras)[out_key] = (
                    REDACTED if key in hide else value
                )
        if moved:
            # Whatever already goes by the name COLLIDED moves in too: nothing is lost.
            earlier = data.pop(COLLIDED, _ABSENT)
            given = extras.pop(COLLIDED, earlier)
            if given is not _ABSENT:
                moved[COLLIDED] = given
            data[COLLIDED] = moved
        max_keys = self.sanitizer.max_keys
        if max_keys is not None and len(data) + len(extras) + len(trailing) > max_keys:
            # Too many extras: the cap keeps the first keys, so the traceback goes first.
            data.update(trailing)
            data.update(extras)
        else:
            data.update(extras)
            data.update(trailing)
        if self.rename_fields_keep_missing:
            for renamed in self.rename_fields.values():
                data.setdefault(renamed, None)

        if self.schema != "default":
            data = self._to_schema(data, record, _hostname())
        data = self.process_log_record(data)
        line = self.serialize_log_record(self.sanitizer.clean_fields(data))
        return line if line.isascii() else _escape_line_separators(line)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Serialize with the chosen backend; on any failure, with a last-resort encoder."""
        try:
            return self._encode(log_data)
        except Exception:
            return _last_resort(log_data, self.sanitizer)


def _hostname() -> str:
    """The host's name, from the process run (looked up once there)."""
    return ensure_process_run().host


def _trace_fields(attrs: dict[str, Any]) -> Any:
    """``(trace_id, span_id)`` of a record: left by RunContextFilter, else looked up now
    (no filter ran: fileConfig); None where no span is current (see runlogger._trace)."""
    if stamp_of(attrs) is not None:
        return attrs.get(TRACE)
    return current_trace(_current.get() or ensure_process_run())


def _differs(given: Any, ours: Any) -> bool:
    """Whether a record's ``run_id``/``parent_run_id`` is not the run's (the caller's own
    field); an odd value whose comparison fails differs. :meth:`format` compares the
    parent alike."""
    try:
        return bool(given is not ours and given != ours)
    except Exception:
        return True


def _template_of(value: object) -> str:
    """``str(value)``, or a placeholder when even that fails."""
    try:
        return str(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


#: Characters JSON allows raw in strings that ``str.splitlines()`` (U+0085, U+2028, U+2029)
#: and JavaScript (U+2028, U+2029) take for line breaks.
_LINE_SEPARATORS = (("\x85", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _escape_line_separators(line: str) -> str:
    """Escape U+0085, U+2028 and U+2029, so that a reader splitting lines sees one event.

    They can only occur inside JSON strings, where ``\\u2028`` means the same.
    """
    for separator, escaped in _LINE_SEPARATORS:
        if separator in line:
            line = line.replace(separator, escaped)
    return line


def _encodable(line: str) -> bool:
    """Whether ``line`` is valid UTF-8 text: it holds no lone surrogate."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _one_shot_encoder(encoder: Any) -> Callable[[Any], str] | None:
    """The C encoder ``encoder.encode`` would build on every call, built once; or None.

    ``JSONEncoder.encode`` creates its C encoder anew for each object, which costs about as
    much as encoding a small event. Only for encoders that do not override ``encode`` or
    ``iterencode`` (``default`` is kept), and only if the result matches ``encode``'s.
    """
    if not isinstance(encoder, json.JSONEncoder) or encoder.indent is not None:
        return None
    cls = type(encoder)
    if (
        cls.encode is not json.JSONEncoder.encode
        or cls.iterencode is not json.JSONEncoder.iterencode
        or json.encoder.c_make_encoder is None
    ):
        return None
    try:
        iterencode = json.encoder.c_make_encoder(
            None,  # markers: check_circular is off
            encoder.default,
            (
                json.encoder.encode_basestring_ascii
                if encoder.ensure_ascii
                else json.encoder.encode_basestring
            ),
            None,
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
        join = "".join

        def encode_one_shot(data: Any) -> str:
            return join(iterencode(data, 0))

        probe: dict[str, Any] = {"a": [1, 2.5, None, True], "é": {"b": "\u2028\n"}}
        if encode_one_shot(probe) != encoder.encode(probe):
            return None
    except Exception:  # a future json module with another signature: use encode()
        return None
    return encode_one_shot


def _last_resort(log_data: dict[str, Any], sanitizer: Sanitizer) -> str:
    """Serialize what a backend refused (huge ints for orjson, a failing json_default)."""
    try:
        return json.dumps(
            sanitizer.clean_value(log_data), ensure_ascii=False, allow_nan=False, default=repr
        )
    except Exception as exc:
        return json.dumps(
            {
                "message": "runlogger could not serialize this record",
                "error": f"{type(exc).__name__}",
                "keys": [str(key) for key in log_data][:50],
            }
        )
