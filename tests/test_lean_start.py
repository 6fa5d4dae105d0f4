"""What ``runlogger run`` does to start and stop quickly, and what it must not change.

Timings are not tested here (they are ``bench/start_bench.py``'s); these tests hold the
behaviour the shortcuts must keep.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from support import python_command, read_summary

CYCLE = """
import gc, os
class Holder:
    def __del__(self):
        os.write(1, b"collected at shutdown\\n")
holder = Holder()
holder.me = holder  # a reference cycle: only the collector frees it
del holder
print("frozen before the program:", gc.get_freeze_count() > 0, flush=True)
"""


def test_the_programs_cycles_are_still_collected_at_shutdown(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(textwrap.dedent(CYCLE), encoding="utf-8")
    result = python_command("-m", "runlogger", "run", "job.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # runlogger's own objects are left out of the collections (gc.freeze) ...
    assert "frozen before the program: True" in result.stdout
    # ... the program's are not: its cycle is freed at shutdown, as under python.
    assert result.stdout.endswith("collected at shutdown\n")
    (path,) = (tmp_path / "runs").glob("*.json")
    assert read_summary(tmp_path / "runs", path.stem)["status"] == "completed"


def test_the_destination_variables_are_named_as_their_modules_name_them() -> None:
    # _destinations spells them out so that it imports the HTTP destinations only when
    # one is configured.
    from runlogger import _destinations, _prometheus, _webhook

    assert _destinations.PROM_LABELS_ENV == _prometheus.PROM_LABELS_ENV
    assert _destinations.WEBHOOK_ENV == _webhook.WEBHOOK_ENV
    assert _destinations.PING_URL_ENV == _webhook.PING_URL_ENV


LOADED = """
import logging, sys
heavy = ("runlogger._http", "runlogger._prometheus", "runlogger._webhook", "tempfile", "argparse")
logging.getLogger("job").warning("loaded: %s", [name for name in heavy if name in sys.modules])
"""


def test_a_run_without_destinations_imports_no_http_client(tmp_path: Path) -> None:
    (tmp_path / "job.py").write_text(textwrap.dedent(LOADED), encoding="utf-8")
    result = python_command("-m", "runlogger", "run", "job.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stderr
