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
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pythonjsonlogger.core import BaseJsonFormatter
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from ._context import current_var
from ._errors import MissingBackendError
from ._formatter_fast import INF, NEG_INF, Plan, build_fast_format
from ._jsonline import escape_line_separators, last_resort, one_shot_encoder
from ._outcome import qualified_name
from ._process_run import ensure_process_run
from ._sanitize import (
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_STRING,
    DEFAULT_SECRET_KEYS,
    REDACTED,
    Sanitizer,
)
from ._schemas import SCHEMAS, ecs_event, otel_event
from ._stamp import RunStamp, run_fields, stamp_of
from ._timefmt import utc_timestamp
from ._trace import TRACE, current_trace

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

    Why this class stays longer than 200 lines: it is python-json-logger's formatter, whose
    options and hooks (``process_log_record``, ``jsonify_log_record``, ...) users subclass
    and configure on one class, so its construction, encoders and general path stay here;
    no method is over ~120 lines, and the one-pass path is a module of its own
    (:mod:`runlogger._formatter_fast`).
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
        self._plans: dict[tuple[Any, ...], Plan | bool] = {}
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
        one_shot = one_shot_encoder(encoder)
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
        checked once per record layout. The path itself, and its invariant (the general
        path's bytes for every record it accepts), are in :mod:`runlogger._formatter_fast`.
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
        return build_fast_format(self)

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
            if NEG_INF < value < INF:
                return value
        elif kind is bool or value is None:
            return value
        return self._clean_value(value)

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
        return line if line.isascii() else escape_line_separators(line)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Serialize with the chosen backend; on any failure, with a last-resort encoder."""
        try:
            return self._encode(log_data)
        except Exception:
            return last_resort(log_data, self.sanitizer)


def _hostname() -> str:
    """The host's name, from the process run (looked up once there)."""
    return ensure_process_run().host


def _trace_fields(attrs: dict[str, Any]) -> Any:
    """``(trace_id, span_id)`` of a record: left by RunContextFilter, else looked up now
    (no filter ran: fileConfig); None where no span is current (see runlogger._trace)."""
    if stamp_of(attrs) is not None:
        return attrs.get(TRACE)
    return current_trace(current_var.get() or ensure_process_run())


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
