"""How the sanitizer sees one value: a JSON scalar, text, or a container to open.

:meth:`ValueClassifier._leaf` answers for any value with its clean form, or with the
:class:`Kind` of container the walk (``_sanitize_walk``) must open. Checks are on the exact
type, so a spoofed ``__class__`` is moot, and every call into user code is guarded by the
caller.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import operator
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._sanitize_text import TextCleaner

__all__ = [
    "DATACLASS",
    "MAPPING",
    "SEQUENCE",
    "SET",
    "Kind",
    "Replacement",
    "ValueClassifier",
]

_TRUNCATED_BYTES = "…[truncated {} bytes]"
# Bytes beyond 4 * max_string that binary data may have before it is cut undecoded: room
# for a multi-byte character split at the cut (see ValueClassifier._binary_text).
_BINARY_SLACK = 16
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
# Types known by module and name rather than imported: an instance can only exist once its
# module is imported, and not importing decimal, numbers... keeps `import runlogger` fast.
_TEXT_TYPES = (("decimal", "Decimal"), ("uuid", "UUID"), ("pathlib", "PurePath"))
_INTEGRAL_TYPES = (("numbers", "Integral"),)


class Kind:
    """Marks a value as a container the walk must open, and which way to open it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


MAPPING = Kind("mapping")
SEQUENCE = Kind("sequence")
SET = Kind("set")
DATACLASS = Kind("dataclass")


class Replacement:
    """A container returned by the ``fallback`` hook: the walk opens it instead of the value."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: Kind, value: object) -> None:
        self.kind = kind
        self.value = value


class ValueClassifier(TextCleaner):
    """Turn each non-container into its JSON-safe form and name the containers.

    ``fallback`` is the ``default`` hook of ``json.dumps`` (see :class:`~runlogger._sanitize.
    Sanitizer`); it is asked only about values JSON has no type for.
    """

    def __init__(self, *, fallback: Callable[[Any], object] | None, **limits: Any) -> None:
        if fallback is not None and not callable(fallback):
            raise TypeError(f"fallback must be a callable or None, not {type(fallback).__name__}.")
        self._fallback = fallback
        super().__init__(**limits)

    def _leaf(self, value: Any) -> object:
        """Return the clean form of a non-container, or the :class:`Kind` of a container."""
        try:
            kind = type(value)
            if kind is str:
                return self.clean_text(value)
            if kind is int:
                return value if self._int_low < value < self._int_high else self._big_int(value)
            if kind is float:
                return value if value - value == 0.0 else non_finite(value)
            if kind is bool or value is None:
                return value
            if kind is dict:
                return MAPPING
            if kind is list or kind is tuple:
                return SEQUENCE
            return self._other(value, kind)
        except Exception:
            return self._safe_repr(value)

    def _other(self, value: Any, kind: type[Any], use_fallback: bool = True) -> object:
        """Classify the uncommon types; type-based checks so a spoofed ``__class__`` is moot.

        Subclasses of JSON's own types are never given to ``fallback``, as with ``json.dumps``.
        """
        if issubclass(kind, (str, int, float)):
            if issubclass(kind, enum.Enum):  # IntEnum, StrEnum: the value, as json.dumps does
                return self._enum(value)
            if issubclass(kind, str):
                return self.clean_text(str.__str__(value))
            if issubclass(kind, int):  # int.__int__ gives an exact int, bypassing overrides
                return self._leaf(int.__int__(value))
            return self._leaf(float.__float__(value))
        if issubclass(kind, dict):
            return MAPPING
        if issubclass(kind, (list, tuple)):
            return SEQUENCE
        if use_fallback and self._fallback is not None:
            try:
                replacement = self._fallback(value)
            except Exception:  # "not mine": use the built-in conversions below
                pass
            else:
                return self._replaced(replacement)
        if issubclass(kind, enum.Enum):
            return self._enum(value)
        if issubclass(kind, (set, frozenset)):
            return SET
        if issubclass(kind, (bytes, bytearray, memoryview)):
            return self._binary_text(value)
        if issubclass(kind, (datetime.date, datetime.time)):
            return self.clean_text(value.isoformat())
        shown_as_text = _loaded_types(_TEXT_TYPES)
        if shown_as_text and issubclass(kind, shown_as_text):
            return self.clean_text(str(value))
        if issubclass(kind, BaseException):
            return self._error_text(value)  # "TypeName: message", as tracebacks end
        if dataclasses.is_dataclass(kind):
            return DATACLASS
        if issubclass(kind, Mapping):
            return MAPPING
        integral = _loaded_types(_INTEGRAL_TYPES)
        if integral and issubclass(kind, integral):  # numpy integers and friends
            return self._leaf(operator.index(value))
        # Any other iterable may be a one-shot iterator: iterating it would consume the
        # caller's data, so it is shown, not walked.
        return self._safe_repr(value)

    def _binary_text(self, value: bytes | bytearray | memoryview) -> str:
        """Binary data as UTF-8 text with backslash escapes, cut before it is decoded.

        Decoding 50 MB to keep 16 KiB of it took seconds, so a value of more than
        ``4 * max_string`` bytes is cut first (it decodes to more characters than the limit
        whatever it holds: a byte gives at least a quarter of a character) and its marker
        counts the bytes left out, ``…[truncated N bytes]``. Shorter values decode whole
        and are truncated like any text, so they log exactly as before.
        """
        data: bytes | bytearray | memoryview = value
        if isinstance(value, memoryview):
            try:
                data = value.cast("B")  # a flat view: slicing it copies nothing
            except (TypeError, ValueError):  # not contiguous: only a copy is flat
                data = value.tobytes()
        limit = self._max_string
        size = len(data)
        window = 4 * limit + _BINARY_SLACK if limit is not None else size
        if size <= window:
            return self.clean_text(str(data, "utf-8", "backslashreplace"))
        assert limit is not None
        head = data[:window]
        # At least limit + 4 characters: the ones kept come whole, before whatever
        # the cut at `window` split (up to 3 bytes, shown as escapes at the very end).
        shown = str(head, "utf-8", "backslashreplace")
        keep = limit - len(_TRUNCATED_BYTES.format(size))
        kept = shown[:keep]
        return kept + _TRUNCATED_BYTES.format(size - _bytes_shown(head, keep))

    def _enum(self, member: enum.Enum) -> object:
        """An enum member logs as its value when that is a JSON scalar, else as its name."""
        value = member.value
        if type(value) in _SCALAR_TYPES:
            return self._leaf(value)
        return self.clean_text(str(member))

    def _replaced(self, value: object) -> object:
        """Clean what ``fallback`` returned without asking it again, so it cannot loop."""
        kind = type(value)
        if kind in _SCALAR_TYPES:
            return self._leaf(value)
        if kind is dict:
            return Replacement(MAPPING, value)
        if kind is list or kind is tuple:
            return Replacement(SEQUENCE, value)
        result = self._other(value, kind, use_fallback=False)
        return Replacement(result, value) if isinstance(result, Kind) else result


def _loaded_types(names: tuple[tuple[str, str], ...]) -> tuple[type, ...]:
    """The classes among ``names`` whose modules are imported (the others have no instances)."""
    found: list[type] = []
    for module_name, class_name in names:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _bytes_shown(head: bytes | bytearray | memoryview, keep: int) -> int:
    """How many bytes of ``head`` the first ``keep`` characters of its decoding show whole.

    The backslash-escaped decoding shows each undecodable byte as 4 characters (``\\xff``)
    and each character as itself; decoding with ``surrogateescape`` finds the same bytes
    undecodable but gives one character for each, so the two line up character for
    character. An escape cut in the middle shows its byte only in part: not counted.
    """
    text = str(head, "utf-8", "surrogateescape")
    if text.isascii():
        return min(keep, len(text))
    try:
        return len(text[:keep].encode("utf-8"))  # no undecodable byte among them
    except UnicodeEncodeError:
        pass
    shown = used = 0
    for char in text:
        width = 4 if "\udc80" <= char <= "\udcff" else 1
        if shown + width > keep:
            break
        shown += width
        used += 1 if width == 4 else len(char.encode("utf-8"))
    return used


def non_finite(value: float) -> str:
    """Spell NaN and infinities the way JavaScript and most JSON readers do."""
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
