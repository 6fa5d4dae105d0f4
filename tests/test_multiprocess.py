"""Multi-process runs: children join the run, their records are counted once, nothing lost.

Every test runs real processes (fork and spawn, Pool, Process, ProcessPoolExecutor,
subprocess, a bare os.fork) and checks the JSON lines and the merged summary.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from support import SIGTERM_WHEN_HAND_OVER_IS_TAKEN, read_jsonl, read_summary, run_python

CONFIG = """
import logging, logging.config, multiprocessing as mp, os, sys, subprocess
import runlogger

CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run": {"()": "runlogger.RunContextFilter"}},
    "formatters": {"json": {"()": "runlogger.RunJsonFormatter", "max_string": 300_000}},
    "handlers": {
        "events": {"class": "runlogger.RunFileHandler", "directory": "runs",
                   "formatter": "json", "filters": ["run"]},
        "summary": {"class": "runlogger.RunSummaryHandler", "directory": "runs",
                    "filters": ["run"]},
    },
    "root": {"level": "INFO", "handlers": ["events", "summary"]},
}

def work(worker, count=5000, big_every=0):
    log = logging.getLogger("worker")
    for i in range(count):
        payload = "x" * 200_000 if big_every and i % big_every == 0 else ""
        log.info("rec", extra={"event_type": "rec", "worker": worker, "i": i, "payload": payload})
    return os.getpid()
"""


def check_each_record_once(events: list[dict[str, Any]], workers: int, per_worker: int) -> None:
    """Fail unless every (worker, i) record appears exactly once: the multi-process checker."""
    seen = Counter((e["worker"], e["i"]) for e in events if e.get("event_type") == "rec")
    duplicated = [key for key, n in seen.items() if n > 1]
    expected = {(w, i) for w in range(workers) for i in range(per_worker)}
    missing = expected - seen.keys()
    assert not duplicated, f"records written more than once: {duplicated[:5]}"
    assert not missing, f"records lost: {sorted(missing)[:5]}"
    assert seen.keys() == expected


def _run_and_read(
    tmp_path: Path, code: str, *args: str, timeout: float = 120
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = run_python(CONFIG + code, *args, cwd=tmp_path, timeout=timeout)
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    summary = read_summary(tmp_path / "runs", run_id)
    events = read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")
    summary["test_stderr"] = result.stderr  # shown if an assertion on the summary fails
    return summary, events


def _assert_merged(summary: dict[str, Any], events: list[dict[str, Any]], records: int) -> None:
    assert summary["status"] == "completed"
    assert summary["counts_by_event_type"]["rec"] == records, (
        summary["contributors"],
        summary["test_stderr"],
    )
    assert summary["event_count"] == len(events)
    assert {e["run_id"] for e in events} == {summary["run_id"]}
    assert events[-1]["event_type"] == "run_finished"
    assert events[-1]["event_count"] == len(events)


POOL = """
if __name__ == "__main__":
    method, ending = sys.argv[1], sys.argv[2]
    logging.config.dictConfig(CONFIG)
    context = mp.get_context(method)
    # spawn children start with no logging configured: the initializer is the one line.
    extra = {} if method == "fork" else {"initializer": logging.config.dictConfig, "initargs": (CONFIG,)}
    with context.Pool(4, **extra) as pool:   # leaving the block terminates the workers
        pool.map(work, range(4))
        if ending == "close":
            pool.close()
            pool.join()
    print(runlogger.current_run().run_id)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_join_the_run_and_are_counted(tmp_path: Path, method: str) -> None:
    summary, events = _run_and_read(tmp_path, POOL, method, "close")
    check_each_record_once(events, workers=4, per_worker=5000)
    _assert_merged(summary, events, 20_000)
    assert len(summary["contributors"]) == 5


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_terminated_pool_workers_are_counted(tmp_path: Path, method: str) -> None:
    """``with Pool()`` ends with terminate(): SIGTERM to workers, idle or mid-exit."""
    summary, events = _run_and_read(tmp_path, POOL, method, "terminate", timeout=60)
    check_each_record_once(events, workers=4, per_worker=5000)
    _assert_merged(summary, events, 20_000)


TERMINATED = """
import time

def child(worker, done):
    if sys.argv[1] == "spawn":
        logging.config.dictConfig(CONFIG)
    work(worker, count=2000)
    done.set()
    time.sleep(60)                             # still busy when the parent terminates it

if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    context = mp.get_context(sys.argv[1])
    done = [context.Event() for _ in range(3)]
    processes = [context.Process(target=child, args=(w, done[w])) for w in range(3)]
    for p in processes: p.start()
    for event in done: event.wait(60)
    for p in processes: p.terminate()          # SIGTERM
    for p in processes: p.join()
    print(runlogger.current_run().run_id)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_children_ended_by_sigterm_hand_over_their_counts(tmp_path: Path, method: str) -> None:
    summary, events = _run_and_read(tmp_path, TERMINATED, method)
    check_each_record_once(events, workers=3, per_worker=2000)
    _assert_merged(summary, events, 6000)


SIGTERM_AT_EXIT = (
    SIGTERM_WHEN_HAND_OVER_IS_TAKEN
    + """
def child(worker):
    if sys.argv[1] == "spawn":
        logging.config.dictConfig(CONFIG)
    work(worker, count=1000)
    sigterm_when_hand_over_is_taken()

if __name__ == "__main__":
    CONFIG["handlers"]["summary"]["handle_signals"] = sys.argv[2] == "handle_signals"
    logging.config.dictConfig(CONFIG)
    context = mp.get_context(sys.argv[1])
    processes = [context.Process(target=child, args=(w,)) for w in range(2)]
    for p in processes: p.start()
    for p in processes: p.join()
    print("exit codes", [p.exitcode for p in processes], file=sys.stderr)
    print(runlogger.current_run().run_id)
"""
)


@pytest.mark.parametrize("signals", ["default", "handle_signals"])
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigterm_right_after_the_exit_hand_over_is_taken_loses_nothing(
    tmp_path: Path, method: str, signals: str
) -> None:
    """The thread taking the hand-over at exit writes it, even when SIGTERM lands then;
    also in a child forked from a parent whose runlogger handles SIGTERM (whose handler
    the child inherits, and would raise SystemExit in the middle of the hand-over)."""
    summary, events = _run_and_read(tmp_path, SIGTERM_AT_EXIT, method, signals)
    check_each_record_once(events, workers=2, per_worker=1000)
    _assert_merged(summary, events, 2000)
    assert "gave up" not in summary["test_stderr"]


PROCESS = """
def child(worker):
    if sys.argv[1] == "spawn":
        logging.config.dictConfig(CONFIG)
    work(worker, count=1000)

if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    context = mp.get_context(sys.argv[1])
    processes = [context.Process(target=child, args=(w,)) for w in range(3)]
    for p in processes: p.start()
    for p in processes: p.join()
    assert all(p.exitcode == 0 for p in processes)
    print(runlogger.current_run().run_id)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_children_are_counted(tmp_path: Path, method: str) -> None:
    summary, events = _run_and_read(tmp_path, PROCESS, method)
    check_each_record_once(events, workers=3, per_worker=1000)
    _assert_merged(summary, events, 3000)


EXECUTOR = """
from concurrent.futures import ProcessPoolExecutor
if __name__ == "__main__":
    method = sys.argv[1]
    logging.config.dictConfig(CONFIG)
    extra = {} if method == "fork" else {"initializer": logging.config.dictConfig, "initargs": (CONFIG,)}
    with ProcessPoolExecutor(2, mp_context=mp.get_context(method), **extra) as pool:
        list(pool.map(work, range(4), [500] * 4))
    print(runlogger.current_run().run_id)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_pool_executor_workers_are_counted(tmp_path: Path, method: str) -> None:
    summary, events = _run_and_read(tmp_path, EXECUTOR, method)
    check_each_record_once(events, workers=4, per_worker=500)
    _assert_merged(summary, events, 2000)


SUBPROCESS = """
if __name__ == "__main__":
    if len(sys.argv) > 1:                      # the child: configures runlogger itself
        logging.config.dictConfig(CONFIG)
        work(int(sys.argv[1]), count=300)
        sys.exit(0)
    logging.config.dictConfig(CONFIG)
    for worker in range(2):
        subprocess.run([sys.executable, __file__, str(worker)], check=True)
    print(runlogger.current_run().run_id)
"""


def test_python_subprocess_joins_through_the_environment(tmp_path: Path) -> None:
    summary, events = _run_and_read(tmp_path, SUBPROCESS)
    check_each_record_once(events, workers=2, per_worker=300)
    _assert_merged(summary, events, 600)
    assert len(summary["contributors"]) == 3


BARE_FORK = """
if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    work(0, count=100)
    pid = os.fork()
    if pid == 0:
        work(1, count=50)
        sys.exit(0)                            # a plain child: runs atexit like any process
    os.waitpid(pid, 0)
    work(0, count=0)
    print(runlogger.current_run().run_id)
"""


def test_bare_fork_child_neither_overwrites_nor_double_counts(tmp_path: Path) -> None:
    summary, events = _run_and_read(tmp_path, BARE_FORK)
    recs = Counter(e["worker"] for e in events if e.get("event_type") == "rec")
    assert recs == {0: 100, 1: 50}
    _assert_merged(summary, events, 150)
    finished = [e for e in events if e.get("event_type") == "run_finished"]
    assert len(finished) == 1  # only the owner finishes the run


OS_EXIT_CHILD = """
if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    work(0, count=10)
    pid = os.fork()
    if pid == 0:
        work(1, count=4000)
        if sys.argv[1] == "shutdown":
            logging.shutdown()                 # the documented way before os._exit
        else:
            logging.getLogger().handlers[1].flush()
        os._exit(0)                            # skips atexit
    os.waitpid(pid, 0)
    work(0, count=5)
    print(runlogger.current_run().run_id)
"""


@pytest.mark.parametrize("how", ["shutdown", "flush"])
def test_os_exit_child_after_logging_shutdown_hands_over_exactly(tmp_path: Path, how: str) -> None:
    """``logging.shutdown()`` (or the summary handler's ``flush()``) before ``os._exit``
    writes the child's share: the summary counts every line the child wrote."""
    summary, events = _run_and_read(tmp_path, OS_EXIT_CHILD, how)
    recs = Counter(e["worker"] for e in events if e.get("event_type") == "rec")
    assert recs == {0: 15, 1: 4000}
    _assert_merged(summary, events, 4015)


GRANDCHILD = """
import signal, time

def child():
    work(0, count=10)
    pid = os.fork()
    if pid == 0:
        work(1, count=10)
        time.sleep(60)                         # until the child ends it
        os._exit(0)
    time.sleep(0.5)
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    print("GRANDCHILD", os.waitstatus_to_exitcode(status), flush=True)
    time.sleep(0.5)                            # when the parent's watcher would have acted
    work(0, count=0)

if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    process = mp.get_context("fork").Process(target=child)
    process.start()
    process.join()
    print("CHILD", process.exitcode)
    print(runlogger.current_run().run_id)
"""


def test_a_childs_sigterm_does_not_end_the_process_that_forked_it(tmp_path: Path) -> None:
    """A worker's own fork child inherited the worker's signal wakeup pipe: its SIGTERM woke
    the worker's watching thread, which ended the worker as if it had been terminated."""
    result = run_python(CONFIG + GRANDCHILD, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "GRANDCHILD 143" in result.stdout
    assert "CHILD 0" in result.stdout
    run_id = result.stdout.strip().splitlines()[-1]
    events = read_jsonl(tmp_path / "runs" / f"{run_id}.jsonl")
    assert read_summary(tmp_path / "runs", run_id)["event_count"] == len(events)


MANY_WRITERS = """
if __name__ == "__main__":
    logging.config.dictConfig(CONFIG)
    processes = [mp.get_context("fork").Process(target=work, args=(w, 10_000, 100)) for w in range(8)]
    for p in processes: p.start()
    for p in processes: p.join()
    print(runlogger.current_run().run_id)
"""


def test_eight_processes_appending_to_one_file_lose_nothing(tmp_path: Path) -> None:
    summary, events = _run_and_read(tmp_path, MANY_WRITERS)
    recs = [e for e in events if e.get("event_type") == "rec"]
    assert len(recs) == 80_000
    assert sum(len(e["payload"]) == 200_000 for e in recs) == 800
    check_each_record_once(events, workers=8, per_worker=10_000)
    _assert_merged(summary, events, 80_000)


def _events(pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"event_type": "rec", "worker": w, "i": i} for w, i in pairs]


def test_checker_fails_when_a_record_is_dropped() -> None:
    complete = [(w, i) for w in range(2) for i in range(10)]
    check_each_record_once(_events(complete), workers=2, per_worker=10)
    with pytest.raises(AssertionError, match="records lost"):
        check_each_record_once(_events(complete[:-1]), workers=2, per_worker=10)


def test_checker_fails_when_a_record_is_duplicated() -> None:
    complete = [(w, i) for w in range(2) for i in range(10)]
    with pytest.raises(AssertionError, match="more than once"):
        check_each_record_once(_events([*complete, (1, 3)]), workers=2, per_worker=10)
