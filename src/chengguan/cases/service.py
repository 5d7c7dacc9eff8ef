"""Case use cases: report, transition, read. Functions flush, never commit.

Every state change goes through ``transition`` and every history row through ``record``, in the same
transaction as the change; side effects are queued in the outbox and run only after commit. ``record`` is
the single place where the tamper-evident ledger will hook in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.calendar.rules import WorkCalendar
from chengguan.cases import notifications as _notifications  # noqa: F401 - registers outbox handlers
from chengguan.cases import numbering
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import (
    REPORT_ACTION,
    STEP_OF_STATE,
    Action,
    CaseState,
    Situation,
    Step,
    decide,
)
from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.geo import service as geo
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import Role
from chengguan.jobs import outbox
from chengguan.shared.clock import utcnow
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.durations import TimeLimit
from chengguan.shared.errors import OutsideArea, StaleUpdate, TransitionRefused, ValidationFailed

SYSTEM_ACTOR = "系统"


@dataclass(frozen=True)
class NewReport:
    category_code: str
    description: str
    lon: float
    lat: float
    crs: CRS = CRS.WGS84
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    channel: Channel | None = None  # default: from the reporter's role


def default_channel(actor: User) -> Channel:
    roles = actor.roles
    if Role.GRID_WORKER in roles:
        return Channel.GRID_WORKER
    if roles & {Role.DISPATCHER, Role.SHIFT_LEADER}:
        return Channel.HOTLINE_12345
    if roles & {Role.OFFICER, Role.SQUAD_LEADER}:
        return Channel.OFFICER_PATROL
    return Channel.CITIZEN


def report_case(session: Session, *, actor: User, report: NewReport, at: datetime | None = None) -> Case:
    """Open a case from a report (信息收集). The location decides the responsible brigade and grid."""
    at = at or utcnow()
    description = report.description.strip()
    if not description:
        raise ValidationFailed("问题描述不能为空")
    if len(description) > 2000:
        raise ValidationFailed("问题描述不能超过 2000 字")
    lon, lat = to_wgs84(report.lon, report.lat, report.crs)
    scope = identity.bureau_scope_ids(session, bureau_id=_root_bureau_id(session, actor.bureau_id))
    where = geo.locate(session, bureau_ids=scope, lon=lon, lat=lat)
    if where is None:
        raise OutsideArea(f"坐标 ({report.lon:.6f}, {report.lat:.6f}) 不在本单位辖区内", lon=report.lon, lat=report.lat)
    minor = catalog.resolve_minor(session, bureau_id=where.bureau_id, code=report.category_code)
    bureau = session.get_one(Bureau, where.bureau_id)
    case = Case(
        case_no=numbering.allocate_case_no(session, bureau=bureau, at=at),
        bureau_id=bureau.id,
        state=CaseState.REPORTED.value,
        category_id=minor.id,
        channel=(report.channel or default_channel(actor)).value,
        description=description,
        address=(report.address or "").strip() or None,
        lon=lon,
        lat=lat,
        district_id=where.district_id,
        street_id=where.street_id,
        community_id=where.community_id,
        grid_id=where.grid_id,
        reporter_id=actor.id,
        reporter_name=report.reporter_name or actor.display_name,
        reporter_phone=report.reporter_phone or actor.phone,
        reported_at=at,
        updated_at=at,
        rework_count=0,
        overdue_steps=0,
        history_len=0,
    )
    _start_step(session, case, catalog.step_limits(minor)[Step.ACCEPT.value], Step.ACCEPT, at)
    session.add(case)
    record(
        session,
        case=case,
        action=REPORT_ACTION,
        from_state=None,
        actor=actor,
        at=at,
        note=None,
        data={"channel": case.channel, "grid": where.grid_code, "deadline": _iso(case.step_deadline)},
    )
    session.flush()
    return case


def _root_bureau_id(session: Session, bureau_id: int) -> int:
    return identity.bureau_lineage(session, bureau_id=bureau_id)[-1].id


def transition(
    session: Session,
    *,
    case: Case,
    action: Action,
    actor: User,
    note: str | None = None,
    expected_version: int | None = None,
    assignee_id: int | None = None,
    extension: str | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Apply one workflow action, or refuse it with a reason. Stale versions are refused with 409."""
    if expected_version is not None and expected_version != case.version:
        raise StaleUpdate(
            f"案件 {case.case_no} 已被他人修改（当前版本 {case.version}，提交版本 {expected_version}）",
            current_version=case.version,
        )
    event = _apply(session, case, action, actor, note, assignee_id, extension, at or utcnow())
    session.flush()  # the UPDATE carries "WHERE version = :old"; a concurrent writer gets StaleDataError
    return event


def transition_many(
    session: Session,
    *,
    cases: Sequence[Case],
    action: Action,
    actor: User,
    note: str | None = None,
    assignee_id: int | None = None,
    at: datetime | None = None,
) -> list[CaseEvent]:
    """One action on many cases (批量受理、批量结案 ...): every case is checked first, one flush writes all.

    A refusal for any case raises before anything is flushed; the caller's rollback then leaves nothing.
    """
    at = at or utcnow()
    events = [_apply(session, case, action, actor, note, assignee_id, None, at) for case in cases]
    session.flush()
    return events


def _apply(
    session: Session,
    case: Case,
    action: Action,
    actor: User,
    note: str | None,
    assignee_id: int | None,
    extension: str | None,
    at: datetime,
) -> CaseEvent:
    state = CaseState(case.state)
    decision = decide(
        action,
        Situation(
            state=state,
            actor_roles=actor.roles,
            actor_is_assignee=case.assignee_id == actor.id,
            note=note,
            assignee_given=assignee_id is not None,
            extension_given=bool(extension),
            extension_pending=case.extension_pending is not None,
            suspended_from=CaseState(case.suspended_from) if case.suspended_from else None,
        ),
    )
    if decision.refusal is not None:
        raise TransitionRefused(
            f"{action.label}：{decision.refusal.label}（案件 {case.case_no}，状态：{state.label}）",
            reason=decision.refusal.value,
            action=action.value,
            state=state.value,
        )
    # One UPDATE per transition: no autoflush while the calendar and catalog are read mid-change.
    with session.no_autoflush:
        data = _apply_fields(session, case, action, state, assignee_id, extension, at)
        target = decision.target or state
        if target is not state:
            data.update(_move_clock(session, case, action, target, at))
        case.updated_at = at
        return record(
            session, case=case, action=action.value, from_state=state, actor=actor, at=at, note=note, data=data
        )


def _apply_fields(
    session: Session,
    case: Case,
    action: Action,
    state: CaseState,
    assignee_id: int | None,
    extension: str | None,
    at: datetime,
) -> dict[str, Any]:
    """What an action changes besides the state; returns what the history row should say about it."""
    data: dict[str, Any] = {}
    if action is Action.DISPATCH:
        case.assignee_id = _check_assignee(session, case=case, assignee_id=assignee_id).id
        data["assignee_id"] = case.assignee_id
    elif action is Action.VERIFY_FAIL:
        case.rework_count += 1
        data["rework"] = case.rework_count
    elif action is Action.RETURN:
        data["returned_by"] = case.assignee_id
        case.assignee_id = None
    elif action is Action.REQUEST_EXTENSION:
        case.extension_pending = TimeLimit.parse(extension or "").to_text()
        data["requested"] = case.extension_pending
    elif action is Action.APPROVE_EXTENSION:
        granted = TimeLimit.parse(case.extension_pending or "")
        case.step_deadline = _calendar(session, case.bureau_id).add(max(case.step_deadline or at, at), granted)
        data.update(granted=granted.to_text(), deadline=_iso(case.step_deadline))
        case.extension_pending = None
    elif action is Action.DENY_EXTENSION:
        data["denied"] = case.extension_pending
        case.extension_pending = None
    elif action is Action.SUSPEND:
        case.suspended_from = state.value
        case.extension_pending = None
    elif action is Action.RESUME:
        case.suspended_from = None
    return data


def _move_clock(session: Session, case: Case, action: Action, target: CaseState, at: datetime) -> dict[str, Any]:
    """Enter ``target``: stop the old step's clock (noting whether it was in time) and start the new one."""
    data: dict[str, Any] = {}
    case.state = target.value
    new_step = STEP_OF_STATE.get(target)
    if action is not Action.START:  # signing for a task keeps the 处置 clock that dispatch started
        data.update(_leave_step(case, at))
        if new_step is None:
            case.step = case.step_started_at = case.step_deadline = None
        else:
            _start_step(session, case, _limits(session, case.category_id)[new_step.value], new_step, at)
    if case.step_deadline is not None:
        data["deadline"] = _iso(case.step_deadline)
    if target.is_terminal:
        case.closed_at = at
    return data


def record(
    session: Session,
    *,
    case: Case,
    action: str,
    from_state: CaseState | None,
    actor: User | None,
    at: datetime,
    note: str | None,
    data: dict[str, Any],
) -> CaseEvent:
    """Append one history row (who, when, from, to, note) and queue the side effects of the change."""
    case.history_len = seq = case.history_len + 1  # part of the case's own versioned UPDATE
    event = CaseEvent(
        case=case,
        seq=seq,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=case.state,
        actor_id=actor.id if actor else None,
        actor_name=actor.display_name if actor else SYSTEM_ACTOR,
        at=at,
        note=note.strip() if note else None,
        data=data,
    )
    session.add(event)
    outbox.enqueue(
        session,
        topic="case.changed",
        payload={"case_no": case.case_no, "action": action, "to_state": case.state, "seq": seq},
        bureau_id=case.bureau_id,
    )
    return event


def _check_assignee(session: Session, *, case: Case, assignee_id: int | None) -> User:
    users: dict[int, User] = session.info.setdefault("cases.assignees", {})  # strong refs per unit of work
    user = users.get(assignee_id) if assignee_id is not None else None
    if user is None and assignee_id is not None:
        user = session.get(User, assignee_id)
        if user is not None:
            users[assignee_id] = user
    field = {Role.OFFICER.value, Role.SQUAD_LEADER.value, Role.DEPARTMENT_LIAISON.value}
    if (
        user is None
        or not user.is_active
        or not (user.roles & field)
        or user.bureau_id not in _city_scope(session, case.bureau_id)
    ):
        raise ValidationFailed("派遣对象必须是本辖区在岗的执法队员、中队长或部门联络员", assignee_id=assignee_id)
    return user


def _calendar(session: Session, bureau_id: int) -> WorkCalendar:
    return calendars.cached_calendar(session, bureau_id=bureau_id)


def _start_step(session: Session, case: Case, limit: TimeLimit, step: Step, at: datetime) -> None:
    case.step = step.value
    case.step_started_at = at
    case.step_deadline = _calendar(session, case.bureau_id).add(at, limit)


def _limits(session: Session, category_id: int) -> dict[str, TimeLimit]:
    """Per unit of work: the identity map holds rows weakly, so a batch would reload the 小类 per case."""
    cache: dict[int, dict[str, TimeLimit]] = session.info.setdefault("cases.step_limits", {})
    if category_id not in cache:
        cache[category_id] = catalog.step_limits(session.get_one(CategoryMinor, category_id))
    return cache[category_id]


def _city_scope(session: Session, bureau_id: int) -> frozenset[int]:
    """Every bureau of the city ``bureau_id`` belongs to (per unit of work)."""
    cache: dict[int, frozenset[int]] = session.info.setdefault("cases.city_scope", {})
    if bureau_id not in cache:
        root = _root_bureau_id(session, bureau_id)
        cache[bureau_id] = frozenset(identity.bureau_scope_ids(session, bureau_id=root))
    return cache[bureau_id]


def _leave_step(case: Case, at: datetime) -> dict[str, Any]:
    if case.step is None or case.step_deadline is None:
        return {}
    on_time = at <= case.step_deadline
    if not on_time:
        case.overdue_steps += 1
    return {"step": case.step, "step_on_time": on_time}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
