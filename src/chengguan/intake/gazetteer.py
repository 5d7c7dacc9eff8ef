"""Address text → a place, from the platform's own boundaries (district, street, community names).

``lookup`` finds the most specific named area the address mentions and answers its label point; it does not
read house numbers. ``disagreement`` says when a pin lies far outside the area the typed address names.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.geo.models import Community, District, Street
from chengguan.intake.dedupe import distance_m

# A pin this far from the area the address names is questioned rather than accepted.
DISAGREE_M = 3000.0


@dataclass(frozen=True)
class Place:
    name: str
    level: str  # district | street | community
    lon: float  # the area's label point (WGS84)
    lat: float
    geom: BaseGeometry | None = None


def lookup(session: Session, *, address: str, bureau_ids: list[int]) -> Place | None:
    """The most specific area whose name appears in ``address`` (community, then street, then district)."""
    text = address.strip()
    if not text:
        return None
    district_ids = list(session.scalars(select(District.id).where(District.bureau_id.in_(bureau_ids))))
    for level, model, parent in (
        ("community", Community, Community.district_id),
        ("street", Street, Street.district_id),
        ("district", District, District.id),
    ):
        rows = session.execute(
            select(model.id, model.name, model.centroid_lon, model.centroid_lat).where(parent.in_(district_ids))
        ).all()
        hits = [r for r in rows if r.name and r.name in text]
        if hits:
            best = max(hits, key=lambda r: len(r.name))
            geom = session.scalar(select(model.geom).where(model.id == best.id))
            return Place(name=best.name, level=level, lon=best.centroid_lon, lat=best.centroid_lat, geom=geom)
    return None


def disagreement(session: Session, *, address: str, lon: float, lat: float) -> str | None:
    """A note when the pin lies more than DISAGREE_M from the area the address names; None otherwise."""
    place = lookup(session, address=address, bureau_ids=list(session.scalars(select(District.bureau_id))))
    if place is None:
        return None
    if place.geom is not None:  # how far the pin lies outside the named area (0 inside it)
        nearest = nearest_points(place.geom, Point(lon, lat))[0]
        d = distance_m(lon, lat, nearest.x, nearest.y)
    else:
        d = distance_m(lon, lat, place.lon, place.lat)
    if d <= DISAGREE_M:
        return None
    return f"地图选点与填写的地址（{place.name}）相距约 {d / 1000:.1f} 公里，请核实位置"
