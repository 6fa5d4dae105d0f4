"""Start-up cost: ``runlogger run job.py`` and ``import runlogger``, as whole processes.

Issue 11's goals, with compiled bytecode:

- ``runlogger run job.py`` (a script that logs 100 records) at most 15 ms over ``python job.py``,
  both as the console script and as ``python -m runlogger``;
- ``import runlogger`` at most 5 ms over ``import logging, pythonjsonlogger.json``.

Why this shape: the machine is small, shared and noisy, so only side-by-side figures mean
something. Each comparison is a pair of commands run one right after the other, in
alternating order (A B, B A, ...), for ``--rounds`` rounds; the figure quoted is the median of
the per-round differences (wall clock of the whole process, start to exit), next to each
command's own median. A warm-up run of every command first compiles the bytecode and fills
the page cache, so what is measured is an installed package's start, not a first run's.

``--breakdown`` splits the extra time of ``runlogger run`` the same way, each step against
the one before it: python-json-logger's import; the rest of the modules a run imports (the
run's own module list, recorded with ``-X importtime``, imported by a plain script that
then runs the job); the run itself without the SQLite catalog (fork, handlers, summaries,
the records, supervision); and the catalog.

Run ``python bench/start_bench.py`` (``--quick`` for a smoke run whose figures mean nothing;
``--only run`` or ``--only import`` for one half). The exit status is 0 whatever the results:
timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = """\
import logging
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=open("/dev/null", "w"))
log = logging.getLogger("job")
for i in range(100):
    log.info("item %d", i, extra={"event_type": "item"})
"""

#: The issue's limits, in milliseconds over the baseline.
RUN_TARGET_MS = 15.0
IMPORT_TARGET_MS = 5.0

SRC = Path(__file__).resolve().parent.parent / "src"


def _environment(workdir: Path) -> dict[str, str]:
    """No inherited run or runlogger settings; runlogger from this checkout's src."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLOGGER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["RUNLOGGER_DIR"] = str(workdir / "runs")
    return env


def _console_script() -> str | None:
    """The ``runlogger`` script installed beside this interpreter (an editable install)."""
    beside = Path(sys.executable).parent / "runlogger"
    if beside.is_file():
        return str(beside)
    return shutil.which("runlogger")


def _timed(command: list[str], workdir: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        cwd=workdir,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return (time.perf_counter() - started) * 1000


def paired(
    baseline: list[str], candidate: list[str], rounds: int, workdir: Path, env: dict[str, str]
) -> tuple[float, float, float, float]:
    """Medians of baseline, candidate and their per-round difference, and the 90th
    percentile of the difference (how wide the noise was)."""
    return _paired_envs(baseline, env, candidate, env, rounds, workdir)


PRELOAD = """\
import gc, importlib, runpy, sys
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
    except ImportError:  # a platform's module that the import system only probed for
        pass
gc.freeze()  # as runlogger run does before the program
sys.argv = ["job.py"]
runpy.run_path("job.py", run_name="__main__")
"""


def _modules_of_a_run(workdir: Path, env: dict[str, str]) -> list[str]:
    """Every module ``runlogger run job.py`` imports that ``python job.py`` does not."""

    def imported(command: list[str]) -> list[str]:
        result = subprocess.run(
            command,
            cwd=workdir,
            env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        names = []
        for line in result.stderr.splitlines():
            if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                names.append(line.rsplit("|", 1)[1].strip())
        return names

    plain = set(imported([sys.executable, "job.py"]))
    return [
        name
        for name in imported([sys.executable, "-m", "runlogger", "run", "job.py"])
        if name not in plain and name != "__main__"
    ]


def breakdown(rounds: int, workdir: Path, env: dict[str, str]) -> None:
    """Where the extra time of ``runlogger run`` goes: each step against the one before."""
    python = sys.executable
    modules = _modules_of_a_run(workdir, env)
    (workdir / "preload.py").write_text(PRELOAD, encoding="utf-8")
    no_catalog = {**env, "RUNLOGGER_CATALOG": "off"}
    steps = [
        ("python job.py", [python, "job.py"], env),
        (
            "+ import pythonjsonlogger.json",
            [python, "-c", "import pythonjsonlogger.json, runpy; runpy.run_path('job.py')"],
            env,
        ),
        (
            f"+ the other modules of a run ({len(modules)} in all)",
            [python, "preload.py", ",".join(modules)],
            env,
        ),
        (
            "+ the run itself, RUNLOGGER_CATALOG=off",
            [python, "-m", "runlogger", "run", "job.py"],
            no_catalog,
        ),
        ("+ the SQLite catalog", [python, "-m", "runlogger", "run", "job.py"], env),
    ]
    print("breakdown of python -m runlogger run job.py (each step against the one before):")
    total = 0.0
    for (_, before, before_env), (label, after, after_env) in itertools.pairwise(steps):
        figures = _paired_envs(before, before_env, after, after_env, rounds, workdir)
        total += figures[2]
        print(f"  {label:<52} {figures[2]:+7.1f} ms  (step median {figures[1]:.1f} ms)")
    print(f"  {'sum of the steps':<52} {total:+7.1f} ms")


def _paired_envs(
    first: list[str],
    first_env: dict[str, str],
    second: list[str],
    second_env: dict[str, str],
    rounds: int,
    workdir: Path,
) -> tuple[float, float, float, float]:
    for command, environment in ((first, first_env), (second, second_env)):
        for _ in range(2):
            _timed(command, workdir, environment)
    first_ms: list[float] = []
    second_ms: list[float] = []
    for index in range(rounds):
        order = [(first, first_env, first_ms), (second, second_env, second_ms)]
        if index % 2:
            order.reverse()
        for command, environment, samples in order:
            samples.append(_timed(command, workdir, environment))
    differences = sorted(b - a for a, b in zip(first_ms, second_ms, strict=True))
    p90 = differences[min(len(differences) - 1, int(len(differences) * 0.9))]
    return (
        statistics.median(first_ms),
        statistics.median(second_ms),
        statistics.median(differences),
        p90,
    )


def _report(label: str, baseline: str, candidate: str, figures: tuple[float, ...]) -> None:
    base, cand, extra, p90 = figures
    print(f"  {baseline:<44} {base:7.1f} ms")
    print(f"  {candidate:<44} {cand:7.1f} ms")
    print(f"  {label:<44} {extra:+7.1f} ms  (90th percentile of the differences {p90:+.1f})")


def _verdict(extra: float, limit: float) -> str:
    return f"limit +{limit:.0f} ms: {'met' if extra <= limit else 'NOT met'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="paired rounds (default 40)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: figures mean nothing")
    parser.add_argument("--only", choices=("run", "import"), help="only one half")
    parser.add_argument(
        "--breakdown", action="store_true", help="also split the extra time of runlogger run"
    )
    options = parser.parse_args(argv)
    rounds = 3 if options.quick else max(1, options.rounds)
    python = sys.executable
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        (workdir / "job.py").write_text(JOB, encoding="utf-8")
        env = _environment(workdir)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"Python {sys.version.split()[0]}, {rounds} paired rounds, alternating order, "
            f"median wall time of whole processes (load average {load:.2f})"
        )
        if options.only in (None, "run"):
            plain = [python, "job.py"]
            wrappers = [("python -m runlogger run job.py", [python, "-m", "runlogger"])]
            script = _console_script()
            if script is not None:
                wrappers.insert(0, ("runlogger run job.py", [script]))
            else:
                print("  (no runlogger console script beside this Python: `pip install -e .`)")
            print("runlogger run, a job that logs 100 records:")
            for label, prefix in wrappers:
                figures = paired(plain, [*prefix, "run", "job.py"], rounds, workdir, env)
                verdict = _verdict(figures[2], RUN_TARGET_MS)
                _report(f"extra, {verdict}", "python job.py", label, figures)
            if options.breakdown:
                breakdown(rounds, workdir, env)
        if options.only in (None, "import"):
            print("import runlogger:")
            baseline = [python, "-c", "import logging, pythonjsonlogger.json"]
            candidate = [python, "-c", "import runlogger"]
            figures = paired(baseline, candidate, rounds, workdir, env)
            _report(
                f"extra, {_verdict(figures[2], IMPORT_TARGET_MS)}",
                "import logging, pythonjsonlogger.json",
                "import runlogger",
                figures,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
