"""The public catalogue: published reports (copies of released results and the PDF) and the
stored summary of findings to date.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalogue_publications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(200), nullable=False, unique=True),
        sa.Column("submission_id", sa.Integer, nullable=True),
        sa.Column("synthetic", sa.Boolean, nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("programme_name", sa.String(200), nullable=False),
        sa.Column("sector", sa.String(40), nullable=False),
        sa.Column("intervention_type", sa.String(40), nullable=False),
        sa.Column("region", sa.String(60), nullable=False),
        sa.Column("setting", sa.String(20), nullable=False),
        sa.Column("delivery_start", sa.Date, nullable=True),
        sa.Column("delivery_end", sa.Date, nullable=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("treatment_n", sa.Integer, nullable=True),
        sa.Column("headline_result", sa.String(20), nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("programme", sa.JSON, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("pdf_file", sa.String(200), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("approved_at", TS, nullable=True),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    for column in ("organisation", "sector", "intervention_type", "region", "year",
                   "headline_result"):
        op.create_index(f"ix_catalogue_publications_{column}", "catalogue_publications",
                        [column])
    op.create_table(
        "catalogue_summaries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("charts", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("catalogue_summaries")
    op.drop_table("catalogue_publications")
