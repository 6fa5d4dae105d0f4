"""Durations and points in time as the command line reads them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from runlogger._durations import format_duration_ms, parse_duration, parse_timestamp, parse_when

NOW = datetime(2026, 11, 30, 21, 34, 52, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("5s", timedelta(seconds=5)),
        ("1.5s", timedelta(seconds=1.5)),
        ("2m", timedelta(minutes=2)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2m05s", timedelta(minutes=2, seconds=5)),
        (" 5S ", timedelta(seconds=5)),
        (".5s", timedelta(milliseconds=500)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    assert expected == parse_duration(text)


@pytest.mark.parametrize("text", ["", "5", "5x", "s", "-5s", "5 s", "1e3s", "5s5", "five"])
def test_parse_duration_refuses_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_error_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match=r"250ms, 5s"):
        parse_duration("5")


def test_parse_duration_refuses_overflow() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_duration("99999999999999d")


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, "-"),
        (0, "0ms"),
        (850, "850ms"),
        (999.6, "1.0s"),
        (12_345, "12.3s"),
        (59_960, "1m00s"),
        (245_000, "4m05s"),
        (3_599_600, "1h00m"),
        (3_720_000, "1h02m"),
        (100 * 3_600_000, "100h00m"),
        (-5, "0ms"),
    ],
)
def test_format_duration_ms(ms: float | None, expected: str) -> None:
    assert expected == format_duration_ms(ms)


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("7d", timedelta(days=7))],
)
def test_parse_when_relative_means_that_long_ago(text: str, ago: timedelta) -> None:
    assert NOW - ago == parse_when(text, now=NOW)


def test_parse_when_now() -> None:
    assert parse_when("now", now=NOW) == NOW


def test_parse_when_date_is_local_midnight() -> None:
    expected = datetime(2026, 11, 30).astimezone()
    assert expected == parse_when("2026-11-30", now=NOW)


def test_parse_when_date_as_upper_bound_includes_the_whole_day() -> None:
    expected = datetime(2026, 12, 1).astimezone()
    assert expected == parse_when("2026-11-30", now=NOW, end_of_day=True)


def test_parse_when_datetime_with_z_is_utc() -> None:
    expected = datetime(2026, 11, 30, 21, 30, tzinfo=timezone.utc)
    assert expected == parse_when("2026-11-30T21:30:00Z")


def test_parse_when_datetime_with_offset() -> None:
    expected = datetime(2026, 11, 30, 20, 30, tzinfo=timezone.utc)
    assert expected == parse_when("2026-11-30T21:30+01:00")


def test_parse_when_naive_datetime_is_local_time() -> None:
    expected = datetime(2026, 11, 30, 21, 30, 5).astimezone()
    assert expected == parse_when("2026-11-30 21:30:05")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-11-30T25:00", "30", ""])
def test_parse_when_refuses_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_when(text, now=NOW)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30T21:34:52.123456Z",
        "2026-11-30T21:34:52.123456+00:00",
        "2026-11-30T22:34:52.123456+01:00",
        "2026-11-30T21:34:52.123456789Z",
        "2026-11-30T21:34:52.123456",
    ],
)
def test_parse_timestamp_reads_rfc3339_variants(text: str) -> None:
    expected = datetime(2026, 11, 30, 21, 34, 52, 123456, tzinfo=timezone.utc).timestamp()
    assert expected == parse_timestamp(text)


def test_parse_timestamp_with_short_fraction() -> None:
    expected = datetime(2026, 11, 30, 21, 34, 52, 120000, tzinfo=timezone.utc).timestamp()
    assert expected == parse_timestamp("2026-11-30T21:34:52.12Z")


@pytest.mark.parametrize("value", [None, 17, "", "not a time", "2026-02-30T00:00:00Z"])
def test_parse_timestamp_gives_none_for_anything_else(value: object) -> None:
    assert parse_timestamp(value) is None
