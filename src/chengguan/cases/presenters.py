"""Staff views: cases as API schemas and console rows, with the lookups batched (no N+1 queries).

A reporter's contact is shown in full only to the handling desk of the case (受理派遣员、值班长 who may act on
it), its assignee and the reporter; every other role gets it masked. Citizens never get these views: their
view is ``cases.public``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.cases import clock
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.schemas import CaseDetailOut, CaseOut, EventOut
from chengguan.cases.states import (
    ACTION_LABELS,
    EXTENSION_LAPSED,
    REPORT_ACTION,
    REPORT_MERGED,
    CaseState,
    Situation,
    available_actions,
)
from chengguan.catalog.models import CategoryMinor
from chengguan.geo.models import District, UnitGrid
from chengguan.identity import access
from chengguan.identity.models import User
from chengguan.identity.roles import DESK_ROLES, has_any
from chengguan.shared.clock import utcnow

_T = TypeVar("_T", CategoryMinor, District, UnitGrid, User)


def mask_phone(phone: str | None) -> str | None:
    """PII: show 138****5678 to people who do not need the full number."""
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None) -> str | None:
    """PII: 孙丽 → 孙*, 欧阳娜娜 → 欧***."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def sees_reporter_contact(viewer: User, case: Case, scope: access.Scope) -> bool:
    """The handling desk of the case, its assignee, and the reporter themselves."""
    if viewer.id in (case.reporter_id, case.assignee_id):
        return True
    return has_any(viewer.roles, DESK_ROLES) and scope.can_act(bureau_id=case.bureau_id)


def present_cases(session: Session, cases: Sequence[Case], *, viewer: User) -> list[CaseOut]:
    minors = _by_id(session, CategoryMinor, {c.category_id for c in cases})
    districts = _by_id(session, District, {c.district_id for c in cases if c.district_id})
    grids = _by_id(session, UnitGrid, {c.grid_id for c in cases if c.grid_id})
    now = utcnow()
    scope = access.scope_of(session, viewer)
    out = []
    for c in cases:
        contact = sees_reporter_contact(viewer, c, scope)
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
                reporter_name=c.reporter_name if contact else mask_name(c.reporter_name),
                reporter_phone=c.reporter_phone if contact else mask_phone(c.reporter_phone),
                assignee_id=c.assignee_id,
                step=c.step,
                step_deadline=c.step_deadline,
                deadline_provisional=clock.is_provisional(c, calendars.cached_calendar(session, bureau_id=c.bureau_id)),
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
    assignee = session.get(User, case.assignee_id) if case.assignee_id else None
    acting = access.scope_of(session, viewer).can_act(bureau_id=case.bureau_id)
    situation = Situation(
        state=CaseState(case.state),
        actor_roles=viewer.roles if acting else frozenset(),
        acts_for_assignee=access.may_act_for(viewer, assignee),
        extension_pending=case.extension_pending is not None,
        suspended_from=CaseState(case.suspended_from) if case.suspended_from else None,
    )
    return CaseDetailOut(
        **base.model_dump(),
        history=[present_event(e) for e in events],
        available_actions=available_actions(situation),
    )


EVENT_LABELS = {
    REPORT_ACTION: "上报",
    EXTENSION_LAPSED: "延期申请撤销",
    REPORT_MERGED: "同一问题再次上报（已合并）",
    **{a.value: label for a, label in ACTION_LABELS.items()},
}


def present_event(e: CaseEvent) -> EventOut:
    label = EVENT_LABELS.get(e.action, e.action)
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
