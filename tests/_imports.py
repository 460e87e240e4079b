"""The modules a Python source file imports, for the layering tests (report, evaluation,
catalogue): one reading of the syntax tree instead of one copy per test module."""

from __future__ import annotations

import ast


def imported_modules(source: str) -> set[str]:
    """Every module named by an ``import`` or ``from ... import`` in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names
