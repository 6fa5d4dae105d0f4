"""Turn arbitrary ``extra`` values into JSON-safe values.

The formatter runs every record's extra fields through :meth:`Sanitizer.clean_fields`, so a
log call can never fail because of what it carries, never leaks a value stored under a
secret-looking key, and never writes an unbounded line. The common case (a flat dict of short
ASCII strings, numbers, booleans and ``None``) stays on a fast path made of exact type checks.
Everything else goes through an iterative walk, so even a 100,000-deep structure cannot
exhaust the stack, and every call into user code (``__repr__``, ``__len__``, ``__iter__``,
``isoformat`` ...) is guarded.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_STRING",
    "DEFAULT_SECRET_KEYS",
    "REDACTED",
    "Sanitizer",
    "clean_attributes",
]

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "session",
    "private_key",
    "credentials",
)
REDACTED = "[REDACTED]"
DEFAULT_MAX_STRING = 16384  # characters per string, truncation marker included
DEFAULT_MAX_KEYS = 1000  # keys per dict and items per list, at every level
DEFAULT_MAX_DEPTH = 32  # container levels inside one value

CYCLE = "[cycle]"
MAX_DEPTH = "[max depth]"
TRUNCATED_KEYS = "_truncated_keys"
ERROR_KEY = "_sanitize_error"

# The marker must fit with room to spare, whatever the number of dropped characters.
_MIN_MAX_STRING = 64
_TRUNCATED_CHARS = "…[truncated {} chars]"
_TRUNCATED_ITEMS = "…[truncated {} items]"
_TRUNCATED_BYTES = "…[truncated {} bytes]"
# Bytes beyond 4 * max_string that binary data may have before it is cut undecoded: room
# for a multi-byte character split at the cut (see Sanitizer._binary_text).
_BINARY_SLACK = 16
# Bounded so a stream of distinct keys cannot grow memory; long keys are not worth caching.
_SECRET_CACHE_LIMIT = 4096
_NAME_CACHE_LIMIT = 4096
_CACHEABLE_KEY_LENGTH = 256
# Ints beyond 10**300 stop being numbers for most JSON readers (doubles overflow near 1e308).
_MAX_INT_DIGITS = 300
# str() of a longer int is quadratic and refused by CPython's default int_max_str_digits.
_MAX_EXACT_INT_DIGITS = 4300
_LOG10_2 = math.log10(2)
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
_NATURALLY_ORDERED = frozenset({str, int, float})
_SEPARATORS = str.maketrans("", "", "-_. :/")
# Types known by module and name rather than imported: an instance can only exist once its
# module is imported, and not importing decimal, numbers... keeps `import runlogger` fast.
_TEXT_TYPES = (("decimal", "Decimal"), ("uuid", "UUID"), ("pathlib", "PurePath"))
_INTEGRAL_TYPES = (("numbers", "Integral"),)
_DONE = object()


class _Kind:
    """Marks a value as a container the walk must open, and which way to open it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_MAPPING = _Kind("mapping")
_SEQUENCE = _Kind("sequence")
_SET = _Kind("set")
_DATACLASS = _Kind("dataclass")


class _Replacement:
    """A container returned by the ``fallback`` hook: the walk opens it instead of the value."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: _Kind, value: object) -> None:
        self.kind = kind
        self.value = value


# One container being filled by the iterative walk: (out, items, is_map, depth, ident,
# dropped). A plain tuple, because building a class instance per container costs more than
# cleaning a small dict.
_Frame = tuple[Any, Iterator[Any], bool, int, int, int]


class Sanitizer:
    """Make values JSON-safe, bounded in size and free of secrets; never raises.

    One instance is meant to be shared by a formatter across threads: its only mutable state
    is two bounded caches, plain dicts whose single operations are atomic.
    """

    def __init__(
        self,
        *,
        max_string: int | None = DEFAULT_MAX_STRING,
        max_keys: int | None = DEFAULT_MAX_KEYS,
        max_depth: int = DEFAULT_MAX_DEPTH,
        secret_keys: Iterable[str] | None = DEFAULT_SECRET_KEYS,
        fallback: Callable[[Any], object] | None = None,
    ) -> None:
        """``fallback`` is the ``default`` hook of ``json.dumps`` (a formatter's
        ``json_default``): it is asked first about any value JSON has no type for, and
        raising (conventionally ``TypeError``) means "use the built-in conversion". What it
        returns is cleaned like any value, but never handed back to it.
        """
        if fallback is not None and not callable(fallback):
            raise TypeError(f"fallback must be a callable or None, not {type(fallback).__name__}.")
        self._fallback = fallback
        self._max_string = _check_limit("max_string", max_string, _MIN_MAX_STRING)
        self._max_keys = _check_limit("max_keys", max_keys, 1)
        self._max_depth = _check_int("max_depth", max_depth, 1, "an int >= 1")
        self._secret_keys = _check_secret_keys(secret_keys)
        self._secret_cache: dict[str, bool] = {}
        # Raw str key -> its clean name, for keys known not to be secret: one dict lookup
        # answers both "is this key already clean?" and "must its value be redacted?".
        self._names: dict[str, str] = {}
        # The str keys among those that are their own clean name: a dict whose keys all are
        # can be copied whole (see clean_fields).
        self._plain_names: set[str] = set()
        # The fast path compares lengths without a None check.
        self._fast_limit = sys.maxsize if self._max_string is None else self._max_string
        digits = _MAX_INT_DIGITS
        if self._max_string is not None:
            digits = min(digits, self._max_string - 1)  # room for a minus sign
        self._int_high = 10**digits
        self._int_low = -self._int_high

    @property
    def scalar_bounds(self) -> tuple[int, int, int]:
        """``(longest string, lowest int, highest int)`` passed through unchanged (exclusive
        for ints): a caller that checks these itself can skip :meth:`clean_value` for them.
        """
        return self._fast_limit, self._int_low, self._int_high

    @property
    def max_keys(self) -> int | None:
        """Most keys kept per object (None: no limit)."""
        return self._max_keys

    def clean_key(self, key: object) -> tuple[str, bool]:
        """Return the clean form of a dict key and whether its value must be redacted.

        The answer for a plain key is cached, since the same few keys recur on every record.
        """
        if type(key) is str:
            name = self._names.get(key)
            if name is not None:
                return name, False
        return self._name(key)

    def is_secret(self, key: str) -> bool:
        """Whether values under ``key`` must be redacted.

        A case-insensitive substring match that also ignores separators (``-_. :/``), so
        ``X-Api-Key``, ``db_password`` and ``SessionId`` are caught without listing every
        spelling; answers are cached because the same few keys recur on every record.
        """
        if not self._secret_keys:
            return False
        if type(key) is not str:
            key = str.__str__(key)  # a str subclass may break __hash__ or __eq__
        cache = self._secret_cache
        known = cache.get(key)
        if known is not None:
            return known
        folded = _fold(key)
        result = any(secret in folded for secret in self._secret_keys)
        if len(key) <= _CACHEABLE_KEY_LENGTH:
            if len(cache) >= _SECRET_CACHE_LIMIT:
                cache.clear()
            cache[key] = result
        return result

    def clean_text(self, text: str) -> str:
        """Return ``text`` encodable as UTF-8 and at most ``max_string`` characters long.

        Lone surrogates (from ``surrogateescape`` file names or broken UTF-16) would make the
        UTF-8 encoder fail, so they become U+FFFD; a valid surrogate pair is joined into its
        character. Truncation keeps the head and appends a marker that says how much went.
        """
        if type(text) is not str:
            text = str.__str__(text)
        limit = self._max_string
        if text.isascii():
            if limit is None or len(text) <= limit:
                return text
            return _truncate(text, limit)
        if limit is not None and len(text) > limit:
            text = _truncate(text, limit)  # first, so a huge string is not scanned in full
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Repairing can only shorten the text, so the limit still holds.
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return text

    def clean_value(self, value: object) -> object:
        """Return a JSON-safe copy of ``value``; never raises, whatever ``value`` does."""
        try:
            return self._walk(value)
        except Exception:  # every user call is guarded already; this is the last net
            return _unrepresentable(value)

    def clean_fields(self, fields: dict[str, object]) -> dict[str, object]:
        """Return a new, JSON-safe event dict; ``fields`` is left untouched.

        Top-level values of exactly ``str``, ``int``, ``float``, ``bool`` or ``None`` that are
        already safe are copied after a type check, because this runs for every record.
        """
        fields_type = type(fields)
        if fields_type is dict:
            items: Iterable[tuple[Any, Any]] = fields.items()
            size = len(fields)
        elif issubclass(fields_type, dict):  # bypass overridden items() and __len__
            items = dict.items(fields)
            size = dict.__len__(fields)
        else:  # a Mapping, or something only claiming to be one
            return self._clean_odd_fields(fields)
        dropped = 0
        cap = self._max_keys
        if cap is not None and size > cap:
            dropped = size - cap
            items = islice(items, cap)
        elif fields_type is dict and self._plain_names.issuperset(fields):
            copied = self._copy_plain_keys(fields)
            if copied is not None:
                return copied
        out: dict[str, object] = {}
        limit, low, high = self._fast_limit, self._int_low, self._int_high
        names = self._names
        key: Any
        value: Any
        try:
            for key, value in items:
                if type(key) is not str or (name := names.get(key)) is None:
                    name, secret = self._name(key)
                    if secret:
                        out[name] = REDACTED
                        continue
                kind = type(value)
                if kind is str:
                    if value.isascii() and len(value) <= limit:
                        out[name] = value
                        continue
                elif kind is int:
                    if low < value < high:
                        out[name] = value
                        continue
                elif kind is float:
                    if value - value == 0.0:  # false for NaN and the infinities
                        out[name] = value
                        continue
                elif kind is bool or value is None:
                    out[name] = value
                    continue
                out[name] = self.clean_value(value)
        except Exception as exc:  # e.g. the dict changed size under us: keep what we have
            out[ERROR_KEY] = self._error_text(exc)
        if dropped:
            out[TRUNCATED_KEYS] = dropped
        return out

    def _copy_plain_keys(self, fields: dict[str, object]) -> dict[str, object] | None:
        """``clean_fields`` for a dict whose keys are all known clean and not secret.

        The copy is made in C and only the values that need it are replaced, instead of
        every key being looked up on the way. None if a key is a str subclass or the dict
        changed meanwhile: the caller then takes the careful way.
        """
        out = dict(fields)
        limit, low, high = self._fast_limit, self._int_low, self._int_high
        value: Any
        try:
            for key, value in fields.items():
                if type(key) is not str:  # equal to a clean name, yet a str subclass
                    return None
                kind = type(value)
                if kind is str:
                    if value.isascii() and len(value) <= limit:
                        continue
                elif kind is int:
                    if low < value < high:
                        continue
                elif kind is float:
                    if value - value == 0.0:  # false for NaN and the infinities
                        continue
                elif kind is bool or value is None:
                    continue
                out[key] = self.clean_value(value)
        except Exception:  # e.g. the dict changed size under us
            return None
        return out

    def _clean_odd_fields(self, fields: object) -> dict[str, object]:
        """Clean a top-level event that is not a real dict, through the guarded walk."""
        cleaned = self.clean_value(fields)
        if type(cleaned) is dict:
            return cleaned
        return {ERROR_KEY: f"fields must be a dict, not {_type_name(fields)}"}

    def _walk(self, root: object) -> object:
        """Clean ``root`` depth-first with an explicit stack instead of recursion.

        Each pass of the outer loop resumes the innermost open container and runs until it
        is exhausted or a child container has to be opened first.
        """
        kind = self._leaf(root)
        if isinstance(kind, _Replacement):
            root, kind = kind.value, kind.kind
        if not isinstance(kind, _Kind):
            return kind  # a scalar: already clean
        frame = self._open(root, kind, 1)
        if frame is None:
            return _unrepresentable(root)
        result = frame[0]
        stack = [frame]
        active = {id(root)}  # containers on the current path: meeting one again is a cycle
        max_depth = self._max_depth
        names = self._names
        limit = self._fast_limit
        low = self._int_low
        high = self._int_high
        out: Any
        child: Any
        while stack:
            out, items, is_map, depth, ident, dropped = stack[-1]
            opened: _Frame | None = None
            try:
                for item in items:
                    if is_map:
                        key, child = item
                        if type(key) is not str or (name := names.get(key)) is None:
                            name, secret = self._name(key)
                            if secret:
                                out[name] = REDACTED
                                continue
                    else:
                        child = item
                    kind = type(child)
                    if (
                        (kind is str and child.isascii() and len(child) <= limit)
                        or (kind is int and low < child < high)
                        or (kind is float and child - child == 0.0)
                        or kind is bool
                        or child is None
                    ):
                        cleaned = child
                    else:
                        cleaned = self._leaf(child)
                        if isinstance(cleaned, _Replacement):
                            child, cleaned = cleaned.value, cleaned.kind
                        if type(cleaned) is _Kind:
                            if id(child) in active:
                                cleaned = CYCLE
                            elif depth >= max_depth:
                                cleaned = MAX_DEPTH
                            else:
                                opened = self._open(child, cleaned, depth + 1)
                                cleaned = _unrepresentable(child) if opened is None else opened[0]
                    if is_map:
                        out[name] = cleaned
                    else:
                        out.append(cleaned)
                    if opened is not None:
                        break
            except Exception as exc:  # user iteration code failed: keep what we have
                error = self._error_text(exc)
                if is_map:
                    out[ERROR_KEY] = error
                else:
                    out.append(f"<{error}>")
            if opened is not None:
                stack.append(opened)
                active.add(opened[4])
                continue
            stack.pop()
            active.discard(ident)
            if dropped:
                if is_map:
                    out[TRUNCATED_KEYS] = dropped
                else:
                    out.append(_TRUNCATED_ITEMS.format(dropped))
        return result

    def _leaf(self, value: Any) -> object:
        """Return the clean form of a non-container, or the :class:`_Kind` of a container."""
        try:
            kind = type(value)
            if kind is str:
                return self.clean_text(value)
            if kind is int:
                return value if self._int_low < value < self._int_high else self._big_int(value)
            if kind is float:
                return value if value - value == 0.0 else _non_finite(value)
            if kind is bool or value is None:
                return value
            if kind is dict:
                return _MAPPING
            if kind is list or kind is tuple:
                return _SEQUENCE
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
            return _MAPPING
        if issubclass(kind, (list, tuple)):
            return _SEQUENCE
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
            return _SET
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
            return _DATACLASS
        if issubclass(kind, Mapping):
            return _MAPPING
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
            return _Replacement(_MAPPING, value)
        if kind is list or kind is tuple:
            return _Replacement(_SEQUENCE, value)
        result = self._other(value, kind, use_fallback=False)
        return _Replacement(result, value) if isinstance(result, _Kind) else result

    def _open(self, value: Any, kind: _Kind, depth: int) -> _Frame | None:
        """Start walking a container, or return None if even that fails.

        A container that cannot be opened is never shown with ``repr``: a dict's or a
        dataclass's repr would print the very secrets redaction exists to hide.
        """
        try:
            out: dict[str, object] | list[object]
            items: Iterator[Any]
            kind_of_value = type(value)
            if kind_of_value is dict or kind_of_value is list or kind_of_value is tuple:
                size = len(value)
                items = iter(value.items() if kind_of_value is dict else value)
                out = {} if kind_of_value is dict else []
            elif kind is _MAPPING:
                size = len(value)
                if isinstance(value, dict):
                    items = iter(dict.items(value))  # bypasses an overridden items()
                else:
                    items = _mapping_items(value)
                out = {}
            elif kind is _DATACLASS:
                names = [field.name for field in dataclasses.fields(value) if field.repr]
                size = len(names)
                items = _attribute_items(value, names)
                out = {}
            elif kind is _SET:
                size = len(value)
                items = iter(self._ordered(value, size))
                out = []
            else:
                size = len(value)
                items = iter(value)
                out = []
            dropped = 0
            cap = self._max_keys
            if cap is not None and size > cap:
                dropped = size - cap
                items = islice(items, cap)
            return (out, items, type(out) is dict, depth, id(value), dropped)
        except Exception:
            return None

    def _ordered(self, value: Iterable[Any], size: int) -> Iterable[Any]:
        """Order a set so the same set logs the same way in every process.

        Set order depends on hash randomization; numbers and strings sort naturally, other
        elements by repr. Too big a set (beyond ``max_keys``) is not sorted: it is truncated
        anyway and sorting would cost a repr per element.
        """
        if self._max_keys is not None and size > self._max_keys:
            return value
        try:
            if all(type(item) in _NATURALLY_ORDERED for item in value):
                return sorted(value)
        except Exception:  # e.g. a mix of str and int
            pass
        try:
            return sorted(value, key=repr)
        except Exception:
            return value

    def _name(self, key: Any) -> tuple[str, bool]:
        """Clean a dict key and tell whether its value must be redacted; remember the answer.

        The secret check also sees the key before truncation, so a long key cannot push
        ``password`` past the cut and have its value logged.
        """
        text = self._key_text(key)
        name = self.clean_text(text)
        secret = self.is_secret(text) or (name is not text and self.is_secret(name))
        if not secret and type(key) is str and len(key) <= _CACHEABLE_KEY_LENGTH:
            names = self._names
            if len(names) >= _NAME_CACHE_LIMIT:
                names.clear()
                self._plain_names.clear()
            names[key] = name
            if name == key:
                self._plain_names.add(key)
        return name, secret

    def _key_text(self, key: Any) -> str:
        """Turn any dict key into an exact str (not yet cleaned): JSON keys must be strings."""
        try:
            if type(key) is str:
                text = key
            elif isinstance(key, str):
                text = str.__str__(key)
            else:
                text = str(key)
                if type(text) is not str:
                    text = str.__str__(text)
        except Exception:
            return self._safe_repr(key)
        return text

    def _big_int(self, value: int) -> str:
        """Render an int too large to stay a JSON number as a (possibly truncated) string."""
        if int(value.bit_length() * _LOG10_2) + 1 <= _MAX_EXACT_INT_DIGITS:
            try:
                return self.clean_text(int.__repr__(value))
            except ValueError:  # the interpreter's int_max_str_digits was lowered
                pass
        return self.clean_text(_approximate_int(value))

    def _safe_repr(self, value: object) -> str:
        """``repr`` that cannot fail: a broken ``__repr__`` yields a placeholder."""
        try:
            text = repr(value)
            if type(text) is not str:
                text = str.__str__(text)
        except Exception:
            return _unrepresentable(value)
        return self.clean_text(text)

    def _error_text(self, exc: BaseException) -> str:
        """Describe an exception as ``TypeName: message``; cannot fail."""
        name = _type_name(exc)
        try:
            message = str(exc)
            if type(message) is not str:
                message = str.__str__(message)
        except Exception:
            message = ""
        return self.clean_text(name + ": " + message if message else name)


_default_sanitizer: Sanitizer | None = None


def clean_attributes(attributes: Mapping[Any, Any] | None) -> dict[str, object]:
    """A run's attributes as they may be stored and shown: JSON-safe, secrets redacted.

    They go into the summary, the ``run_started`` event and every sink, none of which
    has a formatter's ``secret_keys`` to go by, so the default rules apply (a value that
    JSON cannot hold, a ``datetime`` say, used to make every write of the summary fail).
    """
    global _default_sanitizer
    if not attributes:
        return {}
    sanitizer = _default_sanitizer
    if sanitizer is None:
        sanitizer = _default_sanitizer = Sanitizer()
    if type(attributes) is dict:
        return sanitizer.clean_fields(attributes)
    cleaned = sanitizer.clean_value(attributes)
    return cleaned if type(cleaned) is dict else {ERROR_KEY: _unrepresentable(attributes)}


def _loaded_types(names: tuple[tuple[str, str], ...]) -> tuple[type, ...]:
    """The classes among ``names`` whose modules are imported (the others have no instances)."""
    found: list[type] = []
    for module_name, class_name in names:
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _check_limit(name: str, value: object, minimum: int) -> int | None:
    """Validate a size limit where None means unlimited."""
    if value is None:
        return None
    return _check_int(name, value, minimum, f"None (unlimited) or an int >= {minimum}")


def _check_int(name: str, value: object, minimum: int, expected: str) -> int:
    """Validate an int argument with a message that names it and what it must be."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be {expected}, not {type(value).__name__}.")
    number = int.__int__(value)  # a subclass's __int__ or __lt__ could lie
    if number < minimum:
        raise ValueError(f"{name} must be {expected}, got {number}.")
    return number


def _check_secret_keys(secret_keys: object) -> tuple[str, ...]:
    """Validate and casefold the secret key names once, so matching is a plain ``in``."""
    if secret_keys is None:
        return ()
    if isinstance(secret_keys, (str, bytes)):
        raise TypeError(
            "secret_keys must be an iterable of key names such as ('password', 'token'), "
            "not a single string."
        )
    if not isinstance(secret_keys, Iterable):
        raise TypeError(
            f"secret_keys must be an iterable of strings or None, not {type(secret_keys).__name__}."
        )
    folded: list[str] = []
    for secret in secret_keys:
        if not isinstance(secret, str):
            raise TypeError(
                f"secret_keys must contain only strings, found {type(secret).__name__}."
            )
        name = _fold(str.__str__(secret))
        if not name:
            raise ValueError(
                f"secret_keys must not contain {secret!r}: without separators it is empty "
                "and would match every key."
            )
        if name not in folded:
            folded.append(name)
    return tuple(folded)


def _fold(key: str) -> str:
    """Normalize a key for secret matching: ``X-Api-Key`` and ``api_key`` both give ``apikey``."""
    return key.casefold().translate(_SEPARATORS)


def _truncate(text: str, limit: int) -> str:
    """Cut ``text`` so that head plus marker is at most ``limit`` characters."""
    size = len(text)
    # The marker for ``size`` dropped characters is at least as long as the real one.
    keep = limit - len(_TRUNCATED_CHARS.format(size))
    return text[:keep] + _TRUNCATED_CHARS.format(size - keep)


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


def _non_finite(value: float) -> str:
    """Spell NaN and infinities the way JavaScript and most JSON readers do."""
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _approximate_int(value: int) -> str:
    """Describe a gigantic int from its top bits, in time linear in its size."""
    sign = "-" if value < 0 else ""
    magnitude = -value if value < 0 else value
    shift = max(magnitude.bit_length() - 64, 0)
    log10 = math.log10(magnitude >> shift) + shift * _LOG10_2
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    return f"<int ≈ {sign}{mantissa:.6f}e+{exponent}>"


def _mapping_items(mapping: Mapping[Any, Any]) -> Iterator[tuple[Any, Any]]:
    """Yield pairs from a non-dict Mapping whose ``items()`` we cannot trust to be pairs."""
    for key in mapping:
        yield key, mapping[key]


def _attribute_items(obj: object, names: list[str]) -> Iterator[tuple[str, object]]:
    """Yield a dataclass's fields; an unreadable one becomes a placeholder, not an error."""
    for name in names:
        try:
            value = getattr(obj, name)
        except Exception:
            value = "<unavailable>"
        yield name, value


def _type_name(value: object) -> str:
    """The class name of ``value``, even if its metaclass misbehaves."""
    try:
        name = type(value).__name__
    except Exception:
        return "object"
    return name if type(name) is str else "object"


def _unrepresentable(value: object) -> str:
    """Placeholder for a value that could not be shown at all."""
    return f"<unrepresentable {_type_name(value)}>"
