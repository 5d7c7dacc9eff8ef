"""Import real street, community or unit-grid boundaries from GeoJSON or a Shapefile: check every feature,
find its parent, replace the parents' generated children, then create or update. Functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo.models import Community, District, Street, UnitGrid
from chengguan.geo.readers import RawFeature, read_features
from chengguan.geo.store import (
    IMPORTED_PREFIX,
    MODEL_BY_LEVEL,
    SOURCE_GENERATED,
    bbox_hit,
    delete_communities,
    delete_rows,
    delete_streets,
    is_pg,
    pg_point,
    replacing,
    set_geometry,
)
from chengguan.identity.access import bureau_scope_ids
from chengguan.identity.models import Bureau
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import ValidationFailed

MAX_REPORTED_PROBLEMS = 50


@dataclass(frozen=True)
class ImportSummary:
    level: str
    source: str
    created: int
    updated: int
    parent_codes: list[str]
    replaced: dict[str, int] = field(default_factory=dict)  # generated rows replaced, per level


@dataclass
class _Parent:
    id: int
    code: str
    bureau_id: int
    district_id: int


@dataclass
class _Checked:
    index: int
    code: str
    name: str
    geom: BaseGeometry
    parent: _Parent


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _parent_row(session: Session, parent_model: Any, row: Any) -> _Parent:
    district_id = row.id if parent_model is District else row.district_id
    return _Parent(id=row.id, code=row.code, bureau_id=row.bureau_id, district_id=district_id)


def _parent_by_code(session: Session, parent_model: Any, code: str, scope: list[int]) -> _Parent | None:
    row = session.scalar(select(parent_model).where(parent_model.code == code, parent_model.bureau_id.in_(scope)))
    return _parent_row(session, parent_model, row) if row is not None else None


def _parent_by_point(session: Session, parent_model: Any, point: Point, scope: list[int]) -> _Parent | None:
    stmt = select(parent_model).where(parent_model.bureau_id.in_(scope)).order_by(parent_model.code)
    if is_pg(session):
        stmt = stmt.where(func.ST_Covers(parent_model.geom, pg_point(point.x, point.y)))
        row = session.scalars(stmt.limit(1)).first()
    else:
        stmt = stmt.where(bbox_hit(parent_model, point.x, point.y))
        row = next((r for r in session.scalars(stmt) if r.geom.covers(point)), None)
    return _parent_row(session, parent_model, row) if row is not None else None


def _check_feature(
    session: Session,
    raw: RawFeature,
    *,
    level: Literal["street", "community", "grid"],
    name_field: str,
    code_field: str,
    parent_code_field: str | None,
    crs: CRS,
    scope: list[int],
) -> _Checked | str:
    """The feature ready to write, or why it cannot be (zh-CN)."""
    for fld in (name_field, code_field, parent_code_field):
        if fld is not None and fld not in raw.properties:
            return f"缺少属性字段“{fld}”"
    name = _text(raw.properties[name_field])
    code = _text(raw.properties[code_field])
    if not name:
        return f"属性“{name_field}”为空"
    if len(name) > 100:
        return "名称超过 100 字"
    if raw.geometry is None:
        return raw.problem or "缺少几何"
    geom = raw.geometry
    if crs is not CRS.WGS84:
        problem = rules.polygon_problem(geom)
        if problem is not None:
            return problem
        geom = rules.transform_coords(geom, lambda x, y: to_wgs84(x, y, crs))
    problem = rules.polygon_problem(geom)
    if problem is not None:
        return problem
    parent_level = rules.PARENT_LEVEL[level]
    parent_model = MODEL_BY_LEVEL[parent_level]
    if parent_code_field is not None:
        parent_code = _text(raw.properties[parent_code_field])
        parent = _parent_by_code(session, parent_model, parent_code, scope)
        if parent is None:
            return f"找不到上级{rules.LEVEL_ZH[parent_level]}“{parent_code}”"
    else:
        parent = _parent_by_point(session, parent_model, geom.representative_point(), scope)
        if parent is None:
            return f"要素不在任何上级{rules.LEVEL_ZH[parent_level]}范围内，找不到上级"
    reason = rules.check_code(level, code, parent.code)
    if reason is not None:
        return reason
    return _Checked(raw.index, code, name, rules.to_multipolygon(geom), parent)


def import_boundaries(
    session: Session,
    *,
    bureau: Bureau,
    level: Literal["street", "community", "grid"],
    path: Path,
    name_field: str,
    code_field: str,
    parent_code_field: str | None = None,
    crs: CRS = CRS.WGS84,
) -> ImportSummary:
    """Import real boundaries of one level from GeoJSON or a Shapefile (.shp or .zip). All or nothing.

    Every feature is checked first (polygon valid, code digits and prefix match the parent, parent found
    by ``parent_code_field`` or else by containment of the feature's representative point, within the
    bureau's scope); any failure raises ``ValidationFailed`` naming the features and nothing is written.
    Then, for each parent receiving features, its generated children at this level (with their subtrees)
    are deleted, rows with an existing code are updated in place, and the rest are created. New rows
    belong to their district's bureau; ``source`` is "imported:<file name>".
    """
    if level not in ("street", "community", "grid"):
        raise ValidationFailed(f"不支持导入的层级：{level}")
    crs = CRS(crs)
    scope = bureau_scope_ids(session, bureau_id=bureau.id)
    raws = read_features(path)
    if not raws:
        raise ValidationFailed(f"文件中没有要素：{path.name}")
    checked: list[_Checked] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for raw in raws:
        result = _check_feature(
            session,
            raw,
            level=level,
            name_field=name_field,
            code_field=code_field,
            parent_code_field=parent_code_field,
            crs=crs,
            scope=scope,
        )
        if isinstance(result, _Checked) and result.code in seen:
            result = f"编码“{result.code}”与第 {seen[result.code] + 1} 个要素重复"
        if isinstance(result, str):
            problems.append({"feature_index": raw.index, "reason": result})
        else:
            seen[result.code] = raw.index
            checked.append(result)
    if problems:
        first = problems[0]
        more = f"（另有 {len(problems) - 1} 个要素有问题）" if len(problems) > 1 else ""
        raise ValidationFailed(
            f"{path.name} 第 {first['feature_index'] + 1} 个要素（索引 {first['feature_index']}）："
            f"{first['reason']}{more}；未导入任何数据",
            feature_index=first["feature_index"],
            reason=first["reason"],
            problems=problems[:MAX_REPORTED_PROBLEMS],
        )

    source = f"{IMPORTED_PREFIX}{path.name}"[:255]
    parents = {c.parent.id: c.parent for c in checked}
    replaced: dict[str, int] = {}
    model: Any = MODEL_BY_LEVEL[level]
    with replacing(session, "待替换的生成数据"):
        if level == "street":
            ids = list(
                session.scalars(
                    select(Street.id).where(Street.district_id.in_(parents), Street.source == SOURCE_GENERATED)
                )
            )
            replaced = delete_streets(session, ids)
        elif level == "community":
            ids = list(
                session.scalars(
                    select(Community.id).where(Community.street_id.in_(parents), Community.source == SOURCE_GENERATED)
                )
            )
            replaced = delete_communities(session, ids)
        else:
            ids = list(
                session.scalars(
                    select(UnitGrid.id).where(UnitGrid.community_id.in_(parents), UnitGrid.source == SOURCE_GENERATED)
                )
            )
            replaced = {"grid": delete_rows(session, UnitGrid, ids)} if ids else {}
    session.flush()

    existing = {r.code: r for r in session.scalars(select(model).where(model.code.in_([c.code for c in checked])))}
    created = updated = 0
    for c in checked:
        row = existing.get(c.code)
        if row is None:
            row = model(code=c.code)
            session.add(row)
            created += 1
        else:
            updated += 1
        row.name = c.name
        row.source = source
        row.bureau_id = c.parent.bureau_id
        if level == "street":
            row.district_id = c.parent.id
        elif level == "community":
            row.street_id = c.parent.id
            row.district_id = c.parent.district_id
        else:
            row.community_id = c.parent.id
            row.district_id = c.parent.district_id
        set_geometry(row, c.geom)
    session.flush()
    return ImportSummary(
        level=level,
        source=source,
        created=created,
        updated=updated,
        parent_codes=sorted(p.code for p in parents.values()),
        replaced=replaced,
    )
