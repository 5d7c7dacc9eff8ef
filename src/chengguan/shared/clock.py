"""Time: aware UTC for storage, the bureau's zone for people and calendars."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from chengguan.shared.errors import ValidationFailed

BUREAU_TZ = ZoneInfo("Asia/Shanghai")
# Dates people may ask about (filters, cursors): far enough for any record, near enough that time-zone
# arithmetic never overflows (year 1 or 9999 would).
MIN_YEAR, MAX_YEAR = 2000, 2099


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_aware(value: datetime, tz: tzinfo = BUREAU_TZ) -> datetime:
    """A naive value from a person or a form is read in the bureau's zone."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def to_local(value: datetime, tz: ZoneInfo = BUREAU_TZ) -> datetime:
    return ensure_aware(value, UTC).astimezone(tz)


def fmt_local(value: datetime | None, tz: ZoneInfo = BUREAU_TZ) -> str:
    return "" if value is None else to_local(value, tz).strftime("%Y-%m-%d %H:%M")


def bounded(value: datetime, what: str = "时间") -> datetime:
    """An aware datetime within MIN_YEAR..MAX_YEAR (naive values are read in the bureau's zone), else 422."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationFailed(f"{what}超出允许范围（{MIN_YEAR}–{MAX_YEAR} 年）：{value:%Y-%m-%d}")
    return ensure_aware(value)
