"""A jurisdiction whose boundaries come from its own data: districts derived from where reports were made.

A city that has no boundary file yet (or a city outside China, such as the Boston and Los Angeles replays in
``bench/intake_replay.py``) still has years of located reports, each labelled with the neighbourhood or council
district it belongs to. ``derive_areas`` turns those labelled points into districts that tile the area the
reports cover, without gaps or overlaps between them:

1. the points are binned into square cells (``cell_m``, in a local metric projection around the data); each
   cell takes the label that most points in it and its eight neighbours carry (a 3×3 majority, which removes
   most of the noise of mislabelled points);
2. the city's outline is the union of each label's concave hull of its cells, buffered by ``reach_m``;
3. the cells' Voronoi regions, merged per label and clipped to the outline, are the districts.

``create_jurisdiction`` stores them: a city bureau, one brigade per district, the districts and generated
streets, communities and unit grids below them (labelled ``source=generated``, as for the demo city). Codes
are 6-digit like GB/T 2260 codes, under a two-digit prefix of the caller's choice outside GB/T 2260's
province codes (the replays use 99), so they never clash with a Chinese district. Functions flush, never
commit.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely import affinity
from shapely.geometry import MultiPoint, MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo.models import District
from chengguan.geo.service import generate_subdivisions
from chengguan.geo.store import set_geometry
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau
from chengguan.shared.errors import ValidationFailed

SOURCE_DERIVED = "derived:points"
MAX_AREAS = 99  # two digits of a district code under the city's prefix


@dataclass(frozen=True)
class DerivedArea:
    label: str
    geom: MultiPolygon  # WGS84
    points: int  # labelled points the area was derived from
    cells: int  # cells whose majority label it is


@dataclass(frozen=True)
class _Frame:
    """A local equirectangular projection: metres east and north of (lon0, lat0)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return rules.METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(self.lat0))

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        scaled = affinity.scale(geom, xfact=1 / self.kx, yfact=1 / rules.METRES_PER_DEGREE_LAT, origin=(0, 0))
        return affinity.translate(scaled, xoff=self.lon0, yoff=self.lat0)


def derive_areas(
    points: Iterable[tuple[float, float, str]],
    *,
    cell_m: float = 250.0,
    reach_m: float = 500.0,
    concavity: float = 0.3,
    min_points: int = 20,
) -> list[DerivedArea]:
    """Districts from labelled WGS84 points ``(lon, lat, label)``, largest first; see the module docstring.

    Labels with fewer than ``min_points`` points are left out (their points still count for nobody).
    Deterministic: the same points give the same areas.
    """
    if not 10 <= cell_m <= 10_000 or not 0 <= reach_m <= 50_000 or not 0 <= concavity <= 1:
        raise ValidationFailed("网格边长应在 10–10000 米，外扩距离 0–50000 米，凹度 0–1")
    rows = [(lon, lat, label) for lon, lat, label in points if label and math.isfinite(lon) and math.isfinite(lat)]
    per_label = Counter(label for _, _, label in rows)
    keep = {label for label, n in per_label.items() if n >= min_points}
    rows = [r for r in rows if r[2] in keep]
    if len(keep) < 1:
        raise ValidationFailed(f"没有足够的带标签坐标（每个区域至少 {min_points} 个点）")
    if len(keep) > MAX_AREAS:
        raise ValidationFailed(f"区域最多 {MAX_AREAS} 个，数据中有 {len(keep)} 个")
    lons, lats = [r[0] for r in rows], [r[1] for r in rows]
    frame = _Frame(lon0=(min(lons) + max(lons)) / 2, lat0=(min(lats) + max(lats)) / 2)  # whatever the order
    kx, ky = frame.kx, rules.METRES_PER_DEGREE_LAT
    counts: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for lon, lat, label in rows:
        counts[(math.floor((lon - frame.lon0) * kx / cell_m), math.floor((lat - frame.lat0) * ky / cell_m))][label] += 1
    cells = sorted(counts)
    labels: list[str] = []
    for i, j in cells:
        around: Counter[str] = Counter()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if (near := counts.get((i + di, j + dj))) is not None:
                    around.update(near)
        best = max(around.values())
        labels.append(min(label for label, n in around.items() if n == best))  # ties: the first name
    centres = [((i + 0.5) * cell_m, (j + 0.5) * cell_m) for i, j in cells]
    by_label: dict[str, list[int]] = defaultdict(list)
    for k, label in enumerate(labels):
        by_label[label].append(k)

    hulls = [
        shapely.concave_hull(MultiPoint([centres[k] for k in ks]), ratio=concavity).buffer(reach_m)
        for ks in by_label.values()
    ]
    outline = shapely.union_all(hulls)
    if len(centres) == 1:
        regions = [outline]
    else:
        voronoi = shapely.voronoi_polygons(MultiPoint(centres), extend_to=outline.envelope, ordered=True)
        regions = list(voronoi.geoms)
    out: list[DerivedArea] = []
    for label, ks in by_label.items():
        merged = shapely.union_all([regions[k] for k in ks]).intersection(outline)
        geom = rules.to_multipolygon(frame.to_wgs84(merged))
        if geom.is_empty:
            continue
        out.append(DerivedArea(label=label, geom=geom, points=per_label[label], cells=len(ks)))
    return sorted(out, key=lambda a: (-a.points, a.label))


@dataclass(frozen=True)
class DistrictSpec:
    """A district of a new jurisdiction: its derived area, its name for people and its case-number prefix."""

    area: DerivedArea
    name: str
    case_prefix: str


@dataclass(frozen=True)
class Jurisdiction:
    city: Bureau
    brigades: dict[str, Bureau]  # area label -> its brigade
    districts: dict[str, District]  # area label -> its district
    grids: int


def create_jurisdiction(
    session: Session,
    *,
    code: str,
    name: str,
    admin_prefix: str,
    case_prefix: str,
    timezone: str,
    districts: Sequence[DistrictSpec],
    streets: int = 3,
    communities_per_street: int = 3,
    grid_size_m: float = 1000.0,
) -> Jurisdiction:
    """A city bureau ``code`` with one brigade and one district per spec, in the given order.

    The city's admin code is ``<admin_prefix>0100``; district ``k`` (from 1) is ``<admin_prefix>01<k:02d>``,
    its brigade ``<code>-<k:02d>``. Streets, communities and unit grids are generated inside each district.
    """
    if not (len(admin_prefix) == 2 and admin_prefix.isdigit()):
        raise ValidationFailed("行政区划前缀应为两位数字")
    if not 1 <= len(districts) <= MAX_AREAS:
        raise ValidationFailed(f"区域数应在 1–{MAX_AREAS} 之间")
    city_code = f"{admin_prefix}0100"
    city = identity.create_bureau(
        session, code=code, name=name, kind="city", admin_code=city_code, case_prefix=case_prefix
    )
    city.timezone = timezone
    brigades: dict[str, Bureau] = {}
    rows: dict[str, District] = {}
    grids = 0
    for k, spec in enumerate(districts, 1):
        district_code = f"{admin_prefix}01{k:02d}"
        brigade = identity.create_bureau(
            session,
            code=f"{code}-{k:02d}",
            name=f"{spec.name}执法大队",
            kind="district",
            admin_code=district_code,
            case_prefix=spec.case_prefix,
            parent=city,
        )
        brigade.timezone = timezone
        row = District(
            code=district_code, city_code=city_code, bureau_id=brigade.id, name=spec.name, source=SOURCE_DERIVED
        )
        set_geometry(row, spec.area.geom)
        session.add(row)
        session.flush()
        grids += generate_subdivisions(
            session,
            district=row,
            streets=streets,
            communities_per_street=communities_per_street,
            grid_size_m=grid_size_m,
        ).grids
        brigades[spec.area.label] = brigade
        rows[spec.area.label] = row
    session.flush()
    return Jurisdiction(city=city, brigades=brigades, districts=rows, grids=grids)
