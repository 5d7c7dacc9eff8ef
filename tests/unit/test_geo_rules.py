"""Pure rules of the geo domain: codes, seeds, Voronoi split, unit-grid cutting."""

from __future__ import annotations

import itertools
import random

import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from chengguan.geo import rules

# A concave (L-shaped) "district" about 3 km × 3 km near Hangzhou.
L_SHAPE = Polygon(
    [(120.10, 30.20), (120.13, 30.20), (120.13, 30.215), (120.115, 30.215), (120.115, 30.23), (120.10, 30.23)]
)


def random_points_in(area: BaseGeometry, n: int, seed: int = 7) -> list[Point]:
    return rules.random_points_in(area, n, random.Random(seed))


# ------------------------------------------------------------------------------------------- codes


def test_gb_property_strips_the_country_prefix() -> None:
    assert rules.district_code_from_gb("156330106") == "330106"
    assert rules.district_code_from_gb("330106") == "330106"
    with pytest.raises(ValueError, match="GB/T 2260"):
        rules.district_code_from_gb("1563301")


def test_city_membership_by_first_four_digits() -> None:
    assert rules.is_city_code("330100")
    assert not rules.is_city_code("330000")  # a province
    assert not rules.is_city_code("330106")
    assert rules.in_city("330106", "330100")
    assert rules.in_city("330182", "330100")
    assert not rules.in_city("330100", "330100")
    assert not rules.in_city("330206", "330100")


def test_child_codes_follow_the_cjt213_layers() -> None:
    street = rules.child_code("330106", 1, "street")
    community = rules.child_code(street, 12, "community")
    grid = rules.child_code(community, 345, "grid")
    assert (street, community, grid) == ("330106001", "330106001012", "3301060010120345")
    assert len(grid) == rules.CODE_LENGTH["grid"] == 16
    assert rules.parent_code_of("grid", grid) == community
    assert rules.parent_code_of("community", community) == street
    with pytest.raises(ValueError, match="does not fit"):
        rules.child_code("330106", 1000, "street")
    with pytest.raises(ValueError, match="does not fit"):
        rules.child_code("330106001", 0, "community")


@pytest.mark.parametrize(
    ("level", "code", "parent", "fragment"),
    [
        ("street", "33010600A", "330106", "数字"),
        ("street", "3301060011", "330106", "9 位"),
        ("street", "330105001", "330106", "前缀"),
        ("street", "330106000", "330106", "全为 0"),
        ("community", "330106001001", "330106002", "前缀"),
        ("grid", "330106001001001", "330106001001", "16 位"),
    ],
)
def test_bad_codes_are_explained(level: rules.Level, code: str, parent: str, fragment: str) -> None:
    reason = rules.check_code(level, code, parent)
    assert reason is not None
    assert fragment in reason


def test_good_codes_pass() -> None:
    assert rules.check_code("street", "330106001", "330106") is None
    assert rules.check_code("grid", "3301060010010001", "330106001001") is None
    assert rules.check_code("street", "330106001", None) is None


# ---------------------------------------------------------------------------------------- geometry


def test_to_multipolygon_keeps_only_areas() -> None:
    mixed = GeometryCollection([box(0, 0, 1, 1), LineString([(2, 2), (3, 3)]), Point(5, 5), box(4, 4, 5, 5)])
    mp = rules.to_multipolygon(mixed)
    assert isinstance(mp, MultiPolygon)
    assert len(mp.geoms) == 2
    assert mp.area == pytest.approx(2.0)
    assert rules.to_multipolygon(LineString([(0, 0), (1, 1)])).is_empty


def test_polygon_problems_are_named() -> None:
    bowtie = Polygon([(120.0, 30.0), (120.1, 30.1), (120.1, 30.0), (120.0, 30.1)])
    problem = rules.polygon_problem(bowtie)
    assert problem is not None
    assert "不合法" in problem
    projected = box(500_000, 3_300_000, 501_000, 3_301_000)
    assert "投影" in (rules.polygon_problem(projected) or "")
    assert "几何类型" in (rules.polygon_problem(LineString([(0, 0), (1, 1)])) or "")
    assert rules.polygon_problem(L_SHAPE) is None


def test_transform_coords_moves_every_vertex_and_keeps_holes() -> None:
    donut = box(0, 0, 10, 10).difference(box(4, 4, 6, 6))
    moved = rules.transform_coords(donut, lambda x, y: (x + 100, y - 1))
    assert isinstance(moved, Polygon)
    assert moved.bounds == (100, -1, 110, 9)
    assert len(moved.interiors) == 1
    assert moved.area == pytest.approx(donut.area)


def test_metres_to_degrees_at_hangzhou_latitude() -> None:
    dlon, dlat = rules.metres_to_degrees(1000, 30.25)
    assert dlat == pytest.approx(0.009044, rel=1e-3)
    assert dlon == pytest.approx(0.010400, rel=2e-3)  # longitude degrees are shorter by cos(30.25°)


def test_label_point_is_inside_concave_shapes() -> None:
    c_shape = box(0, 0, 10, 10).difference(box(2, 2, 10, 8))  # centroid falls in the notch
    x, y = rules.label_point(c_shape)
    assert c_shape.covers(Point(x, y))


def test_round_coords() -> None:
    assert rules.round_coords([[(120.1234567891, 30.1)]]) == [[[120.123457, 30.1]]]


# ---------------------------------------------------------------------------------- seeds and voronoi


def test_seeds_are_inside_distinct_spread_and_deterministic() -> None:
    seeds = rules.spread_seeds(L_SHAPE, 6, seed=1)
    assert len(seeds) == 6
    assert all(L_SHAPE.contains(p) for p in seeds)
    assert len({(p.x, p.y) for p in seeds}) == 6
    # Well spread: no two seeds closer than a fifth of the side of an equal-area square per seed.
    typical = (L_SHAPE.area / 6) ** 0.5
    assert min(a.distance(b) for a, b in itertools.combinations(seeds, 2)) > typical / 5
    assert [(p.x, p.y) for p in rules.spread_seeds(L_SHAPE, 6, seed=1)] == [(p.x, p.y) for p in seeds]
    assert [(p.x, p.y) for p in rules.spread_seeds(L_SHAPE, 6, seed=2)] != [(p.x, p.y) for p in seeds]


def test_voronoi_split_tiles_the_area() -> None:
    pieces = rules.voronoi_split(L_SHAPE, rules.spread_seeds(L_SHAPE, 5))
    assert len(pieces) == 5
    assert sum(p.area for p in pieces) == pytest.approx(L_SHAPE.area, rel=1e-9)
    for a, b in itertools.combinations(pieces, 2):
        assert a.intersection(b).area < 1e-12
    assert shapely.union_all(pieces).symmetric_difference(L_SHAPE).area < 1e-12
    # Roughly equal areas: no piece is less than a third of the mean.
    assert min(p.area for p in pieces) > L_SHAPE.area / 5 / 3


def test_voronoi_split_with_one_seed_is_the_area() -> None:
    (only,) = rules.voronoi_split(L_SHAPE, [Point(120.105, 30.205)])
    assert only.symmetric_difference(L_SHAPE).area == pytest.approx(0.0, abs=1e-15)


# ------------------------------------------------------------------------------------------ grids


def test_lattice_cells_share_exact_edges() -> None:
    lattice = rules.Lattice.for_area(L_SHAPE, 300)
    a, b = lattice.cell(3, 4), lattice.cell(4, 4)
    assert a.intersection(b).length == pytest.approx(lattice.dlat)
    assert a.intersection(b).area == 0


def test_grids_partition_a_set_of_neighbouring_areas() -> None:
    """Grids cut from areas that tile a district tile the district: each point is in exactly one grid."""
    lattice = rules.Lattice.for_area(L_SHAPE, 400)
    parts = rules.voronoi_split(L_SHAPE, rules.spread_seeds(L_SHAPE, 4))
    grids = [g for part in parts for g in rules.cut_grids(part, lattice)]
    assert sum(g.area for g in grids) == pytest.approx(L_SHAPE.area, rel=1e-9)
    tree = shapely.STRtree(grids)
    for p in random_points_in(L_SHAPE, 2000):
        hits = [i for i in tree.query(p) if grids[i].covers(p)]
        assert len(hits) == 1, (p, hits)


def test_slivers_are_merged_not_dropped() -> None:
    lattice = rules.Lattice.for_area(L_SHAPE, 400)
    # An area whose east edge sits just 20 m past a lattice line: a column of slivers.
    x_edge = lattice.x(2) + 20 / (111_320 * 0.864)
    area = box(lattice.x(0), lattice.y(0), x_edge, lattice.y(3))
    grids = rules.cut_grids(area, lattice, sliver_fraction=0.15)
    assert len(grids) == 6  # 2 × 3 full cells; the 3 slivers joined their western neighbours
    assert sum(g.area for g in grids) == pytest.approx(area.area, rel=1e-9)
    assert min(g.area for g in grids) >= lattice.cell_area * 0.999


def test_tiny_area_becomes_one_grid() -> None:
    lattice = rules.Lattice.for_area(L_SHAPE, 500)
    tiny = box(lattice.x(1) - 0.0001, lattice.y(1) - 0.0001, lattice.x(1) + 0.0001, lattice.y(1) + 0.0001)
    grids = rules.cut_grids(tiny, lattice)
    assert len(grids) == 1
    assert grids[0].area == pytest.approx(tiny.area)


def test_grid_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        rules.Lattice.for_area(L_SHAPE, 0)
