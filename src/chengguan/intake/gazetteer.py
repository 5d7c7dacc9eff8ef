"""Address text → a place, from the platform's own boundaries: the names of its districts, 街道/乡镇 and
社区/村 (in the demo city real names over generated shapes, see ``geo.names``).

``search`` finds every named area the text mentions, ``lookup`` the best of them: the most specific area
whose parents agree with the rest of the text (``西湖区西溪街道文三社区`` → 文三社区 of 西溪街道 of 西湖区). A
name matches in full, or by its stem without the 街道/镇/乡/社区/村 ending (``石灰桥菜场`` mentions 石灰桥社区)
when the stem is not also a district's stem (``西湖`` names the lake as often as 西湖区 or 西湖街道) and has
three characters or more — a two-character stem (``门口`` of 门口村) only where the text also names the area's
district or 街道. Districts match by their full name only. House numbers and road names are not
read: the answer is the area's label point.

``disagreement`` questions a pin that lies more than ``DISAGREE_M`` outside the area the address names. Where
that area's shape is generated (only its name and district are real), the pin is compared with the district.

The names are read once per database and kept in memory (about 3,400 in the demo city; matching them is a
substring test each, well under a millisecond); a cheap query on the row counts and highest ids of the three
tables reloads them when areas are added or removed. It is asked on every call, or — for sessions that may use
the in-process copy of the boundaries (``geo.cache``), which also supplies the areas' shapes — at most every
``geo.cache.CHECK_SECONDS`` and whenever that copy is dropped. An area renamed in place is seen after
``CACHE_SECONDS`` or ``invalidate()``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.geo import cache as area_cache
from chengguan.geo.models import Community, District, Street
from chengguan.geo.store import SOURCE_GENERATED
from chengguan.intake.dedupe import distance_m

# A pin this far from the area the address names is questioned rather than accepted.
DISAGREE_M = 3000.0
MAX_TEXT = 200
_LEVEL_RANK = {"district": 1, "street": 2, "community": 3}
LEVEL_ZH = {"district": "区县", "street": "街道/乡镇", "community": "社区/村"}


@dataclass(frozen=True)
class Place:
    name: str  # the area's own name, e.g. 文三社区
    level: str  # district | street | community
    lon: float  # the area's label point (WGS84)
    lat: float
    geom: BaseGeometry | None = None
    code: str = ""
    full_name: str = ""  # with its parents: 西湖区西溪街道文三社区
    district_id: int | None = None
    street_id: int | None = None
    matched: str = ""  # the part of the text that named it
    generated: bool = False  # only the name and the district are real; the shape is generated

    @property
    def precision(self) -> str:
        if self.generated:
            return f"{LEVEL_ZH[self.level]}名称真实，位置为示意（精确到区县）"
        return f"精确到{LEVEL_ZH[self.level]}"


@dataclass(frozen=True)
class _Entry:
    level: str
    id: int
    code: str
    name: str
    stem: str | None  # the name without its ending, when that is a usable stem
    district_id: int
    street_id: int | None
    bureau_id: int
    lon: float
    lat: float
    generated: bool


@dataclass(frozen=True)
class _Index:
    signature: tuple[Any, ...]
    loaded_at: float
    entries: tuple[_Entry, ...]
    by_id: dict[tuple[str, int], _Entry]
    checked_at: float = 0.0
    generation: int = -1  # of geo.cache when the signature was last checked


_ENDINGS = {"street": ("街道", "镇", "乡"), "community": ("社区", "村")}
_SHORT_STEM = 3  # stems shorter than this need a parent named in the text too
_OTHER_STEMS = frozenset({"杭州", "浙江"})  # the city and the province: mentioned in every full address
_CACHE: dict[str, _Index] = {}
_LOCK = threading.Lock()
CACHE_SECONDS = 300.0  # the longest a renamed area (same ids, same counts) goes unseen


def invalidate() -> None:
    """Forget the names read so far (after changing boundaries in place)."""
    with _LOCK:
        _CACHE.clear()


def _stem_of(name: str, level: str, district_stems: frozenset[str]) -> str | None:
    for ending in _ENDINGS.get(level, ()):
        if name.endswith(ending) and len(name) - len(ending) >= 2:
            stem = name[: -len(ending)]
            return None if stem in district_stems else stem
    return None


def _signature(session: Session) -> tuple[Any, ...]:
    """Cheap to ask (indexes and primary keys): changes whenever areas are added or removed."""
    counts = [select(func.count(m.id)).scalar_subquery() for m in (District, Street, Community)]
    maxima = [select(func.max(m.id)).scalar_subquery() for m in (District, Street, Community)]
    return tuple(session.execute(select(*counts, *maxima)).one())


def _load(session: Session, signature: tuple[Any, ...]) -> _Index:
    districts = session.execute(
        select(
            District.id, District.code, District.name, District.bureau_id, District.centroid_lon, District.centroid_lat
        )
    ).all()
    district_stems = frozenset(n[:-1] for _, _, n, *_ in districts if len(n) > 2 and n[-1] in "区县市") | _OTHER_STEMS
    bureau_of = {d.id: d.bureau_id for d in districts}
    entries = [
        _Entry("district", d.id, d.code, d.name, None, d.id, None, d.bureau_id, d.centroid_lon, d.centroid_lat, False)
        for d in districts
    ]
    for level, model in (("street", Street), ("community", Community)):
        street_col = model.street_id if model is Community else model.id
        rows = session.execute(
            select(
                model.id,
                model.code,
                model.name,
                model.district_id,
                street_col,
                model.centroid_lon,
                model.centroid_lat,
                model.source,
            )
        ).all()
        entries.extend(
            _Entry(
                level,
                r[0],
                r[1],
                r[2],
                _stem_of(r[2], level, district_stems),
                r[3],
                r[4],
                bureau_of.get(r[3], -1),
                r[5],
                r[6],
                r[7] == SOURCE_GENERATED,
            )
            for r in rows
        )
    return _Index(
        signature=signature,
        loaded_at=time.monotonic(),
        entries=tuple(entries),
        by_id={(e.level, e.id): e for e in entries},
    )


def _index(session: Session) -> _Index:
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _LOCK:
        cached = _CACHE.get(key)
    now, generation = time.monotonic(), area_cache.generation()
    if (
        cached is not None
        and area_cache.usable(session)
        and cached.generation == generation
        and now - cached.checked_at < area_cache.CHECK_SECONDS
        and now - cached.loaded_at < CACHE_SECONDS
    ):
        return cached
    signature = _signature(session)
    if cached is not None and cached.signature == signature and now - cached.loaded_at < CACHE_SECONDS:
        fresh = replace(cached, checked_at=now, generation=generation)
    else:
        fresh = replace(_load(session, signature), checked_at=now, generation=generation)
    with _LOCK:
        _CACHE[key] = fresh
    return fresh


@dataclass(frozen=True)
class _Hit:
    entry: _Entry
    matched: str
    full: bool
    agree: int = 0


def _ranked(index: _Index, text: str, bureau_ids: list[int] | None) -> list[_Hit]:
    """The areas ``text`` names, best first: parents named in the text too, a full name, a lower level, a
    longer match."""
    scope = None if bureau_ids is None else frozenset(bureau_ids)
    hits: list[_Hit] = []
    for e in index.entries:
        if scope is not None and e.bureau_id not in scope:
            continue
        if e.name in text:
            hits.append(_Hit(e, e.name, True))
        elif e.stem is not None and e.stem in text:
            hits.append(_Hit(e, e.stem, False))
    districts = {h.entry.id for h in hits if h.entry.level == "district"}
    streets = {h.entry.id for h in hits if h.entry.level == "street"}
    ranked = [
        _Hit(
            h.entry,
            h.matched,
            h.full,
            int(h.entry.level != "district" and h.entry.district_id in districts)
            + int(h.entry.level == "community" and h.entry.street_id in streets),
        )
        for h in hits
    ]
    # a two-character stem alone is too often an ordinary word (门口 of 门口村, 时代 of 时代社区): it counts only
    # where the text also names the area's district or 街道
    ranked = [h for h in ranked if h.full or len(h.matched) >= _SHORT_STEM or h.agree]
    ranked.sort(key=lambda h: (-h.agree, not h.full, -_LEVEL_RANK[h.entry.level], -len(h.matched), h.entry.code))
    return ranked


def _place(session: Session, index: _Index, hit: _Hit, *, with_geom: bool) -> Place:
    e = hit.entry
    district = index.by_id.get(("district", e.district_id))
    street = index.by_id.get(("street", e.street_id)) if e.street_id is not None else None
    parts = [district.name if district else ""]
    if e.level == "community" and street is not None:
        parts.append(street.name)
    if e.level != "district":
        parts.append(e.name)
    geom = None
    if with_geom and area_cache.usable(session):  # the shapes are in memory already
        level, area_id = ("district", e.district_id) if e.generated else (e.level, e.id)
        geom = area_cache.geometry(session, level=level, area_id=area_id)
    elif with_geom:
        if e.generated:  # only the name and the district are real: the district is what a pin is compared with
            geom = session.scalar(select(District.geom).where(District.id == e.district_id))
        else:
            model: Any = {"district": District, "street": Street, "community": Community}[e.level]
            geom = session.scalar(select(model.geom).where(model.id == e.id))
    return Place(
        name=e.name,
        level=e.level,
        lon=e.lon,
        lat=e.lat,
        geom=geom,
        code=e.code,
        full_name="".join(parts),
        district_id=e.district_id,
        street_id=e.street_id,
        matched=hit.matched,
        generated=e.generated,
    )


def _clean(address: str) -> str:
    return "".join(address.split())[:MAX_TEXT]


def search(session: Session, *, text: str, bureau_ids: list[int] | None = None, limit: int = 10) -> list[Place]:
    """Every area the text names, best first (at most ``limit``)."""
    cleaned = _clean(text)
    if len(cleaned) < 2:
        return []
    index = _index(session)
    return [_place(session, index, h, with_geom=False) for h in _ranked(index, cleaned, bureau_ids)[:limit]]


def lookup(session: Session, *, address: str, bureau_ids: list[int] | None = None) -> Place | None:
    """The best area ``address`` names (see the module's rules), with the geometry a pin is compared with."""
    cleaned = _clean(address)
    if len(cleaned) < 2:
        return None
    index = _index(session)
    ranked = _ranked(index, cleaned, bureau_ids)
    return _place(session, index, ranked[0], with_geom=True) if ranked else None


def pin_distance_m(place: Place, lon: float, lat: float) -> float:
    """How far the pin lies outside the place's area (0 inside it); from its label point when it has none."""
    if place.geom is not None:
        nearest = nearest_points(place.geom, Point(lon, lat))[0]
        return distance_m(lon, lat, nearest.x, nearest.y)
    return distance_m(lon, lat, place.lon, place.lat)


def disagreement(session: Session, *, address: str, lon: float, lat: float) -> str | None:
    """A note when the pin lies more than DISAGREE_M from the area the address names; None otherwise."""
    place = lookup(session, address=address, bureau_ids=None)  # every area belongs to a district's bureau
    if place is None:
        return None
    d = pin_distance_m(place, lon, lat)
    if d <= DISAGREE_M:
        return None
    where = place.full_name or place.name
    return f"地图选点与填写的地址（{where}）相距约 {d / 1000:.1f} 公里，请核实位置"
