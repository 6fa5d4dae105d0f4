"""RunJsonFormatter: one JSON object per record, run fields included, never failing.

It is a ``pythonjsonlogger.json.JsonFormatter``, so its documented options
(``rename_fields``, ``static_fields``, ``reserved_attrs``, ``defaults``, ``json_default``,
``prefix``, …) work as there; ``format`` is rewritten for speed and safety: the keys are
laid out once at construction, the timestamp is cached per second, values go through
:class:`~runlogger._sanitize.Sanitizer`, and serialization can use orjson.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from ._context import _current, ensure_process_run, qualified_name
from ._errors import MissingBackendError
from ._sanitize import (
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_STRING,
    DEFAULT_SECRET_KEYS,
    Sanitizer,
)
from ._timefmt import utc_timestamp

__all__ = ["BACKENDS", "RunJsonFormatter"]

BACKENDS = ("auto", "json", "orjson")

#: The keys every event starts with, in this order (before renaming).
_CORE_KEYS = ("timestamp", "level", "logger", "message", "run_id")
#: Record attributes the formatter places itself, so they are not repeated as extras.
_PLACED_ATTRS = frozenset(
    {"run_id", "parent_run_id", "event_type", "exc_info", "exc_text", "stack_info", "message"}
)


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
        **kwargs: Any,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}.")
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
        self._keys = tuple(rename(key, key) for key in _CORE_KEYS)
        self._key_parent = rename("parent_run_id", "parent_run_id")
        self._key_event_type = rename("event_type", "event_type")
        self._key_exc_info = rename("exc_info", "exc_info")
        self._key_exc_type = rename("exc_type", "exc_type")
        self._key_stack_info = rename("stack_info", "stack_info")
        # Fields named in fmt, other than the ones placed anyway.
        self._fmt_fields = tuple(
            field
            for field in self._required_fields
            if field not in _PLACED_ATTRS and field not in _CORE_KEYS
        )
        self._needs_asctime = "asctime" in self._required_fields
        skip = set(self._skip_fields) | _PLACED_ATTRS
        self._skip = frozenset(skip)
        self._static = tuple((rename(k, k), v) for k, v in self.static_fields.items())
        self._defaults = tuple((rename(k, k), v) for k, v in self.defaults.items())
        self._encode = self._make_encoder()

    def _make_encoder(self) -> Callable[[dict[str, Any]], str]:
        if self.backend == "orjson":
            orjson = self._orjson
            option = orjson.OPT_INDENT_2 if self.json_indent else 0
            dumps = orjson.dumps
            default = self.json_default

            def encode_orjson(data: dict[str, Any]) -> str:
                return dumps(data, default=default, option=option).decode("utf-8")  # type: ignore[no-any-return]

            if self.json_ensure_ascii:
                ascii_encoder = self._stdlib_encoder()

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
        return self._stdlib_encoder()

    def _stdlib_encoder(self) -> Callable[[dict[str, Any]], str]:
        # Sanitized data is acyclic and NaN-free: no circular check, strict floats.
        encoder_cls = self.json_encoder if self.json_encoder is not None else json.JSONEncoder
        return encoder_cls(
            ensure_ascii=self.json_ensure_ascii,
            allow_nan=False,
            check_circular=False,
            separators=(",", ":") if self.json_indent is None else None,
            indent=self.json_indent,
            default=self.json_default,
        ).encode

    # formatting --------------------------------------------------------------------------
    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON object (never raises for odd values)."""
        attrs = record.__dict__
        msg = record.msg
        message_dict: dict[str, Any] | None = None
        if isinstance(msg, dict):
            message_dict = dict(msg)
            message = ""
        else:
            message = record.getMessage()
        record.message = message
        if self._needs_asctime:
            record.asctime = self.formatTime(record, self.datefmt)

        run_id = attrs.get("run_id")
        if run_id is None:
            run = _current.get() or ensure_process_run()
            run_id = run.run_id
            parent_id = run.parent.run_id if run.parent is not None else None
        else:
            parent_id = attrs.get("parent_run_id")

        k_ts, k_level, k_logger, k_message, k_run = self._keys
        data: dict[str, Any] = {
            k_ts: utc_timestamp(record.created),
            k_level: record.levelname,
            k_logger: record.name,
            k_message: message,
            k_run: run_id,
        }
        if parent_id is not None:
            data[self._key_parent] = parent_id
        event_type = attrs.get("event_type")
        if event_type is not None:
            data[self._key_event_type] = event_type
        for key, value in self._defaults:
            data.setdefault(key, value)
        for field in self._fmt_fields:
            data[self._get_rename(field)] = attrs.get(field)
        for key, value in self._static:
            data[key] = value
        if message_dict is not None:
            for key, value in message_dict.items():
                data[self._get_rename(key)] = value
        skip = self._skip
        rename = self.rename_fields
        for key, value in attrs.items():
            if key not in skip and key[:1] != "_":
                data[rename.get(key, key) if rename else key] = value
        if record.exc_info:
            data[self._key_exc_info] = self.formatException(record.exc_info)
            exc_class = record.exc_info[0]
            if exc_class is not None:
                data[self._key_exc_type] = qualified_name(exc_class)
        elif record.exc_text:
            data[self._key_exc_info] = record.exc_text
        if record.stack_info:
            data[self._key_stack_info] = self.formatStack(record.stack_info)
        if self.rename_fields_keep_missing:
            for renamed in self.rename_fields.values():
                data.setdefault(renamed, None)

        data = self.process_log_record(data)
        return self.serialize_log_record(self.sanitizer.clean_fields(data))

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Serialize with the chosen backend; on any failure, with a last-resort encoder."""
        try:
            return self._encode(log_data)
        except Exception:
            return _last_resort(log_data, self.sanitizer)


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
