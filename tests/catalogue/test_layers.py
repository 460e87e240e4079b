"""One web app, no cycle (issue 17): the catalogue's logic never imports the web app, and
publishing needs no database."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CATALOGUE = Path(__file__).parents[2] / "src" / "jdl" / "catalogue"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_catalogue_never_imports_the_web_app_or_a_database():
    for path in sorted(CATALOGUE.rglob("*.py")):
        found = {n for n in _imports(path)
                 if n.startswith(("jdl.service", "sqlalchemy", "fastapi", "starlette"))}
        assert not found, f"{path.name} imports {sorted(found)}"
    assert not (CATALOGUE / "templates").exists()  # pages live in the web app


def test_importing_the_catalogue_logic_loads_no_web_stack():
    code = ("import sys, jdl.catalogue._publish, jdl.catalogue._export, jdl.catalogue._summary; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'sqlalchemy', 'starlette') or m.startswith('jdl.service')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
