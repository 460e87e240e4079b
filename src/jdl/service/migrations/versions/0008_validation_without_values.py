"""Stored validation results keep rule code, row and column only: purge the offending values
and the messages quoting them (names, PNC IDs, dates of birth) from every stored submission,
including those whose upload was already purged (issue 15).

Revision ID: 0008
Revises: 0007_sessions
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007_sessions"
branch_labels = None
depends_on = None

# frozen here (a migration must not change when the application does)
KEEP = ("row_number", "column", "field", "code", "severity")


def purged(validation: object) -> object:
    """The stored validation with each issue cut to KEEP and the refusal to its code."""
    if isinstance(validation, str):
        try:
            validation = json.loads(validation)
        except ValueError:
            return {}
    if not isinstance(validation, dict):
        return validation
    out = dict(validation)
    issues = out.get("issues")
    if isinstance(issues, list):
        out["issues"] = [{k: i.get(k) for k in KEEP} for i in issues if isinstance(i, dict)]
    refusal = out.get("refusal")
    if isinstance(refusal, dict):
        out["refusal"] = {"code": refusal.get("code")}
    return out


def upgrade() -> None:
    submissions = sa.table("submissions", sa.column("id", sa.Integer),
                           sa.column("validation", sa.JSON))
    conn = op.get_bind()
    for row in conn.execute(sa.select(submissions.c.id, submissions.c.validation)).all():
        cleaned = purged(row.validation)
        if cleaned != row.validation:
            conn.execute(submissions.update().where(submissions.c.id == row.id)
                         .values(validation=cleaned))


def downgrade() -> None:
    """Nothing to restore: the values are gone, as intended."""
