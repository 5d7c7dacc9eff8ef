"""The only way to load a case for a user, for reading or for acting (the rule is ``identity.access``).

"Not found" and "not yours to read" look the same (404). A case the user may read but not act on (one they
reported into another brigade) is refused with 403 when they try to act.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case, CaseReporter
from chengguan.identity.access import scope_of
from chengguan.identity.models import User
from chengguan.shared.errors import NotFound, PermissionDenied


class Purpose(StrEnum):
    READ = "read"
    ACT = "act"


def get_case_for_user(session: Session, *, user: User, case_no: str, purpose: Purpose = Purpose.READ) -> Case:
    scope = scope_of(session, user)
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None or not scope.can_read(bureau_id=case.bureau_id, reporter_id=case.reporter_id):
        raise NotFound(f"案件不存在：{case_no}")
    if purpose is Purpose.ACT and not scope.can_act(bureau_id=case.bureau_id):
        raise PermissionDenied(f"案件 {case_no} 由其他单位办理，您只能查看，不能办理")
    return case


def get_own_report(session: Session, *, user: User, case_no: str) -> Case:
    """A case ``user`` reported — first, or in a report merged into it — for the reporter's own (public) view."""
    joined = select(CaseReporter.id).where(CaseReporter.case_id == Case.id, CaseReporter.user_id == user.id)
    stmt = select(Case).where(Case.case_no == case_no, or_(Case.reporter_id == user.id, joined.exists()))
    case = session.scalar(stmt)
    if case is None:
        raise NotFound(f"案件不存在：{case_no}")
    return case
