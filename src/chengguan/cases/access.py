"""The only way to load a case for a user. "Not found" and "not yours" look the same (404)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.identity import service as identity
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES
from chengguan.shared.errors import NotFound


@dataclass(frozen=True)
class Visibility:
    """Staff see every case of their bureau and the bureaus below it; citizens see their own reports."""

    bureau_ids: tuple[int, ...]
    reporter_id: int | None  # set for citizens: only their own cases


def visibility(session: Session, *, user: User) -> Visibility:
    staff = bool(user.roles & {r.value for r in STAFF_ROLES})
    return Visibility(
        bureau_ids=tuple(identity.bureau_scope_ids(session, bureau_id=user.bureau_id)),
        reporter_id=None if staff else user.id,
    )


def get_case_for_user(session: Session, *, user: User, case_no: str, for_update: bool = False) -> Case:
    vis = visibility(session, user=user)
    stmt = select(Case).where(Case.case_no == case_no)
    if vis.reporter_id is not None:
        stmt = stmt.where(Case.reporter_id == vis.reporter_id)
    else:  # staff: their bureaus' cases, and what they reported themselves wherever it was routed
        stmt = stmt.where(or_(Case.bureau_id.in_(vis.bureau_ids), Case.reporter_id == user.id))
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise NotFound(f"案件不存在：{case_no}")
    return case
