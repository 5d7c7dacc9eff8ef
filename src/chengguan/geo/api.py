"""Boundaries for the map and point lookup."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from chengguan.geo import service as geo
from chengguan.http.deps import CurrentUser, Db
from chengguan.identity import access
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import OutsideArea

router = APIRouter(prefix="/api/v1/geo", tags=["辖区与网格"])


def _scope(db: Db, user: CurrentUser) -> list[int]:
    return access.city_scope_ids(db, bureau_id=user.bureau_id)


@router.get("/boundaries", summary="辖区边界 GeoJSON（WGS84）")
def boundaries(
    db: Db,
    user: CurrentUser,
    level: Literal["district", "street", "community", "grid"] = "district",
    simplify_m: Annotated[float, Query(ge=0, le=500)] = 30.0,
) -> dict[str, Any]:
    return geo.boundaries_geojson(db, bureau_ids=_scope(db, user), level=level, simplify_m=simplify_m)


@router.get("/locate", summary="坐标所在的区县、街道、社区和单元网格")
def locate(
    db: Db,
    user: CurrentUser,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: CRS = CRS.WGS84,
) -> dict[str, Any]:
    wlon, wlat = to_wgs84(lon, lat, crs)
    where = geo.locate(db, bureau_ids=_scope(db, user), lon=wlon, lat=wlat)
    if where is None:
        raise OutsideArea(f"坐标 ({lon:.6f}, {lat:.6f}) 不在本单位辖区内")
    return dict(where.__dict__)
