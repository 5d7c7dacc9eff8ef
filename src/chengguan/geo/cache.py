"""An in-process copy of the boundaries for ``locate``: every district, street, community and unit grid as a
prepared Shapely geometry in one STRtree per level, so that placing a point is a lookup in memory instead of a
round trip to the database. The database (PostGIS on PostgreSQL) stays the source of truth:

- the copy is loaded once per database and process (the demo city's 15,000 areas in well under a second);
- a session that changed areas (an ORM flush or an ``UPDATE``/``DELETE`` of an area table) is answered from the
  database until it ends, and its commit drops the copy, so this process sees its own imports at once;
- changes made by other processes are found by a cheap signature (row counts, highest ids, the sum of the
  bounding boxes, the districts' bureaus) asked at most every ``CHECK_SECONDS``;
- only sessions bound to an engine use the copy: a session bound to a connection (an outer transaction that
  someone else will roll back, as in the tests) always asks the database.

The answer is the one ``locate`` gives from the database: among the districts of the scope that cover the point
the lowest code, then the lowest-coded street of that district covering it, and so on down to the unit grid.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from chengguan.db import WriteWatch
from chengguan.geo.models import Community, District, Street, UnitGrid

CHECK_SECONDS = 2.0  # how long a change made by another process may go unseen
_MODELS = (District, Street, Community, UnitGrid)


@dataclass(frozen=True)
class Area:
    id: int
    code: str
    name: str
    bureau_id: int


@dataclass(frozen=True)
class _Level:
    areas: tuple[Area, ...]  # sorted by code: the first that covers the point wins
    parents: np.ndarray  # the parent's id per area (district: 0)
    geoms: np.ndarray  # prepared geometries
    tree: STRtree
    position: dict[int, int]  # area id → index

    def covering(self, point: shapely.Point, parent: int | None = None) -> list[int]:
        """Indexes (ascending, so by code) of the areas that cover the point, under ``parent`` if given."""
        hits = self.tree.query(point)
        if parent is not None:
            hits = hits[self.parents[hits] == parent]
        if len(hits) == 0:
            return []
        hits = hits[shapely.covers(self.geoms[hits], point)]
        return sorted(int(i) for i in hits)


@dataclass(frozen=True)
class Areas:
    signature: tuple[Any, ...]
    checked_at: float
    levels: tuple[_Level, _Level, _Level, _Level]  # district, street, community, grid


_CACHE: dict[str, Areas] = {}
_LOCK = threading.Lock()
_generation = 0  # counts the invalidations, for caches built on this one (the gazetteer's names)


def invalidate() -> None:
    """Forget every copy (the next ``locate`` loads the boundaries again)."""
    global _generation
    with _LOCK:
        _CACHE.clear()
        _generation += 1


def generation() -> int:
    return _generation


def _signature(session: Session) -> tuple[Any, ...]:
    parts: list[Any] = []
    for m in _MODELS:
        parts += [
            select(func.count(m.id)).scalar_subquery(),
            select(func.max(m.id)).scalar_subquery(),
            select(func.sum(m.min_lon + m.min_lat + m.max_lon + m.max_lat)).scalar_subquery(),
        ]
    parts.append(select(func.sum(District.id * District.bureau_id)).scalar_subquery())
    row = session.execute(select(*parts)).one()
    return tuple(round(float(v), 4) if isinstance(v, float) else v for v in row)


def _load_level(session: Session, model: Any, parent: Any | None) -> _Level:
    pg = session.get_bind().dialect.name == "postgresql"
    raw = func.ST_AsBinary(model.geom) if pg else type_coerce(model.geom, String())
    parent_col = parent if parent is not None else model.id * 0
    rows = session.execute(
        select(model.id, model.code, model.name, model.bureau_id, parent_col, raw).order_by(model.code)
    ).all()
    raws = np.asarray([bytes(r[5]) if pg else str(r[5]) for r in rows], dtype=object)
    geoms = np.asarray(shapely.from_wkb(raws) if pg else shapely.from_wkt(raws), dtype=object)
    shapely.prepare(geoms)
    return _Level(
        areas=tuple(Area(int(r[0]), r[1], r[2], int(r[3])) for r in rows),
        parents=np.asarray([int(r[4]) for r in rows], dtype=np.int64),
        geoms=geoms,
        tree=STRtree(geoms),
        position={int(r[0]): i for i, r in enumerate(rows)},
    )


def _load(session: Session, signature: tuple[Any, ...]) -> Areas:
    return Areas(
        signature=signature,
        checked_at=time.monotonic(),
        levels=(
            _load_level(session, District, None),
            _load_level(session, Street, Street.district_id),
            _load_level(session, Community, Community.street_id),
            _load_level(session, UnitGrid, UnitGrid.community_id),
        ),
    )


def usable(session: Session) -> bool:
    """Whether this session may be answered from the copy (see the module's rules)."""
    return isinstance(session.get_bind(), Engine) and not _WRITES.dirty(session)


def areas(session: Session) -> Areas:
    """The copy for the session's database, loaded or checked as needed. Call only when ``usable``."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _LOCK:
        cached = _CACHE.get(key)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < CHECK_SECONDS:
        return cached
    signature = _signature(session)
    if cached is not None and cached.signature == signature:
        fresh = Areas(signature, now, cached.levels)
    else:
        fresh = _load(session, signature)
    with _LOCK:
        _CACHE[key] = fresh
    return fresh


LEVELS = ("district", "street", "community", "grid")


def geometry(session: Session, *, level: str, area_id: int) -> Any | None:
    """The area's geometry from the copy (None when it has no such area). Call only when ``usable``."""
    found = areas(session).levels[LEVELS.index(level)]
    i = found.position.get(area_id)
    return None if i is None else found.geoms[i]


# ---- who changed areas ------------------------------------------------------------------------------------


_WRITES = WriteWatch("geo-areas", _MODELS, on_commit=invalidate)
