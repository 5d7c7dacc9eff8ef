"""Is a new report about a problem the bureau already has an open case for?

The window is the 小类's own (catalog: ``dedupe_radius_m``, ``dedupe_window``; a stall moves, a pothole does
not): an open case of the same 小类 in the same bureau, reported within the window of the report and within the
radius of its place, is a candidate. The candidates are scored by ``intake.matching`` (place and time, the
texts of the reports the case already holds, their photos) and the best one at or above the threshold wins.

The verdict carries its reasons (``Verdict.reasons``): intake keeps them on the report (``merge_reasons``) and
writes the one-line explanation on the case's ``report_merged`` history row, where staff read it.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.cases.states import OPEN_STATES
from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.catalog.service import UnknownCategory
from chengguan.config import get_settings
from chengguan.intake import matching
from chengguan.intake.matching import Sighting, Window, distance_m
from chengguan.intake.models import Report
from chengguan.media import storage
from chengguan.media.models import MediaObject, ReportMedia
from chengguan.media.storage import MissingObject, Storage
from chengguan.shared.errors import ValidationFailed

__all__ = ["MAX_CANDIDATES", "Verdict", "distance_m", "find_open_case", "media_photo_hashes", "window_for"]

MAX_CANDIDATES = 200  # the nearest this many open cases inside the window are scored
MAX_TEXTS_PER_CASE = 20  # texts of a case's reports compared with the new one (the latest first)

PHASH_CACHE_SIZE = 20_000  # perceptual hashes kept per process, by the thumbnail's content address

log = logging.getLogger(__name__)
_phashes: OrderedDict[str, str | None] = OrderedDict()


def media_photo_hashes(session: Session, report_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Perceptual hashes of the photos (and video poster frames) of these reports, from their thumbnails in
    the media store. Thumbnails are content-addressed, so a hash is computed once per process and kept. A
    thumbnail that cannot be read is no evidence: it never stops a report from being processed."""
    rows = session.execute(
        select(ReportMedia.report_id, MediaObject.thumb_sha256)
        .join(MediaObject, MediaObject.sha256 == ReportMedia.sha256)
        .where(ReportMedia.report_id.in_(list(report_ids)))
        .order_by(ReportMedia.report_id, ReportMedia.position)
    ).all()
    out: dict[int, tuple[str, ...]] = {}
    if not rows:
        return out
    store = _storage()
    for report_id, thumb in rows:
        phash = _phash_of(store, thumb)
        if phash is not None:
            out[report_id] = (*out.get(report_id, ()), phash)
    return out


def _storage() -> Storage:
    return storage.from_settings(get_settings())


def _phash_of(store: Storage, thumb_sha256: str) -> str | None:
    if thumb_sha256 in _phashes:
        _phashes.move_to_end(thumb_sha256)
        return _phashes[thumb_sha256]
    try:
        phash: str | None = matching.perceptual_hash(store.get(thumb_sha256))
    except (MissingObject, ValidationFailed, OSError) as exc:
        log.warning("no perceptual hash for thumbnail %s: %s", thumb_sha256[:12], exc)
        phash = None
    _phashes[thumb_sha256] = phash
    if len(_phashes) > PHASH_CACHE_SIZE:
        _phashes.popitem(last=False)
    return phash


# (session, report ids) → {report id: perceptual hashes of its photos}; tests may stand in for the store.
ImageHashes = Callable[[Session, Sequence[int]], dict[int, tuple[str, ...]]]
image_hashes: ImageHashes | None = media_photo_hashes


def window_for(session: Session, *, bureau_id: int, category_code: str) -> Window:
    """The 小类's window from the catalog the bureau uses (the defaults when the code is not in it)."""
    try:
        minor = catalog.resolve_minor(session, bureau_id=bureau_id, code=category_code)
    except UnknownCategory:
        return matching.DEFAULT_WINDOW
    radius_m, span = catalog.merge_window(minor)
    return Window(radius_m=radius_m, span=span)


@dataclass(frozen=True)
class Verdict:
    """What matching made of a report: the open case it duplicates (None: no candidate reached the threshold),
    the best-scored candidate inside the window (joined or not), and how many there were."""

    case: Case | None
    nearest: Case | None
    score: matching.Score | None
    window: Window
    candidates: int

    @property
    def merge_score(self) -> float | None:
        return None if self.case is None or self.score is None else max(round(self.score.total, 4), 0.0001)

    def explain(self) -> str:
        """One zh-CN line for staff."""
        if self.score is None or self.nearest is None:
            return f"{self._where()}内没有同类的在办案件"
        if self.case is not None:
            return f"自动合并：{self.score.explain()}"
        return (
            f"未合并：{self._where()}内同类在办案件 {self.candidates} 件，最接近的 {self.nearest.case_no} "
            f"{self.score.explain()}，低于合并阈值 {matching.THRESHOLD:.2f}"
        )

    def reasons(self) -> dict[str, Any]:
        """What is kept on the report: the decision, the window, and the evidence of the best candidate."""
        out: dict[str, Any] = {
            "decision": "merged" if self.case is not None else "new",
            "threshold": matching.THRESHOLD,
            "radius_m": self.window.radius_m,
            "window_hours": round(self.window.span.total_seconds() / 3600, 2),
            "candidates": self.candidates,
            "summary": self.explain(),
        }
        if self.score is not None and self.nearest is not None:
            out |= {"case_no": self.nearest.case_no, **self.score.as_json()}
        return out

    def _where(self) -> str:
        hours = self.window.span.total_seconds() / 3600
        span = f"{hours / 24:g} 天" if hours >= 48 and hours % 24 == 0 else f"{hours:g} 小时"
        return f"{self.window.radius_m:g} 米、{span}"


def find_open_case(session: Session, *, report: Report, at: datetime) -> Verdict | None:
    """Whether this report duplicates an open case, and why; None when it has no place or no 小类 yet."""
    if report.lon is None or report.lat is None or report.bureau_id is None or report.category_code is None:
        return None
    window = window_for(session, bureau_id=report.bureau_id, category_code=report.category_code)
    when = report.occurred_at or at
    dlat = window.radius_m / 111_320.0
    dlon = dlat / max(math.cos(math.radians(report.lat)), 0.01)
    stmt = (
        select(Case)
        .join(CategoryMinor, CategoryMinor.id == Case.category_id)
        .where(
            Case.bureau_id == report.bureau_id,
            Case.state.in_([s.value for s in OPEN_STATES]),
            CategoryMinor.code == report.category_code,
            Case.reported_at >= when - window.span,
            Case.reported_at <= when + window.span,
            Case.lon.between(report.lon - dlon, report.lon + dlon),
            Case.lat.between(report.lat - dlat, report.lat + dlat),
        )
    )
    found = [
        (distance_m(report.lon, report.lat, c.lon, c.lat), c.id, c)
        for c in session.scalars(stmt)
        if c.id != report.case_id
    ]
    nearby = [c for d, _, c in sorted(found, key=lambda f: (f[0], f[1])) if d <= window.radius_m][:MAX_CANDIDATES]
    if not nearby:
        return Verdict(case=None, nearest=None, score=None, window=window, candidates=0)
    texts, photos = _evidence(session, report=report, cases=nearby)
    new = Sighting(
        category=report.category_code,
        lon=report.lon,
        lat=report.lat,
        at=when,
        texts=(report.text,),
        image_hashes=photos.get(0, ()),
    )
    candidates = [
        (
            case,
            Sighting(
                category=report.category_code,
                lon=case.lon,
                lat=case.lat,
                at=case.reported_at,
                texts=(case.description, *texts.get(case.id, ())),
                image_hashes=photos.get(case.id, ()),
            ),
        )
        for case in nearby
    ]
    best = matching.best_scored(new, candidates, window)
    if best is None:  # the time window of the query and of the score differ by rounding only
        return Verdict(case=None, nearest=None, score=None, window=window, candidates=0)
    case, s = best
    joined = case if s.total >= matching.THRESHOLD else None
    return Verdict(case=joined, nearest=case, score=s, window=window, candidates=len(nearby))


def _evidence(
    session: Session, *, report: Report, cases: list[Case]
) -> tuple[dict[int, list[str]], dict[int, tuple[str, ...]]]:
    """The texts of the reports each case holds, and the photo hashes of each case (key 0: the new report)."""
    rows = session.execute(
        select(Report.id, Report.case_id, Report.text)
        .where(Report.case_id.in_([c.id for c in cases]), Report.id != report.id)
        .order_by(Report.case_id, Report.id.desc())
    ).all()
    texts: dict[int, list[str]] = defaultdict(list)
    of_case: dict[int, int] = {}
    for report_id, case_id, text in rows:
        if case_id is None:  # not possible under the filter; for the type checker
            continue
        of_case[report_id] = case_id
        if len(texts[case_id]) < MAX_TEXTS_PER_CASE:
            texts[case_id].append(text)
    photos: dict[int, tuple[str, ...]] = {}
    if image_hashes is not None:
        by_report = image_hashes(session, [report.id, *of_case])
        photos[0] = by_report.get(report.id, ())
        merged: dict[int, list[str]] = defaultdict(list)
        for report_id, hashes in by_report.items():
            if report_id in of_case:
                merged[of_case[report_id]].extend(hashes)
        photos.update({case_id: tuple(hashes) for case_id, hashes in merged.items()})
    return texts, photos
