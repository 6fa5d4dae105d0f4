"""JSON text helpers shared by the formatter's paths: encoding once, one line per event.

The stdlib C encoder built once instead of per call, the last-resort serialization of what
a backend refused, and the escapes that keep an event on one line for every line splitter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._sanitize import Sanitizer

__all__ = ["encodable", "escape_line_separators", "last_resort", "one_shot_encoder"]


#: Characters JSON allows raw in strings that ``str.splitlines()`` (U+0085, U+2028, U+2029)
#: and JavaScript (U+2028, U+2029) take for line breaks.
_LINE_SEPARATORS = (("\x85", "\\u0085"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def escape_line_separators(line: str) -> str:
    """Escape U+0085, U+2028 and U+2029, so that a reader splitting lines sees one event.

    They can only occur inside JSON strings, where ``\\u2028`` means the same.
    """
    for separator, escaped in _LINE_SEPARATORS:
        if separator in line:
            line = line.replace(separator, escaped)
    return line


def encodable(line: str) -> bool:
    """Whether ``line`` is valid UTF-8 text: it holds no lone surrogate."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def one_shot_encoder(encoder: Any) -> Callable[[Any], str] | None:
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


def last_resort(log_data: dict[str, Any], sanitizer: Sanitizer) -> str:
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
