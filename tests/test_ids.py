"""Run ids: time-ordered, unique, and safe as file names."""

from __future__ import annotations

import re
import time

import pytest

from runlogger import InvalidRunIdError
from runlogger._ids import new_run_id, validate_run_id


def test_default_ids_are_valid_file_names() -> None:
    for _ in range(100):
        assert validate_run_id(new_run_id())


def test_default_ids_sort_by_start_time() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert ids == sorted(ids)


def test_default_ids_start_with_the_utc_start_time() -> None:
    before = time.strftime("%Y%m%dT%H%M", time.gmtime())
    run_id = new_run_id()
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{10}", run_id)
    assert run_id[:13] >= before


def test_default_ids_do_not_repeat() -> None:
    ids = {new_run_id() for _ in range(50_000)}
    assert len(ids) == 50_000


@pytest.mark.parametrize(
    "bad", ["", "../x", "a/b", "a\x00b", ".hidden", "-x", "_x", "x" * 65, "a b", "é"]
)
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRunIdError, match="Invalid run id"):
        validate_run_id(bad)


def test_non_string_id_is_refused() -> None:
    with pytest.raises(InvalidRunIdError, match="must be a string"):
        validate_run_id(42)


@pytest.mark.parametrize("good", ["a", "nightly-2026.11.30_01", "X" * 64, "3f9a"])
def test_good_ids_are_kept(good: str) -> None:
    assert validate_run_id(good) == good
