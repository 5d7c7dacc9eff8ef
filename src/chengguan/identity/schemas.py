"""The identity API contract."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chengguan.identity.roles import Role
from chengguan.shared.text import SafeStr


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: SafeStr = Field(min_length=1, max_length=64)
    # Passwords are never stored or shown (only their Argon2 hash), so they are not filtered: refusing
    # characters there could lock out someone whose password contains them.
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    bureau_id: int
    bureau_name: str
    roles: list[Role]
    role_labels: list[str]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth token type, not a secret
    user: UserOut


class UserCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: SafeStr = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=8, max_length=256)
    display_name: SafeStr = Field(min_length=1, max_length=64)
    roles: list[Role] = Field(min_length=1)
    phone: SafeStr | None = Field(default=None, pattern=r"^\+?\d{5,15}$")
    bureau_code: SafeStr | None = Field(default=None, max_length=32)


class NotificationOut(BaseModel):
    """One in-app message to the current user (task assigned, case progress)."""

    id: int
    subject: str
    body: str
    ref: str | None = Field(description="相关案件编号")
    created_at: datetime
    read_at: datetime | None
