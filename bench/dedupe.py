"""Measure duplicate merging (chengguan.intake.matching) on real Los Angeles 311 requests.

Data (read from the shared folder beside the checkout, never copied into the repository):
``../shared/data/la311/`` — four real slices of MyLA311 service requests (3–5 days each, about 10,000 each).

**The labelled set.** LA's own records say which requests are the same problem, by address and type: two
requests are *the same problem* when they have the same ``RequestType`` and the same ``Address`` (LA's
verified street address, upper-cased, spaces collapsed), and the later one was created while the earlier one
was still open (before its ``ClosedDate``). A request is a *duplicate* when it has such an earlier partner.
Rows without coordinates, and the types that are no located problem of the catalog (Other, Feedback, Report
Water Waste, streetlights), are left out and counted.

**The replay.** Each policy replays a slice in creation order as intake does: a request either joins an open
case of its type or opens a new one; a case sits where and when its first request was made, and closes when LA
closed that request. Each LA type is matched only with itself (the type the caller chose is the 小类), inside
the window of the catalog 小类 it maps to (``TYPE_TO_MINOR``; the seed catalog's ``dedupe_radius_m`` and
``dedupe_window``). A merge is right when the case it joins holds a partner of the request (same address and
type, still open). Precision = right merges / merges; recall = right merges / duplicates.

Policies, run on the same requests in the same process:

* ``combined``: the platform's rule, ``matching.best_match`` (place and time, text, photos; the score must
  reach ``matching.THRESHOLD``). LA requests carry no description and no photo, so on this set only the
  place-and-time part of the score is exercised — text and photos are measured in ``tests/unit/test_matching.py``
  and ``tests/integration/test_dedupe.py``, not here;
* ``window_only`` (the baseline): the nearest open case of the type inside the 小类's window, the rule intake
  used before the score (``matching.nearest_in_window``).

**Text, separately.** Since LA has no words, the text evidence is measured on the 30 real Chinese messages of
``../shared/data/gov_messages_2020/messages_with_votes.csv``, which hold two problems reported many times,
labelled here by reading them (``SAME_PROBLEM``): the ground-floor restaurants and shops of 魅力之城小区 (fumes,
night stalls, noise; 10 messages — the classifier's labels call them one group too) and forced internships at
A市经济学院 (5 messages). Every pair of messages is a positive when both are about one of these problems, else
a negative. Reported: how often the text alone gives at least half the evidence (cosine ≥ the middle of the
ramp), for the short subject (as a 12345 work order's summary or a post) and for the full message, and how well
the bigram cosine ranks the same-problem pairs first (average precision) next to the cosine of jieba words.

The threshold is the shipped one, not tuned on LA. The full run also replays the first two slices (2017-12,
2018-01) with other thresholds, picks the best there and measures it on the held-out last two (2018-12,
2020-01), so what tuning on this data would buy is known (docs/intake.md says why it is not adopted).

Usage: ``python bench/dedupe.py`` (all four slices, with the threshold sweep) or ``--quick`` (the first 3,000
requests of each slice, no sweep). Throughput is the matcher's own (decisions per second, in process, no database). The
last line printed is JSON. Without the shared data it says so in one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "la311"
SLICES = (
    "la311_2017-12-27_to_12-31.csv",
    "la311_2018-01-01_to_01-04.csv",
    "la311_2018-12-27_to_12-31.csv",
    "la311_2020-01-01_to_01-03.csv",
)
DEV, HELD_OUT = SLICES[:2], SLICES[2:]
QUICK_ROWS = 3000
SWEEP = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
LA_TZ = ZoneInfo("America/Los_Angeles")
MESSAGES = ROOT.parent / "shared" / "data" / "gov_messages_2020" / "messages_with_votes.csv"
SAME_PROBLEM = {  # message id → the problem it is about (the other 15 messages are each about one of their own)
    **{str(mid): "魅力之城小区底层餐饮商铺" for mid in range(360100, 360110)},
    **{str(mid): "A市经济学院强制实习" for mid in range(360110, 360115)},
}

sys.path.insert(0, str(ROOT / "src"))

from chengguan.catalog import formats  # noqa: E402
from chengguan.intake import matching  # noqa: E402
from chengguan.intake.matching import Sighting, Window  # noqa: E402

# LA request type → the catalog 小类 whose window it uses (README of la311: dumping and bulky items are 乱堆乱放,
# graffiti 乱涂乱画, encampments 占道).
TYPE_TO_MINOR = {
    "Bulky Items": "0106",  # 废弃家具设备: furniture and mattresses left at the kerb
    "Metal/Household Appliances": "0106",
    "Electronic Waste": "0106",
    "Illegal Dumping Pickup": "0102",  # 积存垃圾渣土
    "Graffiti Removal": "0203",  # 乱涂乱画
    "Homeless Encampment": "0504",  # 乱堆物料: belongings occupying the pavement
    "Dead Animal Removal": "0109",  # 动物尸体
}


@dataclass
class Request:
    sr: str
    type: str
    address: str
    source: str
    lon: float
    lat: float
    created: datetime
    closed: datetime | None

    def open_at(self, when: datetime) -> bool:
        return self.closed is None or self.closed > when


@dataclass
class Loaded:
    name: str
    requests: list[Request]
    dropped: dict[str, int] = field(default_factory=dict)


def _time(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    for fmt in ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=LA_TZ)
        except ValueError:
            continue
    return None


def load(name: str, limit: int | None = None) -> Loaded:
    dropped: dict[str, int] = defaultdict(int)
    out: list[Request] = []
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        for i, raw in enumerate(csv.DictReader(f)):
            if limit is not None and i >= limit:
                break
            row = {k.lower(): (v or "").strip() for k, v in raw.items() if k}
            kind = row.get("requesttype", "")
            if kind not in TYPE_TO_MINOR:
                dropped["type"] += 1
                continue
            try:
                lat, lon = float(row["latitude"]), float(row["longitude"])
            except (KeyError, ValueError):
                dropped["no_place"] += 1
                continue
            address = " ".join(row.get("address", "").upper().split())
            created = _time(row.get("createddate", ""))
            if not address or created is None or not (33 < lat < 35 and -119.5 < lon < -117.5):
                dropped["no_place"] += 1
                continue
            out.append(
                Request(
                    sr=row.get("srnumber", str(i)),
                    type=kind,
                    address=address,
                    source=row.get("requestsource", ""),
                    lon=lon,
                    lat=lat,
                    created=created,
                    closed=_time(row.get("closeddate", "")),
                )
            )
    out.sort(key=lambda r: (r.created, r.sr))
    return Loaded(name=name, requests=out, dropped=dict(dropped))


def windows() -> dict[str, Window]:
    """The seed catalog's window of each LA type's 小类."""
    minors = {m.code: m for major in formats.parse_yaml(formats.default_catalog_text()) for m in major.minors}
    return {
        kind: Window.of(minors[code].dedupe_radius_m, minors[code].dedupe_window)
        for kind, code in TYPE_TO_MINOR.items()
    }


def partners(requests: list[Request]) -> list[set[int]]:
    """For each request (by index), the earlier requests of the same address and type still open when it came."""
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    out: list[set[int]] = []
    for i, r in enumerate(requests):
        earlier = by_key[(r.type, r.address)]
        out.append({j for j in earlier if requests[j].open_at(r.created)})
        earlier.append(i)
    return out


# ---- the replay ---------------------------------------------------------------------------------------------

Decide = Callable[[Sighting, Iterable[tuple[int, Sighting]], Window], "int | None"]
CELL_DEG = 0.005  # grid cells of about 450 m × 550 m for finding nearby cases


def _cells(lon: float, lat: float) -> Iterable[tuple[int, int]]:
    cx, cy = math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            yield cx + dx, cy + dy


def sighting(r: Request) -> Sighting:
    return Sighting(category=r.type, lon=r.lon, lat=r.lat, at=r.created)


@dataclass
class Outcome:
    merges: int = 0
    right: int = 0
    duplicates: int = 0
    requests: int = 0
    seconds: float = 0.0

    def add(self, other: Outcome) -> None:
        self.merges += other.merges
        self.right += other.right
        self.duplicates += other.duplicates
        self.requests += other.requests
        self.seconds += other.seconds

    @property
    def precision(self) -> float:
        return self.right / self.merges if self.merges else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.duplicates if self.duplicates else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "merges": self.merges,
            "right_merges": self.right,
            "duplicates": self.duplicates,
            "requests": self.requests,
            "decisions_per_s": round(self.requests / self.seconds) if self.seconds else 0,
        }


def replay(loaded: Loaded, wins: dict[str, Window], decide: Decide) -> Outcome:
    requests = loaded.requests
    truth = partners(requests)
    members: list[set[int]] = []  # case → its requests
    founder: list[Request] = []
    founder_sight: list[Sighting] = []
    grid: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    outcome = Outcome(duplicates=sum(1 for p in truth if p), requests=len(requests))
    spent = 0.0
    for i, r in enumerate(requests):
        new = sighting(r)
        t0 = time.perf_counter()
        cx, cy = math.floor(r.lon / CELL_DEG), math.floor(r.lat / CELL_DEG)
        candidates = [
            (c, founder_sight[c])
            for cell in _cells(r.lon, r.lat)
            for c in grid.get((r.type, *cell), ())
            if founder[c].open_at(r.created)
        ]
        chosen = decide(new, candidates, wins[r.type])
        spent += time.perf_counter() - t0
        if chosen is None:
            members.append({i})
            founder.append(r)
            founder_sight.append(new)
            grid[(r.type, cx, cy)].append(len(members) - 1)
            continue
        outcome.merges += 1
        if truth[i] & members[chosen]:
            outcome.right += 1
        members[chosen].add(i)
    outcome.seconds = spent
    return outcome


def combined(threshold: float = matching.THRESHOLD) -> Decide:
    def decide(new: Sighting, candidates: Iterable[tuple[int, Sighting]], window: Window) -> int | None:
        best = matching.best_match(new, candidates, window, threshold=threshold)
        return None if best is None else best[0]

    return decide


def window_only(new: Sighting, candidates: Iterable[tuple[int, Sighting]], window: Window) -> int | None:
    best = matching.nearest_in_window(new, candidates, window)
    return None if best is None else best[0]


def run(slices: list[Loaded], wins: dict[str, Window], decide: Decide) -> Outcome:
    total = Outcome()
    for loaded in slices:
        total.add(replay(loaded, wins, decide))
    return total


def by_type(slices: list[Loaded], wins: dict[str, Window], decide: Decide) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for kind in TYPE_TO_MINOR:
        only = [Loaded(s.name, [r for r in s.requests if r.type == kind]) for s in slices]
        o = run(only, wins, decide)
        out[kind] = {k: v for k, v in o.as_dict().items() if k in ("precision", "recall", "f1", "duplicates")}
    return out


def text_check() -> dict[str, dict[str, float | int]]:
    """Text evidence on real messages about the same problem (see the module's docstring)."""
    with MESSAGES.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    group = SAME_PROBLEM
    half = (matching.TEXT_FLOOR + matching.TEXT_FULL) / 2
    out: dict[str, dict[str, float | int]] = {}
    for label, column in (("subject", "留言主题"), ("message", "留言详情")):
        tp = fp = positives = negatives = 0
        bigram: list[tuple[float, bool]] = []
        words: list[tuple[float, bool]] = []
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                same = group.get(a["留言编号"]) is not None and group.get(a["留言编号"]) == group.get(b["留言编号"])
                cosine = matching.text_similarity(a[column], b[column])
                bigram.append((cosine, same))
                words.append((_word_cosine(a[column], b[column]), same))
                strong = cosine >= half
                positives += same
                negatives += not same
                tp += same and strong
                fp += strong and not same
        out[label] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / positives, 4),
            "positive_pairs": positives,
            "negative_pairs": negatives,
            "average_precision": round(_average_precision(bigram), 4),
            "jieba_words_average_precision": round(_average_precision(words), 4),
        }
    return out


def _word_cosine(a: str, b: str) -> float:
    """The alternative to bigrams: cosine of jieba words (letters and digits only)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    ca, cb = (Counter(w for w in jieba.lcut(t) if any(ch.isalnum() for ch in w)) for t in (a, b))
    norm = math.sqrt(sum(n * n for n in ca.values())) * math.sqrt(sum(n * n for n in cb.values()))
    return sum(n * cb[w] for w, n in ca.items()) / norm if norm else 0.0


def _average_precision(scored: list[tuple[float, bool]]) -> float:
    """How well a similarity ranks the same-problem pairs above the others (1: all of them first)."""
    hits, total = 0, 0.0
    for rank, (_, same) in enumerate(sorted(scored, key=lambda s: -s[0]), start=1):
        if same:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_ROWS:,} requests of each slice")
    args = parser.parse_args()
    missing = [name for name in SLICES if not (DATA / name).exists()]
    if missing:
        print(
            f"错误：找不到 LA 311 数据 {DATA / missing[0]}（共享数据目录应在仓库旁：../shared/data/la311/）",
            file=sys.stderr,
        )
        raise SystemExit(2)
    started = time.perf_counter()
    limit = QUICK_ROWS if args.quick else None
    slices = [load(name, limit) for name in SLICES]
    wins = windows()
    dropped: dict[str, int] = defaultdict(int)
    for s in slices:
        for k, v in s.dropped.items():
            dropped[k] += v
    print(
        f"LA 311: {sum(len(s.requests) for s in slices):,} requests in {len(slices)} slices "
        f"(left out: {dict(dropped)}); windows: "
        + ", ".join(f"{k} {w.radius_m:.0f} m/{w.span.total_seconds() / 3600:.0f} h" for k, w in wins.items())
    )

    ours = run(slices, wins, combined())
    base = run(slices, wins, window_only)
    for label, o in (("combined", ours), ("window_only", base)):
        d = o.as_dict()
        print(
            f"{label:12s} precision {d['precision']:.3f}  recall {d['recall']:.3f}  F1 {d['f1']:.3f}  "
            f"({d['right_merges']}/{d['merges']} merges right, {d['duplicates']} duplicates)  "
            f"{d['decisions_per_s']:,} decisions/s"
        )
    result: dict[str, object] = {
        "bench": "dedupe",
        "quick": args.quick,
        "requests": ours.requests,
        "duplicates": ours.duplicates,
        "precision": round(ours.precision, 4),
        "recall": round(ours.recall, 4),
        "f1": round(ours.f1, 4),
        "baseline_precision": round(base.precision, 4),
        "baseline_recall": round(base.recall, 4),
        "baseline_f1": round(base.f1, 4),
        "decisions_per_s": ours.as_dict()["decisions_per_s"],
        "baseline_decisions_per_s": base.as_dict()["decisions_per_s"],
        "by_type": by_type(slices, wins, combined()),
        "baseline_by_type": by_type(slices, wins, window_only),
    }
    texts = text_check()
    for label, t in texts.items():
        print(
            f"text evidence ≥ half, real messages ({label}): precision {t['precision']:.3f} recall {t['recall']:.3f} "
            f"({t['positive_pairs']} same-problem pairs, {t['negative_pairs']} others); ranking (average precision): "
            f"bigrams {t['average_precision']:.3f}, jieba words {t['jieba_words_average_precision']:.3f}"
        )
    result["text_by_field"] = texts
    if not args.quick:
        dev = [s for s in slices if s.name in DEV]
        test = [s for s in slices if s.name in HELD_OUT]
        sweep = {t: run(dev, wins, combined(t)).f1 for t in SWEEP}
        chosen = max(sweep, key=lambda t: (sweep[t], -abs(t - matching.THRESHOLD)))
        held = run(test, wins, combined(chosen))
        shipped = run(test, wins, combined())
        held_base = run(test, wins, window_only)
        print("threshold sweep on 2017-12 + 2018-01 (F1): " + ", ".join(f"{t}: {f:.3f}" for t, f in sweep.items()))
        print(
            f"held out 2018-12 + 2020-01: chosen {chosen} F1 {held.f1:.3f}; shipped {matching.THRESHOLD} "
            f"F1 {shipped.f1:.3f}; window only F1 {held_base.f1:.3f}"
        )
        result |= {
            "dev_f1_by_threshold": {str(t): round(f, 4) for t, f in sweep.items()},
            "dev_chosen_threshold": chosen,
            "held_out_f1_chosen": round(held.f1, 4),
            "held_out": shipped.as_dict(),
            "held_out_baseline": held_base.as_dict(),
        }
    result["wall_s"] = round(time.perf_counter() - started, 2)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
