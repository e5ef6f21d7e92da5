"""The architecture as contracts (docs/ARCHITECTURE.md): the suite fails when an import breaks one.

The contracts live in ``.importlinter`` (run them alone with ``lint-imports``):
* layers: ``gui`` and ``cli`` use ``engine``, never the reverse, and never each other;
* the engine never imports Qt (PySide6), ``gui`` or ``cli``;
* no import circles among the modules of ``engine``, ``gui`` or ``cli``.
``main.py`` sits on top; being a module rather than a package, it is checked here.
"""

from __future__ import annotations

import ast
import os

from importlinter.cli import lint_imports

from tests.conftest import ROOT

PACKAGES = ("engine", "gui", "cli")


def _modules_imported_by(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_import_contracts_are_kept():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    assert code == 0, "an import breaks a contract of .importlinter (run lint-imports for the chain)"


def test_nothing_below_main_imports_it():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            imported = _modules_imported_by(path)
            assert "main" not in imported, f"{path.relative_to(ROOT)} imports main.py"


def test_no_file_of_the_engine_mentions_qt_in_an_import():
    for path in sorted((ROOT / "engine").rglob("*.py")):
        qt = {name for name in _modules_imported_by(path) if name.split(".")[0] in ("PySide6", "shiboken6", "gui")}
        assert not qt, f"{path.relative_to(ROOT)} imports {sorted(qt)}"
