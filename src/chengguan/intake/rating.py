"""A reporter's satisfaction with the outcome (满意度评价): 1–5 and an optional comment, once, after the end.

A report may be rated once its case is finished (已办结, 不予立案 or 已作废) or, where it never became a case,
once intake decided it (转交其他部门, 未予受理). The rating is stored on the report (each reporter of a merged
case rates for themselves). Functions flush, never commit.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.cases.public import PUBLIC_STATUS
from chengguan.cases.states import CaseState
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.shared.errors import Conflict, ValidationFailed

FINISHED_CASE_STATES = frozenset({CaseState.CLOSED, CaseState.NOT_FILED, CaseState.VOIDED})
FINISHED_WITHOUT_CASE = frozenset({ReportStatus.FORWARDED, ReportStatus.REJECTED})
MIN_SCORE, MAX_SCORE = 1, 5
MAX_COMMENT = 500


def finished(session: Session, report: Report) -> bool:
    """Whether the matter the report raised has come to its end (what may be rated)."""
    if report.case_id is not None:
        case = session.get(Case, report.case_id)
        return case is not None and CaseState(case.state) in FINISHED_CASE_STATES
    return ReportStatus(report.status) in FINISHED_WITHOUT_CASE


def may_rate(session: Session, report: Report) -> bool:
    return report.rating is None and finished(session, report)


def rate(session: Session, *, report: Report, score: int, comment: str | None) -> Report:
    """Record the reporter's rating: 409 before the end and after a first rating (also when two race)."""
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ValidationFailed(f"满意度应为 {MIN_SCORE}–{MAX_SCORE} 分")
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise ValidationFailed(f"评价内容不能超过 {MAX_COMMENT} 字")
    if report.rating is not None:
        raise Conflict("这条反映已经评价过了，每条反映只能评价一次")
    if not finished(session, report):
        raise Conflict(f"问题办结后才能评价，当前进度：{_progress(session, report)}")
    done = session.execute(
        update(Report)
        .where(Report.id == report.id, Report.rating.is_(None))
        .values(rating=score, rating_comment=text)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:  # another request rated it in the meantime
        raise Conflict("这条反映已经评价过了，每条反映只能评价一次")
    session.flush()
    session.refresh(report)
    return report


def _progress(session: Session, report: Report) -> str:
    if report.case_id is not None:
        case = session.get(Case, report.case_id)
        if case is not None:
            return PUBLIC_STATUS[CaseState(case.state)]
    return ReportStatus(report.status).label
