"""Case routes: parse → service → schema. No SQL here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from chengguan.cases import access, queries
from chengguan.cases import service as cases
from chengguan.cases.presenters import present_cases, present_detail
from chengguan.cases.schemas import CaseDetailOut, CasePageOut, CasePointOut, ReportIn, TransitionIn
from chengguan.cases.states import CaseState
from chengguan.http.deps import Db, commit, require_roles
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES, Role
from chengguan.shared.clock import ensure_aware

router = APIRouter(prefix="/api/v1/cases", tags=["案件"])

REPORTERS = (
    Role.CITIZEN,
    Role.GRID_WORKER,
    Role.DISPATCHER,
    Role.SHIFT_LEADER,
    Role.OFFICER,
    Role.SQUAD_LEADER,
)
Reporter = Annotated[User, Depends(require_roles(*REPORTERS))]
Staff = Annotated[User, Depends(require_roles(*STAFF_ROLES))]
Participant = Annotated[User, Depends(require_roles(*Role))]


@router.post("", status_code=status.HTTP_201_CREATED, summary="上报问题，生成案件")
def report(body: ReportIn, request: Request, db: Db, user: Reporter) -> CaseDetailOut:
    case = cases.report_case(db, actor=user, report=cases.NewReport(**body.model_dump()))
    out = present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)
    commit(request, db)
    return out


@router.get("", summary="案件列表（筛选、游标分页）")
def list_cases(
    db: Db,
    user: Participant,
    state: Annotated[list[CaseState] | None, Query(description="状态，可多选")] = None,
    category: Annotated[str | None, Query(max_length=16, description="大类或小类编码")] = None,
    grid: Annotated[str | None, Query(max_length=32, description="单元网格编码")] = None,
    district: Annotated[str | None, Query(max_length=12, description="区县行政区划代码")] = None,
    reported_from: Annotated[datetime | None, Query(alias="from")] = None,
    reported_to: Annotated[datetime | None, Query(alias="to")] = None,
    overdue: bool | None = None,
    mine: Annotated[bool, Query(description="只看派给我的")] = False,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    with_total: bool = False,
) -> CasePageOut:
    filters = queries.CaseFilters(
        states=tuple(state or ()),
        category=category,
        grid=grid,
        district=district,
        reported_from=ensure_aware(reported_from) if reported_from else None,
        reported_to=ensure_aware(reported_to) if reported_to else None,
        overdue=overdue,
        assignee_id=user.id if mine else None,
        channel=channel,
    )
    vis = access.visibility(db, user=user)
    page = queries.list_cases(db, vis=vis, filters=filters, limit=limit, cursor=cursor, with_total=with_total)
    return CasePageOut(items=present_cases(db, page.items, viewer=user), next_cursor=page.next_cursor, total=page.total)


@router.get("/points", summary="地图用的案件点位（最多 5000 个，筛选同列表）")
def points(
    db: Db,
    user: Participant,
    state: Annotated[list[CaseState] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=16)] = None,
    district: Annotated[str | None, Query(max_length=12)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 2000,
) -> list[CasePointOut]:
    filters = queries.CaseFilters(states=tuple(state or ()), category=category, district=district, overdue=overdue)
    page = queries.list_cases(db, vis=access.visibility(db, user=user), filters=filters, limit=limit)
    return [CasePointOut.model_validate(c, from_attributes=True) for c in present_cases(db, page.items, viewer=user)]


@router.get("/{case_no}", summary="案件详情与流转记录")
def get_case(case_no: str, db: Db, user: Participant) -> CaseDetailOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no)
    return present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)


@router.post("/{case_no}/transitions", summary="案件流转（受理、立案、派遣、处置、核查、结案等）")
def transition(case_no: str, body: TransitionIn, request: Request, db: Db, user: Staff) -> CaseDetailOut:
    case = access.get_case_for_user(db, user=user, case_no=case_no)
    cases.transition(
        db,
        case=case,
        action=body.action,
        actor=user,
        note=body.note,
        expected_version=body.version,
        assignee_id=body.assignee_id,
        extension=body.extension,
    )
    out = present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)
    commit(request, db)
    return out
