"""media: photos and videos, content-addressed (media_object, media_upload, report_media, case_media)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 15:20:00

The bytes live in the media storage (local files or an S3-compatible bucket), keyed by their SHA-256; these
tables record what each object is, who uploaded it and what it is attached to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import chengguan.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_object",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("taken_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gps_lon", sa.Float(), nullable=True),
        sa.Column("gps_lat", sa.Float(), nullable=True),
        sa.Column("public_sha256", sa.String(length=64), nullable=False),
        sa.Column("public_mime", sa.String(length=32), nullable=False),
        sa.Column("public_size", sa.BigInteger(), nullable=False),
        sa.Column("thumb_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_object")),
        sa.UniqueConstraint("sha256", name=op.f("uq_media_object_sha256")),
    )
    op.create_table(
        "media_upload",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("uploaded_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["media_object.sha256"], name=op.f("fk_media_upload_sha256_media_object")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_media_upload_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_upload")),
    )
    with op.batch_alter_table("media_upload", schema=None) as batch_op:
        batch_op.create_index("ix_media_upload_sha_user", ["sha256", "user_id"], unique=False)
        batch_op.create_index("ix_media_upload_user", ["user_id", "uploaded_at"], unique=False)

    op.create_table(
        "case_media",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("added_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["added_by_id"], ["app_user.id"], name=op.f("fk_case_media_added_by_id_app_user")),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"], name=op.f("fk_case_media_case_id_case_record")),
        sa.ForeignKeyConstraint(["sha256"], ["media_object.sha256"], name=op.f("fk_case_media_sha256_media_object")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_media")),
        sa.UniqueConstraint("case_id", "sha256", "role", name=op.f("uq_case_media_case_id_sha256_role")),
    )
    with op.batch_alter_table("case_media", schema=None) as batch_op:
        batch_op.create_index("ix_case_media_sha", ["sha256"], unique=False)

    op.create_table(
        "report_media",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["intake_report.id"], name=op.f("fk_report_media_report_id_intake_report")
        ),
        sa.ForeignKeyConstraint(["sha256"], ["media_object.sha256"], name=op.f("fk_report_media_sha256_media_object")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_media")),
        sa.UniqueConstraint("report_id", "sha256", name=op.f("uq_report_media_report_id_sha256")),
    )
    with op.batch_alter_table("report_media", schema=None) as batch_op:
        batch_op.create_index("ix_report_media_sha", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_media", schema=None) as batch_op:
        batch_op.drop_index("ix_report_media_sha")

    op.drop_table("report_media")
    with op.batch_alter_table("case_media", schema=None) as batch_op:
        batch_op.drop_index("ix_case_media_sha")

    op.drop_table("case_media")
    with op.batch_alter_table("media_upload", schema=None) as batch_op:
        batch_op.drop_index("ix_media_upload_user")
        batch_op.drop_index("ix_media_upload_sha_user")

    op.drop_table("media_upload")
    op.drop_table("media_object")
