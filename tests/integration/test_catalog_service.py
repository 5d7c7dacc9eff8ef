"""Category catalog (大类/小类) per locality: seed, import/export (YAML, CSV), fallback, replace."""

from __future__ import annotations

import csv
import io

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau
from chengguan.shared.durations import LimitUnit, TimeLimit
from chengguan.shared.errors import ValidationFailed

HEADERS = (
    "大类编码,大类名称,小类编码,小类名称,立案条件,结案条件,责任单位,"
    "受理时限,立案时限,派遣时限,处置时限,核查时限,结案时限,法律依据"
)


def _city(db: Session) -> Bureau:
    return identity.create_bureau(
        db, code="t-hz", name="测试市城管", kind="city", admin_code="330100", case_prefix="HZ"
    )


def _district(db: Session, city: Bureau, code: str = "t-xh") -> Bureau:
    return identity.create_bureau(
        db, code=code, name="西湖区大队", kind="district", admin_code="330106", case_prefix="XH", parent=city
    )


SMALL_YAML = """
version: 1
defaults:
  accept_limit: 30分钟
majors:
  - code: "05"
    name: 街面秩序
    minors:
      - code: "0501"
        name: 占道经营
        filing_criteria: 占道摆摊
        closing_criteria: 摊点撤离
        responsible_unit: 执法中队
        handle_limit: 1工作时
      - code: "0599"
        name: 夜市管理
        filing_criteria: 夜市越界
        closing_criteria: 恢复秩序
        responsible_unit: 街道办事处
        handle_limit: 2wh
"""


def _csv(*rows: str) -> str:
    return "\n".join([HEADERS, *rows]) + "\n"


GOOD_ROW = "05,街面秩序,0501,占道经营,占道摆摊,摊点撤离,执法中队,,,,2工作时,,,"


# ---- seed ---------------------------------------------------------------------------------------------


def test_seed_covers_the_five_majors_with_realistic_limits(db: Session) -> None:
    city = _city(db)
    summary = catalog.seed_default_catalog(db, bureau=city)
    assert summary.majors == 5
    assert str(summary) == f"大类 5 个，启用小类 {summary.minors} 个（新增 {summary.minors}，更新 0，停用 0）"
    assert summary.minors == summary.created >= 35
    majors = catalog.list_catalog(db, bureau_id=city.id)
    assert [(m.code, m.name) for m in majors] == [
        ("01", "市容环境"),
        ("02", "宣传广告"),
        ("03", "施工管理"),
        ("04", "突发事件"),
        ("05", "街面秩序"),
    ]
    names = {minor.name for m in majors for minor in m.minors}
    for expected in (
        "暴露垃圾",
        "非法小广告",
        "占道经营",
        "机动车乱停放",
        "工地扬尘",
        "无证掘路",
        "路面塌陷",
        "燃气泄漏",
    ):
        assert expected in names
    for m in majors:
        assert all(minor.code.startswith(m.code) for minor in m.minors)
        assert [minor.code for minor in m.minors] == sorted(minor.code for minor in m.minors)

    xiaoguanggao = catalog.resolve_minor(db, bureau_id=city.id, code="0202")
    assert xiaoguanggao.name == "非法小广告"
    assert catalog.step_limits(xiaoguanggao)["handle"] == TimeLimit(4, LimitUnit.WORKING_HOURS)
    zhandao = catalog.resolve_minor(db, bureau_id=city.id, code="0501")
    assert zhandao.handle_limit == "2工作时"
    assert catalog.urgent_limit(zhandao) == TimeLimit(30, LimitUnit.MINUTES)
    taxian = catalog.resolve_minor(db, bureau_id=city.id, code="0401")
    assert taxian.name == "路面塌陷"
    limits = catalog.step_limits(taxian)
    assert set(limits) == {"accept", "file", "dispatch", "handle", "verify", "close"}
    assert limits["handle"] == TimeLimit(1, LimitUnit.HOURS)  # calendar time, not working time
    assert catalog.resolve_minor(db, bureau_id=city.id, code="0201").handle_limit == "5工作日"
    # Steps a minor does not set come from the file's defaults block.
    assert catalog.step_limits(xiaoguanggao)["verify"] == TimeLimit(2, LimitUnit.WORKING_HOURS)


def test_seed_is_idempotent_and_keeps_local_edits(db: Session) -> None:
    city = _city(db)
    first = catalog.seed_default_catalog(db, bureau=city)
    minor = catalog.resolve_minor(db, bureau_id=city.id, code="0202")
    minor.handle_limit = "2工作时"  # a local decision
    db.flush()
    again = catalog.seed_default_catalog(db, bureau=city)
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert (again.majors, again.minors) == (first.majors, first.minors)
    assert catalog.resolve_minor(db, bureau_id=city.id, code="0202").handle_limit == "2工作时"


# ---- per locality ---------------------------------------------------------------------------------------


def test_a_brigade_without_its_own_catalog_uses_the_citys(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    catalog.seed_default_catalog(db, bureau=city)
    minor = catalog.resolve_minor(db, bureau_id=xihu.id, code="0501")
    assert minor.bureau_id == city.id
    assert [m.code for m in catalog.list_catalog(db, bureau_id=xihu.id)] == ["01", "02", "03", "04", "05"]


def test_a_brigade_with_its_own_catalog_uses_only_its_own(db: Session) -> None:
    city = _city(db)
    xihu = _district(db, city)
    catalog.seed_default_catalog(db, bureau=city)
    catalog.import_catalog(db, bureau=xihu, text=SMALL_YAML, fmt="yaml")
    own = catalog.resolve_minor(db, bureau_id=xihu.id, code="0501")
    assert own.bureau_id == xihu.id and own.handle_limit == "1工作时"
    assert catalog.step_limits(own)["accept"] == TimeLimit(30, LimitUnit.MINUTES)  # file default
    assert catalog.step_limits(own)["file"] == TimeLimit(1, LimitUnit.WORKING_HOURS)  # built-in default
    # The city's catalog is untouched and still serves the city.
    assert catalog.resolve_minor(db, bureau_id=city.id, code="0501").handle_limit == "2工作时"
    # A catalog is used as a whole: codes only the city has are unknown to the brigade.
    with pytest.raises(catalog.UnknownCategory, match="未知的案件小类：0202") as exc:
        catalog.resolve_minor(db, bureau_id=xihu.id, code="0202")
    assert exc.value.code == "unknown-category"
    assert isinstance(exc.value, ValidationFailed)
    assert [(m.code, [n.code for n in m.minors]) for m in catalog.list_catalog(db, bureau_id=xihu.id)] == [
        ("05", ["0501", "0599"])
    ]


def test_unknown_and_inactive_categories_are_refused(db: Session) -> None:
    city = _city(db)
    with pytest.raises(catalog.UnknownCategory):
        catalog.resolve_minor(db, bureau_id=city.id, code="0501")  # no catalog at all
    catalog.import_catalog(db, bureau=city, text=SMALL_YAML, fmt="yaml")
    with pytest.raises(catalog.UnknownCategory, match="9999"):
        catalog.resolve_minor(db, bureau_id=city.id, code="9999")
    catalog.resolve_minor(db, bureau_id=city.id, code="0599").is_active = False
    db.flush()
    with pytest.raises(catalog.UnknownCategory, match="0599"):
        catalog.resolve_minor(db, bureau_id=city.id, code="0599")


# ---- import / export ---------------------------------------------------------------------------------


def _snapshot(db: Session, bureau: Bureau) -> list[tuple[object, ...]]:
    rows = db.scalars(select(CategoryMinor).where(CategoryMinor.bureau_id == bureau.id).order_by(CategoryMinor.code))
    return [
        (
            r.major.code,
            r.major.name,
            r.code,
            r.name,
            r.filing_criteria,
            r.closing_criteria,
            r.responsible_unit,
            *(getattr(r, f"{s}_limit") for s in ("accept", "file", "dispatch", "handle", "verify", "close")),
            r.urgent_handle_limit,
            r.legal_basis,
            r.is_active,
        )
        for r in rows
    ]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_then_import_round_trips(db: Session, fmt: str) -> None:
    city = _city(db)
    other = identity.create_bureau(db, code="t-nb", name="另一市", kind="city", admin_code="330200", case_prefix="NB")
    catalog.seed_default_catalog(db, bureau=city)
    text = catalog.export_catalog(db, bureau=city, fmt=fmt)  # type: ignore[arg-type]
    summary = catalog.import_catalog(db, bureau=other, text=text, fmt=fmt)  # type: ignore[arg-type]
    assert summary.created == summary.minors == len(_snapshot(db, city))
    assert _snapshot(db, other) == _snapshot(db, city)
    # Re-importing the same file into the same bureau changes nothing, and exports are stable.
    again = catalog.import_catalog(db, bureau=city, text=text, fmt=fmt, replace=True)  # type: ignore[arg-type]
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert catalog.export_catalog(db, bureau=city, fmt=fmt) == text  # type: ignore[arg-type]
    exported_other = catalog.export_catalog(db, bureau=other, fmt=fmt)  # type: ignore[arg-type]
    assert exported_other.split("\n")[1:] == text.split("\n")[1:]  # only the title line names the bureau


def test_csv_export_has_chinese_headers_and_a_bom_for_excel(db: Session) -> None:
    city = _city(db)
    catalog.seed_default_catalog(db, bureau=city)
    text = catalog.export_catalog(db, bureau=city, fmt="csv")
    assert text.startswith("\ufeff")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:14] == HEADERS.split(",")
    assert rows[0][14] == "紧急处置时限"
    zhandao = next(r for r in rows if r[2] == "0501")
    assert zhandao[:4] == ["05", "街面秩序", "0501", "占道经营"]
    assert zhandao[10] == "2工作时" and zhandao[14] == "30分钟"


def test_yaml_export_is_commented_and_quotes_codes(db: Session) -> None:
    city = _city(db)
    catalog.import_catalog(db, bureau=city, text=SMALL_YAML, fmt="yaml")
    text = catalog.export_catalog(db, bureau=city, fmt="yaml")
    assert text.startswith("# 案件分类目录：测试市城管")
    assert "'0501'" in text
    data = yaml.safe_load(text)
    assert data["defaults"]["accept_limit"] == "30分钟"
    assert data["majors"][0]["minors"][1]["handle_limit"] == "2工作时"  # normalised from "2wh"


def test_csv_tolerates_excel_dropping_leading_zeros_and_blank_limits(db: Session) -> None:
    city = _city(db)
    text = _csv("5,街面秩序,501,占道经营,占道摆摊,摊点撤离,执法中队,,,,2工作时,,,", "")
    catalog.import_catalog(db, bureau=city, text=text, fmt="csv")
    minor = catalog.resolve_minor(db, bureau_id=city.id, code="0501")
    assert minor.major.code == "05"
    assert minor.accept_limit == "1工作时"  # blank → the built-in default
    assert minor.legal_basis is None


def test_import_upserts_by_code_and_replace_deactivates_missing_minors(db: Session) -> None:
    city = _city(db)
    catalog.seed_default_catalog(db, bureau=city)
    before = catalog.seed_default_catalog(db, bureau=city).minors
    changed = SMALL_YAML.replace("handle_limit: 1工作时", "handle_limit: 3工作时")
    upsert = catalog.import_catalog(db, bureau=city, text=changed, fmt="yaml")
    assert (upsert.created, upsert.updated, upsert.deactivated) == (1, 1, 0)  # 0599 new, 0501 changed
    assert upsert.minors == before + 1
    assert catalog.resolve_minor(db, bureau_id=city.id, code="0202").is_active  # untouched without replace

    replaced = catalog.import_catalog(db, bureau=city, text=changed, fmt="yaml", replace=True)
    assert replaced.deactivated == before - 1
    assert replaced.minors == 2
    assert [m.code for m in catalog.list_catalog(db, bureau_id=city.id)] == ["05"]
    # Deactivated, never deleted (cases reference them).
    gone = db.scalar(select(CategoryMinor).where(CategoryMinor.bureau_id == city.id, CategoryMinor.code == "0202"))
    assert gone is not None and gone.is_active is False
    with pytest.raises(catalog.UnknownCategory):
        catalog.resolve_minor(db, bureau_id=city.id, code="0202")
    # Importing it again re-activates it.
    catalog.seed_default_catalog(db, bureau=city)  # seed never re-activates or overwrites
    assert gone.is_active is False
    catalog.import_catalog(db, bureau=city, text=catalog.export_catalog(db, bureau=city, fmt="csv"), fmt="csv")
    row = _csv("02,宣传广告,0202,非法小广告,有小广告,已清除,街道办事处,,,,4工作时,,,")
    assert catalog.import_catalog(db, bureau=city, text=row, fmt="csv").updated == 1
    assert catalog.resolve_minor(db, bureau_id=city.id, code="0202").filing_criteria == "有小广告"


# ---- bad input: every case names the entry and the reason, and nothing is written ----------------------

BAD_YAML = [
    (SMALL_YAML.replace("handle_limit: 2wh", "handle_limit: 2周"), "小类 0599", "处置时限无法识别的时限"),
    (SMALL_YAML.replace("        handle_limit: 2wh\n", ""), "小类 0599", "缺少处置时限"),
    (SMALL_YAML.replace('code: "0599"', 'code: "0501"'), "小类 0501", "小类编码重复"),
    (SMALL_YAML.replace('code: "0599"', 'code: "0199"'), "小类 0199", "不以所属大类编码 05 开头"),
    (SMALL_YAML.replace("name: 夜市管理", "name: ''"), "小类 0599", "名称不能为空"),
    (SMALL_YAML.replace("name: 街面秩序", "name: ' '"), "大类 05", "名称不能为空"),
    (SMALL_YAML.replace("closing_criteria: 恢复秩序", "closing_criteria:"), "小类 0599", "结案条件不能为空"),
    (SMALL_YAML.replace("responsible_unit: 街道办事处", "responsible_unit: ''"), "小类 0599", "责任单位不能为空"),
    (SMALL_YAML.replace('code: "05"', "code: 05"), "第 1 个大类", "大类编码须为带引号的字符串"),
    (SMALL_YAML.replace('code: "0599"', 'code: "599"'), "小类 599", "应为 4 位数字"),
    (SMALL_YAML.replace("accept_limit: 30分钟", "handle_limit: 30分钟"), "defaults", "不能设默认值"),
    (SMALL_YAML.replace("accept_limit: 30分钟", "accept_limit: 半小时"), "defaults", "受理时限无法识别"),
    (
        SMALL_YAML.replace("handle_limit: 2wh", "handle_limit: 2wh\n        handel_limit: 1h"),
        "小类 0599",
        "未知的键 handel_limit",
    ),
    (
        SMALL_YAML + SMALL_YAML.split("majors:\n")[1].replace("0501", "0511").replace("0599", "0512"),
        "大类 05",
        "大类编码重复",
    ),
]


@pytest.mark.parametrize(("text", "where", "reason"), BAD_YAML)
def test_bad_yaml_is_refused_naming_the_entry_and_nothing_is_written(
    db: Session, text: str, where: str, reason: str
) -> None:
    city = _city(db)
    with pytest.raises(ValidationFailed) as exc:
        catalog.import_catalog(db, bureau=city, text=text, fmt="yaml")
    assert where in exc.value.detail and reason in exc.value.detail, exc.value.detail
    assert any(where in e and reason in e for e in exc.value.extra["errors"])
    assert catalog.list_catalog(db, bureau_id=city.id) == []


BAD_CSV = [
    (
        _csv(GOOD_ROW, "05,街面秩序,0502,店外经营,出店,收回,中队,,,,2 fortnights,,,"),
        "第 3 行（小类 0502）",
        "处置时限无法识别",
    ),
    (_csv(GOOD_ROW, "05,街面秩序,0502,店外经营,出店,收回,中队,,,,,,,"), "第 3 行（小类 0502）", "缺少处置时限"),
    (_csv(GOOD_ROW, GOOD_ROW), "小类 0501", "小类编码重复"),
    (
        _csv(GOOD_ROW, "05,街面秩序,0102,暴露垃圾,有垃圾,已清除,环卫,,,,2工作时,,,"),
        "第 3 行（小类 0102）",
        "不以所属大类编码 05 开头",
    ),
    (_csv(GOOD_ROW, "05,街面秩序,0502,,出店,收回,中队,,,,2工作时,,,"), "第 3 行（小类 0502）", "名称不能为空"),
    (_csv(GOOD_ROW, "05,,0502,店外经营,出店,收回,中队,,,,2工作时,,,"), "第 3 行（小类 0502）", "大类名称不能为空"),
    (
        _csv(GOOD_ROW, "05,街面管理,0502,店外经营,出店,收回,中队,,,,2工作时,,,"),
        "第 3 行（小类 0502）",
        "名称“街面管理”与前面的“街面秩序”不一致",
    ),
    (_csv(GOOD_ROW, "05,街面秩序,0502,店外经营,,收回,中队,,,,2工作时,,,"), "第 3 行（小类 0502）", "立案条件不能为空"),
    (
        _csv(GOOD_ROW, "05,街面秩序,0502,店外经营,出店,收回,中队,1年,,,2工作时,,,"),
        "第 3 行（小类 0502）",
        "受理时限无法识别",
    ),
    (_csv(GOOD_ROW, "5A,街面秩序,0502,店外经营,出店,收回,中队,,,,2工作时,,,"), "第 3 行（小类 0502）", "应为 2 位数字"),
    (_csv(GOOD_ROW, "05,街面秩序,0502,店外经营,出店,收回,中队,,,,2工作时,,,,,多余"), "第 3 行", "列数"),
]


@pytest.mark.parametrize(("text", "where", "reason"), BAD_CSV)
def test_bad_csv_is_refused_naming_the_line_and_nothing_is_written(
    db: Session, text: str, where: str, reason: str
) -> None:
    city = _city(db)
    with pytest.raises(ValidationFailed) as exc:
        catalog.import_catalog(db, bureau=city, text=text, fmt="csv")
    assert where in exc.value.detail and reason in exc.value.detail, exc.value.detail
    assert catalog.list_catalog(db, bureau_id=city.id) == []


def test_bad_csv_headers_and_format(db: Session) -> None:
    city = _city(db)
    with pytest.raises(ValidationFailed, match="表头缺少列：处置时限"):
        catalog.import_catalog(db, bureau=city, text=_csv().replace("处置时限", "处理时限"), fmt="csv")
    with pytest.raises(ValidationFailed, match="没有任何数据行"):
        catalog.import_catalog(db, bureau=city, text=_csv(), fmt="csv")
    with pytest.raises(ValidationFailed, match="不支持的目录格式"):
        catalog.import_catalog(db, bureau=city, text=SMALL_YAML, fmt="xml")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed, match="不是合法的 YAML"):
        catalog.import_catalog(db, bureau=city, text="majors: [unclosed", fmt="yaml")


def test_all_problems_are_reported_together(db: Session) -> None:
    city = _city(db)
    text = _csv(
        GOOD_ROW,
        "05,街面秩序,0502,,出店,收回,中队,,,,2工作时,,,",
        "05,街面秩序,0503,游摊,流动,劝离,中队,,,,,,,",
    )
    with pytest.raises(ValidationFailed) as exc:
        catalog.import_catalog(db, bureau=city, text=text, fmt="csv")
    assert "共 2 处" in exc.value.detail
    assert len(exc.value.extra["errors"]) == 2


def test_a_failed_import_leaves_an_existing_catalog_as_it_was(db: Session) -> None:
    city = _city(db)
    catalog.seed_default_catalog(db, bureau=city)
    before = _snapshot(db, city)
    bad = SMALL_YAML.replace("handle_limit: 2wh", "handle_limit: 永不")
    with pytest.raises(ValidationFailed):
        catalog.import_catalog(db, bureau=city, text=bad, fmt="yaml", replace=True)
    assert _snapshot(db, city) == before
