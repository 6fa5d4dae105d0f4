"""RunSampleFilter: which records pass, the weights they carry, and counts that stay exact."""

from __future__ import annotations

import io
import logging
import logging.config
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import runlogger
from runlogger import RunJsonFormatter, RunSampleFilter, RunSummaryHandler, _sampling
from support import Collect, parse_line, read_summary


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def weight(record: logging.LogRecord) -> int | None:
    value = record.__dict__.get("sample_weight")
    assert value is None or (type(value) is int and value > 1), value
    return value


def emitted(handler: Collect) -> list[tuple[Any, int | None]]:
    """``(first argument, weight)`` of each record the handler emitted."""
    return [(record.args[0] if record.args else None, weight(record)) for record in handler.records]


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of this test's own, which keeps its records to itself."""
    log = logging.getLogger(f"tests.sampling.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def wire(logger: logging.Logger, sampler: RunSampleFilter, runs_dir: Path) -> Collect:
    """The recommended setup: the sampler on the output, the summary beside it without."""
    out = Collect()
    out.addFilter(sampler)
    logger.addHandler(out)
    logger.addHandler(RunSummaryHandler(runs_dir))
    return out


def log_items(logger: logging.Logger, count: int, event_type: str = "item") -> None:
    for index in range(count):
        logger.info("item %d", index, extra={"event_type": event_type})


# -- which records pass ---------------------------------------------------------------------


def test_lets_the_first_through_then_one_in_every(logger: logging.Logger, runs_dir: Path) -> None:
    out = wire(logger, RunSampleFilter(first=3, every=4), runs_dir)
    log_items(logger, 15)
    assert emitted(out) == [(0, None), (1, None), (2, None), (6, 4), (10, 4), (14, 4)]


def test_every_one_and_no_rate_limit_keeps_everything(
    logger: logging.Logger, runs_dir: Path
) -> None:
    out = wire(logger, RunSampleFilter(first=0, every=1), runs_dir)
    log_items(logger, 50)
    assert emitted(out) == [(index, None) for index in range(50)]


def test_each_event_type_is_sampled_on_its_own(logger: logging.Logger, runs_dir: Path) -> None:
    out = wire(logger, RunSampleFilter(first=2, every=100), runs_dir)
    for index in range(5):
        logger.info("a %d", index, extra={"event_type": "a"})
        logger.info("b %d", index, extra={"event_type": "b"})
    assert [(r.event_type, r.args[0]) for r in out.records] == [  # type: ignore[attr-defined]
        ("a", 0),
        ("b", 0),
        ("a", 1),
        ("b", 1),
    ]


def test_untyped_records_are_keyed_by_logger_and_template(
    logger: logging.Logger, runs_dir: Path
) -> None:
    out = wire(logger, RunSampleFilter(first=2, every=100), runs_dir)
    with runlogger.run("untyped") as run:
        for index in range(5):
            logger.info("row %d", index)
            logger.info("other %s", index)
    assert [r.getMessage() for r in out.records] == ["row 0", "other 0", "row 1", "other 1"]
    summary = read_summary(runs_dir, run.run_id)
    assert summary["suppressed_by_event_type"] == {
        f"{logger.name}:row %d": 3,
        f"{logger.name}:other %s": 3,
    }


def test_records_at_min_level_kept_always_pass_and_do_not_count(
    logger: logging.Logger, runs_dir: Path
) -> None:
    out = wire(logger, RunSampleFilter(first=1, every=3), runs_dir)
    for index in range(7):
        logger.warning("item %d", index, extra={"event_type": "item"})
        logger.info("item %d", index, extra={"event_type": "item"})
    warnings = [r.args[0] for r in out.records if r.levelno == logging.WARNING]
    infos = [(r.args[0], weight(r)) for r in out.records if r.levelno == logging.INFO]
    assert warnings == list(range(7))
    assert all(weight(r) is None for r in out.records if r.levelno == logging.WARNING)
    assert infos == [(0, None), (3, 3), (6, 3)]


@pytest.mark.parametrize(
    ("level", "number"), [("ERROR", 40), ("error", 40), (25, 25), ("INFO", 20)]
)
def test_min_level_kept_takes_names_and_numbers(level: int | str, number: int) -> None:
    assert RunSampleFilter(min_level_kept=level).min_level_kept == number


def test_runloggers_own_events_are_never_held_back() -> None:
    sampler = RunSampleFilter(first=0, every=1000)
    for name, event_type in [("runlogger.progress", "progress"), ("runlogger.run", "run_finished")]:
        source = logging.getLogger(name)
        for _ in range(20):
            record = source.makeRecord(
                name, logging.INFO, __file__, 1, "m", (), None, extra={"event_type": event_type}
            )
            assert sampler.filter(record) is True


def test_per_second_limits_with_an_injected_clock(logger: logging.Logger, runs_dir: Path) -> None:
    clock = FakeClock()
    out = wire(logger, RunSampleFilter(first=0, every=1, per_second=2, clock=clock), runs_dir)
    log_items(logger, 10)
    clock.now += 1.0
    for index in range(10, 20):
        logger.info("item %d", index, extra={"event_type": "item"})
    assert emitted(out) == [(0, None), (1, None), (10, 9), (11, None)]


def test_per_second_below_one_spaces_records_out(logger: logging.Logger, runs_dir: Path) -> None:
    clock = FakeClock()
    out = wire(logger, RunSampleFilter(first=0, every=1, per_second=0.5, clock=clock), runs_dir)
    for index in range(5):
        logger.info("item %d", index, extra={"event_type": "item"})
        clock.now += 1.0
    assert emitted(out) == [(0, None), (2, 2), (4, 2)]


def test_per_second_applies_to_the_first_records_too(
    logger: logging.Logger, runs_dir: Path
) -> None:
    clock = FakeClock()
    out = wire(logger, RunSampleFilter(first=10, every=1000, per_second=3, clock=clock), runs_dir)
    log_items(logger, 10)
    assert emitted(out) == [(0, None), (1, None), (2, None)]


def test_kinds_tracked_are_bounded_least_recent_forgotten(
    logger: logging.Logger, runs_dir: Path
) -> None:
    sampler = RunSampleFilter(first=1, every=1000, max_keys=2)
    out = wire(logger, sampler, runs_dir)
    for kind in "abcabc":
        logger.info("x", extra={"event_type": kind})
    assert len(out.records) == 6  # each kind was forgotten before it came back
    assert len(sampler._states) == 2


def test_kinds_within_the_bound_are_remembered(logger: logging.Logger, runs_dir: Path) -> None:
    out = wire(logger, RunSampleFilter(first=1, every=1000, max_keys=3), runs_dir)
    for kind in "abcabc":
        logger.info("x", extra={"event_type": kind})
    assert len(out.records) == 3


# -- counts stay exact ------------------------------------------------------------------------


def test_summary_counts_every_record_and_what_was_held_back(
    logger: logging.Logger, runs_dir: Path
) -> None:
    out = wire(logger, RunSampleFilter(first=10, every=1000), runs_dir)
    with runlogger.run("sampled") as run:
        log_items(logger, 2500)
    summary = read_summary(runs_dir, run.run_id)
    assert summary["counts_by_event_type"] == {"item": 2500}
    assert len(out.records) == 12  # the first 10, then items 1009 and 2009
    assert summary["suppressed_by_event_type"] == {"item": 2500 - 12}


def test_held_back_records_count_in_the_run_they_belong_to(
    logger: logging.Logger, runs_dir: Path
) -> None:
    wire(logger, RunSampleFilter(first=1, every=1000), runs_dir)
    with runlogger.run("outer") as outer:
        log_items(logger, 3)
        with runlogger.run("inner") as inner:
            log_items(logger, 5)
    # One sampler, one count per kind across runs: all of the inner run's items are held.
    assert read_summary(runs_dir, outer.run_id)["suppressed_by_event_type"] == {"item": 2}
    assert read_summary(runs_dir, inner.run_id)["suppressed_by_event_type"] == {"item": 5}


def test_counts_are_exact_with_concurrent_threads(logger: logging.Logger, runs_dir: Path) -> None:
    threads_count, per_thread = 8, 5000
    out = wire(logger, RunSampleFilter(first=0, every=100), runs_dir)

    def work() -> None:
        log_items(logger, per_thread)

    with runlogger.run("threads") as run:
        threads = [
            threading.Thread(target=runlogger.in_current_run(work)) for _ in range(threads_count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    total = threads_count * per_thread
    summary = read_summary(runs_dir, run.run_id)
    assert summary["counts_by_event_type"] == {"item": total}
    assert [weight(r) for r in out.records] == [100] * (total // 100)
    assert summary["suppressed_by_event_type"] == {"item": total - total // 100}


def test_one_sampler_on_two_handlers_decides_each_record_once(
    logger: logging.Logger, runs_dir: Path
) -> None:
    sampler = RunSampleFilter(first=2, every=5)
    first_out = wire(logger, sampler, runs_dir)
    second_out = Collect()
    second_out.addFilter(sampler)
    logger.addHandler(second_out)
    with runlogger.run("shared") as run:
        log_items(logger, 22)
    expected = [(0, None), (1, None), (6, 5), (11, 5), (16, 5), (21, 5)]
    assert emitted(first_out) == emitted(second_out) == expected
    assert read_summary(runs_dir, run.run_id)["suppressed_by_event_type"] == {"item": 16}


def test_summary_labels_are_bounded_per_run(
    logger: logging.Logger, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sampling, "_MAX_LABELS", 3)
    wire(logger, RunSampleFilter(first=0, every=1000), runs_dir)
    with runlogger.run("many kinds") as run:
        for kind in "abcde":
            log_items(logger, 2, event_type=kind)
    summary = read_summary(runs_dir, run.run_id)
    assert summary["suppressed_by_event_type"] == {"a": 2, "b": 2, "c": 2, "(other)": 4}


# -- the weight never leaks to other handlers -------------------------------------------------


def test_other_handlers_never_see_the_weight(logger: logging.Logger, runs_dir: Path) -> None:
    """Later handlers on the same logger, and handlers up the tree, get the untouched record."""
    child = logging.getLogger(f"{logger.name}.child")
    out = Collect()
    out.addFilter(RunSampleFilter(first=1, every=3))
    beside, above = Collect(), Collect()
    child.addHandler(out)
    child.addHandler(beside)
    logger.addHandler(above)
    try:
        for index in range(10):
            child.info("item %d", index, extra={"event_type": "item"})
    finally:
        child.removeHandler(out)
        child.removeHandler(beside)
    assert emitted(out) == [(0, None), (3, 3), (6, 3), (9, 3)]
    for handler in (beside, above):
        assert [r.args[0] for r in handler.records] == list(range(10))
        assert not any("sample_weight" in r.__dict__ for r in handler.records)


def test_weight_is_in_the_json_line(logger: logging.Logger) -> None:
    stream, plain = io.StringIO(), io.StringIO()
    sampled = logging.StreamHandler(stream)
    sampled.setFormatter(RunJsonFormatter())
    sampled.addFilter(RunSampleFilter(first=1, every=2))
    unsampled = logging.StreamHandler(plain)
    unsampled.setFormatter(RunJsonFormatter())
    logger.addHandler(sampled)
    logger.addHandler(unsampled)
    log_items(logger, 5)
    events = [parse_line(line) for line in stream.getvalue().splitlines()]
    assert [(e["message"], e.get("sample_weight")) for e in events] == [
        ("item 0", None),
        ("item 2", 2),
        ("item 4", 2),
    ]
    assert not any("sample_weight" in parse_line(line) for line in plain.getvalue().splitlines())


def test_filters_after_the_sampler_judge_the_weighted_copy(logger: logging.Logger) -> None:
    out = Collect()
    out.addFilter(RunSampleFilter(first=1, every=2))
    out.addFilter(lambda record: record.args != (2,))
    logger.addHandler(out)
    log_items(logger, 5)
    assert emitted(out) == [(0, None), (4, 2)]


# -- configuration --------------------------------------------------------------------------


def test_dictconfig_builds_the_sampler(logger: logging.Logger) -> None:
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "sample": {
                    "()": "runlogger.RunSampleFilter",
                    "first": 2,
                    "every": 5,
                    "per_second": 100,
                    "min_level_kept": "ERROR",
                }
            },
            "handlers": {
                "out": {
                    "class": "logging.handlers.BufferingHandler",
                    "capacity": 1000,
                    "filters": ["sample"],
                }
            },
            "loggers": {logger.name: {"handlers": ["out"], "propagate": False}},
        }
    )
    (out,) = logger.handlers
    (sampler,) = out.filters
    assert isinstance(sampler, RunSampleFilter)
    assert (sampler.first, sampler.every, sampler.per_second, sampler.min_level_kept) == (
        2,
        5,
        100.0,
        logging.ERROR,
    )
    log_items(logger, 7)
    logger.warning("a warning is sampled", extra={"event_type": "item"})
    logger.error("an error is kept", extra={"event_type": "item"})
    buffer = out.buffer  # type: ignore[attr-defined]
    assert [r.getMessage() for r in buffer] == ["item 0", "item 1", "item 6", "an error is kept"]


def test_dictconfig_explains_a_bad_value() -> None:
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"sample": {"()": "runlogger.RunSampleFilter", "every": 0}},
    }
    with pytest.raises(ValueError, match="Unable to configure filter 'sample'") as caught:
        logging.config.dictConfig(config)
    assert str(caught.value.__cause__) == "every must be a whole number of at least 1, not 0."


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"first": -1}, "first must be a whole number of at least 0, not -1."),
        ({"first": 2.5}, "first must be a whole number of at least 0, not 2.5."),
        ({"first": True}, "first must be a whole number of at least 0, not True."),
        ({"every": 0}, "every must be a whole number of at least 1, not 0."),
        ({"per_second": 0}, "per_second must be a positive number of records a second"),
        ({"per_second": float("nan")}, "per_second must be a positive number"),
        ({"per_second": "5"}, "per_second must be a positive number"),
        ({"min_level_kept": "LOUD"}, "min_level_kept must be a level name such as 'WARNING'"),
        ({"min_level_kept": None}, "min_level_kept must be a level name"),
        ({"max_keys": 0}, "max_keys must be a whole number of at least 1, not 0."),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match="must be") as caught:
        RunSampleFilter(**arguments)
    message = str(caught.value)
    assert message.startswith(complaint)
    assert message.endswith(".")


def test_clock_must_be_callable() -> None:
    with pytest.raises(TypeError, match="clock must be a callable"):
        RunSampleFilter(clock=1.0)  # type: ignore[arg-type]


# -- against a model --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, database=None)
@given(
    kinds=st.lists(st.sampled_from("abc"), max_size=60),
    first=st.integers(0, 4),
    every=st.integers(1, 5),
)
def test_matches_the_first_then_every_rule(kinds: list[str], first: int, every: int) -> None:
    """Each kind: records 1..first pass, then every ``every``-th; weights cover the gaps."""
    source = logging.getLogger("tests.sampling.model")
    source.propagate = False
    source.setLevel(logging.DEBUG)
    out = Collect()
    out.addFilter(RunSampleFilter(first=first, every=every))
    source.addHandler(out)
    try:
        for index, kind in enumerate(kinds):
            source.info("%d", index, extra={"event_type": kind})
    finally:
        source.removeHandler(out)
    seen: Counter[str] = Counter()
    held: Counter[str] = Counter()
    expected = []
    for index, kind in enumerate(kinds):
        seen[kind] += 1
        held[kind] += 1
        beyond = seen[kind] - first
        if beyond <= 0 or beyond % every == 0:
            expected.append((index, held[kind] if held[kind] > 1 else None))
            held[kind] = 0
    assert emitted(out) == expected
    for kind, count in Counter(kinds).items():
        kind_records = [r for r in out.records if r.__dict__["event_type"] == kind]
        assert sum(weight(r) or 1 for r in kind_records) + held[kind] == count


def test_repr_names_the_settings() -> None:
    assert repr(RunSampleFilter(first=1, every=2, per_second=3, min_level_kept=40)) == (
        "<RunSampleFilter first=1 every=2 per_second=3.0 min_level_kept=ERROR>"
    )


def test_an_odd_record_passes_and_never_raises() -> None:
    sampler = RunSampleFilter(first=0, every=1000)
    nameless = logging.makeLogRecord({"msg": "no logger name"})
    assert nameless.name is None
    assert sampler.filter(nameless) is True
