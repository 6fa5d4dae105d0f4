"""The same legacy job configured by the INI file ``logging.conf.example``.

``fileConfig`` has no filters section, so the formatter and the summary handler find
the run themselves.

    python examples/fileconfig_example.py [path/to/logging.conf]
"""

import logging.config
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy import job  # noqa: E402

if __name__ == "__main__":
    config = sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "logging.conf.example"
    logging.config.fileConfig(config, disable_existing_loggers=False)
    job.main()
