"""The report-text classifier (intake.classify): shipped data, determinism, routing, low confidence, bounds.

How well it does on real messages is measured by ``bench/classify.py`` (docs/intake.md); here are the
behaviours the rest of the platform relies on.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from chengguan.intake import classify
from chengguan.intake.classify import CITY, DEPARTMENT_NAMES, Classifier

LABELS = Path(__file__).resolve().parents[1] / "data" / "gov_messages_minor_labels.csv"
DEFAULT = 0.6  # the default CHENGGUAN_CLASSIFY_MIN_CONFIDENCE


def test_every_category_and_department_has_training_texts() -> None:
    examples = classify.training_examples()
    per_category = Counter(e.category for e in examples if e.department == CITY)
    assert set(per_category) == set(classify.catalog_minors())  # no 小类 the model cannot name
    assert min(per_category.values()) >= 10
    assert {e.department for e in examples} == set(DEPARTMENT_NAMES)
    assert all(e.category is None for e in examples if e.department != CITY)


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("单位拖欠我三个月工资，社保也没交", "劳动和社会保障"),
        ("孩子所在的小学课后乱收补课费", "教育文体"),
    ],
)
def test_another_departments_work_is_routed_there(text: str, department: str) -> None:
    result = classify.classify(text, threshold=DEFAULT)
    assert result is not None
    assert not result.city_management and result.department == department
    assert result.category_code is None and result.confident
    assert next(iter(result.departments)) == department  # ranked, likeliest first


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("人行道上有人摆摊卖水果，占道经营", "0501"),
        ("工地晚上施工噪音扰民", "0301"),
    ],
)
def test_city_management_work_gets_its_category(text: str, code: str) -> None:
    result = classify.classify(text, threshold=DEFAULT)
    assert result is not None and result.city_management and result.department is None
    assert result.category_code == code and result.category_name == classify.category_names()[code]
    assert result.confident
    # the confidence is the joint probability of the decision: P(城管) · P(小类 | 城管)
    assert result.confidence == pytest.approx(result.p_city_management * result.categories[code], abs=1e-3)
    assert result.terms and all(len(t) >= 2 and t in text for t in result.terms)


@pytest.mark.parametrize(
    "text",
    [
        "马路上的路灯坏了好几天",  # the catalog has no 小类 for street lamps
        "我家附近那家店的事情一直没人管",
        "这里有个问题，请派人来看一下",
    ],
)
def test_vague_texts_are_not_confident_and_keep_their_guesses(text: str) -> None:
    """These go to the desk (tests/e2e/test_triage.py relies on it) with three ranked 小类 to choose from."""
    result = classify.classify(text, threshold=DEFAULT)
    assert result is not None and not result.confident and result.confidence < DEFAULT
    assert len(result.categories) == classify.TOP
    probabilities = list(result.categories.values())
    assert probabilities == sorted(probabilities, reverse=True)


def test_threshold_decides_what_passes() -> None:
    text = "楼下烧烤店油烟很大，天天晚上熏得开不了窗"
    low, high = classify.classify(text, threshold=0.0), classify.classify(text, threshold=1.0)
    assert low is not None and high is not None
    assert low.confident and not high.confident
    assert low.confidence == high.confidence and high.threshold == 1.0


def test_the_configured_threshold_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGGUAN_CLASSIFY_MIN_CONFIDENCE", "0.99")
    classify.get_settings.cache_clear()
    try:
        result = classify.classify("人行道上有人摆摊卖水果，占道经营")
    finally:
        classify.get_settings.cache_clear()
    assert result is not None and result.threshold == 0.99 and not result.confident


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_nothing_to_read_is_no_answer(text: str) -> None:
    assert classify.classify(text) is None


def test_input_is_bounded_and_normalised() -> None:
    assert len(classify.normalise("垃圾" * 10_000)) == classify.MAX_CHARS
    assert classify.normalise("ＡＢＣ１２３") == "abc123"  # full-width → half-width, lower case
    result = classify.classify("路边垃圾没人清理，" * 2_000)
    assert result is not None and result.city_management


def test_training_is_deterministic() -> None:
    texts = ["路边堆满垃圾", "垃圾桶满了没人清", "人行道上摆摊", "小贩占道卖菜", "拖欠工资不发", "社保断缴了"] * 3
    depts = [CITY, CITY, CITY, CITY, "劳动和社会保障", "劳动和社会保障"] * 3
    cats = ["0101", "0101", "0501", "0501", None, None] * 3

    def run() -> list[classify.Classification]:
        return Classifier().fit(texts, depts, cats).predict(["街边有人卖菜", "老板不发工资"], threshold=0.5)

    assert run() == run()


def test_a_label_with_one_text_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="at least two"):
        Classifier().fit(["垃圾", "垃圾多", "工资"], [CITY, CITY, "劳动和社会保障"], ["0101", "0101", None])


def test_minor_labels_name_catalog_categories_once() -> None:
    """The project's own 小类 labels of the real messages: known codes, one row per message, groups named."""
    with LABELS.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    codes = set(classify.catalog_minors())
    ids = [r["message_id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(r["label"] == "-" or r["label"] in codes for r in rows)
    assert {r["source"] for r in rows} == {"messages_labelled", "messages_with_votes", "messages_with_replies"}
    assert sum(r["label"] != "-" for r in rows) >= 40
