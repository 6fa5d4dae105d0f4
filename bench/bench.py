"""Benchmark runlogger's logging pipeline against stdlib logging and its peers.

Why this shape: the machine is small, shared and noisy, so absolute times mean little.
Every pipeline runs in the same process, one after another in an order rotated from round
to round; each batch is timed on this thread's CPU clock (``--clock wall`` for elapsed
time), which other processes' load does not inflate. The table gives the median ns per
record, and the ratios the issue's targets are written in -- to the stdlib plain-text
row and to python-json-logger's ``JsonFormatter`` -- as the median over rounds of the
ratio within each round.

Every pipeline does the same work per record: one ``logger.info("item processed",
extra={3 fields})`` call (loguru: ``logger.info("item processed", **fields)``), on its own
logger (``propagate=False``) with its own handler writing to its own ``os.devnull``
stream. The floor row is that dispatch and write with a formatter that returns a constant.
The runlogger pipelines are the recommended setup: ``RunContextFilter`` and
``RunJsonFormatter`` on a ``StreamHandler``, plus a ``RunSummaryHandler`` (writing into a
temporary directory, never ``./runs``) on the same logger, so every record is counted. The
two rows in parentheses split that pipeline in its parts, to show where time goes.

After the table come the other targets, each with its limit and PASS/FAIL: memory while a
fresh process sends 1,000,000 records through the full pipeline (``ru_maxrss`` and current
RSS), 4 threads against 1 (wall clock and per CPU second, with the stdlib plain pipeline
and the summary handler alone for comparison; then again with the process on one CPU,
which takes the GIL's cross-core hand-over out of the figure), the import time of
``runlogger`` (``-X importtime`` in fresh subprocesses, with a bytecode cache as an
installed package has, and the costliest modules it pulls in) and, when the catalog and
CLI exist, ``runlogger runs --min-duration 5s`` over 100,000 generated summaries, cold
(building the index) and warm (target: under 1 s).

Run ``python bench/bench.py`` (or ``make bench``); ``--quick`` is a smoke run whose
figures are not meaningful; ``--table-only`` stops after the table. The exit status is 0
whatever the results: timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MESSAGE = "item processed"
FIELDS: dict[str, Any] = {"event_type": "item_processed", "item_id": 1234, "elapsed_ms": 12.5}

FLOOR = "floor: record + dispatch, no formatting"
STDLIB_PLAIN = "stdlib Formatter: asctime, levelname, message"
PJL_JSON = "python-json-logger JsonFormatter"
PJL_ORJSON = "python-json-logger OrjsonFormatter"
STRUCTLOG = "structlog ProcessorFormatter + JSONRenderer"
LOGURU = "loguru serialize=True"
RUNLOGGER_JSON = "runlogger pipeline, backend=json"
RUNLOGGER_ORJSON = "runlogger pipeline, backend=orjson"
RUNLOGGER_FORMATTER = "(runlogger RunJsonFormatter orjson alone)"
RUNLOGGER_SUMMARY = "(runlogger RunSummaryHandler alone)"

#: The issue's reference figures (ns/record on its 2-core machine), for orientation only.
ISSUE_REFERENCE = {
    FLOOR: 5_900,
    STDLIB_PLAIN: 9_600,
    PJL_JSON: 14_600,
    PJL_ORJSON: 12_900,
    STRUCTLOG: 20_600,
    LOGURU: 29_700,
}

TARGET_JSON_VS_PJL = 0.90
TARGET_ORJSON_VS_PLAIN = 1.05
TARGET_MEMORY_MB = 5.0
TARGET_THREADS = 0.90
TARGET_IMPORT_MS = 15.0

Runner = Callable[[int], None]


# -- pipelines ------------------------------------------------------------------------------


class _ConstantFormatter(logging.Formatter):
    """The floor: a handler that writes a line without formatting anything."""

    def format(self, record: logging.LogRecord) -> str:
        return MESSAGE


@dataclass
class Pipeline:
    name: str
    run: Runner
    close: Callable[[], None]


def _devnull() -> io.TextIOWrapper:
    return open(os.devnull, "w", encoding="utf-8")  # closed by Pipeline.close


def _stdlib_pipeline(
    name: str, handlers: Callable[[io.TextIOWrapper], list[logging.Handler]]
) -> Pipeline:
    """One logger of its own, its handlers on a devnull stream of its own."""
    stream = _devnull()
    logger = logging.getLogger(f"bench.{abs(hash(name)):x}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    made = handlers(stream)
    for handler in made:
        logger.addHandler(handler)
    info = logger.info
    fields = FIELDS

    def run(count: int) -> None:
        for _ in range(count):
            info(MESSAGE, extra=fields)

    def close() -> None:
        for handler in made:
            logger.removeHandler(handler)
            handler.close()
        stream.close()

    return Pipeline(name, run, close)


def _stream_handler(stream: io.TextIOWrapper, formatter: logging.Formatter) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    return handler


def _runlogger_pipeline(
    name: str, backend: str | None, summaries: Path | None, package: Any = None
) -> Pipeline:
    """The recommended setup; ``backend=None`` leaves the formatter out. ``package`` is
    another copy of runlogger to build it from (``--against``), else the installed one."""
    if package is None:
        import runlogger as package
    RunContextFilter = package.RunContextFilter
    RunJsonFormatter = package.RunJsonFormatter
    RunSummaryHandler = package.RunSummaryHandler

    def handlers(stream: io.TextIOWrapper) -> list[logging.Handler]:
        made: list[logging.Handler] = []
        if backend is not None:
            stream_handler = _stream_handler(stream, RunJsonFormatter(backend=backend))
            stream_handler.addFilter(RunContextFilter())
            made.append(stream_handler)
        if summaries is not None:
            summary_handler = RunSummaryHandler(directory=summaries)
            if backend is None:
                summary_handler.addFilter(RunContextFilter())
            made.append(summary_handler)
        return made

    return _stdlib_pipeline(name, handlers)


def _loguru_pipeline() -> Pipeline:
    from loguru import logger

    stream = _devnull()
    logger.remove()
    handler_id = logger.add(stream, serialize=True, level="INFO")
    info = logger.info
    fields = FIELDS

    def run(count: int) -> None:
        for _ in range(count):
            info(MESSAGE, **fields)

    def close() -> None:
        logger.remove(handler_id)
        stream.close()

    return Pipeline(LOGURU, run, close)


def _structlog_formatter() -> logging.Formatter:
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
        ],
    )


#: The runlogger rows, measured again for the copy named by ``--against``.
RUNLOGGER_ROWS = {
    RUNLOGGER_JSON: ("json", True),
    RUNLOGGER_ORJSON: ("orjson", True),
    RUNLOGGER_FORMATTER: ("orjson", False),
    RUNLOGGER_SUMMARY: (None, True),
}
AGAINST = " [against]"


def load_against(source: Path) -> Any:
    """Import the runlogger package in ``source`` (a ``src`` directory: another checkout,
    e.g. ``git worktree add /tmp/base <commit>``) as a package of another name, so that both
    copies run in this process, interleaved like every other row. runlogger imports itself
    only relatively, so the copy keeps to its own modules and state."""
    import importlib.util

    init = source / "runlogger" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--against: no runlogger package in {source} ({init} is missing)")
    name = "runlogger_against"
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(init.parent)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"--against: cannot import {init}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


def build_pipelines(summaries: Path, against: Any = None) -> list[Pipeline]:
    """Every row of the table, peers first; a missing peer package is skipped."""
    from pythonjsonlogger.json import JsonFormatter

    pipelines = [
        _stdlib_pipeline(FLOOR, lambda s: [_stream_handler(s, _ConstantFormatter())]),
        _stdlib_pipeline(
            STDLIB_PLAIN,
            lambda s: [
                _stream_handler(s, logging.Formatter("%(asctime)s | %(levelname)s | %(message)s"))
            ],
        ),
        _stdlib_pipeline(PJL_JSON, lambda s: [_stream_handler(s, JsonFormatter())]),
    ]
    with contextlib.suppress(ImportError):
        from pythonjsonlogger.orjson import OrjsonFormatter

        pipelines.append(
            _stdlib_pipeline(PJL_ORJSON, lambda s: [_stream_handler(s, OrjsonFormatter())])
        )
    with contextlib.suppress(ImportError):
        formatter = _structlog_formatter()
        pipelines.append(_stdlib_pipeline(STRUCTLOG, lambda s: [_stream_handler(s, formatter)]))
    with contextlib.suppress(ImportError):
        pipelines.append(_loguru_pipeline())
    pipelines += [
        _runlogger_pipeline(RUNLOGGER_JSON, "json", summaries),
        _runlogger_pipeline(RUNLOGGER_ORJSON, "orjson", summaries),
        _runlogger_pipeline(RUNLOGGER_FORMATTER, "orjson", None),
        _runlogger_pipeline(RUNLOGGER_SUMMARY, None, summaries),
    ]
    if against is not None:  # a directory of its own: two books must not share summaries
        for name, (backend, counted) in RUNLOGGER_ROWS.items():
            where = summaries.with_name(summaries.name + "-against") if counted else None
            pipelines.append(_runlogger_pipeline(name + AGAINST, backend, where, against))
    return pipelines


# -- measuring ------------------------------------------------------------------------------


CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


def _time_ns(run: Runner, count: int, clock: Callable[[], int]) -> float:
    """ns per record of one batch; the collector is paused so it lands on no one row."""
    gc.collect()
    gc.disable()
    try:
        start = clock()
        run(count)
        elapsed = clock() - start
    finally:
        gc.enable()
    return elapsed / count


def measure(
    pipelines: list[Pipeline], rounds: int, records: int, clock: Callable[[], int]
) -> dict[str, list[float]]:
    """ns/record of every pipeline in every round; each round runs them all, in an order
    rotated from round to round, so load from elsewhere falls on all of them alike."""
    for pipeline in pipelines:  # warm-up: caches, first-second timestamps, lazy imports
        pipeline.run(min(records, 2_000))
    samples: dict[str, list[float]] = {pipeline.name: [] for pipeline in pipelines}
    order = list(pipelines)
    random.Random(1).shuffle(order)
    for index in range(rounds):
        shift = index % len(order)
        for pipeline in order[shift:] + order[:shift]:
            samples[pipeline.name].append(_time_ns(pipeline.run, records, clock))
    return samples


def ratio(samples: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over rounds of the ratio within each round: steadier than a ratio of medians
    when the machine's load drifts between rounds."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[reference], strict=True))


def table(samples: dict[str, list[float]], names: list[str]) -> str:
    lines = [
        "| pipeline | ns/record | x stdlib plain | x pjl JsonFormatter | issue ref ns |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        ns = statistics.median(samples[name])
        reference = ISSUE_REFERENCE.get(name)
        ref_text = f"{reference:,}" if reference else ""
        lines.append(
            f"| {name} | {ns:,.0f} | {ratio(samples, name, STDLIB_PLAIN):.2f} "
            f"| {ratio(samples, name, PJL_JSON):.2f} | {ref_text} |"
        )
    return "\n".join(lines)


def against_table(samples: dict[str, list[float]]) -> str:
    """Each runlogger row against the same row of the ``--against`` copy."""
    lines = [
        "| pipeline | x stdlib plain | the same, --against | this / --against |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in RUNLOGGER_ROWS:
        lines.append(
            f"| {name} | {ratio(samples, name, STDLIB_PLAIN):.3f} "
            f"| {ratio(samples, name + AGAINST, STDLIB_PLAIN):.3f} "
            f"| {ratio(samples, name, name + AGAINST):.3f} |"
        )
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- threads --------------------------------------------------------------------------------


def _threads_rate(pipeline: Pipeline, share: int, threads: int) -> tuple[float, float]:
    """Total records per second of ``threads`` threads logging ``share`` records each:
    per wall-clock second, and per second of the process's CPU time."""
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        pipeline.run(share)

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    gc.collect()
    barrier.wait()
    start, cpu_start = time.perf_counter(), time.process_time()
    for thread in workers:
        thread.join()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    records = share * threads
    return records / wall, records / max(cpu, 1e-9)


@dataclass
class Scaling:
    """``threads`` threads against one: medians of the ratio within each round."""

    wall: float
    cpu: float


def measure_threads(
    pipelines: list[Pipeline], records: int, rounds: int, threads: int = 4
) -> dict[str, Scaling]:
    """Per pipeline: total records/s of ``threads`` threads over one thread.

    Each round runs every pipeline with one thread and then with ``threads``, and the
    ratio is taken within the round, so load from elsewhere that comes and goes falls on
    both sides of it. The wall-clock ratio is the target's; the CPU-time one leaves out
    time spent waiting for a core that other processes hold, which on a busy 2-core
    machine is most of what the wall-clock ratio loses.
    """
    share = max(records // threads, 1)
    wall: dict[str, list[float]] = {pipeline.name: [] for pipeline in pipelines}
    cpu: dict[str, list[float]] = {pipeline.name: [] for pipeline in pipelines}
    for _ in range(rounds):
        for pipeline in pipelines:
            single_wall, single_cpu = _threads_rate(pipeline, share * threads, 1)
            multi_wall, multi_cpu = _threads_rate(pipeline, share, threads)
            wall[pipeline.name].append(multi_wall / single_wall)
            cpu[pipeline.name].append(multi_cpu / single_cpu)
    return {
        name: Scaling(statistics.median(wall[name]), statistics.median(cpu[name])) for name in wall
    }


@contextlib.contextmanager
def _on_one_cpu() -> Iterator[bool]:
    """Keep this thread, and the threads it starts, on one CPU; yields whether it could.

    With the threads on one core, handing the GIL over costs no cross-core wake-up: the
    figure then shows what the logging code's own locks cost, apart from the GIL's.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield False
        return
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield True
    finally:
        os.sched_setaffinity(0, allowed)


# -- subprocesses ---------------------------------------------------------------------------


def _child_env(**extra: str) -> dict[str, str]:
    """A fresh process's environment: no inherited run, runlogger importable from src."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOGGER_")}
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


_MEMORY_CHILD = """
import json, logging, os, resource, sys
from runlogger import RunContextFilter, RunJsonFormatter, RunSummaryHandler

def rss_kb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

directory, count = sys.argv[1], int(sys.argv[2])
logger = logging.getLogger("bench.memory")
logger.propagate = False
logger.setLevel(logging.INFO)
stream = open(os.devnull, "w", encoding="utf-8")
out = logging.StreamHandler(stream)
out.setFormatter(RunJsonFormatter(backend="auto"))
out.addFilter(RunContextFilter())
logger.addHandler(out)
logger.addHandler(RunSummaryHandler(directory=directory))
info, warning = logger.info, logger.warning

def log(n):
    for index in range(n):
        if index % 100 == 0:
            warning("item slow", extra={"event_type": "item_slow", "item_id": index})
        else:
            info("item processed", extra={"event_type": "item_processed", "item_id": index,
                                          "elapsed_ms": 12.5})

log(20_000)  # warm-up: caches filled, a first summary written
before_peak, before_rss = peak_kb(), rss_kb()
log(count)
print(json.dumps({"peak_kb": peak_kb() - before_peak, "rss_kb": rss_kb() - before_rss}))
"""


def measure_memory(records: int, workdir: Path) -> tuple[float, float]:
    """Growth (MB) of peak RSS and of current RSS while a fresh process logs ``records``
    records through the full pipeline, after a warm-up."""
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(workdir / "memory-runs"), str(records)],
        env=_child_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return figures["peak_kb"] / 1024, figures["rss_kb"] / 1024


_IMPORT_CHILD = "import logging, json; import runlogger, sys; print('orjson' in sys.modules)"


@dataclass
class ImportFigures:
    median_ms: float
    orjson_loaded: bool
    #: (module, the runlogger module importing it, cumulative ms) of the costliest imports
    #: runlogger brings in, from the median run.
    heaviest: list[tuple[str, str, float]]


def measure_import(repetitions: int, workdir: Path) -> ImportFigures:
    """Median ms that ``import runlogger`` adds after ``import logging, json``.

    Read from ``-X importtime``: the cumulative time of the top-level ``runlogger`` line is
    exactly what it adds, since ``logging`` and ``json`` are imported before it. Bytecode
    is cached in a private prefix (warmed by a first run), as an installed package has it.
    """
    env = _child_env(PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-X", "importtime", "-c", _IMPORT_CHILD]
    runs: list[tuple[float, str]] = []
    orjson_loaded = False
    for index in range(repetitions + 1):
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, timeout=120
        )
        orjson_loaded = orjson_loaded or result.stdout.strip() == "True"
        if index == 0:
            continue  # compiles the bytecode cache
        for line in result.stderr.splitlines():
            fields = line.split("|")
            if len(fields) == 3 and fields[2].rstrip() == " runlogger":
                runs.append((int(fields[1]) / 1000, result.stderr))
    runs.sort(key=lambda run: run[0])
    _, trace = runs[len(runs) // 2]
    return ImportFigures(statistics.median(ms for ms, _ in runs), orjson_loaded, _heaviest(trace))


def _heaviest(trace: str, count: int = 5) -> list[tuple[str, str, float]]:
    """The third-party and stdlib modules a runlogger module imports, costliest first."""
    entries: list[tuple[str, int, float]] = []  # (name, depth, cumulative ms), post-order
    for line in trace.splitlines():
        fields = line.split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2].rstrip()
        depth = len(name) - len(name.lstrip(" "))
        entries.append((name.strip(), depth, int(fields[1]) / 1000))
    found: list[tuple[str, str, float]] = []
    for index, (name, depth, cumulative) in enumerate(entries):
        parent = next((e[0] for e in entries[index + 1 :] if e[1] < depth), "")
        if parent.startswith("runlogger.") and not name.startswith("runlogger"):
            found.append((name, parent, cumulative))
    return sorted(found, key=lambda item: -item[2])[:count]


# -- the query (only once someone has built it) --------------------------------------------


def _catalog_available() -> bool:
    source = Path(__file__).resolve().parent.parent / "src" / "runlogger"
    if not ((source / "_catalog.py").exists() and (source / "_cli").is_dir()):
        return False
    probe = subprocess.run(
        [sys.executable, "-m", "runlogger", "runs", "--help"],
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return probe.returncode == 0


def _write_summaries(directory: Path, count: int) -> None:
    """``count`` finished runs with durations from 0 to 10 s, written without fsync."""
    from runlogger._ids import new_run_id
    from runlogger._summary import summary_document

    directory.mkdir(parents=True)
    chooser = random.Random(7)
    start = time.time() - 86_400
    for index in range(count):
        run_id = new_run_id()
        duration_ms = chooser.randrange(0, 10_000)
        began = start + index * 0.5
        metadata = {
            "run_id": run_id,
            "name": f"job-{index % 20}",
            "parent_run_id": None,
            "status": "failed" if index % 17 == 0 else "completed",
            "start_time": _rfc3339(began),
            "end_time": _rfc3339(began + duration_ms / 1000),
            "duration_ms": duration_ms,
            "host": "bench",
            "pid": 1000 + index,
            "argv": ["job.py"],
        }
        contribution = {"event_count": 100, "counts_by_level": {"INFO": 100}}
        document = summary_document(metadata, {"bench": contribution}, began)
        (directory / f"{run_id}.json").write_text(json.dumps(document), encoding="utf-8")


def _rfc3339(epoch: float) -> str:
    from runlogger._timefmt import utc_timestamp

    return utc_timestamp(epoch)


def measure_query(count: int, workdir: Path) -> tuple[float, float, int]:
    """Seconds of ``runlogger runs --min-duration 5s``: cold (catalogues the directory), then warm.

    Warm is the median of five queries: the first may still re-read the summaries written
    just before the index was built (too recent to trust), and the machine may be noisy.
    """
    directory = workdir / "catalog"
    _write_summaries(directory, count)
    command = [
        sys.executable,
        "-m",
        "runlogger",
        "runs",
        "--dir",
        str(directory),
        "--min-duration",
        "5s",
    ]
    timings: list[float] = []
    lines = 0
    for _ in range(6):
        start = time.perf_counter()
        result = subprocess.run(
            command, env=_child_env(), capture_output=True, text=True, check=True, timeout=1800
        )
        timings.append(time.perf_counter() - start)
        lines = result.stdout.count("\n")
    return timings[0], statistics.median(timings[1:]), lines


def _finish_process_run(against: Any = None) -> None:
    """Write the final summaries now, while their temporary directory still exists."""
    import runlogger

    for package in (runlogger, against):
        if package is not None:
            package.current_run().finish()


# -- main -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="runlogger-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (21)")
    parser.add_argument("--records", type=int, default=None, help="records per batch (5000)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
    parser.add_argument("--table-only", action="store_true", help="skip targets 3 to 6")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="SRC",
        help="also run the runlogger rows with the runlogger package in SRC (another "
        "checkout's src directory), interleaved in this process; prints their ratios",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu (default): this thread's CPU time, which other processes' load does not "
        "inflate; wall: elapsed time",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    rounds = args.rounds or (3 if quick else 21)
    records = args.records or (500 if quick else 5_000)
    memory_records = 20_000 if quick else 1_000_000
    import_reps = 3 if quick else 11
    query_count = 1_000 if quick else 100_000

    with _workdir() as workdir:
        os.environ["RUNLOGGER_DIR"] = str(workdir / "runs")  # belt and braces: never ./runs
        against = load_against(args.against) if args.against is not None else None
        pipelines = build_pipelines(workdir / "summaries", against)
        names = [pipeline.name for pipeline in pipelines]
        print(
            f"# runlogger benchmark: {rounds} rounds x {records:,} records per pipeline, "
            f"{args.clock} clock, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
            + (" (--quick: figures not meaningful)" if quick else "")
        )
        print()
        samples = measure(pipelines, rounds, records, CLOCKS[args.clock])
        print(table(samples, names))
        print()
        if against is not None:
            print(f"# against {args.against}")
            print(against_table(samples))
            print()

        if args.table_only:
            for pipeline in pipelines:
                pipeline.close()
            _finish_process_run(against)
            return 0
        rows: list[tuple[str, str, str, str]] = []
        json_ratio = ratio(samples, RUNLOGGER_JSON, PJL_JSON)
        rows.append(
            (
                "1. backend=json vs pjl JsonFormatter",
                f"{json_ratio:.2f}x",
                f"≤ {TARGET_JSON_VS_PJL:.2f}x",
                verdict(json_ratio <= TARGET_JSON_VS_PJL),
            )
        )
        orjson_ratio = ratio(samples, RUNLOGGER_ORJSON, STDLIB_PLAIN)
        rows.append(
            (
                "2. backend=orjson vs stdlib plain",
                f"{orjson_ratio:.2f}x",
                f"≤ {TARGET_ORJSON_VS_PLAIN:.2f}x",
                verdict(orjson_ratio <= TARGET_ORJSON_VS_PLAIN),
            )
        )
        peak_growth, rss_growth = measure_memory(memory_records, workdir)
        rows.append(
            (
                f"3. peak RSS growth over {memory_records:,} records (full pipeline)",
                f"{peak_growth:.2f} MB (current RSS {rss_growth:+.2f} MB)",
                f"≤ {TARGET_MEMORY_MB:.0f} MB",
                verdict(peak_growth <= TARGET_MEMORY_MB),
            )
        )
        by_name = {pipeline.name: pipeline for pipeline in pipelines}
        compared = [by_name[RUNLOGGER_ORJSON], by_name[STDLIB_PLAIN], by_name[RUNLOGGER_SUMMARY]]
        scaling = measure_threads(compared, records * 4, max(rounds // 2, 3))
        thread_ratio = scaling[RUNLOGGER_ORJSON]
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        rows.append(
            (
                "4. 4 threads vs 1 (records/s, backend=orjson)",
                f"{thread_ratio.wall:.2f}x wall clock, {thread_ratio.cpu:.2f}x per CPU second "
                f"(same StreamHandler with stdlib plain: {scaling[STDLIB_PLAIN].wall:.2f}x / "
                f"{scaling[STDLIB_PLAIN].cpu:.2f}x; RunSummaryHandler alone: "
                f"{scaling[RUNLOGGER_SUMMARY].wall:.2f}x / {scaling[RUNLOGGER_SUMMARY].cpu:.2f}x; "
                f"load average {load})",
                f"≥ {TARGET_THREADS:.2f}x",
                verdict(thread_ratio.wall >= TARGET_THREADS),
            )
        )
        with _on_one_cpu() as pinned:
            on_one = measure_threads(compared, records * 4, max(rounds // 2, 3)) if pinned else None
        if on_one is not None:
            rows.append(
                (
                    "4b. the same, process on one CPU (no cross-core GIL hand-over)",
                    f"{on_one[RUNLOGGER_ORJSON].wall:.2f}x wall clock (stdlib plain: "
                    f"{on_one[STDLIB_PLAIN].wall:.2f}x; RunSummaryHandler alone: "
                    f"{on_one[RUNLOGGER_SUMMARY].wall:.2f}x)",
                    f"≥ {TARGET_THREADS:.2f}x",
                    verdict(on_one[RUNLOGGER_ORJSON].wall >= TARGET_THREADS),
                )
            )
        imports = measure_import(import_reps, workdir)
        heaviest = ", ".join(
            f"{name} {ms:.1f} ms via {parent}" for name, parent, ms in imports.heaviest[:4]
        )
        rows.append(
            (
                "5. import runlogger over import logging, json",
                f"{imports.median_ms:.1f} ms (heaviest: {heaviest})",
                f"≤ {TARGET_IMPORT_MS:.0f} ms",
                verdict(imports.median_ms <= TARGET_IMPORT_MS),
            )
        )
        rows.append(
            (
                "5b. orjson imported by import runlogger",
                "yes" if imports.orjson_loaded else "no",
                "no",
                verdict(not imports.orjson_loaded),
            )
        )
        if _catalog_available():
            cold, warm, listed = measure_query(query_count, workdir)
            rows.append(
                (
                    f"6. runs --min-duration 5s over {query_count:,} summaries",
                    f"cold {cold:.2f} s, warm {warm:.2f} s ({listed:,} lines)",
                    "warm < 1 s",
                    verdict(warm < 1.0),
                )
            )
        else:
            rows.append(("6. runs --min-duration 5s", "skipped: catalog/CLI not available", "", ""))
        for pipeline in pipelines:
            pipeline.close()
        _finish_process_run(against)

    print("| target | measured | limit | result |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
