"""duplicate merging: per-小类 windows in the catalog (dedupe_radius_m, dedupe_window), and why intake merged a
report or not (intake_report.merge_reasons)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:00:00

Existing 小类 rows get the built-in defaults (100 m, 72小时); re-import a catalog (or the seed) to set the
per-小类 values of data/default_catalog.yaml.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_radius_m", sa.Integer(), server_default="100", nullable=False))
        batch_op.add_column(sa.Column("dedupe_window", sa.String(length=32), server_default="72小时", nullable=False))
    with op.batch_alter_table("intake_report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "merge_reasons",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("intake_report", schema=None) as batch_op:
        batch_op.drop_column("merge_reasons")
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.drop_column("dedupe_window")
        batch_op.drop_column("dedupe_radius_m")
