"""A new job written with explicit runs: ``with run()``, ``@run``, asyncio tasks and threads.

    python examples/explicit_runs.py

Each run writes ``runs/<run_id>.json``; the JSON events go to stdout.
"""

import asyncio
import logging
import logging.config
from concurrent.futures import ThreadPoolExecutor

import runlogger

log = logging.getLogger("nightly")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run_context": {"()": "runlogger.RunContextFilter"}},
    "formatters": {"json": {"()": "runlogger.RunJsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["run_context"],
        },
        "summary": {"class": "runlogger.RunSummaryHandler", "filters": ["run_context"]},
    },
    "root": {"level": "INFO", "handlers": ["console", "summary"]},
}


@runlogger.run("load-partition")
def load(partition: int) -> int:
    """Each call is a run of its own, nested in the run that called it."""
    log.info("loading", extra={"event_type": "partition_loaded", "partition": partition})
    return partition * 10


async def fetch(source: str) -> None:
    await asyncio.sleep(0.01)
    log.info("fetched %s", source, extra={"event_type": "source_fetched", "source": source})


async def fetch_all() -> None:
    # Tasks created inside a run belong to it: contextvars are copied into each task.
    with runlogger.run("fetch"):
        await asyncio.gather(*(fetch(source) for source in ("api", "db", "s3")))


def transform(row: int) -> None:
    log.info("row %d", row, extra={"event_type": "row_transformed"})


def main() -> None:
    logging.config.dictConfig(LOGGING)
    with runlogger.run("nightly-etl", region="eu") as etl:
        asyncio.run(fetch_all())
        rows = [load(partition) for partition in range(2)]
        # Threads do not inherit the run: bind the work to it.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(runlogger.in_current_run(transform), rows))
        log.info("etl done", extra={"event_type": "etl_done"})
    print(f"# nightly-etl run {etl.run_id}: {etl.status}")


if __name__ == "__main__":
    main()
