"""Sanitizer.clean_fields for dicts whose keys are all known clean: same result, faster.

Once every key of an event has been seen clean and not secret, ``clean_fields`` copies the
dict whole and replaces only the values that need it. These tests hold that shortcut to
what the key-by-key way gives.
"""

from __future__ import annotations

import enum
import math

from hypothesis import given
from hypothesis import strategies as st

from runlogger._sanitize import REDACTED, Sanitizer
from strategies import payloads

plain_keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@given(st.dictionaries(plain_keys, payloads, max_size=8))
def test_known_keys_give_what_unknown_keys_give(fields: dict[str, object]) -> None:
    fresh = Sanitizer().clean_fields(fields)
    warmed = Sanitizer()
    warmed.clean_fields(dict.fromkeys(fields, 0))  # every key now known
    assert repr(warmed.clean_fields(fields)) == repr(fresh)


def test_values_are_still_cleaned_and_the_input_left_alone() -> None:
    sanitizer = Sanitizer(max_string=64)
    fields: dict[str, object] = {"a": "x" * 100, "b": math.nan, "c": {"password": "p"}, "d": 1}
    sanitizer.clean_fields(dict.fromkeys(fields, 0))
    out = sanitizer.clean_fields(fields)
    assert out is not fields
    assert str(out["a"]).endswith("chars]")
    assert out["b"] == "NaN"
    assert out["c"] == {"password": REDACTED}
    assert fields["a"] == "x" * 100


def test_a_str_subclass_key_equal_to_a_known_one_becomes_a_plain_str() -> None:
    class Key(str, enum.Enum):
        USER = "user"

    sanitizer = Sanitizer()
    sanitizer.clean_fields({"user": 1})
    out = sanitizer.clean_fields({Key.USER: 2})
    assert [type(key) for key in out] == [str]
    assert out == {"user": 2}


def test_secret_keys_are_never_copied() -> None:
    sanitizer = Sanitizer()
    sanitizer.clean_fields({"token": "a", "user": "b"})
    assert sanitizer.clean_fields({"token": "a", "user": "b"}) == {"token": REDACTED, "user": "b"}
