"""RunTally: exact counts however records arrive, in constant memory, whatever the level."""

from __future__ import annotations

import contextlib
import logging
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runlogger import _summary
from runlogger._summary import (
    BATCH,
    EVENT_TYPE_LIMIT,
    MAX_EVENT_TYPES,
    OTHER_EVENT_TYPE,
    RunTally,
    event_type_name,
    merge_contributions,
)


def _record(level: int, event_type: object = None, levelname: object = None) -> logging.LogRecord:
    record = logging.LogRecord("t", level, __file__, 1, "m", None, None)
    if event_type is not None:
        record.__dict__["event_type"] = event_type
    if levelname is not None:
        record.levelname = levelname  # type: ignore[assignment]
    return record


def test_counts_are_exact_beyond_one_batch() -> None:
    tally = RunTally()
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
    for index in range(5 * BATCH + 3):
        tally.add(_record(levels[index % 5], event_type=("a", "b", None)[index % 3]))
    total = 5 * BATCH + 3
    snapshot = tally.snapshot()
    assert snapshot["event_count"] == total
    assert sum(snapshot["counts_by_level"].values()) == total
    assert snapshot["counts_by_level"]["DEBUG"] == (total + 4) // 5
    assert (
        snapshot["error_count"]
        == snapshot["counts_by_level"]["ERROR"] + snapshot["counts_by_level"]["CRITICAL"]
    )
    assert snapshot["warning_count"] == snapshot["counts_by_level"]["WARNING"]
    assert snapshot["counts_by_event_type"] == {"a": (total + 2) // 3, "b": (total + 1) // 3}
    assert (tally.event_count, tally.error_count) == (total, snapshot["error_count"])


def test_pending_records_are_bounded() -> None:
    """Memory is constant: never more than a batch of records waits to be counted."""
    tally = RunTally()
    for _ in range(10 * BATCH):
        tally.add(_record(logging.INFO))
        assert len(tally.queue) < BATCH
    assert len(tally._counts) == 1


def test_first_error_is_the_first_one() -> None:
    tally = RunTally()
    tally.add(_record(logging.WARNING))
    first = _record(logging.ERROR)
    first.msg = "first"
    tally.add(first)
    tally.add(_record(logging.CRITICAL))
    assert tally.snapshot()["first_error"]["message"] == "first"


def test_event_type_that_is_not_a_string_is_counted_by_its_text() -> None:
    tally = RunTally()
    tally.add(_record(logging.INFO, event_type=42))
    assert tally.snapshot()["counts_by_event_type"] == {"42": 1}


def test_unhashable_level_name_does_not_stop_the_counts() -> None:
    tally = RunTally()
    tally.add(_record(logging.INFO, levelname=["odd"]))
    tally.add(_record(logging.INFO))
    snapshot = tally.snapshot()
    assert snapshot["event_count"] == 2
    assert snapshot["counts_by_level"] == {"['odd']": 1, "INFO": 1}


def test_level_that_is_no_number_counts_but_in_no_severity() -> None:
    tally = RunTally()
    record = _record(logging.INFO)
    record.levelno = "high"  # type: ignore[assignment]
    # Comparing it with ERROR fails (the handler reports that as a logging error), after
    # the record is counted.
    with contextlib.suppress(TypeError):
        tally.add(record)
    snapshot = tally.snapshot()
    assert (snapshot["event_count"], snapshot["error_count"], snapshot["warning_count"]) == (
        1,
        0,
        0,
    )


def test_threads_adding_and_reading_lose_no_count() -> None:
    tally = RunTally()
    per_thread = 3 * BATCH + 7

    def work() -> None:
        for index in range(per_thread):
            tally.add(_record(logging.INFO, event_type="tick"))
            if index % 200 == 0:
                tally.snapshot()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = tally.snapshot()
    assert snapshot["event_count"] == 6 * per_thread
    assert snapshot["counts_by_event_type"] == {"tick": 6 * per_thread}


# --- event type cardinality ------------------------------------------------------------------


def test_event_types_beyond_the_cap_are_counted_under_other() -> None:
    tally = RunTally()
    for index in range(MAX_EVENT_TYPES + 2000):
        tally.add(_record(logging.INFO, event_type=f"kind-{index}"))
    tally.add(_record(logging.INFO, event_type="kind-0"))  # a named kind stays named

    counts = tally.snapshot()["counts_by_event_type"]

    assert len(counts) == MAX_EVENT_TYPES + 1
    assert counts["kind-0"] == 2
    assert counts[f"kind-{MAX_EVENT_TYPES - 1}"] == 1
    assert counts[OTHER_EVENT_TYPE] == 2000
    assert tally.event_count == MAX_EVENT_TYPES + 2001


def test_memory_stays_bounded_with_ever_new_event_types() -> None:
    tally = RunTally()
    levels = [logging.INFO, logging.WARNING]
    for index in range(30_000):
        tally.add(_record(levels[index % 2], event_type=f"request-{index}"))
    tally.count_queue()

    assert len(tally._counts) <= len(levels) * (MAX_EVENT_TYPES + 1)
    assert len(tally._kinds) <= 4 * MAX_EVENT_TYPES
    assert tally.event_count == 30_000


def test_a_long_event_type_is_counted_under_a_cut_name() -> None:
    tally = RunTally()
    tally.add(_record(logging.INFO, event_type="x" * 100_000))
    tally.add(_record(logging.INFO, event_type="x" * 100_000 + "y"))

    ((name, count),) = tally.snapshot()["counts_by_event_type"].items()

    assert len(name) <= EVENT_TYPE_LIMIT
    assert name.startswith("x" * 150)
    assert name.endswith("…[truncated]")
    assert count == 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", "c", "(other)"]) | st.text(max_size=5) | st.text(min_size=190),
        max_size=60,
    ),
    st.integers(min_value=1, max_value=6),
)
def test_the_first_kinds_keep_their_names_and_no_record_is_lost(
    event_types: list[str], cap: int
) -> None:
    tally = RunTally()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_summary, "MAX_EVENT_TYPES", cap)
        for event_type in event_types:
            tally.add(_record(logging.INFO, event_type=event_type))
        counts = tally.snapshot()["counts_by_event_type"]

    names = list(dict.fromkeys(event_type_name(event_type) for event_type in event_types))
    assert sum(counts.values()) == len(event_types)
    assert len(counts) <= cap + 1
    assert all(len(name) <= EVENT_TYPE_LIMIT for name in counts)
    for name in names[:cap]:
        assert counts[name] >= sum(event_type_name(e) == name for e in event_types)


def test_merged_summaries_keep_the_largest_kinds_and_fold_the_rest() -> None:
    first = {"counts_by_event_type": {f"a{i}": 2 for i in range(MAX_EVENT_TYPES)}}
    second = {
        "counts_by_event_type": {f"b{i}": 1 for i in range(MAX_EVENT_TYPES)},
        "suppressed_by_event_type": {f"s{i}": 1 for i in range(MAX_EVENT_TYPES + 5)},
    }

    totals = merge_contributions([first, second])

    assert totals["counts_by_event_type"] == {
        **{f"a{i}": 2 for i in range(MAX_EVENT_TYPES)},
        OTHER_EVENT_TYPE: MAX_EVENT_TYPES,
    }
    assert len(totals["suppressed_by_event_type"]) == MAX_EVENT_TYPES + 1
    assert sum(totals["suppressed_by_event_type"].values()) == MAX_EVENT_TYPES + 5
