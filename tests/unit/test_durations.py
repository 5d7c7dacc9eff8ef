"""TimeLimit: the text forms catalogs store ("4工作时", "2工作日", "24小时", "30分钟")."""

from __future__ import annotations

import pytest

from chengguan.shared.durations import LimitUnit, TimeLimit
from chengguan.shared.errors import ValidationFailed


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("4工作时", 4, LimitUnit.WORKING_HOURS),
        ("4工作小时", 4, LimitUnit.WORKING_HOURS),
        ("4wh", 4, LimitUnit.WORKING_HOURS),
        (" 2 工作日 ", 2, LimitUnit.WORKING_DAYS),
        ("5WD", 5, LimitUnit.WORKING_DAYS),
        ("24小时", 24, LimitUnit.HOURS),
        ("1h", 1, LimitUnit.HOURS),
        ("3自然日", 3, LimitUnit.DAYS),
        ("3日", 3, LimitUnit.DAYS),
        ("7天", 7, LimitUnit.DAYS),
        ("30分钟", 30, LimitUnit.MINUTES),
        ("30min", 30, LimitUnit.MINUTES),
        ("0.5工作时", 0.5, LimitUnit.WORKING_HOURS),
    ],
)
def test_parse_accepts_chinese_and_short_forms(text: str, amount: float, unit: LimitUnit) -> None:
    limit = TimeLimit.parse(text)
    assert limit == TimeLimit(amount, unit)


@pytest.mark.parametrize("text", ["", "4", "工作时", "4周", "4 fortnights", "-1小时", "4工作时 整", "abc"])
def test_parse_rejects_unknown_forms_with_a_chinese_message(text: str) -> None:
    with pytest.raises(ValidationFailed, match="无法识别的时限"):
        TimeLimit.parse(text)


def test_zero_is_not_a_time_limit() -> None:
    with pytest.raises(ValidationFailed, match="必须大于零"):
        TimeLimit.parse("0小时")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("4wh", "4工作时"),
        ("2wd", "2工作日"),
        ("24h", "24小时"),
        ("3d", "3自然日"),
        ("30min", "30分钟"),
        ("1.5wh", "1.5工作时"),
    ],
)
def test_to_text_is_canonical_and_round_trips(text: str, canonical: str) -> None:
    limit = TimeLimit.parse(text)
    assert limit.to_text() == canonical == str(limit)
    assert TimeLimit.parse(canonical) == limit


def test_only_working_units_count_on_the_calendar() -> None:
    assert TimeLimit.parse("4工作时").unit.is_working_time
    assert TimeLimit.parse("2工作日").unit.is_working_time
    assert not TimeLimit.parse("1小时").unit.is_working_time
    assert not TimeLimit.parse("30分钟").unit.is_working_time


@pytest.mark.parametrize("text", ["9999999工作日", "251工作日", "2001工作时", "367天", "1e9小时", "1234567890123分钟"])
def test_absurd_limits_are_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        TimeLimit.parse(text)
