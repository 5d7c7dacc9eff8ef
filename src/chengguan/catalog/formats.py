"""Catalog files: parse and validate YAML / CSV into plain specs, and render specs back (pure, no I/O).

Validation collects every problem, each naming its entry (YAML) or line (CSV), and raises one
``ValidationFailed`` whose ``extra["errors"]`` lists them all; nothing is written by the caller on error.
The formats are described in docs/catalog.md; the seed file ``data/default_catalog.yaml`` is an example.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from chengguan.shared.durations import TimeLimit
from chengguan.shared.errors import ValidationFailed

STEPS = ("accept", "file", "dispatch", "handle", "verify", "close")
DEFAULTABLE_STEPS = tuple(s for s in STEPS if s != "handle")
STEP_LABELS = {
    "accept": "受理时限",
    "file": "立案时限",
    "dispatch": "派遣时限",
    "handle": "处置时限",
    "verify": "核查时限",
    "close": "结案时限",
}
URGENT_LABEL = "紧急处置时限"
# Duplicate merging (intake.dedupe): how far apart and how long after a case two reports of this 小类 can still
# be the same problem. A stall moves, a pothole does not, an illegal ad is a point, noise spreads.
DEDUPE_KEYS = ("dedupe_radius_m", "dedupe_window")
DEDUPE_LABELS = {"dedupe_radius_m": "合并半径（米）", "dedupe_window": "合并时窗"}
MIN_DEDUPE_RADIUS_M = 5
MAX_DEDUPE_RADIUS_M = 2000

CSV_HEADERS = (
    "大类编码",
    "大类名称",
    "小类编码",
    "小类名称",
    "立案条件",
    "结案条件",
    "责任单位",
    "受理时限",
    "立案时限",
    "派遣时限",
    "处置时限",
    "核查时限",
    "结案时限",
    "法律依据",
    URGENT_LABEL,  # optional extra column, last so the first fourteen keep their documented order
    *DEDUPE_LABELS.values(),  # optional too: blank cells take the seed file's defaults
)
_CSV_REQUIRED = ("大类编码", "大类名称", "小类编码", "小类名称", "立案条件", "结案条件", "责任单位", "处置时限")

MAX_NAME = 64
MAX_UNIT = 100
_MAJOR_CODE = re.compile(r"^\d{2}$")
_MINOR_CODE = re.compile(r"^\d{4}$")
_TOP_KEYS = {"version", "defaults", "majors"}
_MAJOR_KEYS = {"code", "name", "minors"}
_TEXT_KEYS = ("name", "filing_criteria", "closing_criteria", "responsible_unit")
_TEXT_LABELS = {
    "name": "名称",
    "filing_criteria": "立案条件",
    "closing_criteria": "结案条件",
    "responsible_unit": "责任单位",
}
_MINOR_KEYS = {
    "code",
    *_TEXT_KEYS,
    *(f"{s}_limit" for s in STEPS),
    "urgent_handle_limit",
    "legal_basis",
    "is_active",
    *DEDUPE_KEYS,
}


@dataclass
class MinorSpec:
    code: str
    name: str
    filing_criteria: str
    closing_criteria: str
    responsible_unit: str
    limits: dict[str, str]  # step → normalised text ("4工作时"), all six present
    urgent_handle_limit: str | None = None
    legal_basis: str | None = None
    is_active: bool = True
    dedupe_radius_m: int = 100
    dedupe_window: str = "72小时"  # calendar time only ("72小时", "7自然日", "30分钟")


@dataclass
class MajorSpec:
    code: str
    name: str
    minors: list[MinorSpec] = field(default_factory=list)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append(f"{where}：{reason}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = "；".join(self.items[:10])
            more = f"；另有 {len(self.items) - 10} 处" if len(self.items) > 10 else ""
            raise ValidationFailed(f"分类目录校验失败（共 {len(self.items)} 处）：{shown}{more}", errors=self.items)


def _limit(value: Any, where: str, label: str, problems: _Problems) -> str | None:
    try:
        return TimeLimit.parse(str(value).strip()).to_text()
    except ValidationFailed as exc:
        problems.add(where, f"{label}{exc.detail}")
        return None


def _dedupe_radius(value: Any, where: str, problems: _Problems) -> int | None:
    text = _text(value)
    if not re.fullmatch(r"\d{1,5}", text) or not MIN_DEDUPE_RADIUS_M <= int(text) <= MAX_DEDUPE_RADIUS_M:
        problems.add(
            where,
            f"合并半径（dedupe_radius_m）应为 {MIN_DEDUPE_RADIUS_M}–{MAX_DEDUPE_RADIUS_M} 之间的整数米数"
            f"（当前为 {value!r}）",
        )
        return None
    return int(text)


def _dedupe_window(value: Any, where: str, problems: _Problems) -> str | None:
    try:
        limit = TimeLimit.parse(_text(value))
    except ValidationFailed as exc:
        problems.add(where, f"合并时窗（dedupe_window）{exc.detail}")
        return None
    if limit.unit.is_working_time:
        problems.add(where, f"合并时窗（dedupe_window）须为自然时间（小时、自然日、分钟），不能是 {limit.to_text()}")
        return None
    return limit.to_text()


def _dedupe_value(key: str, value: Any, where: str, problems: _Problems) -> int | str | None:
    if key == "dedupe_radius_m":
        return _dedupe_radius(value, where, problems)
    return _dedupe_window(value, where, problems)


@cache
def _builtin_defaults_block() -> dict[str, Any]:
    data = yaml.safe_load(default_catalog_text())
    return dict(data["defaults"])


def builtin_defaults() -> dict[str, str]:
    """The step limits of the seed file's ``defaults`` block (used for blank CSV cells)."""
    block = _builtin_defaults_block()
    return {step: TimeLimit.parse(block[f"{step}_limit"]).to_text() for step in DEFAULTABLE_STEPS}


def builtin_dedupe_defaults() -> dict[str, Any]:
    """``dedupe_radius_m`` and ``dedupe_window`` of the seed file's ``defaults`` block (blank CSV cells)."""
    block = _builtin_defaults_block()
    return {
        "dedupe_radius_m": int(block["dedupe_radius_m"]),
        "dedupe_window": TimeLimit.parse(block["dedupe_window"]).to_text(),
    }


@cache
def default_catalog_text() -> str:
    return resources.files("chengguan.catalog").joinpath("data/default_catalog.yaml").read_text(encoding="utf-8")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_minor(
    raw: dict[str, Any],
    *,
    major_code: str,
    where: str,
    defaults: dict[str, str],
    dedupe_defaults: dict[str, Any],
    problems: _Problems,
) -> MinorSpec | None:
    before = len(problems.items)
    code = raw.get("code")
    if not isinstance(code, str):
        problems.add(where, f"小类编码须为带引号的字符串（当前为 {code!r}）")
        code = _text(code)
    if not _MINOR_CODE.match(code):
        problems.add(where, f"小类编码 {code!r} 应为 4 位数字")
    elif _MAJOR_CODE.match(major_code) and not code.startswith(major_code):
        problems.add(where, f"小类编码 {code} 不以所属大类编码 {major_code} 开头")
    texts = {k: _text(raw.get(k)) for k in _TEXT_KEYS}
    for key, value in texts.items():
        if not value:
            problems.add(where, f"{_TEXT_LABELS[key]}不能为空")
    if len(texts["name"]) > MAX_NAME:
        problems.add(where, f"名称过长（最多 {MAX_NAME} 字）")
    if len(texts["responsible_unit"]) > MAX_UNIT:
        problems.add(where, f"责任单位过长（最多 {MAX_UNIT} 字）")
    limits: dict[str, str] = {}
    for step in STEPS:
        raw_value = raw.get(f"{step}_limit")
        if raw_value is None or _text(raw_value) == "":
            if step == "handle":
                problems.add(where, "缺少处置时限")
            else:
                limits[step] = defaults[step]
            continue
        parsed = _limit(raw_value, where, STEP_LABELS[step], problems)
        if parsed is not None:
            limits[step] = parsed
    urgent = None
    if _text(raw.get("urgent_handle_limit")):
        urgent = _limit(raw["urgent_handle_limit"], where, URGENT_LABEL, problems)
    is_active = raw.get("is_active", True)
    if not isinstance(is_active, bool):
        problems.add(where, f"is_active 应为 true 或 false（当前为 {is_active!r}）")
    dedupe: dict[str, Any] = {}
    for key in DEDUPE_KEYS:
        raw_value = raw.get(key)
        dedupe[key] = dedupe_defaults[key] if _text(raw_value) == "" else _dedupe_value(key, raw_value, where, problems)
    if len(problems.items) > before:
        return None
    return MinorSpec(
        code=code,
        limits=limits,
        urgent_handle_limit=urgent,
        legal_basis=_text(raw.get("legal_basis")) or None,
        is_active=bool(is_active),
        name=texts["name"],
        filing_criteria=texts["filing_criteria"],
        closing_criteria=texts["closing_criteria"],
        responsible_unit=texts["responsible_unit"],
        dedupe_radius_m=int(dedupe["dedupe_radius_m"]),
        dedupe_window=str(dedupe["dedupe_window"]),
    )


def _check_major_code(code: Any, where: str, problems: _Problems) -> str:
    if not isinstance(code, str):
        problems.add(where, f"大类编码须为带引号的字符串（当前为 {code!r}）")
        code = _text(code)
    if not _MAJOR_CODE.match(code):
        problems.add(where, f"大类编码 {code!r} 应为 2 位数字")
    return str(code)


def _check_duplicates(majors: list[MajorSpec], problems: _Problems) -> None:
    major_counts = Counter(m.code for m in majors)
    for code, n in major_counts.items():
        if n > 1:
            problems.add(f"大类 {code}", f"大类编码重复（出现 {n} 次）")
    minor_counts = Counter(minor.code for m in majors for minor in m.minors)
    for code, n in minor_counts.items():
        if n > 1:
            problems.add(f"小类 {code}", f"小类编码重复（出现 {n} 次）")


def parse_yaml(text: str) -> list[MajorSpec]:
    problems = _Problems()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"分类目录不是合法的 YAML：{exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("majors"), list):
        raise ValidationFailed("分类目录的顶层应为映射，且含 majors 列表（格式见 docs/catalog.md）")
    for key in sorted(set(map(str, data)) - _TOP_KEYS):
        problems.add("文件顶层", f"未知的键 {key}")
    if data.get("version", 1) != 1:
        problems.add("文件顶层", f"不支持的格式版本 {data.get('version')!r}（应为 1）")
    defaults = dict(builtin_defaults())
    dedupe_defaults = builtin_dedupe_defaults()
    raw_defaults = data.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        problems.add("defaults", "应为映射")
        raw_defaults = {}
    for key, value in raw_defaults.items():
        step = str(key).removesuffix("_limit")
        if key in DEDUPE_KEYS:
            parsed_dedupe = _dedupe_value(str(key), value, "defaults", problems)
            if parsed_dedupe is not None:
                dedupe_defaults[str(key)] = parsed_dedupe
        elif step == "handle":
            problems.add("defaults", "处置时限（handle_limit）不能设默认值，须逐个小类填写")
        elif step not in DEFAULTABLE_STEPS or not str(key).endswith("_limit"):
            problems.add("defaults", f"未知的键 {key}")
        else:
            parsed = _limit(value, "defaults", STEP_LABELS[step], problems)
            if parsed is not None:
                defaults[step] = parsed

    majors: list[MajorSpec] = []
    for i, raw_major in enumerate(data["majors"], start=1):
        where = f"第 {i} 个大类"
        if not isinstance(raw_major, dict):
            problems.add(where, "应为含 code / name / minors 的映射")
            continue
        code = _check_major_code(raw_major.get("code"), f"{where}（{raw_major.get('code')}）", problems)
        where = f"大类 {code}（第 {i} 个）"
        for key in sorted(set(map(str, raw_major)) - _MAJOR_KEYS):
            problems.add(where, f"未知的键 {key}")
        name = _text(raw_major.get("name"))
        if not name:
            problems.add(where, "名称不能为空")
        elif len(name) > MAX_NAME:
            problems.add(where, f"名称过长（最多 {MAX_NAME} 字）")
        major = MajorSpec(code=code, name=name)
        raw_minors = raw_major.get("minors") or []
        if not isinstance(raw_minors, list) or not raw_minors:
            problems.add(where, "至少需要一个小类（minors 列表）")
            raw_minors = []
        for j, raw_minor in enumerate(raw_minors, start=1):
            mwhere = f"大类 {code} 的第 {j} 个小类"
            if not isinstance(raw_minor, dict):
                problems.add(mwhere, "应为映射")
                continue
            mwhere = f"小类 {raw_minor.get('code')}（{mwhere}）"
            for key in sorted(set(map(str, raw_minor)) - _MINOR_KEYS):
                problems.add(mwhere, f"未知的键 {key}")
            spec = _check_minor(
                raw_minor,
                major_code=code,
                where=mwhere,
                defaults=defaults,
                dedupe_defaults=dedupe_defaults,
                problems=problems,
            )
            if spec is not None:
                major.minors.append(spec)
        majors.append(major)
    _check_duplicates(majors, problems)
    problems.raise_if_any()
    return majors


def parse_csv(text: str) -> list[MajorSpec]:
    problems = _Problems()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    missing = [h for h in _CSV_REQUIRED if h not in header]
    if missing:
        raise ValidationFailed(f"CSV 表头缺少列：{'、'.join(missing)}（应为：{','.join(CSV_HEADERS)}）")
    unknown = [h for h in header if h not in CSV_HEADERS]
    if unknown:
        raise ValidationFailed(f"CSV 表头含未知的列：{'、'.join(unknown)}")
    if len(set(header)) != len(header):
        raise ValidationFailed("CSV 表头有重复的列")
    defaults = builtin_defaults()
    dedupe_defaults = builtin_dedupe_defaults()
    majors: dict[str, MajorSpec] = {}
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"第 {line_no} 行"
        if len(row) > len(header):
            problems.add(where, f"列数（{len(row)}）多于表头（{len(header)}）")
            continue
        cells = dict(zip(header, [c.strip() for c in row], strict=False))
        # Excel drops leading zeros of numeric-looking cells: restore them (1 → 01, 501 → 0501).
        major_code = cells.get("大类编码", "")
        major_code = major_code.zfill(2) if major_code.isdigit() else major_code
        minor_code = cells.get("小类编码", "")
        minor_code = minor_code.zfill(4) if minor_code.isdigit() else minor_code
        where = f"第 {line_no} 行（小类 {minor_code or '?'}）"
        major_code = _check_major_code(major_code, where, problems)
        major_name = cells.get("大类名称", "")
        if not major_name:
            problems.add(where, "大类名称不能为空")
        major = majors.get(major_code)
        if major is None:
            major = majors[major_code] = MajorSpec(code=major_code, name=major_name)
        elif major_name and major.name != major_name:
            problems.add(where, f"大类 {major_code} 的名称“{major_name}”与前面的“{major.name}”不一致")
        raw: dict[str, Any] = {
            "code": minor_code,
            "name": cells.get("小类名称"),
            "filing_criteria": cells.get("立案条件"),
            "closing_criteria": cells.get("结案条件"),
            "responsible_unit": cells.get("责任单位"),
            "legal_basis": cells.get("法律依据"),
            "urgent_handle_limit": cells.get(URGENT_LABEL),
        }
        for step in STEPS:
            raw[f"{step}_limit"] = cells.get(STEP_LABELS[step])
        for key, label in DEDUPE_LABELS.items():
            raw[key] = cells.get(label)
        spec = _check_minor(
            raw,
            major_code=major_code,
            where=where,
            defaults=defaults,
            dedupe_defaults=dedupe_defaults,
            problems=problems,
        )
        if spec is not None:
            major.minors.append(spec)
    result = list(majors.values())
    if not result and not problems.items:
        problems.add("CSV", "没有任何数据行")
    _check_duplicates(result, problems)
    problems.raise_if_any()
    return result


def render_yaml(majors: list[MajorSpec], *, title: str) -> str:
    # The most common value of each step becomes the file's default; minors list only their differences.
    defaults: dict[str, str] = {}
    for step in DEFAULTABLE_STEPS:
        counts = Counter(minor.limits[step] for m in majors for minor in m.minors)
        defaults[step] = counts.most_common(1)[0][0] if counts else builtin_defaults()[step]
    dedupe_defaults: dict[str, Any] = {}
    for key in DEDUPE_KEYS:
        dedupe_counts = Counter(getattr(minor, key) for m in majors for minor in m.minors)
        dedupe_defaults[key] = dedupe_counts.most_common(1)[0][0] if dedupe_counts else builtin_dedupe_defaults()[key]
    out_majors: list[dict[str, Any]] = []
    for major in majors:
        minors: list[dict[str, Any]] = []
        for minor in major.minors:
            item: dict[str, Any] = {
                "code": minor.code,
                "name": minor.name,
                "filing_criteria": minor.filing_criteria,
                "closing_criteria": minor.closing_criteria,
                "responsible_unit": minor.responsible_unit,
                "handle_limit": minor.limits["handle"],
            }
            if minor.urgent_handle_limit:
                item["urgent_handle_limit"] = minor.urgent_handle_limit
            for step in DEFAULTABLE_STEPS:
                if minor.limits[step] != defaults[step]:
                    item[f"{step}_limit"] = minor.limits[step]
            if minor.legal_basis:
                item["legal_basis"] = minor.legal_basis
            if not minor.is_active:
                item["is_active"] = False
            for key in DEDUPE_KEYS:
                if getattr(minor, key) != dedupe_defaults[key]:
                    item[key] = getattr(minor, key)
            minors.append(item)
        out_majors.append({"code": major.code, "name": major.name, "minors": minors})
    data = {
        "version": 1,
        "defaults": {**{f"{step}_limit": defaults[step] for step in DEFAULTABLE_STEPS}, **dedupe_defaults},
        "majors": out_majors,
    }
    header = (
        f"# 案件分类目录：{title}\n"
        "# 格式与各键的含义见 docs/catalog.md 与 chengguan/catalog/data/default_catalog.yaml\n"
    )
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def render_csv(majors: list[MajorSpec]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for major in majors:
        for minor in major.minors:
            writer.writerow(
                [
                    major.code,
                    major.name,
                    minor.code,
                    minor.name,
                    minor.filing_criteria,
                    minor.closing_criteria,
                    minor.responsible_unit,
                    *(minor.limits[step] for step in STEPS),
                    minor.legal_basis or "",
                    minor.urgent_handle_limit or "",
                    minor.dedupe_radius_m,
                    minor.dedupe_window,
                ]
            )
    return "\ufeff" + buffer.getvalue()
