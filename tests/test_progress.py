"""Progress: rate-limited ``progress`` events, the run's last report, ``track()`` for loops."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runlogger
from runlogger import RunContextFilter, RunSummaryHandler, _progress
from support import Collect, read_summary, run_python


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Progress(Collect):
    def events(self) -> list[dict[str, Any]]:
        """The progress fields of each record, as a reader of the JSON would see them."""
        keys = ("done", "total", "rate", "eta_seconds")
        return [{k: r.__dict__[k] for k in keys if k in r.__dict__} for r in self.records]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    _progress.configure(interval=5, clock=fake)
    yield fake
    _progress.reset()


@pytest.fixture
def progress_events(clock: FakeClock) -> Iterator[Progress]:
    """Every ``progress`` record, stamped with its run id as a handler filter would."""
    logger = logging.getLogger("runlogger.progress")
    handler = Progress()
    handler.addFilter(RunContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_every_report_updates_the_last_progress(
    progress_events: Progress, clock: FakeClock
) -> None:
    run = runlogger.current_run()
    for done in range(3):
        run.progress(done, 10)
        clock.now += 1
    assert run.last_progress == {"done": 2, "total": 10, "rate": 1.0}
    assert len(progress_events.records) == 1


def test_events_are_at_most_one_per_interval(progress_events: Progress, clock: FakeClock) -> None:
    run = runlogger.current_run()
    for done in range(12):
        run.progress(done, 100)
        clock.now += 1
    assert [event["done"] for event in progress_events.events()] == [0, 5, 10]


def test_the_final_report_is_always_logged_once(
    progress_events: Progress, clock: FakeClock
) -> None:
    run = runlogger.current_run()
    for done in (0, 1, 3, 3):
        run.progress(done, 3)
        clock.now += 1
    assert [event["done"] for event in progress_events.events()] == [0, 3]


def test_rate_and_eta(progress_events: Progress, clock: FakeClock) -> None:
    run = runlogger.current_run()
    run.progress(0, 100)
    clock.now += 10
    run.progress(50, 100)
    assert progress_events.events()[-1] == {
        "done": 50,
        "total": 100,
        "rate": 5.0,
        "eta_seconds": 10.0,
    }
    assert progress_events.records[-1].getMessage() == "progress 50/100 (50.0%), 5.0/s, ETA 10.0s"


def test_without_a_total_there_is_no_eta(progress_events: Progress, clock: FakeClock) -> None:
    run = runlogger.current_run()
    run.progress(0)
    clock.now += 5
    run.progress(20)
    assert progress_events.events()[-1] == {"done": 20, "total": None, "rate": 4.0}
    assert progress_events.records[-1].getMessage() == "progress 20, 4.0/s"


def test_a_smaller_done_starts_a_new_pass(progress_events: Progress, clock: FakeClock) -> None:
    run = runlogger.current_run()
    run.progress(0, 100)
    clock.now += 10
    run.progress(100, 100)
    clock.now += 1000
    run.progress(0, 10)
    clock.now += 10
    run.progress(10, 10)
    assert [event["rate"] for event in progress_events.events()] == [None, 10.0, None, 1.0]


def test_loops_one_after_another_keep_the_interval_but_log_each_end(
    progress_events: Progress, clock: FakeClock
) -> None:
    for _ in range(2):
        list(runlogger.track(range(3)))
    assert [(e["done"], e["total"]) for e in progress_events.events()] == [(0, 3), (3, 3), (3, 3)]


def test_the_event_is_a_record_of_the_run(progress_events: Progress, clock: FakeClock) -> None:
    with runlogger.run("outer") as outer, runlogger.run("inner"):
        outer.progress(1, 2, stage="load")
    (record,) = progress_events.records
    assert (record.name, record.levelname) == ("runlogger.progress", "INFO")
    fields = record.__dict__
    assert fields["run_id"] == outer.run_id
    assert (fields["event_type"], fields["stage"]) == ("progress", "load")


def test_a_logged_report_writes_a_running_checkpoint(
    progress_events: Progress, clock: FakeClock, runs_dir: Path
) -> None:
    RunSummaryHandler(runs_dir)
    with runlogger.run("job") as run:
        run.progress(5, 10)
        summary = read_summary(runs_dir, run.run_id)
        assert summary["status"] == "running"
        assert summary["progress"] == {"done": 5, "total": 10, "rate": None}
        clock.now += 1
        run.progress(6, 10)  # not logged: the running summary still has the last logged one
        assert read_summary(runs_dir, run.run_id)["progress"]["done"] == 5
    final = read_summary(runs_dir, run.run_id)
    assert final["status"] == "completed"
    assert final["progress"] == {"done": 6, "total": 10, "rate": 1.0}


def test_the_level_of_the_progress_logger_silences_events_not_the_summary(
    progress_events: Progress, clock: FakeClock, runs_dir: Path
) -> None:
    RunSummaryHandler(runs_dir)
    logging.getLogger("runlogger.progress").setLevel(logging.WARNING)
    with runlogger.run("quiet") as run:
        run.progress(7, 10)
        assert read_summary(runs_dir, run.run_id)["progress"]["done"] == 7
    assert progress_events.records == []


def test_events_pass_a_progress_logger_that_dictconfig_disabled(
    progress_events: Progress, clock: FakeClock
) -> None:
    """``disable_existing_loggers`` disables every logger made before dictConfig, ours too."""
    logger = logging.getLogger("runlogger.progress")
    logger.disabled = True
    try:
        runlogger.current_run().progress(1, 2)
    finally:
        logger.disabled = False
    assert len(progress_events.records) == 1


# -- track() ------------------------------------------------------------------------------------


def test_track_yields_every_item_and_takes_the_total_from_len(
    progress_events: Progress, clock: FakeClock
) -> None:
    items = ["a", "b", "c"]
    assert list(runlogger.track(items)) == items
    events = progress_events.events()
    assert [(e["done"], e["total"]) for e in events] == [(0, 3), (3, 3)]
    assert runlogger.current_run().last_progress == {"done": 3, "total": 3, "rate": None}


def test_track_learns_a_generators_total_when_it_runs_out(
    progress_events: Progress, clock: FakeClock
) -> None:
    for _ in runlogger.track(iter(range(4))):
        clock.now += 1
    events = progress_events.events()
    assert [(e["done"], e["total"]) for e in events] == [(0, None), (4, 4)]
    assert events[-1]["rate"] == 1.0


def test_track_every_overrides_the_interval(progress_events: Progress, clock: FakeClock) -> None:
    for _ in runlogger.track(range(4), every=1, stage="load"):
        clock.now += 1
    assert [e["done"] for e in progress_events.events()] == [0, 1, 2, 3, 4]
    assert {r.__dict__["stage"] for r in progress_events.records} == {"load"}


def test_track_stopped_early_keeps_how_far_it_got(
    progress_events: Progress, clock: FakeClock
) -> None:
    run = runlogger.current_run()
    for index in runlogger.track(range(10)):
        if index == 3:
            break
    assert run.last_progress is not None
    assert (run.last_progress["done"], run.last_progress["total"]) == (3, 10)


def test_track_reports_into_the_run_it_is_given(
    progress_events: Progress, clock: FakeClock
) -> None:
    with runlogger.run("target") as target:
        pass
    with runlogger.run("elsewhere") as elsewhere:
        list(runlogger.track(range(2), run=target))
    assert target.last_progress is not None
    assert target.last_progress["done"] == 2
    assert elsewhere.last_progress is None
    assert {r.__dict__["run_id"] for r in progress_events.records} == {target.run_id}


# -- misuse ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "msg", "eta_seconds", "event_type", "run_id"])
def test_a_field_that_would_overwrite_the_records_own_is_refused(field: str) -> None:
    with pytest.raises(TypeError, match=f"progress fields may not be named {field}"):
        runlogger.current_run().progress(1, **{field: "x"})
    with pytest.raises(TypeError, match=f"progress fields may not be named {field}"):
        runlogger.track([], **{field: "x"})


@pytest.mark.parametrize(
    ("done", "total"), [(-1, None), ("3", None), (True, None), (1, -2), (float("nan"), None)]
)
def test_bad_numbers_are_refused(done: Any, total: Any) -> None:
    with pytest.raises(ValueError, match=r"must be a number of items, 0 or more, not .*\.$"):
        runlogger.current_run().progress(done, total)


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="every must be a number of seconds, 0 or more"):
        runlogger.track([], every=-1)
    with pytest.raises(ValueError, match="interval must be a number of seconds, 0 or more"):
        _progress.configure(interval=float("inf"))


def test_reset_restores_the_default_interval() -> None:
    _progress.configure(interval=1)
    _progress.reset()
    assert _progress._settings.interval == _progress.DEFAULT_INTERVAL == 5.0


# -- a run that is lost ----------------------------------------------------------------------


def test_a_killed_run_leaves_how_far_it_got(tmp_path: Path) -> None:
    code = """
        import logging, os, signal
        import runlogger
        from runlogger import _progress
        logging.getLogger().addHandler(runlogger.RunSummaryHandler("runs"))
        _progress.configure(interval=0)
        run = runlogger.current_run()
        print(run.run_id, flush=True)
        for done in (0, 40):
            run.progress(done, 100)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    result = run_python(code, cwd=tmp_path)
    assert result.returncode < 0
    summary = read_summary(tmp_path / "runs", result.stdout.strip())
    assert summary["status"] == "running"
    progress = summary["progress"]
    assert (progress["done"], progress["total"]) == (40, 100)
    assert progress["rate"] > 0
