"""run() and current_run(): nesting, decorators, asyncio tasks and threads."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import runlogger
from runlogger import InvalidRunIdError


def test_current_run_is_the_process_run_outside_any_run() -> None:
    process_run = runlogger.current_run()
    assert process_run.is_process_run
    assert process_run.parent_run_id is None
    assert runlogger.current_run() is process_run


def test_runs_nest() -> None:
    with runlogger.run("outer") as outer, runlogger.run("inner") as inner:
        assert runlogger.current_run() is inner
        assert inner.parent is outer
        assert inner.parent_run_id == outer.run_id
    assert runlogger.current_run().is_process_run


def test_run_finishes_completed() -> None:
    with runlogger.run("ok") as ok:
        assert ok.status == "running"
    assert ok.status == "completed"
    assert ok.end_time is not None


def test_exception_fails_the_run_and_propagates() -> None:
    with pytest.raises(KeyError), runlogger.run("bad") as bad:
        raise KeyError("missing")
    assert bad.status == "failed"
    assert bad.exception == {"type": "KeyError", "message": "'missing'"}


def test_keyboard_interrupt_terminates_the_run() -> None:
    with pytest.raises(KeyboardInterrupt), runlogger.run("stopped") as stopped:
        raise KeyboardInterrupt
    assert (stopped.status, stopped.signal) == ("terminated", "SIGINT")


def test_given_run_id_is_used_and_validated() -> None:
    with runlogger.run(run_id="nightly-1") as given:
        assert given.run_id == "nightly-1"
    with pytest.raises(InvalidRunIdError):
        runlogger.run(run_id="../etc")


def test_decorator_makes_each_call_a_run() -> None:
    seen: list[runlogger.Run] = []

    @runlogger.run()
    def job() -> str:
        seen.append(runlogger.current_run())
        return "done"

    assert job() == "done"
    assert job() == "done"
    assert seen[0].run_id != seen[1].run_id
    assert seen[0].name is not None
    assert seen[0].name.endswith("job")
    assert all(r.status == "completed" for r in seen)


def test_async_decorator_and_async_with() -> None:
    @runlogger.run("async-job")
    async def job() -> str:
        return runlogger.current_run().name or ""

    async def main() -> tuple[str, str]:
        async with runlogger.run("block") as block:
            inside = runlogger.current_run().run_id
        assert inside == block.run_id
        return await job(), block.status

    assert asyncio.run(main()) == ("async-job", "completed")


def test_tasks_created_in_a_run_belong_to_it() -> None:
    async def child() -> str:
        await asyncio.sleep(0)
        return runlogger.current_run().run_id

    async def main() -> tuple[str, str]:
        with runlogger.run("parent") as parent:
            return parent.run_id, await asyncio.create_task(child())

    parent_id, child_id = asyncio.run(main())
    assert parent_id == child_id


def test_concurrent_tasks_keep_their_own_runs() -> None:
    async def job(name: str) -> list[tuple[str, str]]:
        seen = []
        with runlogger.run(name) as mine:
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append((mine.run_id, runlogger.current_run().run_id))
        return seen

    async def main() -> list[list[tuple[str, str]]]:
        return list(await asyncio.gather(*(job(f"job{i}") for i in range(4))))

    results = asyncio.run(main())
    assert all(own == current for seen in results for own, current in seen)
    assert len({seen[0][0] for seen in results}) == 4


def test_plain_threads_log_into_the_process_run() -> None:
    seen: list[str] = []
    with runlogger.run("parent"):
        thread = threading.Thread(target=lambda: seen.append(runlogger.current_run().run_id))
        thread.start()
        thread.join()
    assert seen == [runlogger.current_run().run_id]


def test_in_current_run_binds_a_thread_to_the_run() -> None:
    seen: list[str] = []
    with runlogger.run("parent") as parent:
        work = runlogger.in_current_run(lambda: seen.append(runlogger.current_run().run_id))
        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with ThreadPoolExecutor(2) as pool:
            ids = list(
                pool.map(
                    runlogger.in_current_run(lambda _: runlogger.current_run().run_id), range(4)
                )
            )
    assert seen == [parent.run_id] * 3
    assert ids == [parent.run_id] * 4


def test_finish_is_idempotent_and_checks_status() -> None:
    with runlogger.run("x") as r:
        pass
    r.finish()
    assert r.status == "completed"
    with pytest.raises(ValueError, match="status must be one of"):
        runlogger.current_run().finish("weird")


def test_start_process_run_names_the_process_run() -> None:
    process_run = runlogger.start_process_run("etl", run_id="etl-1", source="s3")
    assert runlogger.current_run() is process_run
    assert (process_run.name, process_run.run_id, process_run.attributes) == (
        "etl",
        "etl-1",
        {"source": "s3"},
    )
    with pytest.raises(RuntimeError, match="already started"):
        runlogger.start_process_run("again")


def test_process_run_joins_the_run_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLOGGER_RUN_ID", "parent-run")
    monkeypatch.setenv("RUNLOGGER_RUN_OWNER", "parent-run@elsewhere:1")
    process_run = runlogger.current_run()
    assert process_run.run_id == "parent-run"
    assert process_run.owner is False


def test_invalid_run_id_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLOGGER_RUN_ID", "../../etc/passwd")
    with pytest.raises(InvalidRunIdError):
        runlogger.current_run()
