"""Placing cases on the map's areas again after boundaries below the district were replaced."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.geo import service as geo


def relocate(session: Session, *, bureau_ids: list[int], batch: int = 500) -> int:
    """Place again the cases that lost their street/community/grid when boundaries were replaced by an import.

    Not a workflow step (the state does not change), so it writes no history row; the case's version moves.
    Returns how many cases were placed.
    """
    placed = 0
    last_id = 0
    while True:
        rows = list(
            session.scalars(
                select(Case)
                .where(Case.bureau_id.in_(bureau_ids), Case.grid_id.is_(None), Case.id > last_id)
                .order_by(Case.id)
                .limit(batch)
            )
        )
        if not rows:
            return placed
        for case in rows:
            where = geo.locate(session, bureau_ids=bureau_ids, lon=case.lon, lat=case.lat)
            if where is not None and (where.street_id, where.community_id, where.grid_id) != (
                case.street_id,
                case.community_id,
                case.grid_id,
            ):
                case.street_id, case.community_id, case.grid_id = where.street_id, where.community_id, where.grid_id
                placed += 1
        last_id = rows[-1].id
        session.flush()
