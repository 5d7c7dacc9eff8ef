"""Tables: case_record (a case), case_event (append-only history), case_counter (readable numbers),
case_reporter (everyone who reported the problem)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chengguan.db import Base, BigIntPK, JSONType, UTCDateTime
from chengguan.shared.clock import utcnow


class Case(Base):
    __tablename__ = "case_record"
    __table_args__ = (
        # The list is ordered by (reported_at, id) desc: a city-wide view walks ix_case_reported backwards,
        # a brigade's view ix_case_bureau_reported, a state filter ix_case_state_reported.
        Index("ix_case_reported", "reported_at", "id"),
        Index("ix_case_state_reported", "state", "reported_at", "id"),
        Index("ix_case_bureau_reported", "bureau_id", "reported_at", "id"),
        Index("ix_case_bureau_state_reported", "bureau_id", "state", "reported_at", "id"),
        Index("ix_case_category_reported", "category_id", "reported_at"),
        Index("ix_case_grid_reported", "grid_id", "reported_at"),
        Index("ix_case_district_reported", "district_id", "reported_at"),
        Index("ix_case_open_deadline", "state", "step_deadline"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))
    state: Mapped[str] = mapped_column(String(20))
    category_id: Mapped[int] = mapped_column(ForeignKey("category_minor.id"))
    channel: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)  # WGS84
    lat: Mapped[float] = mapped_column(Float)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("district.id"))
    # Below the district, boundaries may be replaced by imported real ones: the case then loses its place
    # (SET NULL) until ``placement.relocate`` finds it again.
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id", ondelete="SET NULL"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("unit_grid.id", ondelete="SET NULL"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    # SLA clock of the current step (None in terminal states; a suspended case keeps its step, paused, with no
    # deadline). See cases/clock.py: the deadline derives from clock_from + clock_budget_s on the calendar.
    step: Mapped[str | None] = mapped_column(String(16))
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_budget_s: Mapped[float | None] = mapped_column(Float)  # paused: what was left (negative: overdue)
    clock_working: Mapped[bool] = mapped_column(Boolean, default=False)  # budget in working seconds
    # The 小类's step time limits in force when the case was reported ({"accept": "1工作时", ...}): a case keeps
    # them whatever the catalog says later, and no transition has to read the catalog again.
    step_limits: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    extension_pending: Mapped[str | None] = mapped_column(String(32))  # requested TimeLimit text
    suspended_from: Mapped[str | None] = mapped_column(String(20))
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    history_len: Mapped[int] = mapped_column(Integer, default=0)  # seq of the last history row
    overdue_steps: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API


class CaseEvent(Base):
    """Append-only (database triggers refuse UPDATE and DELETE). Written only by ``service.record``."""

    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    case: Mapped[Case] = relationship(lazy="raise")


class CaseCounter(Base):
    __tablename__ = "case_counter"
    __table_args__ = (UniqueConstraint("bureau_id", "year"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))
    year: Mapped[int] = mapped_column(Integer)
    last_no: Mapped[int] = mapped_column(Integer, default=0)


class CaseReporter(Base):
    """Everyone who reported the problem of a case: the first report, and every report merged into it later.
    They are all told the outcome. ``since_seq`` is the history length when they joined: a message about an
    earlier step is not theirs. ``report_ref`` is intake's tracking code of their report."""

    __tablename__ = "case_reporter"
    __table_args__ = (Index("ix_case_reporter_case", "case_id", "since_seq"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    since_seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    report_ref: Mapped[str | None] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
