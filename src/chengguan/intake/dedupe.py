"""Is a new report about a problem the bureau already has an open case for?

A spatio-temporal window per category: an open case of the same 小类 in the same bureau, reported within
``WINDOW`` of the report and within ``RADIUS_M`` of its place. The nearest one wins; the score falls from 1 at
the same spot to 0 at the radius.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.cases.states import OPEN_STATES
from chengguan.catalog.models import CategoryMinor
from chengguan.intake.models import Report

RADIUS_M = 150.0
WINDOW = timedelta(hours=72)
EARTH_M = 6_371_000.0


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def find_open_case(session: Session, *, report: Report, at: datetime) -> tuple[Case, float] | None:
    """The open case this report duplicates, with a score in (0, 1], or None."""
    if report.lon is None or report.lat is None or report.bureau_id is None or report.category_code is None:
        return None
    dlat = RADIUS_M / 111_320.0
    dlon = dlat / max(math.cos(math.radians(report.lat)), 0.01)
    stmt = (
        select(Case)
        .join(CategoryMinor, CategoryMinor.id == Case.category_id)
        .where(
            Case.bureau_id == report.bureau_id,
            Case.state.in_([s.value for s in OPEN_STATES]),
            CategoryMinor.code == report.category_code,
            Case.reported_at >= (report.occurred_at or at) - WINDOW,
            Case.lon.between(report.lon - dlon, report.lon + dlon),
            Case.lat.between(report.lat - dlat, report.lat + dlat),
        )
    )
    best: tuple[Case, float] | None = None
    for case in session.scalars(stmt):
        d = distance_m(report.lon, report.lat, case.lon, case.lat)
        if d <= RADIUS_M and (best is None or d < RADIUS_M * (1 - best[1])):
            best = (case, 1 - d / RADIUS_M if d < RADIUS_M else 0.01)
    return best
