"""WorkCalendar: deadlines in working hours / working days on a bureau's calendar (pure, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengguan.calendar.rules import DEFAULT_CALENDAR, DayKind, SpecialDay, WorkCalendar
from chengguan.shared.durations import TimeLimit
from chengguan.shared.errors import ValidationFailed

SH = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def local(t: datetime) -> datetime:
    return t.astimezone(SH)


def hol(day: date, name: str) -> SpecialDay:
    return SpecialDay(day, DayKind.HOLIDAY, name)


def work(day: date, name: str) -> SpecialDay:
    return SpecialDay(day, DayKind.WORKDAY, name)


# 2026 National Day (国务院办公厅 2026 安排): 10-01..10-07 off; Sun 09-20 and Sat 10-10 are make-up workdays.
NATIONAL_DAY_2026 = [hol(date(2026, 10, d), "国庆节") for d in range(1, 8)] + [
    work(date(2026, 9, 20), "国庆节调休上班"),
    work(date(2026, 10, 10), "国庆节调休上班"),
]
# 2026 Spring Festival: 02-15..02-23 off; Sat 02-14 and Sat 02-28 are make-up workdays.
SPRING_2026 = [hol(date(2026, 2, d), "春节") for d in range(15, 24)] + [
    work(date(2026, 2, 14), "春节调休上班"),
    work(date(2026, 2, 28), "春节调休上班"),
]
HOLIDAYS_2026 = WorkCalendar.build(special_days=NATIONAL_DAY_2026 + SPRING_2026)


def test_default_calendar_is_mon_to_fri_with_two_periods_in_shanghai() -> None:
    cal = DEFAULT_CALENDAR
    assert cal.weekdays == frozenset({1, 2, 3, 4, 5})
    assert cal.periods == ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    assert cal.timezone == "Asia/Shanghai"
    assert cal.working_seconds_per_day == 7.5 * 3600


def test_str_is_readable_for_people() -> None:
    assert str(HOLIDAYS_2026) == (
        "工作日 周一、周二、周三、周四、周五；工作时段 08:30–12:00、13:30–17:30；"
        "节假日 16 天，调休上班 4 天（Asia/Shanghai）"
    )


def test_four_working_hours_from_friday_16_00_lands_on_monday_11_00() -> None:
    # Fri 16:00–17:30 = 1.5 h, then Mon 08:30–11:00 = 2.5 h.
    deadline = DEFAULT_CALENDAR.add(sh(2026, 11, 27, 16, 0), TimeLimit.parse("4工作时"))
    assert deadline.tzinfo is UTC
    assert local(deadline) == sh(2026, 11, 30, 11, 0)


def test_working_hours_skip_the_lunch_break() -> None:
    deadline = DEFAULT_CALENDAR.add(sh(2026, 11, 24, 11, 0), TimeLimit.parse("2工作时"))
    assert local(deadline) == sh(2026, 11, 24, 14, 30)


def test_a_deadline_reached_at_the_end_of_a_period_is_that_end() -> None:
    deadline = DEFAULT_CALENDAR.add(sh(2026, 11, 27, 16, 0), TimeLimit.parse("1.5工作时"))
    assert local(deadline) == sh(2026, 11, 27, 17, 30)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (sh(2026, 11, 24, 7, 0), sh(2026, 11, 24, 9, 30)),  # before work: starts at 08:30
        (sh(2026, 11, 24, 12, 30), sh(2026, 11, 24, 14, 30)),  # lunch: starts at 13:30
        (sh(2026, 11, 24, 19, 0), sh(2026, 11, 25, 9, 30)),  # evening: next morning
        (sh(2026, 11, 28, 10, 0), sh(2026, 11, 30, 9, 30)),  # Saturday: Monday
    ],
)
def test_a_start_outside_working_time_begins_at_the_next_working_start(start: datetime, expected: datetime) -> None:
    assert local(DEFAULT_CALENDAR.add(start, TimeLimit.parse("1工作时"))) == expected


def test_working_days_keep_the_time_of_day() -> None:
    assert local(DEFAULT_CALENDAR.add(sh(2026, 11, 24, 10, 15), TimeLimit.parse("2工作日"))) == sh(2026, 11, 26, 10, 15)
    # Thursday + 2 working days = Monday.
    assert local(DEFAULT_CALENDAR.add(sh(2026, 11, 26, 15, 0), TimeLimit.parse("2工作日"))) == sh(2026, 11, 30, 15, 0)


def test_working_days_from_outside_working_time_count_from_the_next_working_start() -> None:
    # Friday 18:00 → next working start is Monday 08:30 → +1 working day = Tuesday 08:30.
    assert local(DEFAULT_CALENDAR.add(sh(2026, 11, 27, 18, 0), TimeLimit.parse("1工作日"))) == sh(2026, 12, 1, 8, 30)
    # Lunch time → 13:30 the same day, then N days later.
    assert local(DEFAULT_CALENDAR.add(sh(2026, 11, 24, 12, 10), TimeLimit.parse("1工作日"))) == sh(2026, 11, 25, 13, 30)


def test_calendar_units_are_plain_elapsed_time() -> None:
    start = sh(2026, 11, 27, 23, 0)  # Friday night: no working time involved
    assert local(DEFAULT_CALENDAR.add(start, TimeLimit.parse("1小时"))) == sh(2026, 11, 28, 0, 0)
    assert local(DEFAULT_CALENDAR.add(start, TimeLimit.parse("30分钟"))) == sh(2026, 11, 27, 23, 30)
    assert local(DEFAULT_CALENDAR.add(start, TimeLimit.parse("3自然日"))) == sh(2026, 11, 30, 23, 0)


def test_national_day_2026_is_skipped_and_the_make_up_saturday_counts() -> None:
    cal = HOLIDAYS_2026
    # Wed 09-30 16:00 + 4 wh: 1.5 h on 09-30, holidays 10-01..07, then Thu 10-08 08:30 + 2.5 h.
    assert local(cal.add(sh(2026, 9, 30, 16, 0), TimeLimit.parse("4工作时"))) == sh(2026, 10, 8, 11, 0)
    # Fri 10-09 16:00 + 4 wh: Saturday 10-10 is a make-up workday.
    assert local(cal.add(sh(2026, 10, 9, 16, 0), TimeLimit.parse("4工作时"))) == sh(2026, 10, 10, 11, 0)
    # 09-30 10:00 + 3 working days: 10-08, 10-09, 10-10 (Saturday, 调休上班).
    assert local(cal.add(sh(2026, 9, 30, 10, 0), TimeLimit.parse("3工作日"))) == sh(2026, 10, 10, 10, 0)
    assert cal.is_working_time(sh(2026, 10, 10, 9, 0))
    assert not cal.is_working_time(sh(2026, 10, 5, 9, 0))  # Monday in the holiday
    assert cal.is_working_time(sh(2026, 9, 20, 9, 0))  # make-up Sunday
    # The default calendar (no special days) would have counted 10-01 instead.
    assert local(DEFAULT_CALENDAR.add(sh(2026, 9, 30, 16, 0), TimeLimit.parse("4工作时"))) == sh(2026, 10, 1, 11, 0)


def test_spring_festival_2026_span() -> None:
    cal = HOLIDAYS_2026
    # Fri 02-13 16:00 + 4 wh: 1.5 h Friday, Saturday 02-14 is a make-up workday → 02-14 11:00.
    assert local(cal.add(sh(2026, 2, 13, 16, 0), TimeLimit.parse("4工作时"))) == sh(2026, 2, 14, 11, 0)
    # Sat 02-14 16:00 + 4 wh: the festival runs to Mon 02-23 → Tue 02-24 11:00.
    assert local(cal.add(sh(2026, 2, 14, 16, 0), TimeLimit.parse("4工作时"))) == sh(2026, 2, 24, 11, 0)
    # Working seconds across the whole festival: only 02-14 and 02-24 contribute.
    assert cal.working_seconds_between(sh(2026, 2, 14), sh(2026, 2, 25)) == 2 * 7.5 * 3600


def test_add_working_days_counts_legal_deadlines_from_the_next_day() -> None:
    cal = HOLIDAYS_2026
    # 行政处罚法 第八十五条: "五日" = five working days, the start day not counted.
    assert cal.add_working_days(date(2026, 11, 24), 5) == date(2026, 12, 1)  # Tue → next Tue
    assert cal.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # make-up Saturday counts
    assert cal.add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 20)  # make-up Sunday 09-20
    assert cal.add_working_days(date(2026, 9, 30), 0) == date(2026, 9, 30)
    with pytest.raises(ValidationFailed):
        cal.add_working_days(date(2026, 9, 30), -1)


def test_working_seconds_between() -> None:
    cal = DEFAULT_CALENDAR
    assert cal.working_seconds_between(sh(2026, 11, 27, 16, 0), sh(2026, 11, 30, 11, 0)) == 4 * 3600
    assert cal.working_seconds_between(sh(2026, 11, 24, 0, 0), sh(2026, 11, 25, 0, 0)) == 7.5 * 3600
    assert cal.working_seconds_between(sh(2026, 11, 28), sh(2026, 11, 30)) == 0  # weekend
    # Negative when the second instant is earlier (how far past a deadline).
    assert cal.working_seconds_between(sh(2026, 11, 24, 10, 0), sh(2026, 11, 24, 9, 0)) == -3600


def test_next_working_start_and_is_working_time() -> None:
    cal = DEFAULT_CALENDAR
    assert local(cal.next_working_start(sh(2026, 11, 24, 12, 0))) == sh(2026, 11, 24, 13, 30)
    assert local(cal.next_working_start(sh(2026, 11, 24, 9, 0))) == sh(2026, 11, 24, 9, 0)
    assert local(cal.next_working_start(sh(2026, 11, 27, 17, 30))) == sh(2026, 11, 30, 8, 30)
    assert cal.is_working_time(sh(2026, 11, 24, 8, 30))
    assert not cal.is_working_time(sh(2026, 11, 24, 12, 0))  # periods are half-open
    assert not cal.is_working_time(sh(2026, 11, 29, 10, 0))  # Sunday


def test_inputs_in_other_zones_are_converted_and_outputs_are_utc() -> None:
    start_utc = sh(2026, 11, 27, 16, 0).astimezone(UTC)  # 08:00Z
    out = DEFAULT_CALENDAR.add(start_utc, TimeLimit.parse("4工作时"))
    assert out == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        DEFAULT_CALENDAR.add(datetime(2026, 11, 27, 16, 0), TimeLimit.parse("4工作时"))


def test_custom_weekdays_and_periods() -> None:
    # A brigade that works Mon–Sat, 09:00–12:00 and 14:00–18:00.
    cal = WorkCalendar.build(weekdays="123456", periods=[("14:00", "18:00"), ("09:00", "12:00")])
    assert cal.periods[0] == (time(9, 0), time(12, 0))  # sorted
    assert local(cal.add(sh(2026, 11, 27, 17, 0), TimeLimit.parse("2工作时"))) == sh(2026, 11, 28, 10, 0)


@pytest.mark.parametrize(
    ("weekdays", "periods", "message"),
    [
        ("1238", [("08:30", "12:00")], "工作日设置无效"),
        ("", [("08:30", "12:00")], "工作日设置无效"),
        ("112", [("08:30", "12:00")], "工作日设置无效"),
        ("12345", [("12:00", "08:30")], "开始时间须早于结束时间"),
        ("12345", [("08:30", "12:00"), ("11:00", "13:00")], "重叠"),
        ("12345", [("8:30", "12:00")], "时间格式无效"),
        ("12345", [("08:30", "25:00")], "时间格式无效"),
        ("12345", [], "至少需要一个工作时段"),
    ],
)
def test_bad_calendar_settings_are_refused(weekdays: str, periods: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValidationFailed, match=message):
        WorkCalendar.build(weekdays=weekdays, periods=periods)


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="未知的时区"):
        WorkCalendar.build(timezone="Mars/Olympus")


def test_a_calendar_without_any_working_time_fails_loudly_instead_of_looping() -> None:
    cal = WorkCalendar.build(
        weekdays="1", special_days=[hol(date(2026, 11, 30) + timedelta(weeks=w), "停工") for w in range(200)]
    )
    with pytest.raises(ValidationFailed, match="没有足够的工作时间"):
        cal.add(sh(2026, 11, 24, 9, 0), TimeLimit.parse("8工作时"))


# ---- properties -------------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.just(SH),
)
hours = st.integers(min_value=1, max_value=60)


@settings(max_examples=200, deadline=None)
@given(start=starts, n=hours)
def test_working_hours_added_are_working_seconds_between(start: datetime, n: int) -> None:
    end = HOLIDAYS_2026.add(start, TimeLimit(n, TimeLimit.parse("1wh").unit))
    assert HOLIDAYS_2026.working_seconds_between(start, end) == pytest.approx(n * 3600)
    assert end > start


@settings(max_examples=200, deadline=None)
@given(a=starts, delta=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)), n=hours)
def test_add_is_monotonic(a: datetime, delta: timedelta, n: int) -> None:
    limit = TimeLimit.parse(f"{n}工作时")
    assert HOLIDAYS_2026.add(a, limit) <= HOLIDAYS_2026.add(a + delta, limit)
    days = TimeLimit.parse(f"{1 + n % 5}工作日")
    assert HOLIDAYS_2026.add(a, days) <= HOLIDAYS_2026.add(a + delta, days)


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=10))
def test_working_days_land_on_a_working_day_at_the_start_time_of_day(start: datetime, n: int) -> None:
    cal = HOLIDAYS_2026
    end = local(cal.add(start, TimeLimit.parse(f"{n}工作日")))
    begin = local(cal.next_working_start(start))
    assert end.time() == begin.time()
    assert cal.is_working_time(end)
    assert cal.add_working_days(begin.date(), n) == end.date()
    # Exactly n working days lie between them, counting whole days.
    assert cal.working_seconds_between(begin, end) == pytest.approx(n * cal.working_seconds_per_day)
