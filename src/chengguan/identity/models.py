"""Tables: bureau (the tenant), org_unit (中队 and partner departments), app_user, user_role, auth_session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
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


class OrgUnit(Base):
    """A unit people belong to inside a bureau: a squad (中队) of a brigade, or a partner department
    (市政、园林、环卫 …) whose liaisons receive the cases the catalog makes them responsible for."""

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # squad | department


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
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
    unit: Mapped[OrgUnit | None] = relationship()

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


class LoginThrottle(Base):
    """Failed logins per key within a window, and the lock they led to (see identity.throttle).

    A key is an account name or a client address, stored only as an HMAC with the secret key: the table
    never holds raw addresses, nor the names people mistyped (which are often passwords).
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("kind", "key_digest"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # account | address
    key_digest: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
