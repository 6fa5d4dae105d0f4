"""Turn arbitrary ``extra`` values into JSON-safe values.

The formatter runs every record's extra fields through :meth:`Sanitizer.clean_fields`, so a
log call can never fail because of what it carries, never leaks a value stored under a
secret-looking key, and never writes an unbounded line. The common case (a flat dict of short
ASCII strings, numbers, booleans and ``None``) stays on a fast path made of exact type checks.
Everything else goes through an iterative walk, so even a 100,000-deep structure cannot
exhaust the stack, and every call into user code (``__repr__``, ``__len__``, ``__iter__``,
``isoformat`` ...) is guarded.

The work is layered by responsibility, each layer a module and a base class of
:class:`Sanitizer`: limits, text, keys and secrets (``_sanitize_text``), what one value is
and how a non-container becomes JSON (``_sanitize_types``), the walk through containers
(``_sanitize_walk``); this module adds the per-record entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

from ._sanitize_text import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_STRING,
    DEFAULT_SECRET_KEYS,
    ERROR_KEY,
    REDACTED,
    TRUNCATED_KEYS,
    type_name,
    unrepresentable,
)
from ._sanitize_walk import ValueWalker

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_KEYS",
    "DEFAULT_MAX_STRING",
    "DEFAULT_SECRET_KEYS",
    "REDACTED",
    "Sanitizer",
    "clean_attributes",
]


class Sanitizer(ValueWalker):
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
        super().__init__(
            fallback=fallback,
            max_string=max_string,
            max_keys=max_keys,
            max_depth=max_depth,
            secret_keys=secret_keys,
        )

    def clean_value(self, value: object) -> object:
        """Return a JSON-safe copy of ``value``; never raises, whatever ``value`` does."""
        try:
            return self._walk(value)
        except Exception:  # every user call is guarded already; this is the last net
            return unrepresentable(value)

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
        return {ERROR_KEY: f"fields must be a dict, not {type_name(fields)}"}


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
    return cleaned if type(cleaned) is dict else {ERROR_KEY: unrepresentable(attributes)}
