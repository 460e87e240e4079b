"""The public catalogue: every published report, and the summary of findings to date.

:func:`publish` stores an approved, released report (the service calls it once the embargo has
passed; ``jdl catalogue seed`` calls it for synthetic demonstration reports) and recomputes the
summary; :data:`router` serves the public pages (``/catalogue``, ``/catalogue/summary``,
``/catalogue/reports/{id}``, ``/catalogue/export.json`` and ``.csv``). See docs/catalogue.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdl.catalogue._publish import CatalogueError, ReportToPublish, publish
    from jdl.catalogue._web import router

__all__ = ["CatalogueError", "ReportToPublish", "publish", "router"]

_WHERE = {"CatalogueError": "jdl.catalogue._publish", "ReportToPublish": "jdl.catalogue._publish",
          "publish": "jdl.catalogue._publish", "router": "jdl.catalogue._web"}


def __getattr__(name: str) -> Any:
    # Loaded on first use so that `jdl --help` does not import SQLAlchemy and FastAPI.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'jdl.catalogue' has no attribute {name!r}")
