"""The code's own rules that import-linter cannot see."""

from __future__ import annotations

import ast
from pathlib import Path

import runlogger

SOURCE = Path(runlogger.__file__).parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_uses(path: Path) -> list[str]:
    """``from ._x import _y`` and ``_x._y`` in ``path``: another module's private names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            for alias in node.names:
                if node.module is None:
                    modules.add(alias.asname or alias.name)
                elif _private(alias.name):
                    found.append(
                        f"{path.name}:{node.lineno}: from .{node.module} import {alias.name}"
                    )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    found = [use for path in sorted(SOURCE.rglob("*.py")) for use in _private_uses(path)]
    assert found == []


def test_the_check_sees_both_kinds_of_private_use(tmp_path: Path) -> None:
    module = tmp_path / "_user.py"
    module.write_text("from . import _context\nfrom ._ids import _X\n_context._state.lock\n")
    assert _private_uses(module) == [
        "_user.py:2: from ._ids import _X",
        "_user.py:3: _context._state",
    ]
