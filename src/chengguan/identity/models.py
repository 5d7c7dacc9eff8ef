"""Tables: bureau (the tenant), app_user, user_role, auth_session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from chengguan.db import Base, BigIntPK, UTCDateTime
from chengguan.shared.clock import utcnow


class Bureau(Base):
    """A city command centre (kind ``city``) or a district brigade (kind ``district``).

    Boundaries, catalogs, calendars, users and cases are scoped by bureau. A city bureau sees the data of
    its child brigades.
    """

    __tablename__ = "bureau"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # city | district
    admin_code: Mapped[str] = mapped_column(String(12))  # GB/T 2260 code, e.g. 330106
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(40), default="Asia/Shanghai")
    case_prefix: Mapped[str] = mapped_column(String(16))  # readable case numbers, e.g. XH
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="user"
    )
    bureau: Mapped[Bureau] = relationship(lazy="joined")

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))

    user: Mapped[User] = relationship(back_populates="role_rows")


class AuthSession(Base):
    """An opaque bearer/cookie token; only its SHA-256 is stored."""

    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
