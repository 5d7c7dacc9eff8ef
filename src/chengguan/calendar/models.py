"""Tables: work_calendar (weekly pattern and periods of a bureau), calendar_day (holidays, make-up days)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengguan.db import Base, BigIntPK, JSONType


class WorkCalendarRow(Base):
    """A bureau's own weekly pattern; a bureau without one uses its parent's, else the built-in default."""

    __tablename__ = "work_calendar"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), unique=True)
    weekdays: Mapped[str] = mapped_column(String(7), default="12345")  # ISO weekday digits, Monday = 1
    periods: Mapped[Any] = mapped_column(JSONType)  # [["08:30", "12:00"], ["13:30", "17:30"]]
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")


class CalendarDay(Base):
    """A special day: ``holiday`` (day off on a working weekday) or ``workday`` (调休上班 on a weekend).

    A bureau's own rows override its parent's for the same day.
    """

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("bureau_id", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))  # leads the unique (bureau_id, day) index
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # holiday | workday
    name: Mapped[str] = mapped_column(String(64))
