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
