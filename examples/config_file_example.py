"""The legacy job configured from a JSON or YAML file holding a dictConfig dict.

python examples/config_file_example.py examples/logging.json
python examples/config_file_example.py examples/logging.yaml   # needs PyYAML
"""

import json
import logging.config
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from legacy import job  # noqa: E402


def load(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml  # PyYAML, not a runlogger dependency

        return yaml.safe_load(text)
    return json.loads(text)


if __name__ == "__main__":
    config_path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "logging.json"
    logging.config.dictConfig(load(config_path))
    job.main()
