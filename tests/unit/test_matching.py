"""Duplicate scoring (intake.matching): pure, no database. Places are in 西湖区 (文三路一带)."""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from chengguan.intake import matching
from chengguan.intake.matching import Sighting, Window
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.errors import ValidationFailed

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=BUREAU_TZ)
SPOT = (120.1300, 30.2750)
STALL = Window(radius_m=150, span=timedelta(hours=24))  # 占道经营 in the seed catalog
IMAGES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "images"


def east(metres: float) -> tuple[float, float]:
    """A point ``metres`` east of SPOT."""
    return SPOT[0] + metres / (111_320.0 * math.cos(math.radians(SPOT[1]))), SPOT[1]


def seen(
    where: tuple[float, float] = SPOT,
    *,
    text: str = "",
    category: str = "0501",
    at: datetime = T0,
    photos: tuple[str, ...] = (),
) -> Sighting:
    return Sighting(
        category=category,
        lon=where[0],
        lat=where[1],
        at=at,
        texts=(text,) if text else (),
        image_hashes=photos,
    )


def test_the_same_spot_and_the_same_words_match() -> None:
    case = seen(text="文三路人行道上有人摆摊卖水果")
    new = seen(east(3), text="文三路人行道上有人摆摊卖水果", at=T0 + timedelta(hours=1))
    s = matching.score(new, case, STALL)
    assert s is not None and s.total > 0.95 and s.text == pytest.approx(1.0)
    assert matching.best_match(new, [("A", case)], STALL) == ("A", s)


def test_across_the_street_another_type_is_not_the_same_problem() -> None:
    case = seen(text="人行道上有人摆摊卖水果")
    ad = seen(east(25), text="电线杆上贴满了小广告", category="0202")
    assert matching.score(ad, case, STALL) is None
    assert matching.best_match(ad, [("A", case)], STALL) is None


def test_other_words_for_the_same_problem_match_in_the_outer_half_of_the_radius() -> None:
    """At 110 m of 150 the place alone is not enough; the same problem described in other words is."""
    case = seen(text="魅力之城小区楼下烧烤摊占道经营，油烟熏人")
    same = seen(east(110), text="魅力之城小区门口夜宵烧烤摊摆到了人行道上", at=T0 + timedelta(hours=3))
    other = seen(east(110), text="有人推着三轮车卖甘蔗", at=T0 + timedelta(hours=3))
    silent = seen(east(110), at=T0 + timedelta(hours=3))  # no text: no evidence either way
    s_same, s_other, s_silent = (matching.score(r, case, STALL) for r in (same, other, silent))
    assert s_same is not None and s_other is not None and s_silent is not None
    assert s_same.place == s_other.place == s_silent.place < matching.THRESHOLD
    assert s_same.text is not None and s_other.text is not None and s_same.text > s_other.text
    assert s_same.total >= matching.THRESHOLD > s_other.total
    assert s_silent.total == s_silent.place and s_silent.text is None
    assert matching.best_match(same, [("A", case)], STALL) is not None
    assert matching.best_match(other, [("A", case)], STALL) is None


def test_within_the_inner_half_the_place_alone_decides() -> None:
    case = seen(text="人行道上有人摆摊卖水果")
    new = seen(east(40), text="市民来电：文三路人行道有流动摊贩", at=T0 + timedelta(hours=2))
    s = matching.score(new, case, STALL)
    assert s is not None and s.place > matching.THRESHOLD and s.total >= s.place


def test_an_old_case_beyond_its_window_is_not_a_candidate() -> None:
    case = seen(text="人行道上有人摆摊卖水果")
    later = seen(text="人行道上有人摆摊卖水果", at=T0 + timedelta(hours=25))
    assert matching.score(later, case, STALL) is None
    pothole = Window(radius_m=30, span=timedelta(days=7))
    hole = seen(text="路面塌陷一个大坑", category="0401")
    assert matching.score(seen(text="路面塌陷一个大坑", category="0401", at=T0 + timedelta(days=6)), hole, pothole)
    assert matching.score(seen(east(40), text="路面塌陷一个大坑", category="0401"), hole, pothole) is None


def test_the_window_is_per_category_data() -> None:
    case = seen(category="0301")
    new = seen(east(250), category="0301", at=T0 + timedelta(hours=30))
    assert matching.score(new, case, Window(radius_m=300, span=timedelta(hours=72))) is not None  # noise spreads
    assert matching.score(new, case, Window(radius_m=100, span=timedelta(hours=72))) is None
    assert matching.score(new, case, Window(radius_m=300, span=timedelta(hours=24))) is None


def test_age_discounts_the_place_score_a_little() -> None:
    case = seen()
    fresh = matching.score(seen(east(30)), case, STALL)
    stale = matching.score(seen(east(30), at=T0 + timedelta(hours=23)), case, STALL)
    assert fresh is not None and stale is not None
    assert fresh.place > stale.place >= fresh.place * (1 - matching.TIME_DISCOUNT)


def test_the_best_score_wins_not_the_first_candidate() -> None:
    new = seen(east(100), text="魅力之城小区门口夜宵烧烤摊摆到了人行道上")
    near_other = seen(east(60), text="有人推着三轮车卖甘蔗")  # nearer, other words
    far_same = seen(east(150 - 5), text="魅力之城小区楼下烧烤摊占道经营")  # farther, the same problem
    won = matching.best_match(new, [("near", near_other), ("far", far_same)], STALL)
    assert won is not None and won[0] == "far"
    baseline = matching.nearest_in_window(new, [("near", near_other), ("far", far_same)], STALL)
    assert baseline is not None and baseline[0] == "near"


def test_text_similarity_of_chinese_ignores_punctuation_and_width() -> None:
    assert matching.text_similarity("占道经营！", "占道经营") == pytest.approx(1.0)
    assert matching.text_similarity("ＡＢ路２号", "ab路2号") == pytest.approx(1.0)
    assert matching.text_similarity("占道经营", "井盖缺失") == 0.0
    assert matching.text_similarity("", "井盖缺失") == 0.0
    assert matching.texts_similarity([], ["井盖缺失"]) is None
    assert 0 < matching.text_similarity("路边有人摆摊卖水果", "人行道小贩卖水果") < 1


def _png(draw: str, size: tuple[int, int] = (320, 240)) -> bytes:
    img = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(img)
    if draw == "bars":
        for x in range(0, size[0], 40):
            pen.rectangle([x, 0, x + 18, size[1]], fill="black")
    else:
        pen.ellipse([40, 30, size[0] - 40, size[1] - 30], fill="darkgreen")
        pen.rectangle([0, size[1] - 50, size[0] // 2, size[1]], fill="gray")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _jpeg_copy(data: bytes, scale: float, quality: int) -> bytes:
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.resize((int(img.width * scale), int(img.height * scale)))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_a_resent_photo_is_recognised_and_another_is_not() -> None:
    photo = (IMAGES / "cn_street_parked_cars_posters_1920x1080.jpg").read_bytes()
    other = (IMAGES / "crosswalk_pedestrians_800x564.jpg").read_bytes()
    h = matching.perceptual_hash(photo)
    h_copy = matching.perceptual_hash(_jpeg_copy(photo, 0.3, 60))  # what a phone app sends after resizing
    h_other = matching.perceptual_hash(other)
    assert len(h) == 16
    assert matching.hash_distance(h, h_copy) <= matching.IMAGE_NEAR_BITS
    assert matching.hash_distance(h, h_other) >= matching.IMAGE_FAR_BITS
    drawn = matching.perceptual_hash(_png("bars"))
    assert matching.hash_distance(drawn, matching.perceptual_hash(_jpeg_copy(_png("bars"), 0.5, 70))) <= 4
    assert matching.hash_distance(drawn, matching.perceptual_hash(_png("tree"))) >= matching.IMAGE_FAR_BITS


def test_the_same_photo_makes_a_match_at_the_edge_of_the_radius() -> None:
    photo = matching.perceptual_hash((IMAGES / "cn_street_parked_cars_posters_1920x1080.jpg").read_bytes())
    other = matching.perceptual_hash((IMAGES / "crosswalk_pedestrians_800x564.jpg").read_bytes())
    case = seen(photos=(photo,))
    assert matching.best_match(seen(east(140), photos=(photo,)), [("A", case)], STALL) is not None
    assert matching.best_match(seen(east(140), photos=(other,)), [("A", case)], STALL) is None


def test_what_is_no_image_is_refused_not_hashed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationFailed, match="无法识别的图片"):
        matching.perceptual_hash(b"<html>not a photo</html>")
    monkeypatch.setattr(matching, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ValidationFailed, match="图片过大"):
        matching.perceptual_hash(_png("bars", size=(400, 300)))


def test_the_best_candidate_is_known_even_below_the_threshold() -> None:
    """What the desk is shown for a report that opened a case of its own: the closest case and its score."""
    new = seen(east(120), text="有人推着三轮车卖甘蔗")
    near = seen(text="魅力之城小区楼下烧烤摊占道经营")  # 120 m away: the outer half of the radius
    assert matching.best_match(new, [("A", near)], STALL) is None
    best = matching.best_scored(new, [("A", near), ("B", seen(east(300)))], STALL)
    assert best is not None and best[0] == "A" and best[1].total < matching.THRESHOLD
    shown = best[1].as_json()
    assert shown["distance_m"] == pytest.approx(120, abs=0.5) and shown["image"] is None and shown["text"] == 0
    assert shown["score"] == round(best[1].total, 4) and "相距 120 米" in best[1].explain()
    assert matching.best_scored(new, [("B", seen(east(400)))], STALL) is None  # 280 m: outside the window


def test_a_window_is_read_from_the_catalogs_words() -> None:
    assert Window.of(150, "24小时") == STALL
    assert Window.of(20, "7自然日") == Window(radius_m=20, span=timedelta(days=7))
    assert Window.of(300, "30分钟").span == timedelta(minutes=30)
    with pytest.raises(ValidationFailed, match="自然时间"):
        Window.of(100, "2工作日")  # working time depends on a calendar: not a merge window
