"""intake: device alerts (alarm state per device and metric: sustained breach, hysteresis; one open report,
repeats merged into it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chengguan.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "device_alert",
        sa.Column("id", ID, nullable=False),
        sa.Column("device_id", ID, nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("breach_since", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("raised", sa.Boolean(), nullable=False),
        sa.Column("report_id", ID, nullable=True),
        sa.Column("opened_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["monitoring_device.id"], name=op.f("fk_device_alert_device_id_monitoring_device")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["intake_report.id"], name=op.f("fk_device_alert_report_id_intake_report")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_alert")),
        sa.UniqueConstraint("device_id", "metric", name="uq_device_alert_device_metric"),
    )
    with op.batch_alter_table("device_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_alert_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_alert_report_id"))
    op.drop_table("device_alert")
