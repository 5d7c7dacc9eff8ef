"""The local gazetteer: real 街道/社区 names of the demo city (geo.names) and address text → place (intake.gazetteer),
with the pin/address reconciliation that questions a pin far from the place the address names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.geo import names
from chengguan.geo.models import Community, District, Street
from chengguan.geo.store import SOURCE_GENERATED, set_geometry
from chengguan.identity.models import Bureau
from chengguan.intake import gazetteer
from tests.personas import JIANDE_POINT, XIAOSHAN_POINT, xihu_spot

HANGZHOU = [
    "330102", "330105", "330106", "330108", "330109", "330110", "330111",
    "330112", "330113", "330114", "330122", "330127", "330182",
]  # fmt: skip


def test_committee_names_become_place_names() -> None:
    assert names.community_name("多福巷社区居委会") == "多福巷社区"
    assert names.community_name("振兴村委会") == "振兴村"
    assert names.community_name("振兴村村民委员会") == "振兴村"
    assert names.community_name("翠苑一区社区居民委员会") == "翠苑一区社区"
    assert names.community_name("某某居委会") == "某某社区"
    assert names.community_name("文三社区") == "文三社区"


def test_the_real_streets_of_a_district_with_their_codes_and_communities() -> None:
    towns = {t.code: t for t in names.towns("330106")}
    assert len(towns) == 12  # 西湖区: 10 街道 and 2 镇 (民政部, 2025-12-31)
    xixi = towns["330106004"]
    assert xixi.name == "西溪街道" and len(xixi.communities) >= 10 and "石灰桥社区" in xixi.communities
    assert towns["330106109"].name == "三墩镇"
    assert names.towns("999999") == []


def test_coverage_of_the_demo_city() -> None:
    cov = names.coverage(HANGZHOU)
    assert cov.towns == 191 and cov.towns_with_communities >= 189 and cov.communities >= 3000


def test_the_demo_city_carries_the_real_names_over_generated_shapes(city_db: Session) -> None:
    street = city_db.scalar(select(Street).where(Street.code == "330106004"))
    assert street is not None and street.name == "西溪街道" and street.source == SOURCE_GENERATED
    communities = set(city_db.scalars(select(Community.name).where(Community.street_id == street.id)))
    assert "石灰桥社区" in communities and "文教社区" in communities


def test_an_address_names_the_most_specific_place_whose_parents_agree(city_db: Session) -> None:
    place = gazetteer.lookup(city_db, address="杭州市西湖区西溪街道石灰桥社区 12 幢楼下")
    assert place is not None and place.level == "community" and place.name == "石灰桥社区"
    assert place.full_name == "西湖区西溪街道石灰桥社区" and place.generated and "示意" in place.precision
    street = gazetteer.lookup(city_db, address="西湖区三墩镇某路口")
    assert street is not None and street.level == "street" and street.full_name == "西湖区三墩镇"
    district = gazetteer.lookup(city_db, address="萧山区某小区门口")
    assert district is not None and district.level == "district" and district.name == "萧山区"
    assert district.precision == "精确到区县"
    # a stem without its ending: 石灰桥 names 石灰桥社区 too
    stem = gazetteer.lookup(city_db, address="石灰桥那边的菜场门口")
    assert stem is not None and stem.name == "石灰桥社区" and stem.matched == "石灰桥"
    # a two-character stem is an ordinary word unless a parent is named too: 门口 is not 门口村, 文三 may be 文三社区
    assert gazetteer.lookup(city_db, address="某某小区门口垃圾堆了好几天") is None
    wensan = gazetteer.lookup(city_db, address="西湖区文三路 100 号")
    assert wensan is not None and wensan.name == "文三社区"
    # 杭州 and the district stems are never read as places of their own
    assert gazetteer.lookup(city_db, address="杭州") is None
    assert gazetteer.lookup(city_db, address="x") is None
    assert gazetteer.search(city_db, text="Main Street 1") == []


def test_search_lists_every_place_named_best_first_and_keeps_to_the_scope(city_db: Session) -> None:
    found = gazetteer.search(city_db, text="西湖区西溪街道", limit=5)
    assert found[0].full_name == "西湖区西溪街道" and "西湖区" in [p.full_name for p in found]
    assert "西湖区蒋村街道西溪社区" in [p.full_name for p in found]  # 西溪 is also the stem of a 社区 elsewhere
    xiaoshan = city_db.scalar(select(District.bureau_id).where(District.code == "330109"))
    assert xiaoshan is not None
    assert gazetteer.search(city_db, text="西湖区西溪街道", bureau_ids=[xiaoshan]) == []


def test_a_pin_far_from_the_named_place_is_questioned(city_db: Session) -> None:
    lon, lat = xihu_spot()
    assert gazetteer.disagreement(city_db, address="西湖区文三路 100 号", lon=lon, lat=lat) is None
    # a generated 街道 is compared by its district: a pin anywhere in 西湖区 agrees with 西溪街道
    assert gazetteer.disagreement(city_db, address="西湖区西溪街道", lon=lon, lat=lat) is None
    note = gazetteer.disagreement(city_db, address="萧山区某小区门口", lon=lon, lat=lat)
    assert note is not None and "萧山区" in note and "公里" in note
    far = gazetteer.disagreement(city_db, address="建德市新安江街道", lon=lon, lat=lat)
    assert far is not None and "建德市新安江街道" in far
    place = gazetteer.lookup(city_db, address="建德市")
    assert place is not None and gazetteer.pin_distance_m(place, *JIANDE_POINT) == 0
    assert gazetteer.pin_distance_m(place, lon, lat) > 40_000  # the pin 40 km and more away
    assert gazetteer.pin_distance_m(place, *XIAOSHAN_POINT) > gazetteer.DISAGREE_M


def test_new_areas_are_seen_at_once(city_db: Session) -> None:
    before = gazetteer.lookup(city_db, address="西湖区测试新社区")
    assert before is not None and before.name == "西湖区"
    street = city_db.scalars(select(Street).where(Street.code == "330106004")).one()
    bureau = city_db.get_one(Bureau, street.bureau_id)
    community = Community(
        code="330106004999",
        name="测试新社区",
        source=SOURCE_GENERATED,
        bureau_id=bureau.id,
        district_id=street.district_id,
        street_id=street.id,
    )
    assert street.geom is not None
    set_geometry(community, street.geom)
    city_db.add(community)
    city_db.flush()
    found = gazetteer.lookup(city_db, address="西湖区测试新社区")
    assert found is not None and found.name == "测试新社区" and found.full_name == "西湖区西溪街道测试新社区"
