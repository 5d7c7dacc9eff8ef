"""notify: delivery state of each notification (queued → sent / failed, provider message id, retries),
templates with variables, e-mail addresses, the bureau on whose behalf; notify_outbox (the local outbox)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 10:00:00

Rows from before this revision: in-app rows were delivered by being written (``sent``); SMS rows had no
adapter to go out through and are marked ``failed`` with that reason (nothing is re-sent months later).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import chengguan.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bureau_id", BIGINT, nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("template", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("params", JSON, nullable=True))
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("provider", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("provider_message_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", chengguan.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sent_at", chengguan.db.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE notification SET state = 'sent', provider = 'app', attempts = 1, sent_at = created_at "
        "WHERE channel = 'app'"
    )
    op.execute(
        "UPDATE notification SET state = 'failed', attempts = 0, "
        "last_error = '0009 之前没有短信通道，未发送' WHERE channel <> 'app'"
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("state", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("attempts", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_notification_bureau_id_bureau"), "bureau", ["bureau_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_notification_bureau_id"), ["bureau_id"], unique=False)

    op.create_table(
        "notify_outbox",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("notification_id", BIGINT, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["notification.id"], name=op.f("fk_notify_outbox_notification_id_notification")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
    )
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_outbox_notification_id"), ["notification_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_outbox_notification_id"))
    op.drop_table("notify_outbox")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_bureau_id"))
        batch_op.drop_constraint(batch_op.f("fk_notification_bureau_id_bureau"), type_="foreignkey")
        for column in (
            "sent_at",
            "next_attempt_at",
            "last_error",
            "attempts",
            "provider_message_id",
            "provider",
            "state",
            "params",
            "template",
            "email",
            "bureau_id",
        ):
            batch_op.drop_column(column)
