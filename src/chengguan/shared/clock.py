"""Time: aware UTC for storage, the bureau's zone for people and calendars."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_aware(value: datetime, tz: tzinfo = BUREAU_TZ) -> datetime:
    """A naive value from a person or a form is read in the bureau's zone."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def to_local(value: datetime, tz: ZoneInfo = BUREAU_TZ) -> datetime:
    return ensure_aware(value, UTC).astimezone(tz)


def fmt_local(value: datetime | None, tz: ZoneInfo = BUREAU_TZ) -> str:
    return "" if value is None else to_local(value, tz).strftime("%Y-%m-%d %H:%M")
