"""Use cases for the working calendar of a bureau. Functions flush, never commit.

A bureau's effective calendar: its own ``work_calendar`` row, else the nearest ancestor's, else the built-in
default (Mon–Fri, 08:30–12:00 and 13:30–17:30, the bureau's time zone). Special days are merged along the
lineage from the root down, so a district brigade's own row for a day overrides the city's.

Official holidays come from the ``chinese_calendar`` package once, when seeded, and are stored as rows; the
deadline arithmetic in ``rules.py`` never consults the package.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.calendar.models import CalendarDay, WorkCalendarRow
from chengguan.calendar.rules import (
    DEFAULT_PERIODS,
    DEFAULT_WEEKDAYS,
    DayKind,
    SpecialDay,
    WorkCalendar,
    format_periods,
    format_weekdays,
    parse_periods,
    parse_timezone,
    parse_weekdays,
)
from chengguan.identity.models import Bureau
from chengguan.identity.service import bureau_lineage
from chengguan.shared.errors import NotFound, ValidationFailed

# chinese_calendar's English holiday names → the names people read.
HOLIDAY_NAMES_ZH: Mapping[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
MAKEUP_SUFFIX = "调休上班"
MAX_NAME_LENGTH = 64
_YAML_KEYS = {"timezone", "weekdays", "periods", "special_days"}


# ---- reading ----------------------------------------------------------------------------------------


def get_calendar(session: Session, *, bureau_id: int) -> WorkCalendar:
    lineage = bureau_lineage(session, bureau_id=bureau_id)
    if not lineage:
        raise NotFound(f"单位不存在：{bureau_id}")
    ids = [b.id for b in lineage]
    rows = {r.bureau_id: r for r in session.scalars(select(WorkCalendarRow).where(WorkCalendarRow.bureau_id.in_(ids)))}
    own_config = next((rows[i] for i in ids if i in rows), None)
    specials: dict[date, SpecialDay] = {}
    day_rows = list(session.scalars(select(CalendarDay).where(CalendarDay.bureau_id.in_(ids))))
    depth = {bid: n for n, bid in enumerate(ids)}  # 0 = the bureau itself
    for row in sorted(day_rows, key=lambda r: (-depth[r.bureau_id], r.day)):
        specials[row.day] = SpecialDay(day=row.day, kind=DayKind(row.kind), name=row.name)
    if own_config is None:
        return WorkCalendar.build(
            weekdays=DEFAULT_WEEKDAYS,
            periods=DEFAULT_PERIODS,
            special_days=specials.values(),
            timezone=lineage[0].timezone or "Asia/Shanghai",
        )
    return WorkCalendar.build(
        weekdays=own_config.weekdays,
        periods=own_config.periods,
        special_days=specials.values(),
        timezone=own_config.timezone,
    )


# A calendar is read on every case transition and changes a few times a year: keep built calendars per
# process for a short while. Writes through this module clear the cache at once; another process sees a
# change within CACHE_SECONDS.
CACHE_SECONDS = 60.0
_cache: dict[tuple[object, int], tuple[float, WorkCalendar]] = {}


def cached_calendar(session: Session, *, bureau_id: int) -> WorkCalendar:
    key = (session.get_bind().engine.url, bureau_id)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    calendar = get_calendar(session, bureau_id=bureau_id)
    _cache[key] = (now, calendar)
    return calendar


def clear_calendar_cache() -> None:
    _cache.clear()


# How far ahead the platform warns that official holidays are missing (doctor, /healthz, console banner).
HOLIDAY_LOOKAHEAD_DAYS = 60


@dataclass(frozen=True)
class HolidayCoverage:
    """Whether the coming days fall in years whose official holidays are on record for a bureau."""

    bureau_id: int
    until: date
    missing_years: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.missing_years

    @property
    def message(self) -> str:
        if self.ok:
            return f"法定节假日数据已覆盖至 {self.until:%Y-%m-%d}"
        years = "、".join(str(y) for y in self.missing_years)
        return (
            f"尚未导入 {years} 年的法定节假日：未来 {HOLIDAY_LOOKAHEAD_DAYS} 天内涉及该年的工作日时限均为暂定。"
            "请在国务院办公厅公布放假安排后用 chengguan import-calendar 导入（格式见 docs/calendar.md）。"
        )


def holiday_coverage(
    session: Session, *, bureau_id: int, today: date, days: int = HOLIDAY_LOOKAHEAD_DAYS
) -> HolidayCoverage:
    until = today + timedelta(days=days)
    cal = cached_calendar(session, bureau_id=bureau_id)
    return HolidayCoverage(
        bureau_id=bureau_id, until=until, missing_years=tuple(cal.years_without_holidays(today, until))
    )


# ---- writing ----------------------------------------------------------------------------------------


def configure_calendar(
    session: Session,
    *,
    bureau: Bureau,
    weekdays: str,
    periods: list[tuple[str, str]],
    timezone: str | None = None,
) -> WorkCalendar:
    """Give ``bureau`` its own weekly pattern (replacing any it had); returns the effective calendar."""
    clear_calendar_cache()
    parsed_weekdays = parse_weekdays(weekdays)
    parsed_periods = parse_periods(periods)
    tz_name = timezone or bureau.timezone or "Asia/Shanghai"
    parse_timezone(tz_name)
    row = session.scalar(select(WorkCalendarRow).where(WorkCalendarRow.bureau_id == bureau.id))
    if row is None:
        row = WorkCalendarRow(bureau_id=bureau.id)
        session.add(row)
    row.weekdays = format_weekdays(parsed_weekdays)
    row.periods = format_periods(parsed_periods)
    row.timezone = tz_name
    session.flush()
    return get_calendar(session, bureau_id=bureau.id)


def _validate_day(value: Any, kind: Any, name: Any, where: str) -> SpecialDay:
    if isinstance(value, datetime) or not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValidationFailed(f"{where}：日期无效 {value!r}（应为 YYYY-MM-DD）") from exc
    try:
        day_kind = DayKind(str(kind).strip())
    except ValueError as exc:
        raise ValidationFailed(f"{where}：类型无效 {kind!r}（应为 holiday 或 workday）") from exc
    clean_name = "" if name is None else str(name).strip()
    if not clean_name:
        raise ValidationFailed(f"{where}：名称不能为空")
    if len(clean_name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"{where}：名称过长（最多 {MAX_NAME_LENGTH} 字）")
    return SpecialDay(day=value, kind=day_kind, name=clean_name)


def _validate_days(entries: Iterable[tuple[Any, Any, Any, str]]) -> list[SpecialDay]:
    days: list[SpecialDay] = []
    seen: dict[date, str] = {}
    for value, kind, name, where in entries:
        special = _validate_day(value, kind, name, where)
        if special.day in seen:
            raise ValidationFailed(f"{where}：日期 {special.day} 与{seen[special.day]}重复")
        seen[special.day] = where
        days.append(special)
    return days


def _upsert_days(session: Session, *, bureau_id: int, days: list[SpecialDay], overwrite: bool) -> int:
    existing = {r.day: r for r in session.scalars(select(CalendarDay).where(CalendarDay.bureau_id == bureau_id))}
    written = 0
    for special in days:
        row = existing.get(special.day)
        if row is None:
            session.add(CalendarDay(bureau_id=bureau_id, day=special.day, kind=special.kind.value, name=special.name))
            written += 1
        elif overwrite and (row.kind, row.name) != (special.kind.value, special.name):
            row.kind, row.name = special.kind.value, special.name
            written += 1
    session.flush()
    return written


def set_special_days(session: Session, *, bureau: Bureau, days: list[tuple[date, str, str]]) -> int:
    """Upsert ``(day, kind, name)`` rows of ``bureau`` (kind ``holiday`` or ``workday``); returns rows written.

    Everything is validated before anything is written.
    """
    clear_calendar_cache()
    validated = _validate_days((d, k, n, f"第 {i} 项") for i, (d, k, n) in enumerate(days, start=1))
    return _upsert_days(session, bureau_id=bureau.id, days=validated, overwrite=True)


def supported_holiday_years() -> range:
    """The years the installed ``chinese_calendar`` data covers."""
    years = [y for y in range(2000, 2101) if _year_supported(y)]
    return range(min(years), max(years) + 1)


def _year_supported(year: int) -> bool:
    try:
        chinese_calendar.get_holiday_detail(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def official_special_days(year: int) -> list[SpecialDay]:
    """Statutory holidays and 调休 make-up workdays of ``year``, from the ``chinese_calendar`` data."""
    if not _year_supported(year):
        supported = supported_holiday_years()
        raise ValidationFailed(
            f"没有 {year} 年的法定节假日数据（已支持 {supported.start}–{supported.stop - 1} 年），"
            "请手工录入或升级 chinese_calendar"
        )
    result: list[SpecialDay] = []
    day = date(year, 1, 1)
    while day.year == year:
        is_holiday, english = chinese_calendar.get_holiday_detail(day)
        if english is not None:
            name = HOLIDAY_NAMES_ZH.get(str(english), str(english))
            if is_holiday:
                result.append(SpecialDay(day=day, kind=DayKind.HOLIDAY, name=name))
            else:
                result.append(SpecialDay(day=day, kind=DayKind.WORKDAY, name=f"{name}{MAKEUP_SUFFIX}"))
        day += timedelta(days=1)
    return result


def seed_official_holidays(session: Session, *, bureau: Bureau, years: list[int]) -> int:
    """Store the official holidays and make-up workdays of ``years`` as rows of ``bureau``.

    Idempotent; a day the bureau already has a row for is kept as it is (local decisions win). Returns the
    number of rows inserted. Raises ``ValidationFailed`` (and writes nothing) if any year is not covered.
    """
    clear_calendar_cache()
    days = [special for year in sorted(set(years)) for special in official_special_days(year)]
    return _upsert_days(session, bureau_id=bureau.id, days=days, overwrite=False)


# ---- YAML import / export ---------------------------------------------------------------------------


def import_calendar_yaml(session: Session, *, bureau: Bureau, text: str, replace: bool = False) -> WorkCalendar:
    """Load a calendar file (format: docs/calendar.md) into ``bureau``'s own rows.

    ``weekdays`` / ``periods`` / ``timezone`` present → the bureau gets its own pattern (missing keys keep
    their effective values). ``special_days`` are upserted; with ``replace=True`` the bureau's own special
    days that the file does not list are deleted. All-or-nothing: everything is validated first.
    """
    clear_calendar_cache()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"日历文件不是合法的 YAML：{exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed("日历文件的顶层应为键值映射（timezone / weekdays / periods / special_days）")
    unknown = sorted(str(k) for k in data if k not in _YAML_KEYS)
    if unknown:
        raise ValidationFailed(f"日历文件含未知的键：{', '.join(unknown)}")
    raw_days = data.get("special_days") or []
    if not isinstance(raw_days, list):
        raise ValidationFailed("special_days 应为列表")
    entries: list[tuple[Any, Any, Any, str]] = []
    for i, item in enumerate(raw_days, start=1):
        where = f"special_days 第 {i} 项"
        if not isinstance(item, dict) or set(item) - {"day", "kind", "name"}:
            raise ValidationFailed(f"{where}：应为含 day / kind / name 的映射")
        entries.append((item.get("day"), item.get("kind"), item.get("name"), where))
    days = _validate_days(entries)

    configure = any(k in data for k in ("weekdays", "periods", "timezone"))
    if configure:
        current = get_calendar(session, bureau_id=bureau.id)
        weekdays = str(data.get("weekdays", format_weekdays(current.weekdays)))
        periods_raw = data.get("periods", format_periods(current.periods))
        if not isinstance(periods_raw, list):
            raise ValidationFailed('periods 应为列表，例如 [["08:30", "12:00"], ["13:30", "17:30"]]')
        timezone = str(data.get("timezone", current.timezone))
        # Validate before the first write.
        parse_weekdays(weekdays)
        parse_periods(periods_raw)
        parse_timezone(timezone)
        configure_calendar(session, bureau=bureau, weekdays=weekdays, periods=periods_raw, timezone=timezone)

    if replace:
        keep = {d.day for d in days}
        for row in session.scalars(select(CalendarDay).where(CalendarDay.bureau_id == bureau.id)):
            if row.day not in keep:
                session.delete(row)
        session.flush()
    _upsert_days(session, bureau_id=bureau.id, days=days, overwrite=True)
    return get_calendar(session, bureau_id=bureau.id)


def export_calendar_yaml(session: Session, *, bureau: Bureau, effective: bool = False) -> str:
    """The bureau's own calendar rows as YAML (round-trips with ``import_calendar_yaml``).

    With ``effective=True``: the merged calendar the bureau actually uses (inherited pattern and days
    included), e.g. to copy it to another bureau.
    """
    data: dict[str, Any] = {}
    if effective:
        cal = get_calendar(session, bureau_id=bureau.id)
        data["timezone"] = cal.timezone
        data["weekdays"] = format_weekdays(cal.weekdays)
        data["periods"] = format_periods(cal.periods)
        specials = sorted(cal.special_days.values(), key=lambda d: d.day)
    else:
        row = session.scalar(select(WorkCalendarRow).where(WorkCalendarRow.bureau_id == bureau.id))
        if row is not None:
            data["timezone"] = row.timezone
            data["weekdays"] = row.weekdays
            data["periods"] = [list(p) for p in row.periods]
        rows = session.scalars(select(CalendarDay).where(CalendarDay.bureau_id == bureau.id).order_by(CalendarDay.day))
        specials = [SpecialDay(day=r.day, kind=DayKind(r.kind), name=r.name) for r in rows]
    data["special_days"] = [{"day": d.day, "kind": d.kind.value, "name": d.name} for d in specials]
    header = (
        f"# 工作日历：{bureau.name}（{bureau.code}）\n"
        "# weekdays: 每周工作日（1=周一 … 7=周日）；periods: 每日工作时段；\n"
        "# special_days: kind=holiday 为放假，kind=workday 为调休上班。格式见 docs/calendar.md\n"
    )
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)
