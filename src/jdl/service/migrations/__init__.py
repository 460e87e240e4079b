"""Alembic migrations for the service database (run programmatically by ``_db.upgrade``)."""
