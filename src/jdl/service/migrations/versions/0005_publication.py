"""Publication: the embargo date a reviewer sets at approval, and when the report entered the
public catalogue; and the stage a recovered job resumed from.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("embargo_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("publication_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("resumed_from", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("resumed_from")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("publication_id")
        batch.drop_column("published_at")
        batch.drop_column("embargo_until")
