"""Adopt runlogger in a legacy job by adding three pieces to its dictConfig.

The job (``legacy/job.py``) and the library it uses are not changed: every record they
log becomes one JSON line on stdout with the run id, and the run summary is written to
``runs/<run_id>.json`` when the process exits.

    python examples/dictconfig_example.py
"""

import logging.config
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from legacy import job

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # 1. stamps every record with the run id
        "run_context": {"()": "runlogger.RunContextFilter"},
    },
    "formatters": {
        # 2. one JSON object per record
        "json": {"()": "runlogger.RunJsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["run_context"],
        },
        # 3. counts every record and writes the run summary at exit
        "summary": {
            "class": "runlogger.RunSummaryHandler",
            "directory": "runs",
            "filters": ["run_context"],
        },
    },
    "root": {"level": "DEBUG", "handlers": ["console", "summary"]},
}

if __name__ == "__main__":
    logging.config.dictConfig(LOGGING)
    job.main()
