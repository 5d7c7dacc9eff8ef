"""cases, history, counters, notifications

Revision ID: 0004
Revises: 0002
Merges the geo (0002) and catalog/calendar (0003) branches.
Create Date: 2026-11-24 06:46:12.701245
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import chengguan.db

revision = "0004"
down_revision = ("0002", "0003")  # merges the geo and catalog/calendar branches
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_counter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_no", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_case_counter_bureau_id_bureau")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_counter")),
        sa.UniqueConstraint("bureau_id", "year", name=op.f("uq_case_counter_bureau_id_year")),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_notification_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "case_record",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("bureau_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("category_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("district_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("street_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("grid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter_name", sa.String(length=64), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("assignee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("step", sa.String(length=16), nullable=True),
        sa.Column("step_started_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("step_deadline", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extension_pending", sa.String(length=32), nullable=True),
        sa.Column("suspended_from", sa.String(length=20), nullable=True),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("history_len", sa.Integer(), nullable=False),
        sa.Column("overdue_steps", sa.Integer(), nullable=False),
        sa.Column("reported_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", chengguan.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["app_user.id"], name=op.f("fk_case_record_assignee_id_app_user")),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureau.id"], name=op.f("fk_case_record_bureau_id_bureau")),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category_minor.id"], name=op.f("fk_case_record_category_id_category_minor")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["community.id"], name=op.f("fk_case_record_community_id_community"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["district_id"], ["district.id"], name=op.f("fk_case_record_district_id_district")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["unit_grid.id"], name=op.f("fk_case_record_grid_id_unit_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["reporter_id"], ["app_user.id"], name=op.f("fk_case_record_reporter_id_app_user")),
        sa.ForeignKeyConstraint(
            ["street_id"], ["street.id"], name=op.f("fk_case_record_street_id_street"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_record")),
        sa.UniqueConstraint("case_no", name=op.f("uq_case_record_case_no")),
    )
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.create_index("ix_case_reported", ["reported_at", "id"], unique=False)
        batch_op.create_index("ix_case_state_reported", ["state", "reported_at", "id"], unique=False)
        batch_op.create_index("ix_case_bureau_reported", ["bureau_id", "reported_at", "id"], unique=False)
        batch_op.create_index(
            "ix_case_bureau_state_reported", ["bureau_id", "state", "reported_at", "id"], unique=False
        )
        batch_op.create_index("ix_case_category_reported", ["category_id", "reported_at"], unique=False)
        batch_op.create_index("ix_case_district_reported", ["district_id", "reported_at"], unique=False)
        batch_op.create_index("ix_case_grid_reported", ["grid_id", "reported_at"], unique=False)
        batch_op.create_index("ix_case_open_deadline", ["state", "step_deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_record_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_record_reporter_id"), ["reporter_id"], unique=False)

    op.create_table(
        "case_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("at", chengguan.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"], name=op.f("fk_case_event_actor_id_app_user")),
        sa.ForeignKeyConstraint(["case_id"], ["case_record.id"], name=op.f("fk_case_event_case_id_case_record")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_event_case_id_seq")),
    )

    # case_event is append-only: the database itself refuses UPDATE and DELETE (history is evidence).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION case_event_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'case_event is append-only (% refused)', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER case_event_no_update BEFORE UPDATE OR DELETE ON case_event "
            "FOR EACH ROW EXECUTE FUNCTION case_event_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER case_event_no_{verb.lower()} BEFORE {verb} ON case_event "
                f"BEGIN SELECT RAISE(ABORT, 'case_event is append-only ({verb} refused)'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS case_event_no_update ON case_event")
        op.execute("DROP FUNCTION IF EXISTS case_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS case_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS case_event_no_delete")
    op.drop_table("case_event")
    with op.batch_alter_table("case_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_record_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_case_record_assignee_id"))
        batch_op.drop_index("ix_case_open_deadline")
        batch_op.drop_index("ix_case_grid_reported")
        batch_op.drop_index("ix_case_district_reported")
        batch_op.drop_index("ix_case_category_reported")
        batch_op.drop_index("ix_case_bureau_state_reported")
        batch_op.drop_index("ix_case_bureau_reported")
        batch_op.drop_index("ix_case_state_reported")
        batch_op.drop_index("ix_case_reported")

    op.drop_table("case_record")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_created")

    op.drop_table("notification")
    op.drop_table("case_counter")
