"""Is a new report the same problem as an open case? Pure scoring, no I/O: ``intake.dedupe`` feeds it from the
database, ``bench/dedupe.py`` from the real LA 311 slices.

Each side is a ``Sighting`` (category, place, time, texts, image hashes). A case is a candidate only inside its
小类's window (``Window``: the catalog's ``dedupe_radius_m`` and ``dedupe_window``); inside, the evidence is
combined into one score in [0, 1] and the best candidate at or above ``THRESHOLD`` wins:

* **place and time**: ``place`` falls linearly from 1 at the same spot to 0 at the radius, and is discounted by
  up to ``TIME_DISCOUNT`` as the case ages towards the end of its window;
* **text**: cosine of character-bigram counts (Chinese has no spaces; bigrams need no dictionary and, on the
  real messages we measured, separate the same problem from another better than jieba words — docs/intake.md),
  turned into evidence by a ramp from ``TEXT_FLOOR`` (nothing) to ``TEXT_FULL`` (certain);
* **photos**: the smallest Hamming distance between the 64-bit perceptual hashes (``imagehash.phash``) of the two
  sides' photos, a ramp from ``IMAGE_FAR_BITS`` (nothing) to ``IMAGE_NEAR_BITS`` (certain).

They combine as independent pieces of evidence (noisy-OR): ``1 − (1 − place·time)(1 − text)(1 − image)``. With
the threshold at 0.5 the place alone decides within the inner half of the radius; in the outer half the words
or the photos must also agree; a missing text or photo is no evidence either way.
"""

from __future__ import annotations

import io
import math
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TypeVar

from chengguan.shared.durations import LimitUnit, TimeLimit
from chengguan.shared.errors import ValidationFailed

EARTH_M = 6_371_000.0
THRESHOLD = 0.5
TIME_DISCOUNT = 0.25  # a case at the very end of its window keeps 75 % of its place score
TEXT_FLOOR, TEXT_FULL = 0.10, 0.40  # bigram cosine → evidence 0 … 1
IMAGE_NEAR_BITS, IMAGE_FAR_BITS = 8, 24  # phash Hamming distance → evidence 1 … 0 (unrelated photos: ~32)
MAX_TEXT_CHARS = 2000
MAX_IMAGE_PIXELS = 50_000_000  # refuse to decode more than this (a decompression bomb is refused, not hashed)

K = TypeVar("K")


@dataclass(frozen=True)
class Window:
    """How far and how long after a case another report of its 小类 may still be the same problem."""

    radius_m: float
    span: timedelta

    @classmethod
    def of(cls, radius_m: float, window: str) -> Window:
        """From the catalog's values: ``dedupe_radius_m`` and ``dedupe_window`` (calendar time, "72小时")."""
        limit = TimeLimit.parse(window)
        if limit.unit not in _MINUTES:
            raise ValidationFailed(f"合并时窗须为自然时间（小时、自然日、分钟），不能是 {limit.to_text()}")
        return cls(radius_m=float(radius_m), span=timedelta(minutes=limit.amount * _MINUTES[limit.unit]))


_MINUTES = {LimitUnit.MINUTES: 1, LimitUnit.HOURS: 60, LimitUnit.DAYS: 24 * 60}

DEFAULT_WINDOW = Window(radius_m=100.0, span=timedelta(hours=72))


@dataclass(frozen=True)
class Sighting:
    """What matching knows of a report or of an open case (for a case: where and when it was reported, the
    texts of the reports it holds, the perceptual hashes of their photos)."""

    category: str
    lon: float
    lat: float
    at: datetime
    texts: tuple[str, ...] = ()
    image_hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    total: float  # the combined score in [0, 1]
    distance_m: float
    place: float  # place and time together, before text and photos
    text: float | None  # best bigram cosine; None: a side has no text
    image: float | None  # best photo similarity (1 − bits/64); None: a side has no photo

    def explain(self) -> str:
        """One zh-CN line for the desk: why these two were judged the same problem."""
        parts = [f"相距 {self.distance_m:.0f} 米"]
        if self.text is not None:
            parts.append(f"描述相似度 {self.text:.0%}")
        if self.image is not None:
            parts.append(f"照片相似度 {self.image:.0%}")
        return f"综合评分 {self.total:.2f}（{'，'.join(parts)}）"

    def as_json(self) -> dict[str, float | None]:
        return {
            "score": round(self.total, 4),
            "distance_m": round(self.distance_m, 1),
            "place": round(self.place, 4),
            "text": None if self.text is None else round(self.text, 4),
            "image": None if self.image is None else round(self.image, 4),
        }


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def in_window(new: Sighting, old: Sighting, window: Window) -> float | None:
    """The distance in metres when ``old`` is a candidate for ``new`` (same 小类, within the radius and the time
    window); None otherwise."""
    if new.category != old.category or abs(new.at - old.at) > window.span:
        return None
    d = distance_m(new.lon, new.lat, old.lon, old.lat)
    return d if d <= window.radius_m else None


def _ramp(value: float, zero: float, one: float) -> float:
    return min(1.0, max(0.0, (value - zero) / (one - zero)))


def score(new: Sighting, old: Sighting, window: Window) -> Score | None:
    """The combined score of ``old`` for ``new``, or None when ``old`` is outside the window."""
    d = in_window(new, old, window)
    if d is None:
        return None
    place = 1.0 - d / window.radius_m if window.radius_m > 0 else 1.0
    age = abs(new.at - old.at) / window.span if window.span > timedelta(0) else 0.0
    place_time = place * (1.0 - TIME_DISCOUNT * age)
    text = texts_similarity(new.texts, old.texts)
    image = image_similarity(new.image_hashes, old.image_hashes)
    text_evidence = 0.0 if text is None else _ramp(text, TEXT_FLOOR, TEXT_FULL)
    image_evidence = 0.0 if image is None else _ramp(64 * (1 - image), IMAGE_FAR_BITS, IMAGE_NEAR_BITS)
    total = 1.0 - (1.0 - place_time) * (1.0 - text_evidence) * (1.0 - image_evidence)
    return Score(total=total, distance_m=d, place=place_time, text=text, image=image)


def best_scored(new: Sighting, candidates: Iterable[tuple[K, Sighting]], window: Window) -> tuple[K, Score] | None:
    """The candidate inside the window with the highest score (ties: the nearest), whatever the score; None when
    no candidate is inside the window."""
    best: tuple[K, Score] | None = None
    for key, old in candidates:
        s = score(new, old, window)
        if s is None:
            continue
        if best is None or (s.total, -s.distance_m) > (best[1].total, -best[1].distance_m):
            best = (key, s)
    return best


def best_match(
    new: Sighting, candidates: Iterable[tuple[K, Sighting]], window: Window, *, threshold: float = THRESHOLD
) -> tuple[K, Score] | None:
    """The candidate with the highest score at or above ``threshold`` (ties: the nearest), or None."""
    best = best_scored(new, candidates, window)
    return best if best is not None and best[1].total >= threshold else None


def nearest_in_window(
    new: Sighting, candidates: Iterable[tuple[K, Sighting]], window: Window
) -> tuple[K, float] | None:
    """The window-only rule (the baseline the combined score is measured against): the nearest candidate
    inside the window, with ``1 − d/radius`` as its score."""
    best: tuple[K, float] | None = None
    for key, old in candidates:
        d = in_window(new, old, window)
        if d is not None and (best is None or d < best[1]):
            best = (key, d)
    if best is None:
        return None
    return best[0], max(1.0 - best[1] / window.radius_m, 0.01)


# ---- text ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def bigrams(text: str) -> tuple[Counter[str], float]:
    """Character bigrams of the words in ``text`` (NFKC, lower case, letters and digits only), and their norm."""
    clean = "".join(ch for ch in unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).lower() if ch.isalnum())
    grams = Counter(clean[i : i + 2] for i in range(len(clean) - 1)) if len(clean) > 1 else Counter(clean)
    return grams, math.sqrt(sum(n * n for n in grams.values()))


def text_similarity(a: str, b: str) -> float:
    """Cosine of the two texts' character-bigram counts, in [0, 1]."""
    ga, na = bigrams(a)
    gb, nb = bigrams(b)
    if not na or not nb:
        return 0.0
    if len(ga) > len(gb):
        ga, gb = gb, ga
    return sum(n * gb[g] for g, n in ga.items() if g in gb) / (na * nb)


def texts_similarity(a: Sequence[str], b: Sequence[str]) -> float | None:
    """The best similarity of any text of ``a`` with any of ``b``; None when a side has no text."""
    a = [t for t in a if t and t.strip()]
    b = [t for t in b if t and t.strip()]
    if not a or not b:
        return None
    return max(text_similarity(x, y) for x in a for y in b)


# ---- photos -------------------------------------------------------------------------------------------


def perceptual_hash(data: bytes) -> str:
    """The 64-bit perceptual hash (DCT, ``imagehash.phash``) of an image's bytes, as 16 hex digits.

    Refuses bytes that are no image Pillow can read and images of more than ``MAX_IMAGE_PIXELS`` (checked from
    the header, before anything is decoded)."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValidationFailed(f"图片过大（{width}×{height} 像素），无法计算相似度")
                img.draft("L", (256, 256))  # JPEG: decode at a reduced scale, much faster
                return str(imagehash.phash(img.convert("L")))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationFailed("无法识别的图片，无法计算相似度") from exc


def hash_distance(a: str, b: str) -> int:
    """Hamming distance of two hex perceptual hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def image_similarity(a: Sequence[str], b: Sequence[str]) -> float | None:
    """``1 − bits/64`` of the closest pair of photos across the two sides; None when a side has no photo."""
    if not a or not b:
        return None
    return 1.0 - min(hash_distance(x, y) for x in a for y in b) / 64.0
