"""utc_timestamp: RFC 3339 with microseconds, exactly as strftime would give, cache or not."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from runlogger._timefmt import micros_z_table, utc_timestamp


def _reference(epoch: float) -> str:
    second, micros = divmod(int(epoch * 1_000_000), 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{micros:06d}Z"


@given(st.floats(min_value=-2e9, max_value=4e9))
def test_matches_strftime(epoch: float) -> None:
    assert utc_timestamp(epoch) == _reference(epoch)


@given(st.floats(min_value=1.7e9, max_value=1.8e9), st.lists(st.floats(0, 0.01), max_size=20))
def test_records_close_in_time_are_each_exact(start: float, steps: list[float]) -> None:
    """Consecutive records share the cached second and millisecond only when they should."""
    epoch = start
    for step in steps:
        epoch += step
        assert utc_timestamp(epoch) == _reference(epoch)


def test_edges_of_seconds_and_milliseconds() -> None:
    for epoch in (0.0, 1.5, -1.5, -0.000001, 1_700_000_000.000999, 1_700_000_000.999999):
        assert utc_timestamp(epoch) == _reference(epoch)


def test_micros_table() -> None:
    assert (micros_z_table()[0], micros_z_table()[7], micros_z_table()[999]) == (
        "000Z",
        "007Z",
        "999Z",
    )
