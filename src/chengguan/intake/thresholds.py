"""When a sensor reading becomes a report (pure: no I/O).

A device's thresholds are data on its record (``monitoring_device.thresholds``), one rule per metric::

    {"fill_pct": {"above": 90, "category": "0108", "clear": 10},
     "noise_db": {"above": 70, "category": "0301", "label": "夜间噪声", "for_s": 600, "clear": 5}}

``above`` and ``below`` are strict limits (a reading equal to the limit is not an exceedance); a rule has one
or both. ``category`` is the catalog's 小类 the report is filed under. ``for_s`` asks for a *sustained* breach:
the readings must stay beyond the limit, without one back inside, for at least that many seconds before an
alarm is raised (a single loud lorry is not a noise problem). ``clear`` is the hysteresis: a raised alarm
stays raised until a reading is back inside the limit by at least that margin (a bin hovering around 90 %
does not raise an alarm every time it crosses the line).

``parse_rules`` checks a rule set and says in zh-CN what is wrong with it; ``evaluate`` answers whether one
reading exceeds its metric's rule; ``step`` is the per-device, per-metric state machine (normal → pending →
raised → cleared) that decides when a reading raises an alarm.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chengguan.shared.errors import ValidationFailed

METRIC = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CATEGORY = re.compile(r"^[0-9A-Za-z]{2,16}$")
MAX_RULES = 32
MAX_ABS = 1e9  # readings and limits beyond this are not measurements
MAX_SUSTAIN_S = 7 * 24 * 3600
# Metrics the platform knows by name: (label, unit). Others are shown by their own name.
METRICS: dict[str, tuple[str, str]] = {
    "fill_pct": ("满溢度", "%"),
    "noise_db": ("噪声", "dB(A)"),
    "pm10": ("PM10 浓度", "μg/m³"),
    "pm2_5": ("PM2.5 浓度", "μg/m³"),
    "tsp": ("总悬浮颗粒物浓度", "μg/m³"),
    "fume_mg": ("油烟浓度", "mg/m³"),
    "water_cm": ("积水深度", "cm"),
    "tilt_deg": ("倾斜角度", "°"),
}
_KEYS = frozenset({"above", "below", "category", "label", "unit", "for_s", "clear"})


@dataclass(frozen=True)
class Rule:
    metric: str
    category: str
    above: float | None = None
    below: float | None = None
    label: str | None = None
    unit: str | None = None
    for_s: float = 0.0  # a breach must last this long (seconds) before it raises an alarm
    clear: float = 0.0  # hysteresis: a raised alarm clears only this far back inside the limit

    @property
    def name(self) -> str:
        return self.label or METRICS.get(self.metric, (self.metric, ""))[0]

    @property
    def units(self) -> str:
        return self.unit if self.unit is not None else METRICS.get(self.metric, ("", ""))[1]


@dataclass(frozen=True)
class Exceedance:
    rule: Rule
    value: float
    limit: float
    direction: str  # above | below

    def describe(self) -> str:
        """``满溢度 95%（阈值：高于 90%）``."""
        unit = self.rule.units
        word = "高于" if self.direction == "above" else "低于"
        return f"{self.rule.name} {_num(self.value)}{unit}（阈值：{word} {_num(self.limit)}{unit}）"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _limit(metric: str, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"阈值 {metric}.{key} 应为数字")
    if abs(value) > MAX_ABS:
        raise ValidationFailed(f"阈值 {metric}.{key} 超出允许范围（绝对值不超过 {MAX_ABS:g}）")
    return float(value)


def parse_rules(data: Any) -> dict[str, Rule]:
    """A device's rule set, checked; ``ValidationFailed`` with a zh-CN message naming what is wrong."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationFailed('阈值应为 JSON 对象，如 {"fill_pct": {"above": 90, "category": "0108"}}')
    if len(data) > MAX_RULES:
        raise ValidationFailed(f"阈值规则最多 {MAX_RULES} 条")
    rules: dict[str, Rule] = {}
    for metric, spec in data.items():
        if not isinstance(metric, str) or not METRIC.match(metric):
            raise ValidationFailed(
                f"指标名 {metric!r} 不合法（小写字母开头，只含小写字母、数字和下划线，最长 32 个字符）"
            )
        if not isinstance(spec, Mapping):
            raise ValidationFailed(f"指标 {metric} 的阈值应为 JSON 对象")
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise ValidationFailed(f"指标 {metric} 的阈值含未知的键：{'、'.join(map(str, unknown))}")
        above, below = _limit(metric, "above", spec.get("above")), _limit(metric, "below", spec.get("below"))
        if above is None and below is None:
            raise ValidationFailed(f"指标 {metric} 的阈值至少要有 above 或 below")
        if above is not None and below is not None and below >= above:
            raise ValidationFailed(f"指标 {metric} 的阈值 below 应小于 above（两者之间为正常范围）")
        category = spec.get("category")
        if not isinstance(category, str) or not CATEGORY.match(category):
            raise ValidationFailed(f"指标 {metric} 的阈值缺少 category（案件小类编码，如 0108）")
        for_s = _limit(metric, "for_s", spec.get("for_s")) or 0.0
        if not 0 <= for_s <= MAX_SUSTAIN_S:
            raise ValidationFailed(f"指标 {metric} 的 for_s（持续超限秒数）应在 0 到 {MAX_SUSTAIN_S} 之间")
        clear = _limit(metric, "clear", spec.get("clear")) or 0.0
        if clear < 0:
            raise ValidationFailed(f"指标 {metric} 的 clear（解除报警的回差）不能为负数")
        if above is not None and below is not None and 2 * clear >= above - below:
            raise ValidationFailed(f"指标 {metric} 的 clear（回差）过大：正常范围内没有能解除报警的读数")
        label, unit = spec.get("label"), spec.get("unit")
        for key, text in (("label", label), ("unit", unit)):
            if text is not None and (not isinstance(text, str) or len(text) > 32):
                raise ValidationFailed(f"指标 {metric} 的 {key} 应为不超过 32 个字符的文字")
        rules[metric] = Rule(
            metric=metric,
            category=category,
            above=above,
            below=below,
            label=label,
            unit=unit,
            for_s=for_s,
            clear=clear,
        )
    return rules


def evaluate(rules: Mapping[str, Rule], metric: str, value: float) -> Exceedance | None:
    """The exceedance ``value`` of ``metric`` makes, or None (within limits, or no rule for the metric)."""
    rule = rules.get(metric)
    if rule is None or not math.isfinite(value):
        return None
    if rule.above is not None and value > rule.above:
        return Exceedance(rule=rule, value=value, limit=rule.above, direction="above")
    if rule.below is not None and value < rule.below:
        return Exceedance(rule=rule, value=value, limit=rule.below, direction="below")
    return None


def cleared(rule: Rule, value: float) -> bool:
    """Whether ``value`` is back inside the limits by at least the rule's hysteresis margin."""
    if not math.isfinite(value):
        return False
    if rule.above is not None and value > rule.above - rule.clear:
        return False
    return not (rule.below is not None and value < rule.below + rule.clear)


class Phase(StrEnum):
    """What one reading did to a device's alarm about one metric."""

    NORMAL = "normal"  # within limits, no alarm
    PENDING = "pending"  # beyond the limit, but not for long enough yet (``for_s``)
    RAISED = "raised"  # the breach is sustained: an alarm is raised now (a report, or merged into the open one)
    ONGOING = "ongoing"  # still beyond the limit while the alarm is raised
    HOLDING = "holding"  # back inside the limit but not by the ``clear`` margin: the alarm stays
    CLEARED = "cleared"  # back inside by the margin: the alarm is over; the next breach is a new one


@dataclass(frozen=True)
class Track:
    """A device's state for one metric, between readings."""

    since: datetime | None = None  # when the current unbroken breach began
    raised: bool = False


def step(rule: Rule, track: Track, value: float, at: datetime) -> tuple[Track, Phase, Exceedance | None]:
    """The next state after a reading of ``value`` at ``at`` (readings must come in time order)."""
    hit = evaluate({rule.metric: rule}, rule.metric, value)
    if track.raised:
        if hit is not None:
            return track, Phase.ONGOING, hit
        if cleared(rule, value):
            return Track(), Phase.CLEARED, None
        return track, Phase.HOLDING, None
    if hit is None:
        return Track(), Phase.NORMAL, None
    since = track.since if track.since is not None and track.since <= at else at
    if (at - since).total_seconds() >= rule.for_s:
        return Track(since=since, raised=True), Phase.RAISED, hit
    return Track(since=since), Phase.PENDING, hit


def rules_as_json(rules: Mapping[str, Rule]) -> dict[str, dict[str, Any]]:
    """What is stored on the device: only the keys each rule sets."""
    out: dict[str, dict[str, Any]] = {}
    for metric, rule in rules.items():
        spec: dict[str, Any] = {"category": rule.category}
        for key in ("above", "below", "label", "unit"):
            value = getattr(rule, key)
            if value is not None:
                spec[key] = value
        for key in ("for_s", "clear"):
            if getattr(rule, key):
                spec[key] = getattr(rule, key)
        out[metric] = spec
    return out
