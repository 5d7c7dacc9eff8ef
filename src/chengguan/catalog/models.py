"""Tables: category_major (大类), category_minor (小类), scoped by bureau.

A bureau that has no ``category_major`` rows uses its nearest ancestor's catalog. Minors are never deleted
(cases reference them); a minor dropped from a catalog becomes ``is_active = False``.
Time limits are stored as text (``"4工作时"``) and parsed with ``chengguan.shared.durations.TimeLimit``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chengguan.db import Base, BigIntPK


class CategoryMajor(Base):
    __tablename__ = "category_major"
    __table_args__ = (UniqueConstraint("bureau_id", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))  # leads the unique (bureau_id, code) index
    code: Mapped[str] = mapped_column(String(8))  # two digits, e.g. "05"
    name: Mapped[str] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(Integer, default=0)

    # Every minor, active or not (for import/export); ``minors`` is the active ones, sorted by code.
    all_minors: Mapped[list[CategoryMinor]] = relationship(back_populates="major", order_by="CategoryMinor.code")
    minors: Mapped[list[CategoryMinor]] = relationship(
        primaryjoin="and_(CategoryMajor.id == CategoryMinor.major_id, CategoryMinor.is_active == True)",
        order_by="CategoryMinor.code",
        viewonly=True,
    )


class CategoryMinor(Base):
    __tablename__ = "category_minor"
    __table_args__ = (UniqueConstraint("bureau_id", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"))  # leads the unique (bureau_id, code) index
    major_id: Mapped[int] = mapped_column(ForeignKey("category_major.id"), index=True)
    code: Mapped[str] = mapped_column(String(8))  # major code + two digits, e.g. "0501"
    name: Mapped[str] = mapped_column(String(64))
    filing_criteria: Mapped[str] = mapped_column(Text)  # 立案条件
    closing_criteria: Mapped[str] = mapped_column(Text)  # 结案条件
    responsible_unit: Mapped[str] = mapped_column(String(100))  # 责任单位
    accept_limit: Mapped[str] = mapped_column(String(32))  # 受理时限
    file_limit: Mapped[str] = mapped_column(String(32))  # 立案时限
    dispatch_limit: Mapped[str] = mapped_column(String(32))  # 派遣时限
    handle_limit: Mapped[str] = mapped_column(String(32))  # 处置时限
    urgent_handle_limit: Mapped[str | None] = mapped_column(String(32))  # 紧急处置时限 (optional)
    verify_limit: Mapped[str] = mapped_column(String(32))  # 核查时限
    close_limit: Mapped[str] = mapped_column(String(32))  # 结案时限
    legal_basis: Mapped[str | None] = mapped_column(Text)  # 法律依据
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # duplicate merging (intake.dedupe): a report within this distance of an open case of this 小类, reported
    # within this calendar time of it, may be the same problem
    dedupe_radius_m: Mapped[int] = mapped_column(Integer, default=100, server_default="100")  # 合并半径（米）
    dedupe_window: Mapped[str] = mapped_column(String(32), default="72小时", server_default="72小时")  # 合并时窗

    major: Mapped[CategoryMajor] = relationship(back_populates="all_minors", lazy="joined")
