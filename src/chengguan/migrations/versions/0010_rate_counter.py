"""rate counter: requests per bucket and client key (HMAC) in the current window, and values kept per key

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chengguan.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_counter",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_started_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_counter")),
        sa.UniqueConstraint("bucket", "key_digest", name=op.f("uq_rate_counter_bucket_key_digest")),
    )
    op.create_index(op.f("ix_rate_counter_expires_at"), "rate_counter", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_counter_expires_at"), table_name="rate_counter")
    op.drop_table("rate_counter")
