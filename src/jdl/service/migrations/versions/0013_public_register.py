"""The public register (issue 20): the organisation's right of reply and the report a new one
replaces, asked for before publication (``catalogue_requests``) and kept with the publication;
a published report's withdrawal (when and why).

Revision ID: 0013
Revises: 0012 (the registered analysis plan)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("catalogue_publications") as batch:
        batch.add_column(sa.Column("response", sa.Text, nullable=True))
        batch.add_column(sa.Column("supersedes_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("withdrawn_at", TS, nullable=True))
        batch.add_column(sa.Column("withdrawn_reason", sa.Text, nullable=True))
    op.create_index("ix_catalogue_publications_supersedes_id", "catalogue_publications",
                    ["supersedes_id"])
    op.create_table(
        "catalogue_requests",
        sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"),
                  primary_key=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("supersedes_id", sa.Integer, nullable=True),
        sa.Column("updated_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalogue_requests")
    op.drop_index("ix_catalogue_publications_supersedes_id", "catalogue_publications")
    with op.batch_alter_table("catalogue_publications") as batch:
        for column in ("withdrawn_reason", "withdrawn_at", "supersedes_id", "response"):
            batch.drop_column(column)
