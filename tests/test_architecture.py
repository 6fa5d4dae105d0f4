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


def _package_face_imports(path: Path, root: Path = SOURCE) -> list[str]:
    """Imports of the package ``root`` itself (its ``__init__.py``) rather than of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module is None:
            if path.parents[node.level - 1] != root:
                continue  # the names of a subpackage (runlogger._cli) are not the face's
            for alias in node.names:
                if not (root / f"{alias.name}.py").exists() and not (root / alias.name).is_dir():
                    found.append(f"{path.name}:{node.lineno}: from . import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == root.name:
            found.append(f"{path.name}:{node.lineno}: from {root.name} import ...")
        elif isinstance(node, ast.Import) and any(a.name == root.name for a in node.names):
            found.append(f"{path.name}:{node.lineno}: import {root.name}")
    return found


def test_no_module_imports_the_package_face() -> None:
    """The face imports (and, for the type checker, names) the handlers: a module that
    imports it back, even lazily, ties a cycle through it."""
    faces = {SOURCE / "__init__.py", SOURCE / "__main__.py"}
    found = [
        use
        for path in sorted(SOURCE.rglob("*.py"))
        if path not in faces
        for use in _package_face_imports(path)
    ]
    assert found == []


def test_the_face_check_tells_a_module_from_a_name(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "_ids.py").write_text("", encoding="utf-8")
    module = package / "_user.py"
    module.write_text(
        "from . import _ids\nfrom . import __version__\nimport pkg\nfrom pkg import x\n",
        encoding="utf-8",
    )
    nested = package / "sub" / "_cmd.py"
    nested.write_text("from . import helper\nfrom .. import __version__\n", encoding="utf-8")
    assert _package_face_imports(module, package) == [
        "_user.py:2: from . import __version__",
        "_user.py:3: import pkg",
        "_user.py:4: from pkg import ...",
    ]
    assert _package_face_imports(nested, package) == ["_cmd.py:2: from . import __version__"]
