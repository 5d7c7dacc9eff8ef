"""WGS84 ↔ GCJ-02 at the edges. We store WGS84; Chinese map tiles and phone apps speak GCJ-02.

The offset algorithm is the public one implemented by ``fast_geocn.coord`` (accuracy ~0.5–1 m for
the inverse). Points outside mainland China pass through unchanged.
"""

from __future__ import annotations

from enum import StrEnum

from fast_geocn import coord as _coord


class CRS(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    return _coord.wgs84_to_gcj02(lon, lat)  # type: ignore[no-any-return]


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return _coord.gcj02_to_wgs84(lon, lat)  # type: ignore[no-any-return]


def to_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    if crs is CRS.WGS84:
        return lon, lat
    if crs is CRS.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    return _coord.bd09_to_wgs84(lon, lat)  # type: ignore[no-any-return]


def from_wgs84(lon: float, lat: float, crs: CRS) -> tuple[float, float]:
    if crs is CRS.WGS84:
        return lon, lat
    if crs is CRS.GCJ02:
        return wgs84_to_gcj02(lon, lat)
    return _coord.wgs84_to_bd09(lon, lat)  # type: ignore[no-any-return]
