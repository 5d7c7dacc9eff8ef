"""When a sensor reading becomes a report: the pure rules of intake.thresholds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chengguan.intake import thresholds
from chengguan.intake.thresholds import Phase as P  # noqa: N817 - reads like the state diagram
from chengguan.intake.trust import verification_waiver
from chengguan.shared.errors import ValidationFailed

BIN = {"fill_pct": {"above": 90, "category": "0108"}}


def test_a_reading_above_the_limit_is_an_exceedance_and_says_so_in_words() -> None:
    rules = thresholds.parse_rules(BIN)
    hit = thresholds.evaluate(rules, "fill_pct", 95)
    assert hit is not None and hit.direction == "above" and hit.limit == 90 and hit.rule.category == "0108"
    assert hit.describe() == "满溢度 95%（阈值：高于 90%）"


def test_the_limit_itself_and_other_metrics_are_not_exceedances() -> None:
    rules = thresholds.parse_rules(BIN)
    assert thresholds.evaluate(rules, "fill_pct", 90) is None  # strict: equal is within limits
    assert thresholds.evaluate(rules, "fill_pct", 12.5) is None
    assert thresholds.evaluate(rules, "noise_db", 120) is None  # no rule for the metric
    assert thresholds.evaluate(rules, "fill_pct", math.nan) is None


def test_below_limits_and_a_normal_band() -> None:
    rules = thresholds.parse_rules(
        {"water_cm": {"above": 15, "category": "0402"}, "tilt_deg": {"below": -5, "above": 5, "category": "0403"}}
    )
    low = thresholds.evaluate(rules, "tilt_deg", -7.5)
    assert low is not None and low.direction == "below" and low.describe() == "倾斜角度 -7.5°（阈值：低于 -5°）"
    assert thresholds.evaluate(rules, "tilt_deg", 0) is None
    custom = thresholds.parse_rules({"x_level": {"above": 1, "category": "0101", "label": "液位", "unit": "m"}})
    hit = thresholds.evaluate(custom, "x_level", 2)
    assert hit is not None and hit.describe() == "液位 2m（阈值：高于 1m）"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("fill_pct>90", "JSON 对象"),
        ({"Fill": {"above": 1, "category": "0108"}}, "指标名"),
        ({"fill_pct": 90}, "应为 JSON 对象"),
        ({"fill_pct": {"category": "0108"}}, "至少要有 above 或 below"),
        ({"fill_pct": {"above": "九十", "category": "0108"}}, "应为数字"),
        ({"fill_pct": {"above": True, "category": "0108"}}, "应为数字"),
        ({"fill_pct": {"above": 1e12, "category": "0108"}}, "超出允许范围"),
        ({"fill_pct": {"above": 10, "below": 20, "category": "0108"}}, "below 应小于 above"),
        ({"fill_pct": {"above": 90}}, "缺少 category"),
        ({"fill_pct": {"above": 90, "category": "01-08"}}, "缺少 category"),
        ({"fill_pct": {"above": 90, "category": "0108", "when": "night"}}, "未知的键：when"),
        ({"fill_pct": {"above": 90, "category": "0108", "label": "x" * 40}}, "label"),
        ({f"m{i}": {"above": 1, "category": "0108"} for i in range(40)}, "最多 32 条"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(data: object, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        thresholds.parse_rules(data)
    assert says in refused.value.detail


def test_rules_round_trip_through_what_is_stored() -> None:
    data = {"noise_db": {"above": 70.0, "category": "0301", "label": "夜间噪声"}}
    stored = thresholds.rules_as_json(thresholds.parse_rules(data))
    assert stored == data and thresholds.parse_rules(stored) == thresholds.parse_rules(data)
    assert thresholds.parse_rules(None) == {}


@given(
    limit=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    value=st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
)
def test_an_above_rule_fires_exactly_when_the_value_is_greater(limit: float, value: float) -> None:
    rules = thresholds.parse_rules({"m": {"above": limit, "category": "0101"}})
    assert (thresholds.evaluate(rules, "m", value) is not None) == (value > limit)


def test_grid_workers_and_liaisons_skip_verification_and_no_one_else() -> None:
    assert verification_waiver(frozenset({"grid_worker"})) == "网格员上报，免予核实"
    assert verification_waiver(frozenset({"department_liaison"})) == "联络员上报，免予核实"
    assert verification_waiver(frozenset({"grid_worker", "department_liaison"})) == "网格员上报，免予核实"
    for roles in ({"citizen"}, {"dispatcher"}, {"officer"}, {"squad_leader"}, set()):
        assert verification_waiver(frozenset(roles)) is None


NOISE = thresholds.parse_rules({"noise_db": {"above": 70, "for_s": 600, "clear": 5, "category": "0301"}})["noise_db"]
T0 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)


def run(rule: thresholds.Rule, *readings: tuple[int, float]) -> list[thresholds.Phase]:
    """The phases a series of (minute, value) readings goes through."""
    track, phases = thresholds.Track(), []
    for minute, value in readings:
        track, phase, _ = thresholds.step(rule, track, value, T0 + timedelta(minutes=minute))
        phases.append(phase)
    return phases


def test_a_breach_must_be_sustained_and_unbroken_before_the_alarm_is_raised() -> None:
    assert run(NOISE, (0, 75), (5, 80), (9, 90)) == [P.PENDING, P.PENDING, P.PENDING]
    assert run(NOISE, (0, 75), (5, 80), (10, 71), (11, 72)) == [P.PENDING, P.PENDING, P.RAISED, P.ONGOING]
    # one reading back inside breaks the run: the clock starts again
    assert run(NOISE, (0, 75), (6, 65), (8, 80), (15, 80), (18, 80)) == [
        P.PENDING, P.NORMAL, P.PENDING, P.PENDING, P.RAISED,
    ]  # fmt: skip


def test_a_raised_alarm_clears_only_past_the_hysteresis_margin() -> None:
    assert run(NOISE, (0, 80), (10, 80), (11, 69), (12, 66), (13, 71), (14, 65), (15, 71)) == [
        P.PENDING, P.RAISED, P.HOLDING, P.HOLDING, P.ONGOING, P.CLEARED, P.PENDING,
    ]  # fmt: skip
    instant = thresholds.parse_rules(BIN)["fill_pct"]  # no for_s, no clear: the first breach raises
    assert run(instant, (0, 91), (1, 90), (2, 95)) == [P.RAISED, P.CLEARED, P.RAISED]


def test_sustain_and_hysteresis_are_checked_and_stored() -> None:
    for spec, says in (
        ({"above": 70, "for_s": -1, "category": "0301"}, "for_s"),
        ({"above": 70, "for_s": 10**7, "category": "0301"}, "for_s"),
        ({"above": 70, "clear": -2, "category": "0301"}, "不能为负数"),
        ({"above": 5, "below": -5, "clear": 5, "category": "0403"}, "回差"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            thresholds.parse_rules({"m": spec})
        assert says in refused.value.detail
    stored = thresholds.rules_as_json({"noise_db": NOISE})
    assert stored == {"noise_db": {"above": 70.0, "for_s": 600.0, "clear": 5.0, "category": "0301"}}
    assert thresholds.parse_rules(stored) == {"noise_db": NOISE}


@given(
    values=st.lists(st.floats(min_value=0, max_value=150, allow_nan=False), min_size=1, max_size=40),
    for_s=st.sampled_from([0, 60, 600]),
    clear=st.sampled_from([0, 5, 20]),
)
def test_an_alarm_is_raised_only_after_a_sustained_breach_and_never_twice_without_clearing(
    values: list[float], for_s: int, clear: int
) -> None:
    rule = thresholds.parse_rules({"m": {"above": 70, "for_s": for_s, "clear": clear, "category": "0301"}})["m"]
    track, raised_since_clear = thresholds.Track(), False
    for i, value in enumerate(values):
        at = T0 + timedelta(minutes=i)
        before = track
        track, phase, _ = thresholds.step(rule, track, value, at)
        if phase is thresholds.Phase.RAISED:
            assert not raised_since_clear and value > 70
            assert before.since is None or (at - before.since).total_seconds() >= for_s or for_s == 0
            raised_since_clear = True
        if phase is thresholds.Phase.CLEARED:
            assert value <= 70 - clear
            raised_since_clear = False
        assert track.raised == raised_since_clear
