"""The report stage reads released results only: it imports no analysis stage."""

from __future__ import annotations

import ast
from importlib import resources

import jdl.report

FORBIDDEN = ("intake", "linkage", "cohort", "matching", "inference", "outcomes", "admin",
             "engines", "disclosure", "service", "catalogue")


def _imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_report_imports_only_core_and_itself():
    modules = [m for m in resources.files("jdl.report").iterdir() if m.name.endswith(".py")]
    assert len(modules) >= 5
    for module in modules:
        for name in _imports(module.read_text()):
            if name.startswith("jdl."):
                stage = name.split(".")[1]
                assert stage in ("core", "report"), f"{module.name} imports {name}"
                assert stage not in FORBIDDEN


def test_public_names():
    assert set(jdl.report.__all__) >= {"render_report", "render_html", "ReportFiles",
                                       "ReportError"}
    for name in jdl.report.__all__:
        assert getattr(jdl.report, name) is not None
