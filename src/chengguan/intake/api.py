"""Intake routes: every report comes in here, whoever sends it; reporters follow theirs here.

The channel and the reporter come from the authenticated caller and the endpoint, never from the body:
staff report through ``POST /api/v1/cases`` (网格员、12345 热线、队员巡查, decided at once and answered with the
case), citizens through ``POST /api/v1/my/reports`` (answered with a tracking code; processing follows).
The desk decides what automatic processing could not under ``/api/v1/intake/triage``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select

from chengguan.cases import queries
from chengguan.cases import service as cases
from chengguan.cases.models import Case
from chengguan.cases.presenters import present_detail
from chengguan.cases.schemas import CaseDetailOut
from chengguan.http.deps import AppSettings, Db, commit, require_roles
from chengguan.identity import access
from chengguan.identity.models import User
from chengguan.identity.roles import DESK_ROLES, Role
from chengguan.intake import service as intake
from chengguan.intake.models import Report
from chengguan.intake.presenters import present_report, present_reports
from chengguan.intake.schemas import CATEGORY, TRACKING, ReportIn, ReportOut, ReportPageOut, StaffReportIn
from chengguan.intake.states import ReportStatus
from chengguan.shared.errors import NotFound
from chengguan.shared.text import SafeStr

# Staff who report what they find or are told: 网格员 and liaisons, the 12345 desk, officers on patrol.
STAFF_REPORTERS = (
    Role.GRID_WORKER,
    Role.DEPARTMENT_LIAISON,
    Role.DISPATCHER,
    Role.SHIFT_LEADER,
    Role.OFFICER,
    Role.SQUAD_LEADER,
)
REPORTERS = (Role.CITIZEN, *STAFF_REPORTERS)

StaffReporter = Annotated[User, Depends(require_roles(*STAFF_REPORTERS))]
Citizen = Annotated[User, Depends(require_roles(Role.CITIZEN))]
Participant = Annotated[User, Depends(require_roles(*Role))]
Desk = Annotated[User, Depends(require_roles(*DESK_ROLES))]
TrackingCode = Annotated[str, Path(pattern=TRACKING, description="跟踪编号")]
Cursor = Annotated[str | None, Query(max_length=200, description="上一页返回的 next_cursor")]

router = APIRouter(tags=["上报受理"])


@router.post(
    "/api/v1/cases", status_code=status.HTTP_201_CREATED, summary="工作人员上报问题（网格员、12345 热线、队员巡查）"
)
def report(body: StaffReportIn, request: Request, db: Db, user: StaffReporter) -> CaseDetailOut:
    """Decided at once: a new case, or the open case about the same problem that this report joined."""
    name, phone = cases.reporter_of(user, body.reporter_name, body.reporter_phone)
    submitted = intake.submit(
        db,
        incoming=intake.Incoming(
            channel=cases.channel_of(user),
            text=body.description,
            lon=body.lon,
            lat=body.lat,
            crs=body.crs,
            address=body.address,
            location_source="gps",
            claimed_category=body.category_code,
            reporter_id=user.id,
            reporter_name=name,
            reporter_phone=phone,
            trusted=True,  # staff place their own pin
            scope=tuple(access.city_scope_ids(db, bureau_id=user.bureau_id)),
            media=tuple(body.media),
        ),
    )
    done = intake.process(db, report_id=submitted.id)
    assert done is not None and done.case_id is not None  # staff reports with a place and a category always land
    case = db.get_one(Case, done.case_id)
    out = present_detail(db, case, queries.history(db, case_id=case.id), viewer=user)
    commit(request, db)
    return out


@router.post("/api/v1/my/reports", status_code=status.HTTP_201_CREATED, summary="市民上报问题，返回跟踪编号")
def report_mine(body: ReportIn, request: Request, db: Db, user: Citizen, settings: AppSettings) -> ReportOut:
    submitted = intake.submit(
        db,
        incoming=intake.Incoming(
            channel=cases.channel_of(user),
            text=body.description,
            lon=body.lon,
            lat=body.lat,
            crs=body.crs,
            address=body.address,
            location_source="gps",
            claimed_category=body.category_code,
            reporter_id=user.id,
            reporter_name=user.display_name,
            reporter_phone=body.contact_phone or user.phone,
            media=tuple(body.media),
        ),
    )
    commit(request, db)  # the report is kept; processing runs after the commit
    if settings.inline_jobs:  # it ran in this process already: answer with what it decided
        db.refresh(submitted)
    elif not body.media:  # nothing was decided yet and nothing attached: the answer is the object in memory
        return present_reports(db, [submitted])[0]
    return present_report(db, submitted)


@router.get("/api/v1/my/reports", summary="我上报的问题（最新在前）")
def list_mine(
    db: Db, user: Participant, limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: Cursor = None
) -> ReportPageOut:
    rows, next_cursor = intake.list_by_reporter(db, user_id=user.id, limit=limit, cursor=cursor)
    return ReportPageOut(items=present_reports(db, rows), next_cursor=next_cursor)


@router.get("/api/v1/my/reports/{tracking_code}", summary="我上报的问题的办理进度")
def get_mine(tracking_code: TrackingCode, db: Db, user: Participant) -> ReportOut:
    report = intake.get_by_tracking_code(db, code=tracking_code)
    if report.reporter_id != user.id:
        raise NotFound(f"没有找到跟踪编号为 {tracking_code} 的上报")
    return present_report(db, report)


# ---- the desk's triage -----------------------------------------------------------------------------------


class TriageItemOut(BaseModel):
    tracking_code: str
    channel: str
    received_at: datetime
    description: str
    address: str | None
    lon: float | None
    lat: float | None
    claimed_category: str | None
    status_note: str | None
    classification: dict[str, object] | None


class TriageDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ReportStatus = Field(description="accepted 立单 / merged 并入 / forwarded 转交 / rejected 不予受理")
    note: SafeStr | None = Field(default=None, max_length=500, description="理由（转交、不予受理必填）")
    category_code: SafeStr | None = Field(default=None, min_length=2, max_length=16, pattern=CATEGORY)
    lon: float | None = Field(default=None, ge=-180, le=180, description="确认的位置（WGS84）")
    lat: float | None = Field(default=None, ge=-90, le=90)
    case_no: SafeStr | None = Field(default=None, max_length=32, description="并入的案件编号")


@router.get("/api/v1/intake/triage", summary="待人工分拣的上报（本单位及下级）")
def triage_queue(db: Db, user: Desk, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[TriageItemOut]:
    scope = access.bureau_scope_ids(db, bureau_id=user.bureau_id)
    stmt = (
        select(Report)
        .where(Report.status == ReportStatus.TRIAGE.value)
        .where(or_(Report.bureau_id.in_(scope), Report.bureau_id.is_(None)))
        .order_by(Report.received_at)
        .limit(limit)
    )
    return [
        TriageItemOut(
            tracking_code=r.tracking_code,
            channel=r.channel,
            received_at=r.received_at,
            description=r.text,
            address=r.address,
            lon=r.lon,
            lat=r.lat,
            claimed_category=r.claimed_category,
            status_note=r.status_note,
            classification=r.classification,
        )
        for r in db.scalars(stmt)
    ]


@router.post("/api/v1/intake/triage/{tracking_code}", summary="人工分拣：立单、并入、转交或不予受理")
def triage_decide(
    tracking_code: TrackingCode, body: TriageDecisionIn, request: Request, db: Db, user: Desk
) -> ReportOut:
    report = intake.get_by_tracking_code(db, code=tracking_code)
    scope = access.bureau_scope_ids(db, bureau_id=user.bureau_id)
    if report.bureau_id is not None and report.bureau_id not in scope:
        raise NotFound(f"没有找到跟踪编号为 {tracking_code} 的上报")
    intake.decide(
        db,
        report=report,
        decision=intake.TriageDecision(
            status=body.status,
            note=body.note,
            category_code=body.category_code,
            lon=body.lon,
            lat=body.lat,
            case_no=body.case_no,
        ),
        actor=user,
    )
    out = present_report(db, report)
    commit(request, db)
    return out
