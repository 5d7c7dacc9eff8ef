"""Readable case numbers: ``<bureau prefix>-<year>-<6-digit sequence>``, gap-free per bureau and year."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chengguan.cases.models import CaseCounter
from chengguan.identity.models import Bureau
from chengguan.shared.clock import BUREAU_TZ


def allocate_case_no(session: Session, *, bureau: Bureau, at: datetime) -> str:
    """Readable, gap-free per bureau and year: ``XH-2026-000123``. The counter row is locked by the UPDATE."""
    year = at.astimezone(BUREAU_TZ).year
    stmt = (
        update(CaseCounter)
        .where(CaseCounter.bureau_id == bureau.id, CaseCounter.year == year)
        .values(last_no=CaseCounter.last_no + 1)
        .returning(CaseCounter.last_no)
    )
    number = session.execute(stmt).scalar_one_or_none()
    if number is None:
        try:
            with session.begin_nested():
                session.add(CaseCounter(bureau_id=bureau.id, year=year, last_no=1))
            number = 1
        except IntegrityError:  # another transaction created the row first
            number = session.execute(stmt).scalar_one()
    return f"{bureau.case_prefix}-{year}-{number:06d}"
