"""Turn cases into API schemas and console rows, with the lookups batched (no N+1 queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.schemas import CaseDetailOut, CaseOut, EventOut
from chengguan.cases.states import (
    ACTION_LABELS,
    REPORT_ACTION,
    Action,
    CaseState,
    Situation,
    available_actions,
)
from chengguan.catalog.models import CategoryMinor
from chengguan.geo.models import District, UnitGrid
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES
from chengguan.shared.clock import utcnow

_T = TypeVar("_T", CategoryMinor, District, UnitGrid, User)


def mask_phone(phone: str | None) -> str | None:
    """PII: show 138****5678 to people who do not need the full number."""
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def present_cases(session: Session, cases: Sequence[Case], *, viewer: User) -> list[CaseOut]:
    minors = _by_id(session, CategoryMinor, {c.category_id for c in cases})
    districts = _by_id(session, District, {c.district_id for c in cases if c.district_id})
    grids = _by_id(session, UnitGrid, {c.grid_id for c in cases if c.grid_id})
    now = utcnow()
    full_pii = bool(viewer.roles & {r.value for r in STAFF_ROLES})
    out = []
    for c in cases:
        state = CaseState(c.state)
        minor = minors[c.category_id]
        out.append(
            CaseOut(
                case_no=c.case_no,
                version=c.version,
                state=state,
                state_label=state.label,
                bureau_id=c.bureau_id,
                category_code=minor.code,
                category_name=minor.name,
                channel=c.channel,
                channel_label=Channel(c.channel).label,
                description=c.description,
                address=c.address,
                lon=c.lon,
                lat=c.lat,
                district_code=districts[c.district_id].code if c.district_id else None,
                grid_code=grids[c.grid_id].code if c.grid_id else None,
                reporter_name=c.reporter_name,
                reporter_phone=c.reporter_phone
                if full_pii or c.reporter_id == viewer.id
                else mask_phone(c.reporter_phone),
                assignee_id=c.assignee_id,
                step=c.step,
                step_deadline=c.step_deadline,
                overdue=bool(c.step_deadline and c.step_deadline < now and state is not CaseState.SUSPENDED),
                extension_pending=c.extension_pending,
                rework_count=c.rework_count,
                reported_at=c.reported_at,
                updated_at=c.updated_at,
                closed_at=c.closed_at,
            )
        )
    return out


def present_detail(session: Session, case: Case, events: Sequence[CaseEvent], *, viewer: User) -> CaseDetailOut:
    base = present_cases(session, [case], viewer=viewer)[0]
    situation = Situation(
        state=CaseState(case.state),
        actor_roles=viewer.roles,
        actor_is_assignee=case.assignee_id == viewer.id,
        extension_pending=case.extension_pending is not None,
        suspended_from=CaseState(case.suspended_from) if case.suspended_from else None,
    )
    return CaseDetailOut(
        **base.model_dump(),
        history=[present_event(e) for e in events],
        available_actions=available_actions(situation),
    )


def present_event(e: CaseEvent) -> EventOut:
    label = "上报" if e.action == REPORT_ACTION else ACTION_LABELS[Action(e.action)]
    return EventOut(
        seq=e.seq,
        action=e.action,
        action_label=label,
        from_state=e.from_state,
        to_state=e.to_state,
        actor_name=e.actor_name,
        at=e.at,
        note=e.note,
        data=e.data or {},
    )


def _by_id(session: Session, model: type[_T], ids: set[int]) -> dict[int, _T]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(ids)))}
