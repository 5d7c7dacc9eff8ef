"""intake: reports (what a channel said), system clients, monitoring devices; a case's reporters

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:00:00

Cases from before this revision have no case_reporter rows: their notifications fall back to the reporter
recorded on the case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import chengguan.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_client",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_intake_client_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_client")),
        sa.UniqueConstraint("code", name=op.f("uq_intake_client_code")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_intake_client_key_hash")),
    )
    with op.batch_alter_table("intake_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_client_bureau_id"), ["bureau_id"], unique=False)

    op.create_table(
        "monitoring_device",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sensor_type", sa.String(length=32), nullable=True),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column(
            "thresholds", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_monitoring_device_bureau_id_bureau")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["intake_client.id"], name=op.f("fk_monitoring_device_client_id_intake_client")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_device")),
        sa.UniqueConstraint("code", name=op.f("uq_monitoring_device_code")),
    )
    with op.batch_alter_table("monitoring_device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_device_bureau_id"), ["bureau_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_monitoring_device_client_id"), ["client_id"], unique=False)

    op.create_table(
        "case_reporter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("since_seq", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("report_ref", sa.String(length=16), nullable=True),
        sa.Column("joined_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"], name=op.f("fk_case_reporter_case_id_case_record")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_case_reporter_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reporter")),
    )
    with op.batch_alter_table("case_reporter", schema=None) as batch_op:
        batch_op.create_index("ix_case_reporter_case", ["case_id", "since_seq"], unique=False)

    op.create_table(
        "intake_report",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tracking_code", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("claimed_category", sa.String(length=16), nullable=True),
        sa.Column("category_code", sa.String(length=16), nullable=True),
        sa.Column(
            "classification", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("crs", sa.String(length=8), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("location_source", sa.String(length=16), nullable=True),
        sa.Column("location_note", sa.String(length=200), nullable=True),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("grid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter_name", sa.String(length=64), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_note", sa.String(length=500), nullable=True),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("merge_score", sa.Float(), nullable=True),
        sa.Column("processed_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.String(length=500), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_intake_report_bureau_id_bureau")),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"], name=op.f("fk_intake_report_case_id_case_record")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["intake_client.id"], name=op.f("fk_intake_report_client_id_intake_client")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["monitoring_device.id"], name=op.f("fk_intake_report_device_id_monitoring_device")
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["unit_grid.id"], name=op.f("fk_intake_report_grid_id_unit_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["reporter_id"], ["app_user.id"], name=op.f("fk_intake_report_reporter_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_report")),
        sa.UniqueConstraint("client_id", "external_id", name="uq_intake_report_client_external"),
        sa.UniqueConstraint("tracking_code", name=op.f("uq_intake_report_tracking_code")),
    )
    with op.batch_alter_table("intake_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intake_report_bureau_id"), ["bureau_id"], unique=False)
        batch_op.create_index("ix_intake_report_case", ["case_id"], unique=False)
        batch_op.create_index("ix_intake_report_reporter_received", ["reporter_id", "received_at"], unique=False)
        batch_op.create_index("ix_intake_report_status_received", ["status", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("intake_report", schema=None) as batch_op:
        batch_op.drop_index("ix_intake_report_status_received")
        batch_op.drop_index("ix_intake_report_reporter_received")
        batch_op.drop_index("ix_intake_report_case")
        batch_op.drop_index(batch_op.f("ix_intake_report_bureau_id"))

    op.drop_table("intake_report")
    with op.batch_alter_table("case_reporter", schema=None) as batch_op:
        batch_op.drop_index("ix_case_reporter_case")

    op.drop_table("case_reporter")
    with op.batch_alter_table("monitoring_device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_device_client_id"))
        batch_op.drop_index(batch_op.f("ix_monitoring_device_bureau_id"))

    op.drop_table("monitoring_device")
    with op.batch_alter_table("intake_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_client_bureau_id"))

    op.drop_table("intake_client")
