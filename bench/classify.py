"""Measure the report text classifier (chengguan.intake.classify) on real citizen messages.

Data (read from the shared folder beside the checkout, never copied into the repository):
``../shared/data/gov_messages_2020/messages_labelled.csv`` — 495 real messages to a provincial message board,
labelled by the board with one of 7 departments — and the two unlabelled files of the same board
(``messages_with_votes.csv``, ``messages_with_replies.csv``). Our own labels are in
``tests/data/gov_messages_minor_labels.csv`` (message ids → 小类 or ``-``; how they were made: its header).

What it reports, each figure with a 95% bootstrap interval (percentile; resampling messages, or groups of
messages about one problem where the labels name a group):

(a) routing of the 495 messages. ``route``: 8 classes — 城管 where our labels say the message is
    city-management work, else the board's department; ``board``: the board's own 7 labels (the model's 城管
    counted as 城乡建设, where the board files city management); ``city``: city-management work or not
    (precision/recall/F1 of 城管). Each for the *shipped* model (trained on the package's own texts only) and for
    the *method's ceiling* (the same method trained on the real messages, stratified k-fold: every message is
    predicted by a model that did not see it), against the majority class and a keyword rule measured in
    the same run. Also the share decided without a person at the configured threshold, the accuracy of those,
    and the expected calibration error of the department probability.
(b) 小类 of the messages our labels call city-management work (495 + the unlabelled files): the shipped model,
    and the shipped texts plus the other real labelled messages (k-fold over groups), against the majority
    小类 and the keyword rule.

Usage: ``python bench/classify.py`` (10 folds, 2,000 resamples) or ``--quick`` (5 folds, 300 resamples). The
last line printed is JSON. Without the shared data it says so in one line and exits with status 2. No
database is needed.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "gov_messages_2020"
LABELS = ROOT / "tests" / "data" / "gov_messages_minor_labels.csv"
SEED = 20260

sys.path.insert(0, str(ROOT / "src"))

from chengguan.intake import classify  # noqa: E402
from chengguan.intake.classify import CITY, Classifier  # noqa: E402

# Words of a 小类 name too general to mean that 小类 on their own (the keyword rule's stop list).
KEYWORD_STOP = frozenset({"违规", "违法", "非法", "建设", "管理", "经营", "破损", "缺失", "不洁", "污染", "乱"})
BOARD_CITY = "城乡建设"  # where the board files city-management work


# ---- data -------------------------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows; lines starting with ``#`` (our labels' header comment) are skipped."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def load() -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, dict[str, str]]]:
    missing = [p for p in (DATA / "messages_labelled.csv", LABELS) if not p.exists()]
    if missing:
        print(f"错误：找不到评测数据 {missing[0]}（共享数据应位于仓库旁的 ../shared/data）。", file=sys.stderr)
        raise SystemExit(2)
    labelled = _rows(DATA / "messages_labelled.csv")
    extra = [r for name in ("messages_with_votes.csv", "messages_with_replies.csv") for r in _rows(DATA / name)]
    ours = {r["message_id"]: r for r in _rows(LABELS)}
    return labelled, extra, ours


def text_of(message: dict[str, str]) -> str:
    return f"{message['留言主题']}。{message['留言详情']}"


# ---- statistics -------------------------------------------------------------------------------------------


def pct(x: float) -> float:
    return round(100 * x, 1)


def accuracy(t: Sequence[str], p: Sequence[str]) -> float:
    return float(np.mean([a == b for a, b in zip(t, p, strict=True)])) if t else float("nan")


def macro_f1(t: Sequence[str], p: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(list(t), list(p), labels=sorted(set(t)), average="macro", zero_division=0))


def prf(t: Sequence[bool], p: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(a and b for a, b in zip(t, p, strict=True))
    fp = sum(b and not a for a, b in zip(t, p, strict=True))
    fn = sum(a and not b for a, b in zip(t, p, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def city_f1(t: Sequence[bool], p: Sequence[bool]) -> float:
    return prf(t, p)[2]


def bootstrap(
    stat: Callable[[list, list], float],  # type: ignore[type-arg]
    truth: Sequence[object],
    pred: Sequence[object],
    *,
    groups: Sequence[str] | None = None,
    n: int,
) -> list[float]:
    """95% percentile interval of ``stat`` over resamples of the messages (of whole groups when given)."""
    rng = np.random.default_rng(SEED)
    keys = list(groups) if groups is not None else [str(i) for i in range(len(truth))]
    members: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        members.setdefault(k, []).append(i)
    units = list(members.values())
    values = []
    for _ in range(n):
        picked = [i for u in rng.integers(0, len(units), len(units)) for i in units[u]]
        values.append(stat([truth[i] for i in picked], [pred[i] for i in picked]))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [pct(lo), pct(hi)]


def ece(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: the gap between stated confidence and accuracy, weighted over 10 bins."""
    c, ok = np.asarray(confidence), np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (c > lo) & (c <= hi)
        if inside.any():
            total += inside.mean() * abs(ok[inside].mean() - c[inside].mean())
    return float(total)


# ---- baselines --------------------------------------------------------------------------------------------


def keyword_rule() -> Callable[[str], str | None]:
    """The 小类 whose name words (jieba, ≥ 2 characters, not in KEYWORD_STOP) cover most characters of the
    text's matches; None when no word of any 小类 name occurs (then: not city-management work)."""
    import jieba

    tokenizer = jieba.Tokenizer()
    words = {
        code: [w for w in tokenizer.lcut(m["name"]) if len(w) >= 2 and w not in KEYWORD_STOP]
        for code, m in classify.catalog_minors().items()
    }

    def rule(text: str) -> str | None:
        best, score = None, 0
        for code, ws in words.items():
            s = sum(len(w) for w in ws if w in text)
            if s > score:
                best, score = code, s
        return best

    return rule


# ---- runs -------------------------------------------------------------------------------------------------


def fit(texts: Sequence[str], departments: Sequence[str], categories: Sequence[str | None]) -> Classifier:
    return Classifier(extra_words=classify._jieba_words()).fit(texts, departments, categories)


def cross_val(
    texts: list[str], departments: list[str], categories: list[str | None], folds: int, threshold: float
) -> list[classify.Classification]:
    from sklearn.model_selection import StratifiedKFold

    out: list[classify.Classification | None] = [None] * len(texts)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(texts, departments):
        model = fit([texts[i] for i in train], [departments[i] for i in train], [categories[i] for i in train])
        for i, result in zip(test, model.predict([texts[i] for i in test], threshold=threshold), strict=True):
            out[i] = result
    return [r for r in out if r is not None]


def group_cross_val(texts: list[str], codes: list[str], groups: list[str], folds: int) -> list[str | None]:
    """小类 with the real labelled messages added to the shipped texts, k-fold over groups: every message is
    predicted by a model that saw neither it nor another message of its group."""
    from sklearn.model_selection import GroupKFold

    base = [e for e in classify.training_examples() if e.department == CITY]
    out: list[str | None] = [None] * len(texts)
    for train, test in GroupKFold(min(folds, len(set(groups)))).split(texts, codes, groups):
        model = fit(
            [e.text for e in base] + [texts[i] for i in train],
            [CITY] * (len(base) + len(train)),
            [e.category for e in base] + [codes[i] for i in train],
        )
        for i, r in zip(test, model.predict([texts[i] for i in test], threshold=0.0), strict=True):
            out[i] = r.category_code
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="5 folds and 300 resamples")
    args = parser.parse_args()
    folds, n_boot = (5, 300) if args.quick else (10, 2000)
    labelled, extra, ours = load()
    threshold = classify.get_settings().classify_min_confidence
    res: dict[str, object] = {"messages": len(labelled), "threshold": threshold, "folds": folds, "bootstrap": n_boot}

    texts = [text_of(m) for m in labelled]
    board = [m["一级分类"] for m in labelled]
    code_of = {mid: r["label"] for mid, r in ours.items() if r["label"] != "-"}
    route = [CITY if m["留言编号"] in code_of else m["一级分类"] for m in labelled]
    is_city = [r == CITY for r in route]
    res["city_management_messages"] = sum(is_city)

    # the shipped model, trained on the package's own texts
    t0 = time.perf_counter()
    shipped = classify.shipped()
    res["shipped_train_s"] = round(time.perf_counter() - t0, 2)
    res["shipped_training_texts"] = len(classify.training_examples())
    timings = []
    shipped_out = []
    for text in texts:
        t = time.perf_counter()
        shipped_out.append(shipped.predict([text], threshold=threshold)[0])
        timings.append((time.perf_counter() - t) * 1000)
    res["shipped_classify_ms_p50"] = round(statistics.median(timings), 2)

    def routed(r: classify.Classification) -> str:
        return CITY if r.city_management else str(r.department)

    s_route = [routed(r) for r in shipped_out]
    s_board = [BOARD_CITY if x == CITY else x for x in s_route]
    s_city = [r.city_management for r in shipped_out]

    # the method's ceiling: trained on the real messages, stratified k-fold
    t0 = time.perf_counter()
    cv_route_out = cross_val(texts, route, [None] * len(texts), folds, threshold)  # routing only
    cv_board_out = cross_val(texts, board, [None] * len(texts), folds, threshold)
    res["cv_s"] = round(time.perf_counter() - t0, 1)
    c_route = [routed(r) for r in cv_route_out]
    c_board = [routed(r) for r in cv_board_out]
    c_city = [r.city_management for r in cv_route_out]

    # baselines, same run
    majority = Counter(route).most_common(1)[0][0]
    majority_board = Counter(board).most_common(1)[0][0]
    rule = keyword_rule()
    k_codes = [rule(t) for t in texts]
    k_city = [c is not None for c in k_codes]
    k_route = [CITY if c else majority for c in k_codes]

    def add(key: str, stat: Callable, truth: Sequence, pred: Sequence, groups: Sequence[str] | None = None) -> None:  # type: ignore[type-arg]
        res[f"{key}_pct"] = pct(stat(list(truth), list(pred)))
        res[f"{key}_ci95_pct"] = bootstrap(stat, list(truth), list(pred), groups=groups, n=n_boot)

    add("route_accuracy_shipped", accuracy, route, s_route)
    add("route_macro_f1_shipped", macro_f1, route, s_route)
    add("route_accuracy_cv", accuracy, route, c_route)
    add("route_macro_f1_cv", macro_f1, route, c_route)
    add("route_accuracy_majority", accuracy, route, [majority] * len(route))
    add("route_accuracy_keyword", accuracy, route, k_route)
    add("board_accuracy_shipped", accuracy, board, s_board)
    add("board_macro_f1_shipped", macro_f1, board, s_board)
    add("board_accuracy_cv", accuracy, board, c_board)
    add("board_macro_f1_cv", macro_f1, board, c_board)
    add("board_accuracy_majority", accuracy, board, [majority_board] * len(board))
    add("city_f1_shipped", city_f1, is_city, s_city)
    p, r, _ = prf(is_city, s_city)
    res["city_precision_shipped_pct"], res["city_recall_shipped_pct"] = pct(p), pct(r)
    add("city_f1_cv", city_f1, is_city, c_city)
    p, r, _ = prf(is_city, c_city)
    res["city_precision_cv_pct"], res["city_recall_cv_pct"] = pct(p), pct(r)
    add("city_f1_keyword", city_f1, is_city, k_city)
    p, r, _ = prf(is_city, k_city)
    res["city_precision_keyword_pct"], res["city_recall_keyword_pct"] = pct(p), pct(r)

    # what passes without a person, and whether the stated confidence means what it says
    dept_conf = [max(r.departments.values()) for r in shipped_out]
    correct = [a == b for a, b in zip(route, s_route, strict=True)]
    auto = [r.confident for r in shipped_out]
    res["route_auto_share_pct"] = pct(float(np.mean(auto)))
    res["route_auto_accuracy_pct"] = pct(
        accuracy(
            [x for x, a in zip(route, auto, strict=True) if a], [x for x, a in zip(s_route, auto, strict=True) if a]
        )
    )
    res["route_ece_shipped_pct"] = pct(ece(dept_conf, correct))
    res["route_ece_cv_pct"] = pct(
        ece([max(r.departments.values()) for r in cv_route_out], [a == b for a, b in zip(route, c_route, strict=True)])
    )

    # (b) 小类 of the city-management messages (ours, from all three files)
    everything = {m["留言编号"]: m for m in [*labelled, *extra]}
    minor_ids = [mid for mid in ours if mid in code_of]
    m_texts = [text_of(everything[mid]) for mid in minor_ids]
    m_truth = [code_of[mid] for mid in minor_ids]
    m_groups = [ours[mid]["group"] or mid for mid in minor_ids]
    res["minor_labelled_messages"] = len(minor_ids)
    res["minor_groups"] = len(set(m_groups))
    m_out = shipped.predict(m_texts, threshold=threshold)
    m_shipped = [next(iter(r.categories), None) for r in m_out]  # the 小类 model's answer, given city work
    m_end = [r.category_code if r.city_management else None for r in m_out]
    m_cv = group_cross_val(m_texts, m_truth, m_groups, folds)
    m_kw = [rule(t) for t in m_texts]
    m_major = Counter(m_truth).most_common(1)[0][0]
    add("minor_accuracy_shipped", accuracy, m_truth, m_shipped, m_groups)
    add("minor_macro_f1_shipped", macro_f1, m_truth, m_shipped, m_groups)
    add("minor_end_to_end_shipped", accuracy, m_truth, m_end, m_groups)
    add("minor_accuracy_cv", accuracy, m_truth, m_cv, m_groups)
    add("minor_accuracy_keyword", accuracy, m_truth, m_kw, m_groups)
    add("minor_accuracy_majority", accuracy, m_truth, [m_major] * len(m_truth), m_groups)
    m_auto = [r.confident and r.city_management for r in m_out]
    res["minor_auto_share_pct"] = pct(float(np.mean(m_auto)))
    res["minor_auto_accuracy_pct"] = pct(
        accuracy(
            [t for t, a in zip(m_truth, m_auto, strict=True) if a],
            [str(r.category_code) for r, a in zip(m_out, m_auto, strict=True) if a],
        )
    )

    print("threshold  auto_share  auto_route_accuracy   (shipped model, 495 messages)")
    for th in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        sel = [r.confidence >= th for r in shipped_out]
        acc = accuracy(
            [x for x, a in zip(route, sel, strict=True) if a], [x for x, a in zip(s_route, sel, strict=True) if a]
        )
        print(f"  {th:.1f}      {pct(float(np.mean(sel))):5.1f}%     {pct(acc):5.1f}%")
    print("confusion of the shipped routing (truth → predicted):")
    for (t, p_), n in sorted(Counter(zip(route, s_route, strict=True)).items(), key=lambda kv: -kv[1])[:20]:
        print(f"  {t} → {p_}: {n}")
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
