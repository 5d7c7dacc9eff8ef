"""Time limits as data: "4 working hours", "2 working days", "24 hours" (pure, no I/O).

Catalogs store them; the bureau's working calendar turns a start time plus a limit into a deadline.
Text forms accepted by ``TimeLimit.parse``: ``4wh`` / ``4工作时``, ``2wd`` / ``2工作日``, ``24h`` / ``24小时``,
``3d`` / ``3自然日``/``3日``, ``30min`` / ``30分钟`` (calendar minutes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chengguan.shared.errors import ValidationFailed


class LimitUnit(StrEnum):
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    HOURS = "hours"
    DAYS = "days"
    MINUTES = "minutes"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_working_time(self) -> bool:
        return self in (LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS)


_LABELS = {
    LimitUnit.WORKING_HOURS: "工作时",
    LimitUnit.WORKING_DAYS: "工作日",
    LimitUnit.HOURS: "小时",
    LimitUnit.DAYS: "自然日",
    LimitUnit.MINUTES: "分钟",
}

_SUFFIXES: dict[str, LimitUnit] = {
    "wh": LimitUnit.WORKING_HOURS,
    "工作时": LimitUnit.WORKING_HOURS,
    "工作小时": LimitUnit.WORKING_HOURS,
    "wd": LimitUnit.WORKING_DAYS,
    "工作日": LimitUnit.WORKING_DAYS,
    "h": LimitUnit.HOURS,
    "小时": LimitUnit.HOURS,
    "d": LimitUnit.DAYS,
    "自然日": LimitUnit.DAYS,
    "日": LimitUnit.DAYS,
    "天": LimitUnit.DAYS,
    "min": LimitUnit.MINUTES,
    "分钟": LimitUnit.MINUTES,
}
# No time limit of a case step or an extension runs past about a year: larger amounts are refused (they would
# also make the calendar arithmetic scan for minutes).
MAX_AMOUNT: dict[LimitUnit, float] = {
    LimitUnit.WORKING_HOURS: 2000,
    LimitUnit.WORKING_DAYS: 250,
    LimitUnit.HOURS: 24 * 366,
    LimitUnit.DAYS: 366,
    LimitUnit.MINUTES: 60 * 24 * 366,
}
_PATTERN = re.compile(r"^\s*(\d{1,9}(?:\.\d{1,6})?)\s*([a-z\u4e00-\u9fff]+)\s*$")


@dataclass(frozen=True)
class TimeLimit:
    amount: float
    unit: LimitUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValidationFailed(f"时限必须大于零：{self.amount}")
        limit = MAX_AMOUNT[self.unit]
        if self.amount > limit:
            raise ValidationFailed(f"时限过长：最多 {limit:g}{self.unit.label}")

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        m = _PATTERN.match(str(text).lower())
        if not m or m.group(2) not in _SUFFIXES:
            raise ValidationFailed(f"无法识别的时限：{text!r}（例：4工作时、2工作日、24小时、30分钟）")
        return cls(float(m.group(1)), _SUFFIXES[m.group(2)])

    def to_text(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount}{self.unit.label}"

    def __str__(self) -> str:
        return self.to_text()
