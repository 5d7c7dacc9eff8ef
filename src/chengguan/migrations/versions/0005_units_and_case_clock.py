"""squads and departments (org_unit, app_user.unit_id); the case's resumable SLA clock and its limits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 13:00:00

Existing cases get an elapsed-time clock from their current deadline (clock_from = step start, budget =
deadline - start) and no limits snapshot (they read the catalog); cases reported from now on keep
working-time budgets and the limits in force when they were reported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import chengguan.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "org_unit",
        sa.Column("id", _ID, nullable=False),
        sa.Column("bureau_id", _ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_org_unit_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_org_unit_code")),
    )
    op.create_index(op.f("ix_org_unit_bureau_id"), "org_unit", ["bureau_id"], unique=False)
    # Plain ADD COLUMN (no table copy): app_user is referenced by most tables. SQLite takes the reference
    # inline (unnamed); PostgreSQL gets the named constraint of the naming convention.
    if op.get_bind().dialect.name == "postgresql":
        fk = sa.ForeignKey("org_unit.id", name=op.f("fk_app_user_unit_id_org_unit"))
        op.add_column("app_user", sa.Column("unit_id", _ID, fk, nullable=True))
    else:
        op.execute("ALTER TABLE app_user ADD COLUMN unit_id INTEGER REFERENCES org_unit (id)")
    op.create_index(op.f("ix_app_user_unit_id"), "app_user", ["unit_id"], unique=False)

    op.add_column("case_record", sa.Column("clock_from", chengguan.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("case_record", sa.Column("clock_budget_s", sa.Float(), nullable=True))
    op.add_column("case_record", sa.Column("step_limits", _JSON, nullable=True))
    # The server default fills existing rows; it stays (harmless) so SQLite needs no table copy.
    op.add_column("case_record", sa.Column("clock_working", sa.Boolean(), nullable=False, server_default=sa.false()))
    case = sa.table(
        "case_record",
        sa.column("step_started_at", chengguan.db.UTCDateTime(timezone=True)),
        sa.column("clock_from", chengguan.db.UTCDateTime(timezone=True)),
    )
    op.execute(case.update().where(case.c.step_started_at.is_not(None)).values(clock_from=case.c.step_started_at))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE case_record SET clock_budget_s = EXTRACT(EPOCH FROM step_deadline - step_started_at) "
            "WHERE step_deadline IS NOT NULL AND step_started_at IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE case_record SET clock_budget_s = (julianday(step_deadline) - julianday(step_started_at)) * 86400 "
            "WHERE step_deadline IS NOT NULL AND step_started_at IS NOT NULL"
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): no table copies of tables that others reference.
    for column in ("step_limits", "clock_working", "clock_budget_s", "clock_from"):
        op.drop_column("case_record", column)
    op.drop_index(op.f("ix_app_user_unit_id"), table_name="app_user")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_app_user_unit_id_org_unit"), "app_user", type_="foreignkey")
        op.drop_column("app_user", "unit_id")
    else:  # SQLite cannot drop a column that carries a foreign key: copy the table without it
        with op.batch_alter_table("app_user", recreate="always") as batch_op:
            batch_op.drop_column("unit_id")
    op.drop_index(op.f("ix_org_unit_bureau_id"), table_name="org_unit")
    op.drop_table("org_unit")
