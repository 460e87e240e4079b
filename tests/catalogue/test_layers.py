"""One web app, no cycle (issue 17): the catalogue's logic never imports the web app, and
publishing needs no database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._imports import imported_modules

CATALOGUE = Path(__file__).parents[2] / "src" / "jdl" / "catalogue"




def test_the_catalogue_never_imports_the_web_app_or_a_database():
    for path in sorted(CATALOGUE.rglob("*.py")):
        found = {n for n in imported_modules(path.read_text())
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
