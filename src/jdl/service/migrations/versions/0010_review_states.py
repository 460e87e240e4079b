"""The review's answers and withdrawal (issue 21): each state change may carry the lab's
reason (sent back, declined), shown to the organisation. The new states themselves
(sent_back, declined, withdrawn; a job's cancelled) fit the existing String(20) columns.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submission_events") as batch:
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_events") as batch:
        batch.drop_column("reason")
