"""catalog: per-小类 duplicate-merging windows (dedupe_radius_m, dedupe_window)

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-30 10:00:00

Existing 小类 rows get the built-in defaults (100 m, 72小时); re-import a catalog (or the seed) to set the
per-小类 values of data/default_catalog.yaml.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_radius_m", sa.Integer(), server_default="100", nullable=False))
        batch_op.add_column(sa.Column("dedupe_window", sa.String(length=32), server_default="72小时", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.drop_column("dedupe_window")
        batch_op.drop_column("dedupe_radius_m")
