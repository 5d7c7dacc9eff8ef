"""Working calendar per bureau: own / parent / default, special days, official holidays, YAML round trip."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendar
from chengguan.calendar.models import CalendarDay
from chengguan.calendar.rules import DEFAULT_CALENDAR, DayKind
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau
from chengguan.shared.durations import TimeLimit
from chengguan.shared.errors import NotFound, ValidationFailed

SH = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def _city(db: Session) -> Bureau:
    return identity.create_bureau(
        db, code="t-hz", name="测试市城管", kind="city", admin_code="330100", case_prefix="HZ"
    )


def _district(db: Session, city: Bureau) -> Bureau:
    return identity.create_bureau(
        db, code="t-xh", name="西湖区大队", kind="district", admin_code="330106", case_prefix="XH", parent=city
    )


def _own_days(db: Session, bureau: Bureau) -> int:
    return db.scalar(select(func.count()).select_from(CalendarDay).where(CalendarDay.bureau_id == bureau.id)) or 0


def test_a_bureau_without_rows_gets_the_built_in_default(db: Session) -> None:
    city = _city(db)
    cal = calendar.get_calendar(db, bureau_id=city.id)
    assert cal == DEFAULT_CALENDAR
    with pytest.raises(NotFound):
        calendar.get_calendar(db, bureau_id=987654321)


def test_configure_and_inherit_the_weekly_pattern(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    cal = calendar.configure_calendar(
        db, bureau=city, weekdays="123456", periods=[("09:00", "12:00"), ("14:00", "18:00")]
    )
    assert cal.weekdays == frozenset({1, 2, 3, 4, 5, 6})
    inherited = calendar.get_calendar(db, bureau_id=xihu.id)
    assert inherited.periods == ((time(9, 0), time(12, 0)), (time(14, 0), time(18, 0)))
    # The brigade's own pattern wins over the city's; reconfiguring replaces, not duplicates.
    calendar.configure_calendar(db, bureau=xihu, weekdays="12345", periods=[("08:00", "12:00")])
    own = calendar.configure_calendar(db, bureau=xihu, weekdays="1234567", periods=[("08:00", "12:00")])
    assert own.weekdays == frozenset(range(1, 8))
    assert calendar.get_calendar(db, bureau_id=city.id).weekdays == frozenset({1, 2, 3, 4, 5, 6})
    with pytest.raises(ValidationFailed, match="工作时段重叠"):
        calendar.configure_calendar(db, bureau=xihu, weekdays="12345", periods=[("08:00", "12:00"), ("11:00", "13:00")])


def test_special_days_merge_down_the_lineage_and_the_brigades_own_win(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    calendar.set_special_days(
        db,
        bureau=city,
        days=[(date(2026, 12, 1), "holiday", "城市节"), (date(2026, 12, 5), "workday", "调休上班")],
    )
    # The brigade works on the city's holiday (e.g. a major event) and adds its own day off.
    assert (
        calendar.set_special_days(
            db, bureau=xihu, days=[(date(2026, 12, 1), "workday", "保障值班"), (date(2026, 12, 2), "holiday", "区活动")]
        )
        == 2
    )
    city_cal = calendar.get_calendar(db, bureau_id=city.id)
    xihu_cal = calendar.get_calendar(db, bureau_id=xihu.id)
    assert not city_cal.is_working_day(date(2026, 12, 1))
    assert city_cal.is_working_day(date(2026, 12, 2))
    assert xihu_cal.is_working_day(date(2026, 12, 1))
    assert xihu_cal.special_days[date(2026, 12, 1)].name == "保障值班"
    assert not xihu_cal.is_working_day(date(2026, 12, 2))
    assert xihu_cal.is_working_day(date(2026, 12, 5))  # inherited make-up Saturday
    # Upsert: setting the same day again updates the row.
    assert calendar.set_special_days(db, bureau=xihu, days=[(date(2026, 12, 2), "holiday", "区运动会")]) == 1
    assert _own_days(db, xihu) == 2


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ([(date(2026, 12, 1), "vacation", "x")], "类型无效"),
        ([(date(2026, 12, 1), "holiday", " ")], "名称不能为空"),
        ([("2026-13-01", "holiday", "x")], "日期无效"),
        ([(date(2026, 12, 1), "holiday", "a"), (date(2026, 12, 1), "workday", "b")], "重复"),
    ],
)
def test_bad_special_days_are_refused_and_nothing_is_written(db: Session, days: list[Any], message: str) -> None:
    city = _city(db)
    with pytest.raises(ValidationFailed, match=message):
        calendar.set_special_days(db, bureau=city, days=days)
    assert _own_days(db, city) == 0


def test_seed_official_holidays_2026_national_day(db: Session) -> None:
    city = _city(db)
    inserted = calendar.seed_official_holidays(db, bureau=city, years=[2026])
    assert inserted > 20
    assert calendar.seed_official_holidays(db, bureau=city, years=[2026]) == 0  # idempotent
    cal = calendar.get_calendar(db, bureau_id=city.id)
    assert cal.special_days[date(2026, 10, 1)].name == "国庆节"
    assert cal.special_days[date(2026, 10, 1)].kind is DayKind.HOLIDAY
    assert cal.special_days[date(2026, 10, 10)].kind is DayKind.WORKDAY
    assert cal.special_days[date(2026, 10, 10)].name == "国庆节调休上班"
    assert cal.special_days[date(2026, 2, 17)].name == "春节"
    assert cal.special_days[date(2026, 1, 1)].name == "元旦"
    # 09-30 16:00 + 4 working hours: over the National Day holiday to Thu 10-08 11:00.
    assert cal.add(sh(2026, 9, 30, 16, 0), TimeLimit.parse("4工作时")).astimezone(SH) == sh(2026, 10, 8, 11, 0)
    # 三日 (行政处罚法 第八十五条) from 09-30: 10-08, 10-09 and the make-up Saturday 10-10.
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    # Spring Festival: Fri 02-13 17:00 + 1 working day → the make-up Saturday 02-14 at 17:00.
    assert cal.add(sh(2026, 2, 13, 17, 0), TimeLimit.parse("1工作日")).astimezone(SH) == sh(2026, 2, 14, 17, 0)
    assert cal.add(sh(2026, 2, 14, 17, 0), TimeLimit.parse("1工作日")).astimezone(SH) == sh(2026, 2, 24, 17, 0)


def test_seeded_holidays_keep_local_decisions_and_reach_the_brigades(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    calendar.set_special_days(db, bureau=city, days=[(date(2026, 10, 3), "workday", "国庆保障值班")])
    calendar.seed_official_holidays(db, bureau=city, years=[2025, 2026])
    cal = calendar.get_calendar(db, bureau_id=xihu.id)
    assert cal.special_days[date(2026, 10, 3)].name == "国庆保障值班"
    assert cal.special_days[date(2025, 10, 11)].kind is DayKind.WORKDAY


def test_unsupported_years_are_refused_before_anything_is_written(db: Session) -> None:
    city = _city(db)
    with pytest.raises(ValidationFailed, match="没有 2099 年的法定节假日数据"):
        calendar.seed_official_holidays(db, bureau=city, years=[2026, 2099])
    assert _own_days(db, city) == 0


def test_yaml_round_trip(db: Session) -> None:
    city = _city(db)
    other = identity.create_bureau(db, code="t-nb", name="另一市", kind="city", admin_code="330200", case_prefix="NB")
    calendar.configure_calendar(db, bureau=city, weekdays="123456", periods=[("09:00", "12:00"), ("14:00", "18:00")])
    calendar.seed_official_holidays(db, bureau=city, years=[2026])
    text = calendar.export_calendar_yaml(db, bureau=city)
    assert text.startswith("# 工作日历：测试市城管")
    data = yaml.safe_load(text)
    assert data["weekdays"] == "123456"
    assert {"day": date(2026, 10, 10), "kind": "workday", "name": "国庆节调休上班"} in data["special_days"]
    imported = calendar.import_calendar_yaml(db, bureau=other, text=text)
    assert imported == calendar.get_calendar(db, bureau_id=city.id)
    assert calendar.export_calendar_yaml(db, bureau=other).split("\n")[1:] == text.split("\n")[1:]


def test_yaml_import_replace_and_partial_files(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    calendar.configure_calendar(db, bureau=city, weekdays="123456", periods=[("09:00", "17:00")])
    calendar.set_special_days(db, bureau=xihu, days=[(date(2026, 12, 1), "holiday", "旧")])
    text = """
special_days:
  - {day: 2026-12-24, kind: holiday, name: 区活动日}
  - {day: "2026-12-26", kind: workday, name: 调休上班}
"""
    cal = calendar.import_calendar_yaml(db, bureau=xihu, text=text)
    # Only special days in the file: the weekly pattern is still inherited from the city.
    assert cal.weekdays == frozenset({1, 2, 3, 4, 5, 6})
    assert "weekdays" not in yaml.safe_load(calendar.export_calendar_yaml(db, bureau=xihu))
    assert _own_days(db, xihu) == 3
    calendar.import_calendar_yaml(db, bureau=xihu, text=text, replace=True)
    assert _own_days(db, xihu) == 2
    assert date(2026, 12, 1) not in calendar.get_calendar(db, bureau_id=xihu.id).special_days
    # The effective export includes what is inherited.
    effective = yaml.safe_load(calendar.export_calendar_yaml(db, bureau=xihu, effective=True))
    assert effective["weekdays"] == "123456" and effective["periods"] == [["09:00", "17:00"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # With replace=True and an empty list these would delete the kept day, were they not refused first.
        ("weekdays: '1239'\nspecial_days: []\n", "工作日设置无效"),
        ("periods: [['17:00', '09:00']]\nspecial_days: []\n", "开始时间须早于结束时间"),
        ("timezone: Moon/Base\nspecial_days: []\n", "未知的时区"),
        ("holidays: []\n", "未知的键"),
        ("special_days:\n  - {day: 2026-12-24, kind: off, name: x}\n", "special_days 第 1 项：类型无效"),
        (
            "special_days:\n"
            "  - {day: 2026-12-24, kind: holiday, name: a}\n"
            "  - {day: 2026-12-24, kind: holiday, name: b}\n",
            "重复",
        ),
        ("- a\n- b\n", "顶层应为键值映射"),
        ("weekdays: [\n", "不是合法的 YAML"),
    ],
)
def test_bad_calendar_yaml_is_refused_and_nothing_is_written(db: Session, text: str, message: str) -> None:
    city = _city(db)
    calendar.set_special_days(db, bureau=city, days=[(date(2026, 12, 1), "holiday", "保留")])
    with pytest.raises(ValidationFailed, match=message):
        calendar.import_calendar_yaml(db, bureau=city, text=text, replace=True)
    assert _own_days(db, city) == 1
    assert calendar.get_calendar(db, bureau_id=city.id).weekdays == DEFAULT_CALENDAR.weekdays
