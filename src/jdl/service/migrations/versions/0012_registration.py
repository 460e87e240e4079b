"""The organisation's registered analysis plan (issue 20): its canonical form and SHA-256,
stored with the submission when it is uploaded and never changed.

Revision ID: 0012
Revises: 0011 (the lead relinks it if another 0012 is merged first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("registration", sa.JSON, nullable=True))
        batch.add_column(sa.Column("registration_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("registration_sha256")
        batch.drop_column("registration")
