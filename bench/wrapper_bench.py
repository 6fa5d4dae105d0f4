"""What ``runlogger run`` costs: start-up of a whole process, and the capture hook per record.

Why this shape: the machine is small, shared and noisy, so only side-by-side figures mean
something. Start cost is measured as paired runs -- ``python job.py`` and
``runlogger run job.py`` one right after the other, in alternating order -- and reported
as the median of the per-pair differences (wall clock of the whole process, start to exit,
for a job that logs 100 records). The per-record cost of the capture hook (the wrapper's
``Logger.callHandlers`` hook, which hands each record to runlogger's handlers) is the
median over rounds of the ratio of two loggers timed in the same round: one with the
events and summary handlers attached to it directly (the library-mode setup), and one
with the same handlers reached through the hook.

Run ``python bench/wrapper_bench.py`` (``--quick`` for a smoke run whose figures mean
nothing). The exit status is 0 whatever the results: timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = """
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=open("/dev/null", "w"))
log = logging.getLogger("job")
for i in range(100):
    log.info("item %d", i, extra={"event_type": "item"})
"""

#: The issue's target for the wrapper's extra start-up cost over plain python.
START_TARGET_MS = 15.0


def _env(workdir: Path) -> dict[str, str]:
    """No inherited run; runlogger from src; a bytecode cache, as an installed package has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOGGER_")}
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure_start(pairs: int, workdir: Path) -> tuple[float, float, float]:
    """Medians of ``python job.py``, of ``runlogger run job.py``, and of their difference."""
    (workdir / "job.py").write_text(JOB, encoding="utf-8")
    env = _env(workdir)
    env["RUNLOGGER_DIR"] = str(workdir / "runs")
    plain = [sys.executable, "job.py"]
    wrapped = [sys.executable, "-m", "runlogger", "run", "job.py"]
    for command in (plain, wrapped):  # warm the page cache and the bytecode caches
        subprocess.run(
            command,
            cwd=workdir,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    plain_ms: list[float] = []
    wrapped_ms: list[float] = []
    for index in range(pairs):
        order = [(plain, plain_ms), (wrapped, wrapped_ms)]
        if index % 2:
            order.reverse()
        for command, samples in order:
            with open(os.devnull, "w") as devnull:
                started = time.perf_counter()
                subprocess.run(
                    command, cwd=workdir, env=env, check=True, stdout=devnull, stderr=devnull
                )
                samples.append((time.perf_counter() - started) * 1000)
    differences = [w - p for p, w in zip(plain_ms, wrapped_ms, strict=True)]
    return (
        statistics.median(plain_ms),
        statistics.median(wrapped_ms),
        statistics.median(differences),
    )


def _logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def measure_hook(rounds: int, count: int, directory: Path) -> tuple[float, float, float]:
    """ns/record with runlogger's handlers on the logger, through the hook; median ratio."""
    from runlogger import _capture
    from runlogger._events import RunFileHandler
    from runlogger._filter import RunContextFilter
    from runlogger._handler import RunSummaryHandler

    run_filter = RunContextFilter()
    direct = _logger("bench.direct")
    for handler in (RunFileHandler(directory), RunSummaryHandler(directory)):
        handler.addFilter(run_filter)
        direct.addHandler(handler)
    hooked = _logger("bench.hooked")
    hooked.addHandler(logging.NullHandler())  # the program's own handler, as a real one has
    direct.addHandler(logging.NullHandler())
    original = logging.Logger.callHandlers
    _capture.install_capture(directory, logging.INFO)
    hook = logging.Logger.callHandlers
    fields = {"event_type": "item_processed", "item_id": 1234}

    def timed(logger: logging.Logger) -> float:
        # The hook is on the Logger class: on for the hooked logger only, or the direct
        # one's records would go through both.
        logging.Logger.callHandlers = hook if logger is hooked else original  # type: ignore[method-assign]
        started = time.perf_counter_ns()
        for _ in range(count):
            logger.info("item processed", extra=fields)
        elapsed = time.perf_counter_ns() - started
        logging.Logger.callHandlers = hook  # type: ignore[method-assign]
        return elapsed / count

    direct_ns: list[float] = []
    hooked_ns: list[float] = []
    ratios: list[float] = []
    timed(direct)  # warm-up: the first records open files and write the first checkpoint
    timed(hooked)
    for index in range(rounds):
        pair = [(direct, direct_ns), (hooked, hooked_ns)]
        if index % 2:
            pair.reverse()
        for logger, samples in pair:
            samples.append(timed(logger))
        ratios.append(hooked_ns[-1] / direct_ns[-1])
    direct.handlers.clear()
    _capture.uninstall_capture()
    import runlogger

    runlogger.current_run().finish()  # now, while the temporary directory still exists
    return statistics.median(direct_ns), statistics.median(hooked_ns), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: figures mean nothing")
    parser.add_argument("--start-only", action="store_true", help="only the start-up figures")
    options = parser.parse_args(argv)
    pairs = 3 if options.quick else 40
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        plain, wrapped, extra = measure_start(pairs, workdir)
        verdict = "PASS" if extra <= START_TARGET_MS else "FAIL"
        print(f"start-up, {pairs} paired runs of a 100-record job (median ms, whole process):")
        print(f"  python job.py                 {plain:7.1f}")
        print(f"  runlogger run job.py          {wrapped:7.1f}")
        print(
            f"  extra (median of pair diffs)  {extra:7.1f}  "
            f"target <= {START_TARGET_MS:.0f} ms: {verdict}"
        )
        if options.start_only:
            return 0
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
        rounds, count = (3, 200) if options.quick else (15, 20_000)
        direct, hooked, ratio = measure_hook(rounds, count, workdir / "hook")
        print(f"capture hook, {rounds} rounds of {count} records (median ns/record):")
        print(f"  handlers on the logger        {direct:9.0f}")
        print(f"  handlers through the hook     {hooked:9.0f}")
        print(f"  ratio hook / direct           {ratio:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
