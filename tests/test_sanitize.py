"""Tests for runlogger._sanitize: whatever a record carries becomes strict, bounded UTF-8 JSON."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlogger._sanitize import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_KEYS,
    DEFAULT_MAX_STRING,
    DEFAULT_SECRET_KEYS,
    REDACTED,
    Sanitizer,
)
from support import all_strings, nested_dicts, nested_lists

SECRET = "hunter2-s3cr3t-value"


def dump(value: object) -> bytes:
    """Serialize the way the formatter must be able to: strict JSON, encoded as UTF-8."""
    return json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


class BrokenEverything(BrokenRepr):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq exploded")

    def __hash__(self) -> int:
        return 7


class Color(enum.Enum):
    RED = "red"
    POINT = (1, 2)


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Login:
    user: str
    password: str
    attempts: int = 0


@dataclasses.dataclass
class WithHidden:
    visible: str
    hidden: str = dataclasses.field(repr=False, default="do-not-log")


@pytest.fixture
def sanitizer() -> Sanitizer:
    return Sanitizer()


# --- the fast path ---------------------------------------------------------------------------


def test_flat_scalars_pass_unchanged(sanitizer: Sanitizer) -> None:
    fields = {"user": "alice", "count": 3, "ratio": 0.5, "ok": True, "none": None}

    assert sanitizer.clean_fields(fields) == fields


def test_clean_fields_returns_a_new_dict(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {"user": "alice"}

    result = sanitizer.clean_fields(fields)
    result["user"] = "mallory"

    assert fields == {"user": "alice"}


def test_input_is_not_mutated(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {
        "password": SECRET,
        "nested": {"token": SECRET, "items": [1, {"api_key": SECRET}], "bad": "\ud800"},
        "big": "x" * 20_000,
        "nan": math.nan,
        "tags": {"b", "a"},
    }
    before = copy.deepcopy(fields)

    sanitizer.clean_fields(fields)

    # NaN equals nothing, and a set's repr depends on the hash seed: compare it apart.
    nan = fields.pop("nan")
    assert isinstance(nan, float)
    assert math.isnan(nan)
    before.pop("nan")
    assert fields == before


def test_bool_stays_bool_not_int(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_fields({"flag": True, "other": False}) == {"flag": True, "other": False}
    assert sanitizer.clean_value([True]) == [True]


def test_key_order_is_preserved(sanitizer: Sanitizer) -> None:
    fields = {"z": 1, "a": {"y": 1, "b": 2}, "m": 3}

    result = sanitizer.clean_fields(fields)

    assert list(result) == ["z", "a", "m"]
    assert list(result["a"]) == ["y", "b"]  # type: ignore[call-overload]


# --- strings ---------------------------------------------------------------------------------


def test_non_ascii_text_passes_unchanged(sanitizer: Sanitizer) -> None:
    text = "héllo wörld ☃ 😀 日本語"

    assert sanitizer.clean_fields({"text": text}) == {"text": text}


def test_lone_surrogate_in_value_becomes_replacement_character(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"path": "file\ud800name\udfff"})

    assert result == {"path": "file\ufffdname\ufffd"}
    dump(result)


def test_lone_surrogate_in_key_becomes_replacement_character(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"ke\udcffy": 1, "n": {"\ud800": 2}})

    assert result == {"ke\ufffdy": 1, "n": {"\ufffd": 2}}
    dump(result)


def test_surrogate_pair_is_joined_into_its_character(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_text("\ud83d\ude00") == "😀"


def test_control_characters_are_kept_and_escaped(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"text": "line1\nline2\x00\x1b[31m"})

    assert result == {"text": "line1\nline2\x00\x1b[31m"}
    assert b"\n" not in dump(result)


def test_one_megabyte_string_is_truncated_with_marker(sanitizer: Sanitizer) -> None:
    text = "a" * (1024 * 1024)

    result = sanitizer.clean_fields({"blob": text})["blob"]

    assert isinstance(result, str)
    assert len(result) <= DEFAULT_MAX_STRING
    kept = result.index("…")
    assert result == "a" * kept + f"…[truncated {len(text) - kept} chars]"


def test_truncation_marker_counts_dropped_characters() -> None:
    sanitizer = Sanitizer(max_string=64)

    result = sanitizer.clean_text("é" * 1000)

    assert len(result) <= 64
    kept = result.index("…")
    assert result == "é" * kept + f"…[truncated {1000 - kept} chars]"


def test_truncation_keeps_output_valid_when_cut_inside_surrogate_pair() -> None:
    sanitizer = Sanitizer(max_string=64)
    text = "\ud83d\ude00" * 100

    result = sanitizer.clean_text(text)

    assert len(result) <= 64
    result.encode("utf-8")


def test_long_key_is_truncated() -> None:
    sanitizer = Sanitizer(max_string=64)

    result = sanitizer.clean_fields({"k" * 100: 1})

    (key,) = result
    assert len(key) <= 64
    assert key.startswith("kkk")


def test_unlimited_string_keeps_everything() -> None:
    sanitizer = Sanitizer(max_string=None)
    text = "b" * 100_000

    assert sanitizer.clean_fields({"blob": text}) == {"blob": text}


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")],
)
def test_non_finite_floats_become_strings(
    sanitizer: Sanitizer, value: float, expected: str
) -> None:
    result = sanitizer.clean_fields({"top": value, "nested": [value]})

    assert result == {"top": expected, "nested": [expected]}
    dump(result)


def test_finite_floats_pass(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_value([0.0, -1.5, 1e308, 5e-324]) == [0.0, -1.5, 1e308, 5e-324]


def test_ints_within_bounds_pass(sanitizer: Sanitizer) -> None:
    values = [0, -1, 2**63, -(2**100), 10**299]

    assert sanitizer.clean_value(values) == values


def test_int_beyond_300_digits_becomes_its_digits_as_string(sanitizer: Sanitizer) -> None:
    value = 10**400

    assert sanitizer.clean_fields({"n": value}) == {"n": str(value)}


def test_int_longer_than_max_string_is_truncated() -> None:
    sanitizer = Sanitizer(max_string=64)

    result = sanitizer.clean_value(7**200)

    assert isinstance(result, str)
    assert len(result) <= 64
    assert result.startswith(str(7**200)[:20])
    assert "[truncated" in result


def test_int_beyond_interpreter_digit_limit_is_approximated(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value(-(10**100_000))

    assert result == "<int ≈ -1.000000e+100000>"


def test_int_subclass_becomes_plain_int(sanitizer: Sanitizer) -> None:
    class Counter(int):
        def __repr__(self) -> str:
            raise RuntimeError("no")

    result = sanitizer.clean_value(Counter(5))

    assert result == 5
    assert type(result) is int


def test_enum_becomes_its_value(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value([Color.RED, Level.HIGH, Color.POINT])

    assert result == ["red", 3, "Color.POINT"]


# --- containers ------------------------------------------------------------------------------


def test_non_str_keys_become_strings(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({1: "a", None: "b", (1, 2): "c", 2.5: "d"})  # type: ignore[dict-item]

    assert result == {"1": "a", "None": "b", "(1, 2)": "c", "2.5": "d"}


def test_tuple_becomes_list(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_value((1, "a", (2,))) == [1, "a", [2]]


def test_set_becomes_sorted_list(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_fields({"ids": {10, 2, 1}, "tags": frozenset({"b", "a"})}) == {
        "ids": [1, 2, 10],
        "tags": ["a", "b"],
    }


def test_mixed_set_is_sorted_by_repr(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_value({1, "a"}) == ["a", 1]  # "'a'" < "1"


def test_set_with_broken_repr_keeps_iteration_order(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value({1, BrokenEverything()})

    assert isinstance(result, list)
    assert sorted(map(str, result)) == ["1", "<unrepresentable BrokenEverything>"]


def test_generator_is_not_consumed(sanitizer: Sanitizer) -> None:
    generator = (n for n in range(3))

    result = sanitizer.clean_value(generator)

    assert isinstance(result, str)
    assert result.startswith("<generator object")
    assert list(generator) == [0, 1, 2]


def test_dict_keys_capped_with_marker(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {f"k{i}": i for i in range(10_000)}

    result = sanitizer.clean_fields(fields)

    assert len(result) == DEFAULT_MAX_KEYS + 1
    assert result["_truncated_keys"] == 10_000 - DEFAULT_MAX_KEYS
    assert result["k999"] == 999
    assert "k1000" not in result


def test_nested_dict_keys_capped_with_marker() -> None:
    sanitizer = Sanitizer(max_keys=3)

    result = sanitizer.clean_value([{f"k{i}": i for i in range(5)}])

    assert result == [{"k0": 0, "k1": 1, "k2": 2, "_truncated_keys": 2}]


def test_list_items_capped_with_marker() -> None:
    sanitizer = Sanitizer(max_keys=3)

    assert sanitizer.clean_value(list(range(5))) == [0, 1, 2, "…[truncated 2 items]"]


def test_unlimited_keys_keeps_everything() -> None:
    sanitizer = Sanitizer(max_keys=None)
    fields: dict[str, object] = {f"k{i}": i for i in range(5_000)}

    assert sanitizer.clean_fields(fields) == fields


@pytest.mark.parametrize("build", [nested_lists, nested_dicts])
def test_very_deep_nesting_is_cut_at_max_depth(sanitizer: Sanitizer, build: Any) -> None:
    result = sanitizer.clean_fields({"deep": build(100_000)})

    assert b"[max depth]" in dump(result)


def test_max_depth_counts_container_levels() -> None:
    sanitizer = Sanitizer(max_depth=2)

    assert sanitizer.clean_value([[["x"]], 1]) == [["[max depth]"], 1]


def test_cyclic_dict_is_marked(sanitizer: Sanitizer) -> None:
    cyclic: dict[str, object] = {"name": "a"}
    cyclic["self"] = cyclic

    result = sanitizer.clean_fields({"node": cyclic})

    assert result == {"node": {"name": "a", "self": "[cycle]"}}


def test_cyclic_list_is_marked(sanitizer: Sanitizer) -> None:
    cyclic: list[object] = [1]
    cyclic.append(cyclic)

    assert sanitizer.clean_value(cyclic) == [1, "[cycle]"]


def test_indirect_cycle_is_marked(sanitizer: Sanitizer) -> None:
    first: dict[str, object] = {}
    second: list[object] = [first]
    first["items"] = second

    assert sanitizer.clean_value(first) == {"items": ["[cycle]"]}


def test_shared_reference_is_not_a_cycle(sanitizer: Sanitizer) -> None:
    shared = {"a": 1}

    assert sanitizer.clean_value([shared, shared]) == [{"a": 1}, {"a": 1}]


def test_mapping_that_is_not_a_dict_is_walked(sanitizer: Sanitizer) -> None:
    class Config(Mapping[str, object]):
        def __getitem__(self, key: str) -> object:
            return {"token": SECRET, "host": "db"}[key]

        def __iter__(self) -> Iterator[str]:
            return iter(["token", "host"])

        def __len__(self) -> int:
            return 2

    assert sanitizer.clean_value(Config()) == {"token": REDACTED, "host": "db"}


def test_failing_iteration_keeps_what_was_read(sanitizer: Sanitizer) -> None:
    class Flaky(list[int]):
        def __iter__(self) -> Iterator[int]:
            yield 1
            raise RuntimeError("disk gone")

    result = sanitizer.clean_value(Flaky([1, 2]))

    assert result == [1, "<RuntimeError: disk gone>"]


def test_dict_subclass_with_broken_methods_is_read_as_a_dict(sanitizer: Sanitizer) -> None:
    class Sneaky(dict[str, object]):
        def items(self) -> Any:
            raise RuntimeError("no")

        def __len__(self) -> int:
            raise RuntimeError("no")

    assert sanitizer.clean_fields(Sneaky(a=1)) == {"a": 1}


# --- secrets ---------------------------------------------------------------------------------


def test_secret_key_is_redacted(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"password": SECRET, "user": "alice"})

    assert result == {"password": REDACTED, "user": "alice"}


@pytest.mark.parametrize(
    "key",
    [
        "PASSWORD",
        "X-Api-Key",
        "api.key",
        "db_password",
        "SessionId",
        "Authorization",
        "set-cookie",
        "PRIVATE-KEY",
    ],
)
def test_secret_match_is_case_insensitive_substring(sanitizer: Sanitizer, key: str) -> None:
    assert sanitizer.is_secret(key)
    assert sanitizer.clean_fields({key: SECRET}) == {key: REDACTED}


@pytest.mark.parametrize("key", ["user", "message", "event_type", "run_id", "duration_ms"])
def test_ordinary_keys_are_not_secret(sanitizer: Sanitizer, key: str) -> None:
    assert not sanitizer.is_secret(key)


def test_secret_redacted_at_depth_and_inside_lists(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {
        "request": {"headers": {"Authorization": f"Bearer {SECRET}"}},
        "accounts": [{"name": "a", "api_key": SECRET}, ({"db": {"passwd": SECRET}},)],
    }

    result = sanitizer.clean_fields(fields)

    assert result == {
        "request": {"headers": {"Authorization": REDACTED}},
        "accounts": [{"name": "a", "api_key": REDACTED}, [{"db": {"passwd": REDACTED}}]],
    }
    assert SECRET.encode() not in dump(result)


def test_secret_container_value_is_redacted_whole(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {
        "credentials": {"user": "root", "key": SECRET, "list": [SECRET, {SECRET: 1}]}
    }

    result = sanitizer.clean_fields(fields)

    assert result == {"credentials": REDACTED}
    assert SECRET.encode() not in dump(result)


def test_secret_key_that_is_not_a_str_is_redacted(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_value({b"password": SECRET}) == {"b'password'": REDACTED}


def test_secret_beyond_truncation_point_of_key_is_still_redacted() -> None:
    sanitizer = Sanitizer(max_string=64)
    key = "x" * 100 + "_password"

    result = sanitizer.clean_fields({key: SECRET})

    assert list(result.values()) == [REDACTED]


def test_dataclass_secret_field_is_redacted(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"login": Login("alice", SECRET, 2)})

    assert result == {"login": {"user": "alice", "password": REDACTED, "attempts": 2}}
    assert SECRET.encode() not in dump(result)


def test_redaction_off_with_none() -> None:
    sanitizer = Sanitizer(secret_keys=None)

    assert sanitizer.clean_fields({"password": SECRET}) == {"password": SECRET}
    assert not sanitizer.is_secret("password")


def test_redaction_off_with_empty_list() -> None:
    sanitizer = Sanitizer(secret_keys=[])

    assert sanitizer.clean_fields({"token": {"a": SECRET}}) == {"token": {"a": SECRET}}


def test_custom_secret_list_replaces_defaults() -> None:
    sanitizer = Sanitizer(secret_keys=["SSN"])

    result = sanitizer.clean_fields({"user_ssn": "123-45-6789", "password": "visible"})

    assert result == {"user_ssn": REDACTED, "password": "visible"}


def test_secret_answers_stay_right_past_the_cache_size(sanitizer: Sanitizer) -> None:
    for i in range(10_000):
        assert not sanitizer.is_secret(f"field_{i}")

    assert sanitizer.is_secret("my_token")
    assert sanitizer.clean_fields({"my_token": SECRET, "field_1": 1}) == {
        "my_token": REDACTED,
        "field_1": 1,
    }


# --- other types -----------------------------------------------------------------------------


def test_bytes_are_decoded_with_backslash_escapes(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields(
        {"raw": b"ok \xff\xfe", "array": bytearray(b"caf\xc3\xa9"), "view": memoryview(b"mv")}
    )

    assert result == {"raw": "ok \\xff\\xfe", "array": "café", "view": "mv"}


BINARY_LIMIT = 64  # max_string for the binary tests: the smallest allowed, so values stay small
BINARY_WINDOW = 4 * BINARY_LIMIT + 16  # longer values are cut before they are decoded


@settings(max_examples=300)
@given(st.binary(max_size=BINARY_WINDOW))
def test_binary_up_to_four_times_the_limit_logs_as_its_whole_decoding(data: bytes) -> None:
    sanitizer = Sanitizer(max_string=BINARY_LIMIT)

    expected = sanitizer.clean_text(data.decode("utf-8", "backslashreplace"))

    assert sanitizer.clean_value(data) == expected
    assert sanitizer.clean_value(bytearray(data)) == expected
    assert sanitizer.clean_value(memoryview(data)) == expected


@settings(max_examples=300)
@given(
    st.binary(min_size=BINARY_WINDOW + 1, max_size=3000)
    | st.text(min_size=BINARY_WINDOW // 4 + 1, max_size=900).map(
        lambda text: text.encode("utf-8", "surrogatepass")
    )
)
def test_long_binary_is_cut_before_decoding_and_counts_the_bytes_left_out(data: bytes) -> None:
    """The head is the whole decoding's head; the marker counts the bytes it does not show."""
    if len(data) <= BINARY_WINDOW:
        return
    out = Sanitizer(max_string=BINARY_LIMIT).clean_value(data)

    assert isinstance(out, str)
    assert len(out) <= BINARY_LIMIT
    head, marker, dropped = out.rpartition("…[truncated ")
    assert marker
    assert dropped.endswith(" bytes]")
    shown_bytes = len(data) - int(dropped[: -len(" bytes]")])
    assert data.decode("utf-8", "backslashreplace").startswith(head)
    whole = data[:shown_bytes].decode("utf-8", "backslashreplace")
    assert head.startswith(whole)
    assert len(head) - len(whole) < 4  # at most an escape (\\xNN) shown in part


def test_a_huge_bytes_value_keeps_its_head_and_says_how_many_bytes_went() -> None:
    data = b"x" * (50 * 1024 * 1024)

    out = Sanitizer().clean_value(memoryview(data))

    marker = f"…[truncated {len(data) - 16384 + 27} bytes]"
    assert out == "x" * (16384 - 27) + marker
    assert len(marker) == 27


def test_datetime_date_and_time_become_isoformat(sanitizer: Sanitizer) -> None:
    moment = datetime.datetime(2026, 11, 30, 21, 34, 52, 123456, tzinfo=datetime.timezone.utc)

    result = sanitizer.clean_value([moment, moment.date(), moment.time()])

    assert result == ["2026-11-30T21:34:52.123456+00:00", "2026-11-30", "21:34:52.123456"]


def test_decimal_becomes_exact_string(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value([Decimal("12.3400"), Decimal("NaN")])

    assert result == ["12.3400", "NaN"]


def test_uuid_and_path_become_strings(sanitizer: Sanitizer) -> None:
    uid = UUID("12345678-1234-5678-1234-567812345678")

    result = sanitizer.clean_value([uid, PurePosixPath("/var/log/x.log")])

    assert result == ["12345678-1234-5678-1234-567812345678", "/var/log/x.log"]


def test_exception_becomes_type_and_message(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value([ValueError("bad input"), KeyError("k"), RuntimeError()])

    assert result == ["ValueError: bad input", "KeyError: 'k'", "RuntimeError"]


def test_dataclass_becomes_dict_of_its_repr_fields(sanitizer: Sanitizer) -> None:
    assert sanitizer.clean_value(WithHidden("shown")) == {"visible": "shown"}


def test_unknown_object_becomes_its_repr(sanitizer: Sanitizer) -> None:
    class Widget:
        def __repr__(self) -> str:
            return "Widget(7)"

    assert sanitizer.clean_fields({"w": Widget()}) == {"w": "Widget(7)"}


def test_broken_repr_and_str_become_placeholder(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields({"obj": BrokenRepr(), "list": [BrokenRepr()]})

    assert result == {
        "obj": "<unrepresentable BrokenRepr>",
        "list": ["<unrepresentable BrokenRepr>"],
    }


def test_broken_key_becomes_placeholder(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_value({BrokenEverything(): 1, "ok": 2})

    assert result == {"<unrepresentable BrokenEverything>": 1, "ok": 2}


def test_repr_returning_non_string_becomes_placeholder(sanitizer: Sanitizer) -> None:
    class Liar:
        def __repr__(self) -> str:
            return 42  # type: ignore[return-value]

    assert sanitizer.clean_value(Liar()) == "<unrepresentable Liar>"


def test_str_subclass_with_broken_methods_becomes_plain_str(sanitizer: Sanitizer) -> None:
    class Weird(str):
        def isascii(self) -> bool:
            raise RuntimeError("no")

        def __hash__(self) -> int:
            raise RuntimeError("no")

    result = sanitizer.clean_value([Weird("text")])

    assert result == ["text"]
    assert type(result[0]) is str


def test_spoofed_class_does_not_fool_type_checks(sanitizer: Sanitizer) -> None:
    class Impostor:
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return dict

        def __repr__(self) -> str:
            return "Impostor()"

    assert sanitizer.clean_value(Impostor()) == "Impostor()"


def test_huge_repr_is_truncated() -> None:
    sanitizer = Sanitizer(max_string=100)

    class Chatty:
        def __repr__(self) -> str:
            return "z" * 10_000

    result = sanitizer.clean_value(Chatty())

    assert isinstance(result, str)
    assert len(result) <= 100


def test_dict_changed_during_cleaning_keeps_what_was_read(sanitizer: Sanitizer) -> None:
    fields: dict[str, object] = {}

    class Meddler:
        def __repr__(self) -> str:
            fields["added"] = 1
            return "Meddler()"

    fields.update(first="kept", meddler=Meddler(), last="lost")

    result = sanitizer.clean_fields(fields)

    assert result == {
        "first": "kept",
        "meddler": "Meddler()",
        "_sanitize_error": "RuntimeError: dictionary changed size during iteration",
    }


def test_fields_that_are_not_a_dict_give_an_error_field(sanitizer: Sanitizer) -> None:
    result = sanitizer.clean_fields(["not", "a", "dict"])  # type: ignore[arg-type]

    assert result == {"_sanitize_error": "fields must be a dict, not list"}


# --- the fallback hook (a formatter's json_default) ------------------------------------------


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


def point_default(obj: object) -> object:
    if isinstance(obj, Point):
        return {"x": obj.x, "token": SECRET}
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def test_fallback_result_is_used_and_cleaned() -> None:
    sanitizer = Sanitizer(fallback=point_default)

    result = sanitizer.clean_fields({"p": Point(3), "nested": [Point(4)]})

    assert result == {"p": {"x": 3, "token": REDACTED}, "nested": [{"x": 4, "token": REDACTED}]}


def test_fallback_raising_means_builtin_conversion() -> None:
    sanitizer = Sanitizer(fallback=point_default)

    result = sanitizer.clean_value([b"raw", {2, 1}, datetime.date(2026, 1, 2)])

    assert result == ["raw", [1, 2], "2026-01-02"]


def test_fallback_is_not_asked_about_json_types() -> None:
    asked: list[object] = []

    def spy(obj: object) -> object:
        asked.append(obj)
        raise TypeError

    sanitizer = Sanitizer(fallback=spy)
    sanitizer.clean_value({"a": ["s", 1, 1.5, None, True, (1,)], "b": Level.HIGH})

    assert asked == []


def test_fallback_returning_its_input_cannot_loop() -> None:
    sanitizer = Sanitizer(fallback=lambda obj: obj)

    result = sanitizer.clean_value(Point(1))

    assert isinstance(result, str)
    assert result.startswith("<test_sanitize.Point object")


def test_fallback_that_nests_forever_is_cut_at_max_depth() -> None:
    sanitizer = Sanitizer(fallback=lambda obj: [obj], max_depth=3)

    assert sanitizer.clean_value(Point(1)) == [[["[max depth]"]]]


def test_fallback_must_be_callable() -> None:
    with pytest.raises(TypeError, match="fallback must be a callable or None, not int"):
        Sanitizer(fallback=3)  # type: ignore[arg-type]


# --- constructor validation ------------------------------------------------------------------


def test_defaults_are_exposed() -> None:
    assert DEFAULT_MAX_STRING == 16384
    assert DEFAULT_MAX_KEYS == 1000
    assert DEFAULT_MAX_DEPTH == 32
    assert "password" in DEFAULT_SECRET_KEYS
    assert REDACTED == "[REDACTED]"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_string": 10}, ValueError, "max_string must be None (unlimited) or an int >= 64"),
        ({"max_string": "100"}, TypeError, "max_string must be"),
        ({"max_string": True}, TypeError, "not bool"),
        ({"max_keys": 0}, ValueError, "max_keys must be None (unlimited) or an int >= 1"),
        ({"max_keys": 1.5}, TypeError, "not float"),
        ({"max_depth": 0}, ValueError, "max_depth must be an int >= 1, got 0."),
        ({"max_depth": None}, TypeError, "max_depth must be an int >= 1, not NoneType."),
        ({"secret_keys": "password"}, TypeError, "not a single string"),
        ({"secret_keys": 5}, TypeError, "iterable of strings or None"),
        ({"secret_keys": ["ok", 3]}, TypeError, "only strings, found int"),
        ({"secret_keys": ["ok", ""]}, ValueError, "would match every key"),
        ({"secret_keys": ["_"]}, ValueError, "would match every key"),
    ],
)
def test_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as excinfo:
        Sanitizer(**kwargs)

    assert message in str(excinfo.value)
    assert str(excinfo.value).endswith(".")


# --- property ----------------------------------------------------------------------------------

# Text with lone surrogates and control characters, which the default strategy leaves out.
any_text = st.text(st.characters(exclude_categories=()), max_size=80)
payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**290, max_value=10**320)
    | st.floats()  # NaN and infinities included
    | any_text
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=6)
        | st.tuples(children, children)
        | st.dictionaries(any_text, children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, database=None)
@given(fields=st.dictionaries(any_text, payloads, max_size=8))
def test_any_payload_becomes_strict_bounded_json(fields: dict[str, object]) -> None:
    sanitizer = Sanitizer(max_string=64, max_keys=5, max_depth=4)

    result = sanitizer.clean_fields(fields)

    dump(result)
    assert all(len(text) <= 64 for text in all_strings(result))
