"""catalog and calendar: category_major, category_minor, work_calendar, calendar_day

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24 06:45:01.869899

Parallel to revision 0002 (geo); a later merge revision joins the two heads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "category_major",
        sa.Column("id", PK, nullable=False),
        sa.Column("bureau_id", PK, nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_category_major_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_major")),
        sa.UniqueConstraint("bureau_id", "code", name=op.f("uq_category_major_bureau_id_code")),
    )
    op.create_table(
        "category_minor",
        sa.Column("id", PK, nullable=False),
        sa.Column("bureau_id", PK, nullable=False),
        sa.Column("major_id", PK, nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filing_criteria", sa.Text(), nullable=False),
        sa.Column("closing_criteria", sa.Text(), nullable=False),
        sa.Column("responsible_unit", sa.String(length=100), nullable=False),
        sa.Column("accept_limit", sa.String(length=32), nullable=False),
        sa.Column("file_limit", sa.String(length=32), nullable=False),
        sa.Column("dispatch_limit", sa.String(length=32), nullable=False),
        sa.Column("handle_limit", sa.String(length=32), nullable=False),
        sa.Column("urgent_handle_limit", sa.String(length=32), nullable=True),
        sa.Column("verify_limit", sa.String(length=32), nullable=False),
        sa.Column("close_limit", sa.String(length=32), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_category_minor_bureau_id_bureau")),
        sa.ForeignKeyConstraint(
            ["major_id"], ["category_major.id"], name=op.f("fk_category_minor_major_id_category_major")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_minor")),
        sa.UniqueConstraint("bureau_id", "code", name=op.f("uq_category_minor_bureau_id_code")),
    )
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_category_minor_major_id"), ["major_id"], unique=False)

    op.create_table(
        "work_calendar",
        sa.Column("id", PK, nullable=False),
        sa.Column("bureau_id", PK, nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column(
            "periods", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("timezone", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_work_calendar_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_calendar")),
        sa.UniqueConstraint("bureau_id", name=op.f("uq_work_calendar_bureau_id")),
    )
    op.create_table(
        "calendar_day",
        sa.Column("id", PK, nullable=False),
        sa.Column("bureau_id", PK, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_calendar_day_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_day")),
        sa.UniqueConstraint("bureau_id", "day", name=op.f("uq_calendar_day_bureau_id_day")),
    )


def downgrade() -> None:
    op.drop_table("calendar_day")
    op.drop_table("work_calendar")
    with op.batch_alter_table("category_minor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_category_minor_major_id"))

    op.drop_table("category_minor")
    op.drop_table("category_major")
