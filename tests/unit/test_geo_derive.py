"""geo.derive.derive_areas: districts from labelled points tile the covered area, follow the labels, ignore noise."""

from __future__ import annotations

import random

import pytest
import shapely
from shapely.geometry import Point

from chengguan.geo.derive import derive_areas
from chengguan.shared.errors import ValidationFailed

LON0, LAT0 = -71.10, 42.30  # about Boston; 0.01° ≈ 820 m east, 1,110 m north


Points = list[tuple[float, float, str]]


def _cluster(rng: random.Random, label: str, lon: float, lat: float, n: int, spread: float = 0.02) -> Points:
    return [(lon + rng.uniform(0, spread), lat + rng.uniform(0, spread), label) for _ in range(n)]


def _two_side_by_side(seed: int = 1) -> Points:
    """West (x < LON0+0.02) labelled 西, east labelled 东: two touching 1.6 km × 2.2 km blocks."""
    rng = random.Random(seed)
    return _cluster(rng, "西", LON0, LAT0, 600) + _cluster(rng, "东", LON0 + 0.02, LAT0, 600)


def test_each_label_gets_an_area_that_holds_its_points_and_no_two_overlap() -> None:
    points = _two_side_by_side()
    areas = {a.label: a for a in derive_areas(points)}
    assert set(areas) == {"西", "东"}
    west, east = areas["西"].geom, areas["东"].geom
    assert west.is_valid and east.is_valid
    assert west.intersection(east).area < 1e-9  # they may share an edge, never an area
    inside_own = sum(areas[label].geom.covers(Point(lon, lat)) for lon, lat, label in points)
    assert inside_own / len(points) > 0.97  # only points on the border cell may fall to the neighbour
    assert all(west.covers(Point(x, y)) or east.covers(Point(x, y)) for x, y, _ in points)  # no gaps
    assert areas["西"].points == 600 and areas["东"].points == 600


def test_the_outline_follows_the_data_with_a_margin_and_leaves_far_places_out() -> None:
    areas = derive_areas(_two_side_by_side(), reach_m=500)
    union = shapely.union_all([a.geom for a in areas])
    assert union.covers(Point(LON0 - 0.003, LAT0 + 0.01))  # ~250 m west of the westmost points
    assert not union.covers(Point(LON0 - 0.05, LAT0 + 0.01))  # 4 km out: nobody's district
    assert not union.covers(Point(LON0 + 0.02, LAT0 + 0.2))  # 20 km north


def test_a_cluster_of_mislabelled_points_does_not_make_an_island() -> None:
    rng = random.Random(3)
    points = _cluster(rng, "西", LON0, LAT0, 2000, spread=0.04) + _cluster(rng, "东", LON0 + 0.04, LAT0, 2000, 0.04)
    stray = (LON0 + 0.01, LAT0 + 0.02)
    points += [(stray[0] + rng.uniform(0, 0.0005), stray[1] + rng.uniform(0, 0.0005), "东") for _ in range(15)]
    areas = {a.label: a for a in derive_areas(points, cell_m=250)}
    assert areas["西"].geom.covers(Point(*stray))
    assert not areas["东"].geom.covers(Point(*stray))
    assert len(areas["东"].geom.geoms) == 1


def test_rare_and_empty_labels_are_left_out_and_the_result_is_deterministic() -> None:
    points = _two_side_by_side() + [(LON0 + 0.01, LAT0 + 0.01, "稀少")] * 5 + [(LON0, LAT0, "")] * 50
    first = derive_areas(points, min_points=20)
    assert [a.label for a in first] == ["东", "西"]  # largest first, then by name
    again = derive_areas(list(reversed(points)), min_points=20)
    assert all(a.geom.equals(b.geom) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize(("cell_m", "reach_m", "concavity"), [(5, 500, 0.3), (250, -1, 0.3), (250, 500, 2)])
def test_parameters_out_of_range_are_refused(cell_m: float, reach_m: float, concavity: float) -> None:
    with pytest.raises(ValidationFailed):
        derive_areas(_two_side_by_side(), cell_m=cell_m, reach_m=reach_m, concavity=concavity)


def test_no_labelled_points_is_refused_readably() -> None:
    with pytest.raises(ValidationFailed, match="没有足够的带标签坐标"):
        derive_areas([(LON0, LAT0, "")] * 100)
