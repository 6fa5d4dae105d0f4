"""The sanitizer's walk through nested containers: iterative, bounded, cycle-safe.

An explicit stack instead of recursion, so even a 100,000-deep structure cannot exhaust the
interpreter's stack; ``max_depth``, ``max_keys`` and cycle detection bound the output.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from ._sanitize_text import (
    CYCLE,
    ERROR_KEY,
    MAX_DEPTH,
    REDACTED,
    TRUNCATED_KEYS,
    check_int,
    unrepresentable,
)
from ._sanitize_types import DATACLASS, MAPPING, SET, Kind, Replacement, ValueClassifier

__all__ = ["ValueWalker"]

_TRUNCATED_ITEMS = "…[truncated {} items]"
_NATURALLY_ORDERED = frozenset({str, int, float})


# One container being filled by the iterative walk: (out, items, is_map, depth, ident,
# dropped). A plain tuple, because building a class instance per container costs more than
# cleaning a small dict.
_Frame = tuple[Any, Iterator[Any], bool, int, int, int]


class ValueWalker(ValueClassifier):
    """Clean any value, containers included, depth-first without recursion."""

    def __init__(self, *, max_depth: int, **options: Any) -> None:
        super().__init__(**options)
        self._max_depth = check_int("max_depth", max_depth, 1, "an int >= 1")

    def _walk(self, root: object) -> object:
        """Clean ``root`` depth-first with an explicit stack instead of recursion.

        Each pass of the outer loop resumes the innermost open container and runs until it
        is exhausted or a child container has to be opened first.
        """
        kind = self._leaf(root)
        if isinstance(kind, Replacement):
            root, kind = kind.value, kind.kind
        if not isinstance(kind, Kind):
            return kind  # a scalar: already clean
        frame = self._open(root, kind, 1)
        if frame is None:
            return unrepresentable(root)
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
                        if isinstance(cleaned, Replacement):
                            child, cleaned = cleaned.value, cleaned.kind
                        if type(cleaned) is Kind:
                            if id(child) in active:
                                cleaned = CYCLE
                            elif depth >= max_depth:
                                cleaned = MAX_DEPTH
                            else:
                                opened = self._open(child, cleaned, depth + 1)
                                cleaned = unrepresentable(child) if opened is None else opened[0]
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

    def _open(self, value: Any, kind: Kind, depth: int) -> _Frame | None:
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
            elif kind is MAPPING:
                size = len(value)
                if isinstance(value, dict):
                    items = iter(dict.items(value))  # bypasses an overridden items()
                else:
                    items = _mapping_items(value)
                out = {}
            elif kind is DATACLASS:
                names = [field.name for field in dataclasses.fields(value) if field.repr]
                size = len(names)
                items = _attribute_items(value, names)
                out = {}
            elif kind is SET:
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
