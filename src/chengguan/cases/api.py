"""Case routes for staff: parse → service → schema. No SQL here.

Reports come in through intake (``intake.api``: ``POST /api/v1/cases`` for staff, ``/api/v1/my/reports`` for
citizens); reporters follow them in the public view there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from chengguan.cases import access, queries
from chengguan.cases import service as cases
from chengguan.cases.access import Purpose
from chengguan.cases.presenters import present_cases, present_detail
from chengguan.cases.schemas import (
    CandidateOut,
    CaseDetailOut,
    CasePageOut,
    CasePointOut,
    TransitionIn,
)
from chengguan.cases.states import CaseState
from chengguan.http.deps import Db, commit, require_roles
from chengguan.identity import access as scopes
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES, Role
from chengguan.shared.clock import bounded

router = APIRouter(prefix="/api/v1/cases", tags=["案件"])

Staff = Annotated[User, Depends(require_roles(*STAFF_ROLES))]
Cursor = Annotated[str | None, Query(max_length=200, description="上一页返回的 next_cursor")]


@router.get("", summary="案件列表（筛选、游标分页）")
def list_cases(
    db: Db,
    user: Staff,
    state: Annotated[list[CaseState] | None, Query(max_length=20, description="状态，可多选")] = None,
    category: Annotated[str | None, Query(max_length=16, description="大类或小类编码")] = None,
    grid: Annotated[str | None, Query(max_length=32, description="单元网格编码")] = None,
    district: Annotated[str | None, Query(max_length=12, description="区县行政区划代码")] = None,
    reported_from: Annotated[datetime | None, Query(alias="from", description="上报时间起（含）")] = None,
    reported_to: Annotated[datetime | None, Query(alias="to", description="上报时间止（不含）")] = None,
    overdue: bool | None = None,
    mine: Annotated[bool, Query(description="只看派给我的")] = False,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
    with_total: bool = False,
) -> CasePageOut:
    filters = queries.CaseFilters(
        states=tuple(state or ()),
        category=category,
        grid=grid,
        district=district,
        reported_from=bounded(reported_from, "上报时间起") if reported_from else None,
        reported_to=bounded(reported_to, "上报时间止") if reported_to else None,
        overdue=overdue,
        assignee_id=user.id if mine else None,
        channel=channel,
    )
    scope = scopes.scope_of(db, user)
    page = queries.list_cases(db, scope=scope, filters=filters, limit=limit, cursor=cursor, with_total=with_total)
    return CasePageOut(items=present_cases(db, page.items, viewer=user), next_cursor=page.next_cursor, total=page.total)


@router.get("/points", summary="地图用的案件点位（最多 5000 个，筛选同列表）")
def points(
    db: Db,
    user: Staff,
    state: Annotated[list[CaseState] | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=16)] = None,
    district: Annotated[str | None, Query(max_length=12)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 2000,
) -> list[CasePointOut]:
    filters = queries.CaseFilters(states=tuple(state or ()), category=category, district=district, overdue=overdue)
    page = queries.list_cases(db, scope=scopes.scope_of(db, user), filters=filters, limit=limit)
    return [CasePointOut.model_validate(c, from_attributes=True) for c in present_cases(db, page.items, viewer=user)]


@router.get("/{case_no}", summary="案件详情与流转记录（工作人员）")
def get_case(case_no: str, db: Db, user: Staff) -> CaseDetailOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no)
    return present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)


@router.get("/{case_no}/candidates", summary="可派遣的处置人员（能查看并办理本案的在岗人员）")
def candidates(case_no: str, db: Db, user: Staff) -> list[CandidateOut]:
    case = access.get_case_for_user(db, user=user, case_no=case_no, purpose=Purpose.ACT)
    return [
        CandidateOut(
            id=u.id,
            display_name=u.display_name,
            bureau_name=u.bureau.name,
            unit_name=u.unit.name if u.unit else None,
            role_labels=[Role(r).label for r in sorted(u.roles, key=[r.value for r in Role].index)],
        )
        for u in scopes.assignable_users(db, bureau_id=case.bureau_id)
    ]


@router.post("/{case_no}/transitions", summary="案件流转（受理、立案、派遣、处置、核查、结案等）")
def transition(case_no: str, body: TransitionIn, request: Request, db: Db, user: Staff) -> CaseDetailOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no, purpose=Purpose.ACT)
    cases.transition(
        db,
        case=case,
        action=body.action,
        actor=user,
        note=body.note,
        expected_version=body.version,
        assignee_id=body.assignee_id,
        extension=body.extension,
        public_reply=body.public_reply,
    )
    out = present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)
    commit(request, db)
    return out
