"""RunContextFilter: every record gets the run current where it was logged."""

from __future__ import annotations

import logging

import runlogger
from runlogger import RunContextFilter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    record.__dict__.update(extra)
    return record


def test_sets_the_process_run_id_outside_any_run() -> None:
    record = _record()
    assert RunContextFilter().filter(record) is True
    assert record.run_id == runlogger.current_run().run_id  # type: ignore[attr-defined]
    assert "parent_run_id" not in record.__dict__


def test_sets_run_and_parent_ids_inside_a_run() -> None:
    run_filter = RunContextFilter()
    process_run = runlogger.current_run()
    with runlogger.run("inner") as inner:
        record = _record()
        run_filter.filter(record)
    assert record.run_id == inner.run_id  # type: ignore[attr-defined]
    assert record.parent_run_id == process_run.run_id  # type: ignore[attr-defined]


def test_keeps_a_run_id_the_record_already_has() -> None:
    record = _record(run_id="from-a-child")
    RunContextFilter().filter(record)
    assert record.run_id == "from-a-child"  # type: ignore[attr-defined]


def test_never_drops_a_record_whatever_its_name() -> None:
    record = _record()
    assert RunContextFilter("some.other.logger").filter(record) is True


def test_configuring_it_starts_the_process_run() -> None:
    from runlogger import _context

    assert _context.state.process_run is None
    RunContextFilter()
    assert _context.state.process_run is not None
