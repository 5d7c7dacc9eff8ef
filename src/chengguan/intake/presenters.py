"""The reporter's view of their reports: status in plain words and, once a case exists, its public timeline."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases import queries
from chengguan.cases.media import public_links
from chengguan.cases.models import Case
from chengguan.cases.public import present_public_detail
from chengguan.intake.models import Report
from chengguan.intake.schemas import ReportOut
from chengguan.intake.states import ReportStatus
from chengguan.media import service as media


def present_report(session: Session, report: Report, *, with_case: bool = True) -> ReportOut:
    case = session.get(Case, report.case_id) if report.case_id else None
    status = ReportStatus(report.status)
    return ReportOut(
        tracking_code=report.tracking_code,
        status=status,
        status_label=status.label,
        status_note=report.status_note,
        description=report.text,
        address=report.address,
        received_at=report.received_at,
        case_no=case.case_no if case else None,
        case=present_public_detail(session, case, queries.history(session, case_id=case.id))
        if case is not None and with_case
        else None,
        rating=report.rating,
        media=[media.present(obj, signed=public_links()) for obj in media.report_media(session, report_id=report.id)],
    )


def present_reports(session: Session, reports: Sequence[Report]) -> list[ReportOut]:
    case_ids = {r.case_id for r in reports if r.case_id}
    rows = session.execute(select(Case.id, Case.case_no).where(Case.id.in_(case_ids))).all() if case_ids else []
    nos = {row.id: row.case_no for row in rows}
    out = []
    for r in reports:
        status = ReportStatus(r.status)
        out.append(
            ReportOut(
                tracking_code=r.tracking_code,
                status=status,
                status_label=status.label,
                status_note=r.status_note,
                description=r.text,
                address=r.address,
                received_at=r.received_at,
                case_no=nos.get(r.case_id) if r.case_id else None,
                rating=r.rating,
            )
        )
    return out
