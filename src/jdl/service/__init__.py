"""The lab as a service: a FastAPI application, its database, jobs, roles and audit log.

:func:`create_app` builds the application (``jdl serve`` runs it with uvicorn); ``jdl worker``
runs queued jobs in a separate process; ``jdl admin create-org`` / ``create-user`` set up
organisations and users. See ``docs/service.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jdl.service._app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Loaded on first use so that `jdl --help` does not import FastAPI and SQLAlchemy.
    if name == "create_app":
        from jdl.service._app import create_app

        return create_app
    raise AttributeError(f"module 'jdl.service' has no attribute {name!r}")
