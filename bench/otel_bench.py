"""What trace correlation costs per record: runlogger's pipeline with and without OpenTelemetry.

Three ways, measured in one process, one after another in an order rotated from round to
round, each batch on this thread's CPU clock (the machine is small and shared: the figures
that mean something are the ratios within a round, reported as their median):

- ``no opentelemetry``: the program never imported ``opentelemetry`` (its modules are taken
  out of ``sys.modules`` for the batch, which is all runlogger looks at);
- ``imported, no span``: imported, no span current;
- ``inside a span``: a span current, so every event carries ``trace_id`` and ``span_id``.

The pipeline is the recommended one (``RunContextFilter`` and ``RunJsonFormatter`` on a
``StreamHandler`` to ``os.devnull``, plus a ``RunSummaryHandler`` in a temporary directory),
logging ``logger.info("item processed", extra={3 fields})``. Target (issue 12): inside a
span at most 5% more per record than without opentelemetry. ``--quick`` is a smoke run.
The exit status is 0 whatever the result: timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

MESSAGE = "item processed"
FIELDS: dict[str, Any] = {"event_type": "item_processed", "item_id": 1234, "elapsed_ms": 12.5}
TARGET = 1.05

NONE = "no opentelemetry"
IMPORTED = "imported, no span"
IN_SPAN = "inside a span"


def _pipeline(directory: str) -> logging.Logger:
    import runlogger

    stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives for the run
    handler = logging.StreamHandler(stream)
    handler.addFilter(runlogger.RunContextFilter())
    handler.setFormatter(runlogger.RunJsonFormatter())
    logger = logging.getLogger("bench.otel")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.addHandler(runlogger.RunSummaryHandler(directory))
    return logger


def _batch(logger: logging.Logger, count: int) -> int:
    info = logger.info
    start = time.thread_time_ns()
    for _ in range(count):
        info(MESSAGE, extra=FIELDS)
    return time.thread_time_ns() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, figures not meaningful")
    args = parser.parse_args(argv)
    rounds, count = (3, 500) if args.quick else (15, 20_000)

    with tempfile.TemporaryDirectory() as directory:
        logger = _pipeline(directory)
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        tracer = TracerProvider(shutdown_on_exit=False).get_tracer("bench")
        hidden = {name: module for name, module in sys.modules.items() if "opentelemetry" in name}

        def without() -> int:
            for name in hidden:
                del sys.modules[name]
            try:
                return _batch(logger, count)
            finally:
                sys.modules.update(hidden)

        def imported() -> int:
            assert not trace.get_current_span().get_span_context().is_valid
            return _batch(logger, count)

        def in_span() -> int:
            with tracer.start_as_current_span("bench"):
                return _batch(logger, count)

        ways: dict[str, Callable[[], int]] = {NONE: without, IMPORTED: imported, IN_SPAN: in_span}
        names = list(ways)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for name in names:  # warm up: caches, the summary file, first checkpoints
            ways[name]()
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(ways[name]() / count)
        import runlogger

        runlogger.current_run().finish()  # its summary goes before the directory does

    def ratio(name: str) -> float:
        return statistics.median(a / b for a, b in zip(samples[name], samples[NONE], strict=True))

    print("| pipeline | ns/record (median) | x no opentelemetry |")
    print("| --- | ---: | ---: |")
    for name in names:
        print(f"| {name} | {statistics.median(samples[name]):,.0f} | {ratio(name):.3f} |")
    verdict = "PASS" if ratio(IN_SPAN) <= TARGET else "FAIL"
    in_span = ratio(IN_SPAN)
    print(f"\ninside a span vs no opentelemetry: {in_span:.3f}x (target <= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
