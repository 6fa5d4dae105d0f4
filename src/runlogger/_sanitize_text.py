"""The bottom of the sanitizer: its limits, text, dict keys and secret-key matching.

:class:`TextCleaner` holds the settings and caches every other part of
:class:`~runlogger._sanitize.Sanitizer` reads: what a clean string is (UTF-8 encodable, at most
``max_string`` characters), what a clean key is and whether its value must be redacted. The
value classification (``_sanitize_types``) and the container walk (``_sanitize_walk``) are built
on it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CYCLE",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_STRING",
    "DEFAULT_SECRET_KEYS",
    "ERROR_KEY",
    "MAX_DEPTH",
    "REDACTED",
    "TRUNCATED_KEYS",
    "TextCleaner",
    "check_int",
    "type_name",
    "unrepresentable",
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
# Bounded so a stream of distinct keys cannot grow memory; long keys are not worth caching.
_SECRET_CACHE_LIMIT = 4096
_NAME_CACHE_LIMIT = 4096
_CACHEABLE_KEY_LENGTH = 256
# Ints beyond 10**300 stop being numbers for most JSON readers (doubles overflow near 1e308).
_MAX_INT_DIGITS = 300
# str() of a longer int is quadratic and refused by CPython's default int_max_str_digits.
_MAX_EXACT_INT_DIGITS = 4300
_LOG10_2 = math.log10(2)
_SEPARATORS = str.maketrans("", "", "-_. :/")


class TextCleaner:
    """Clean strings and dict keys, and tell which keys hold secrets; never raises.

    Its only mutable state is two bounded caches, plain dicts (and a set) whose single
    operations are atomic, so one instance can be shared across threads.
    """

    def __init__(
        self,
        *,
        max_string: int | None,
        max_keys: int | None,
        secret_keys: Iterable[str] | None,
    ) -> None:
        self._max_string = _check_limit("max_string", max_string, _MIN_MAX_STRING)
        self._max_keys = _check_limit("max_keys", max_keys, 1)
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
            return unrepresentable(value)
        return self.clean_text(text)

    def _error_text(self, exc: BaseException) -> str:
        """Describe an exception as ``TypeName: message``; cannot fail."""
        name = type_name(exc)
        try:
            message = str(exc)
            if type(message) is not str:
                message = str.__str__(message)
        except Exception:
            message = ""
        return self.clean_text(name + ": " + message if message else name)


def _check_limit(name: str, value: object, minimum: int) -> int | None:
    """Validate a size limit where None means unlimited."""
    if value is None:
        return None
    return check_int(name, value, minimum, f"None (unlimited) or an int >= {minimum}")


def check_int(name: str, value: object, minimum: int, expected: str) -> int:
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


def _approximate_int(value: int) -> str:
    """Describe a gigantic int from its top bits, in time linear in its size."""
    sign = "-" if value < 0 else ""
    magnitude = -value if value < 0 else value
    shift = max(magnitude.bit_length() - 64, 0)
    log10 = math.log10(magnitude >> shift) + shift * _LOG10_2
    exponent = math.floor(log10)
    mantissa = 10 ** (log10 - exponent)
    return f"<int ≈ {sign}{mantissa:.6f}e+{exponent}>"


def type_name(value: object) -> str:
    """The class name of ``value``, even if its metaclass misbehaves."""
    try:
        name = type(value).__name__
    except Exception:
        return "object"
    return name if type(name) is str else "object"


def unrepresentable(value: object) -> str:
    """Placeholder for a value that could not be shown at all."""
    return f"<unrepresentable {type_name(value)}>"
