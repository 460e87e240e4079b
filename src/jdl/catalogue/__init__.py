"""The public catalogue's logic: findings, the summary of findings, export, charts, publishing.

:func:`publish` checks an approved, released report, copies its PDF into catalogue storage and
returns a typed :class:`Publishable`; it knows no database. The web app (``jdl.service``) stores
publications, serves the public pages (``/catalogue``, ``/catalogue/summary``,
``/catalogue/reports/{id}``, ``/catalogue/export.json`` and ``.csv``) and runs ``jdl catalogue
seed``. Nothing here imports the web app. See docs/catalogue.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdl.catalogue._publish import CatalogueError, Publishable, ReportToPublish, publish

__all__ = ["CatalogueError", "Publishable", "ReportToPublish", "publish"]

_WHERE = {"CatalogueError": "jdl.catalogue._publish", "ReportToPublish": "jdl.catalogue._publish",
          "Publishable": "jdl.catalogue._publish", "publish": "jdl.catalogue._publish"}


def __getattr__(name: str) -> Any:
    # Loaded on first use so that `jdl --help` does not import the disclosure stage.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'jdl.catalogue' has no attribute {name!r}")
