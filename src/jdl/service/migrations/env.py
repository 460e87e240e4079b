"""Alembic environment: the caller (``jdl.service._db.upgrade``) passes an open connection."""

from __future__ import annotations

from alembic import context

import jdl.service._catalogue_models  # noqa: F401  (the catalogue's tables, same Base)
from jdl.service._models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
