"""The bureau's working calendar as a pure value: deadlines in working hours and working days (no I/O).

A ``WorkCalendar`` is built from data: the weekly working days (ISO weekday digits, Mon–Fri = ``"12345"``),
the working periods of a day (default 08:30–12:00 and 13:30–17:30), special days (a statutory holiday on a
weekday, or a make-up workday 调休上班 on a weekend) and the bureau's time zone. Everything that reaches it
from the database is already merged; nothing here reads a table or the ``chinese_calendar`` package.

Semantics (pinned down by tests/unit/test_calendar_rules.py):

* Working hours are counted only inside working periods of working days. A start outside working time
  begins at the next working start. A deadline that is reached exactly at the end of a period is that
  end (Fri 16:00 + 1.5 working hours = Fri 17:30), never the next morning.
* N working days = the same time of day N working days later; a start outside working time counts from
  the next working start (Fri 18:00 + 1 working day = Tue 08:30). A fractional part is converted into
  working hours of a full working day.
* Calendar units (hours, days, minutes) are plain elapsed time.
* ``add_working_days(start_date, n)`` is the legal counting of 行政处罚法 第八十五条 (二日/三日/五日/七日 are
  working days, statutory holidays excluded): the first day is not counted and the result is the n-th
  working day after ``start_date``.

Inputs are aware datetimes (any zone); outputs are aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chengguan.shared.durations import LimitUnit, TimeLimit
from chengguan.shared.errors import ValidationFailed

DEFAULT_WEEKDAYS = "12345"
DEFAULT_PERIODS: tuple[tuple[str, str], ...] = (("08:30", "12:00"), ("13:30", "17:30"))
DEFAULT_TIMEZONE = "Asia/Shanghai"

# How far ahead a deadline may be searched before the calendar is declared unusable (e.g. no working days).
MAX_SCAN_DAYS = 3 * 366

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a day off that would otherwise be a working day (法定节假日, 调休放假)
    WORKDAY = "workday"  # a working day that would otherwise be a day off (调休上班)

    @property
    def label(self) -> str:
        return "节假日" if self is DayKind.HOLIDAY else "调休上班"


@dataclass(frozen=True)
class SpecialDay:
    day: date
    kind: DayKind
    name: str


def parse_weekdays(text: str) -> frozenset[int]:
    """``"12345"`` → {1, 2, 3, 4, 5} (ISO weekdays, Monday = 1)."""
    text = str(text).strip()
    if not text or any(c not in "1234567" for c in text) or len(set(text)) != len(text):
        raise ValidationFailed(f"工作日设置无效：{text!r}（用 1–7 表示周一至周日，例如 12345）")
    return frozenset(int(c) for c in text)


def format_weekdays(weekdays: Iterable[int]) -> str:
    return "".join(str(d) for d in sorted(weekdays))


def parse_hhmm(text: str) -> time:
    m = _HHMM.match(str(text).strip())
    if not m:
        raise ValidationFailed(f"时间格式无效：{text!r}（应为 HH:MM，例如 08:30）")
    return time(int(m.group(1)), int(m.group(2)))


def parse_periods(periods: Iterable[Iterable[str]]) -> tuple[tuple[time, time], ...]:
    """``[("08:30", "12:00"), ("13:30", "17:30")]`` → sorted, validated, non-overlapping periods."""
    parsed: list[tuple[time, time]] = []
    for raw in periods:
        pair = list(raw)
        if len(pair) != 2:
            raise ValidationFailed(f"工作时段无效：{pair!r}（应为 [开始, 结束]）")
        start, end = parse_hhmm(pair[0]), parse_hhmm(pair[1])
        if start >= end:
            raise ValidationFailed(f"工作时段无效：{pair[0]}–{pair[1]}（开始时间须早于结束时间）")
        parsed.append((start, end))
    if not parsed:
        raise ValidationFailed("至少需要一个工作时段")
    parsed.sort()
    for (_, prev_end), (next_start, _) in pairwise(parsed):
        if next_start < prev_end:
            raise ValidationFailed(
                f"工作时段重叠：{prev_end:%H:%M} 之前已有时段，{next_start:%H:%M} 开始的时段与之重叠"
            )
    return tuple(parsed)


def format_periods(periods: Iterable[tuple[time, time]]) -> list[list[str]]:
    return [[f"{s:%H:%M}", f"{e:%H:%M}"] for s, e in periods]


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"未知的时区：{name!r}") from exc


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime given to WorkCalendar; pass an aware datetime (shared.clock)")


@dataclass(frozen=True)
class WorkCalendar:
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    periods: tuple[tuple[time, time], ...] = tuple((parse_hhmm(s), parse_hhmm(e)) for s, e in DEFAULT_PERIODS)
    special_days: Mapping[date, SpecialDay] = field(default_factory=dict, hash=False)
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        parse_timezone(self.timezone)
        if not self.periods:
            raise ValidationFailed("至少需要一个工作时段")

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        weekdays: str = DEFAULT_WEEKDAYS,
        periods: Iterable[Iterable[str]] = DEFAULT_PERIODS,
        special_days: Iterable[SpecialDay] = (),
        timezone: str = DEFAULT_TIMEZONE,
    ) -> WorkCalendar:
        """From the text forms stored in the database and in YAML files."""
        return cls(
            weekdays=parse_weekdays(weekdays),
            periods=parse_periods(periods),
            special_days={d.day: d for d in special_days},
            timezone=timezone,
        )

    def __str__(self) -> str:
        names = "一二三四五六日"
        days = "、".join(f"周{names[d - 1]}" for d in sorted(self.weekdays))
        periods = "、".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in self.periods)
        holidays = sum(1 for d in self.special_days.values() if d.kind is DayKind.HOLIDAY)
        workdays = len(self.special_days) - holidays
        return f"工作日 {days}；工作时段 {periods}；节假日 {holidays} 天，调休上班 {workdays} 天（{self.timezone}）"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def holiday_years(self) -> frozenset[int]:
        """Years with at least one holiday on record: their official holidays count as imported.

        Every year has statutory holidays (元旦, 春节 ...), so a year with none is a year nobody has imported;
        working-time deadlines that run through it are provisional.
        """
        return frozenset(d.year for d, s in self.special_days.items() if s.kind is DayKind.HOLIDAY)

    def years_without_holidays(self, first: date, last: date) -> list[int]:
        """The years between two dates (inclusive) that have no holidays on record."""
        return [y for y in range(first.year, last.year + 1) if y not in self.holiday_years]

    @property
    def working_seconds_per_day(self) -> float:
        return sum(_seconds(s, e) for s, e in self.periods)

    # ---- days ---------------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        special = self.special_days.get(day)
        if special is not None:
            return special.kind is DayKind.WORKDAY
        return day.isoweekday() in self.weekdays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        current = day
        for _ in range(MAX_SCAN_DAYS):
            current += timedelta(days=1)
            if self.is_working_day(current):
                return current
        raise ValidationFailed(f"工作日历在 {day} 之后 {MAX_SCAN_DAYS} 天内没有工作日，请检查日历设置")

    def add_working_days(self, start_date: date, n: int) -> date:
        """The n-th working day after ``start_date`` (the start day itself is not counted).

        This is how 行政处罚法 第八十五条 counts 二日/三日/五日/七日; ``n == 0`` returns ``start_date``.
        """
        if n < 0:
            raise ValidationFailed(f"工作日数不能为负数：{n}")
        current = start_date
        for _ in range(n):
            current = self.next_working_day(current)
        return current

    # ---- instants -----------------------------------------------------------------------------------

    def _intervals_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals of a local day, as aware UTC instants (empty on a day off)."""
        if not self.is_working_day(day):
            return
        tz = self.tz
        for start, end in self.periods:
            yield (
                datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
                datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
            )

    def _intervals_from(self, t: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals that end after ``t``, clipped to start no earlier than ``t``, in order."""
        day = t.astimezone(self.tz).date()
        for offset in range(MAX_SCAN_DAYS):
            for start, end in self._intervals_on(day + timedelta(days=offset)):
                if end > t:
                    yield max(start, t), end
        raise ValidationFailed(f"工作日历在 {day} 之后 {MAX_SCAN_DAYS} 天内没有足够的工作时间，请检查日历设置")

    def is_working_time(self, t: datetime) -> bool:
        _require_aware(t)
        local = t.astimezone(self.tz)
        if not self.is_working_day(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.periods)

    def next_working_start(self, t: datetime) -> datetime:
        """``t`` itself when it is working time, else the start of the next working period (aware UTC)."""
        _require_aware(t)
        t = t.astimezone(UTC)
        for start, _end in self._intervals_from(t):
            return start
        raise AssertionError("unreachable: _intervals_from raises when it runs out")  # pragma: no cover

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        _require_aware(start)
        cursor = start.astimezone(UTC)
        remaining = timedelta(seconds=seconds)
        if remaining <= timedelta(0):
            return cursor
        for begin, end in self._intervals_from(cursor):
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def add(self, start: datetime, limit: TimeLimit) -> datetime:
        """The deadline for ``limit`` counted from ``start`` (aware in, aware UTC out)."""
        _require_aware(start)
        start = start.astimezone(UTC)
        if limit.unit is LimitUnit.MINUTES:
            return start + timedelta(minutes=limit.amount)
        if limit.unit is LimitUnit.HOURS:
            return start + timedelta(hours=limit.amount)
        if limit.unit is LimitUnit.DAYS:
            return start + timedelta(days=limit.amount)
        if limit.unit is LimitUnit.WORKING_HOURS:
            return self.add_working_seconds(start, limit.amount * 3600)
        # Working days: the same local time of day, N working days after the (next) working start.
        begin = self.next_working_start(start)
        whole = int(limit.amount)
        local = begin.astimezone(self.tz)
        target_day = self.add_working_days(local.date(), whole)
        result = datetime.combine(target_day, local.time(), tzinfo=self.tz).astimezone(UTC)
        fraction = limit.amount - whole
        if fraction > 0:
            result = self.add_working_seconds(result, fraction * self.working_seconds_per_day)
        return result

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds in [a, b); negative when ``b`` is before ``a`` (e.g. how far past a deadline)."""
        _require_aware(a)
        _require_aware(b)
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b < a:
            return -self.working_seconds_between(b, a)
        total = 0.0
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            for start, end in self._intervals_on(day):
                lo, hi = max(start, a), min(end, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total


def _seconds(start: time, end: time) -> float:
    return float((end.hour * 3600 + end.minute * 60) - (start.hour * 3600 + start.minute * 60))


DEFAULT_CALENDAR = WorkCalendar()
