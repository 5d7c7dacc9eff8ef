"""Case use cases: report, transition, read. Functions flush, never commit.

Every state change goes through ``transition`` and every history row through ``record``, in the same
transaction as the change; side effects are queued in the outbox and run only after commit. ``record`` is
the single place where the tamper-evident ledger will hook in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from chengguan.calendar import service as calendars
from chengguan.calendar.rules import WorkCalendar
from chengguan.cases import clock, numbering, reporters
from chengguan.cases import notifications as _notifications  # noqa: F401 - registers outbox handlers
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import (
    EXTENDABLE,
    EXTENSION_LAPSED,
    OPEN_STATES,
    PUBLIC_REPLY_ACTIONS,
    REPORT_ACTION,
    REPORT_MERGED,
    STEP_OF_STATE,
    TRANSITIONS,
    Action,
    CaseState,
    Situation,
    Step,
    decide,
)
from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.db import insert_with_flush
from chengguan.geo import service as geo
from chengguan.identity import access
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import DESK_ROLES, Role, has_any
from chengguan.jobs import outbox
from chengguan.shared.clock import utcnow
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.durations import TimeLimit
from chengguan.shared.errors import Conflict, OutsideArea, StaleUpdate, TransitionRefused, ValidationFailed

SYSTEM_ACTOR = "系统"


@dataclass(frozen=True)
class NewReport:
    """What a reporter says. The channel is never part of it: it comes from who reports (``channel_of``)."""

    category_code: str
    description: str
    lon: float
    lat: float
    crs: CRS = CRS.WGS84
    address: str | None = None
    reporter_name: str | None = None  # only the hotline desk enters a caller's name
    reporter_phone: str | None = None  # the desk for a caller; a citizen for their own contact


def channel_of(actor: User) -> Channel:
    """The intake channel of an authenticated reporter, from their role (never from what they claim)."""
    roles = actor.roles
    if roles & {Role.GRID_WORKER, Role.DEPARTMENT_LIAISON}:  # liaisons report from the street like 网格员
        return Channel.GRID_WORKER
    if has_any(roles, DESK_ROLES):
        return Channel.HOTLINE_12345
    if roles & {Role.OFFICER, Role.SQUAD_LEADER}:
        return Channel.OFFICER_PATROL
    return Channel.CITIZEN


def reporter_of(actor: User, name: str | None, phone: str | None) -> tuple[str, str | None]:
    """Who the report is from: the desk records the caller it talked to; everyone else is themselves."""
    if has_any(actor.roles, DESK_ROLES):
        return (name or "").strip() or "匿名来电", phone
    if name and name.strip() != actor.display_name:
        raise ValidationFailed("上报人姓名取自登录账号，只有热线受理员可以代填来电人信息")
    if phone and Role.CITIZEN not in actor.roles:
        raise ValidationFailed("联系电话取自登录账号，只有热线受理员可以代填来电人信息")
    return actor.display_name, phone or actor.phone


def report_case(session: Session, *, actor: User, report: NewReport, at: datetime | None = None) -> Case:
    """Open a case from a logged-in person's report: the channel follows their role, the reporter is them
    (or, for the hotline desk, the caller). Intake's channels call ``open_case`` with what they decided."""
    lon, lat = to_wgs84(report.lon, report.lat, report.crs)
    reporter_name, reporter_phone = reporter_of(actor, report.reporter_name, report.reporter_phone)
    return open_case(
        session,
        source=CaseSource(
            channel=channel_of(actor),
            actor=actor,
            reporter_id=actor.id,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            category_code=report.category_code,
            description=report.description,
            lon=lon,
            lat=lat,
            address=report.address,
            scope=tuple(access.city_scope_ids(session, bureau_id=actor.bureau_id)),
        ),
        at=at,
    )


@dataclass(frozen=True)
class CaseSource:
    """Everything a new case is opened from, already decided by whoever received the report."""

    channel: Channel
    actor: User | None  # who entered it; None for system channels (devices, other platforms)
    reporter_id: int | None
    reporter_name: str | None
    reporter_phone: str | None
    category_code: str
    description: str
    lon: float  # WGS84
    lat: float
    address: str | None
    scope: tuple[int, ...]  # bureaus whose districts the point may fall in
    report_ref: str | None = None  # intake's tracking code


def open_case(session: Session, *, source: CaseSource, at: datetime | None = None) -> Case:
    """Open a case (信息收集). The location decides the responsible brigade and grid."""
    at = at or utcnow()
    description = source.description.strip()
    if not description:
        raise ValidationFailed("问题描述不能为空")
    if len(description) > 2000:
        raise ValidationFailed("问题描述不能超过 2000 字")
    where = geo.locate(session, bureau_ids=list(source.scope), lon=source.lon, lat=source.lat)
    if where is None:
        raise OutsideArea(f"坐标 ({source.lon:.6f}, {source.lat:.6f}) 不在本单位辖区内", lon=source.lon, lat=source.lat)
    minor = catalog.resolve_minor(session, bureau_id=where.bureau_id, code=source.category_code)
    bureau = session.get_one(Bureau, where.bureau_id)
    case = Case(
        case_no=numbering.allocate_case_no(session, bureau=bureau, at=at),
        bureau_id=bureau.id,
        state=CaseState.REPORTED.value,
        category_id=minor.id,
        channel=source.channel.value,
        description=description,
        address=(source.address or "").strip() or None,
        lon=source.lon,
        lat=source.lat,
        district_id=where.district_id,
        street_id=where.street_id,
        community_id=where.community_id,
        grid_id=where.grid_id,
        reporter_id=source.reporter_id,
        reporter_name=source.reporter_name,
        reporter_phone=source.reporter_phone,
        reported_at=at,
        updated_at=at,
        rework_count=0,
        overdue_steps=0,
        history_len=0,
    )
    limits = catalog.step_limits(minor)
    case.step_limits = {step: limit.to_text() for step, limit in limits.items()}
    clock.start(case, _calendar(session, bureau.id), Step.ACCEPT, limits[Step.ACCEPT.value], at)
    session.add(case)
    record(
        session,
        case=case,
        action=REPORT_ACTION,
        from_state=None,
        actor=source.actor,
        at=at,
        note=None,
        data={"channel": case.channel, "grid": where.grid_code, "deadline": _iso(case.step_deadline)},
    )
    reporters.join(session, case=case, source=reporters.Reporter.of(source), at=at)
    session.flush()
    return case


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
    public_reply: str | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Apply one workflow action, or refuse it with a reason. Stale versions are refused with 409.

    ``public_reply`` is the answer the reporter reads (不予立案、作废、结案); internal notes never reach them.
    """
    if expected_version is not None and expected_version != case.version:
        raise StaleUpdate(
            f"案件 {case.case_no} 已被他人修改（当前版本 {case.version}，提交版本 {expected_version}）",
            current_version=case.version,
        )
    change = _Change(action, actor, note, assignee_id, extension, public_reply, at or utcnow())
    event = _apply(session, case, change)
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
    change = _Change(action, actor, note, assignee_id, None, None, at or utcnow())
    events = [_apply(session, case, change) for case in cases]
    session.flush()
    return events


@dataclass(frozen=True)
class _Change:
    action: Action
    actor: User
    note: str | None
    assignee_id: int | None
    extension: str | None
    public_reply: str | None
    at: datetime


def _acts_for_assignee(session: Session, case: Case, actor: User) -> bool:
    if case.assignee_id is None:
        return False
    if case.assignee_id == actor.id:
        return True
    return access.may_act_for(actor, identity.get_user(session, user_id=case.assignee_id))


def _apply(session: Session, case: Case, change: _Change) -> CaseEvent:
    action, actor, at = change.action, change.actor, change.at
    state = CaseState(case.state)
    decision = decide(
        action,
        Situation(
            state=state,
            actor_roles=actor.roles,
            acts_for_assignee=TRANSITIONS[action].assignee_only and _acts_for_assignee(session, case, actor),
            note=change.note,
            assignee_given=change.assignee_id is not None,
            extension_given=bool(change.extension),
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
    if change.public_reply and action not in PUBLIC_REPLY_ACTIONS:
        raise ValidationFailed(f"「{action.label}」不需要答复上报人（只有不予立案、作废、结案可填写答复）")
    target = decision.target or state
    pending = case.extension_pending if target not in EXTENDABLE else None
    requester = case.assignee_id
    # One UPDATE per transition: no autoflush while the calendar and catalog are read mid-change.
    with session.no_autoflush:
        data = _apply_fields(session, case, action, state, change)
        if target is not state:
            data.update(_move_clock(session, case, action, target, at))
        if change.public_reply:
            data["public_reply"] = change.public_reply.strip()
        case.updated_at = at
        event = record(
            session, case=case, action=action.value, from_state=state, actor=actor, at=at, note=change.note, data=data
        )
        if pending is not None:  # the request is moot now: close it in the open, and tell the requester
            case.extension_pending = None
            record(
                session,
                case=case,
                action=EXTENSION_LAPSED,
                from_state=target,
                actor=None,
                at=at,
                note=f"因「{action.label}」，未审批的延期申请（{pending}）自动撤销",
                data={"requested": pending, "because": action.value},
                notify_user_id=requester,
            )
        return event


def _apply_fields(session: Session, case: Case, action: Action, state: CaseState, change: _Change) -> dict[str, Any]:
    """What an action changes besides the state; returns what the history row should say about it."""
    data: dict[str, Any] = {}
    at = change.at
    if action is Action.DISPATCH:
        case.assignee_id = access.check_assignee(session, bureau_id=case.bureau_id, assignee_id=change.assignee_id).id
        data["assignee_id"] = case.assignee_id
    elif action is Action.VERIFY_FAIL:
        case.rework_count += 1
        data["rework"] = case.rework_count
    elif action is Action.RETURN:
        data["returned_by"] = case.assignee_id
        case.assignee_id = None
    elif action is Action.REQUEST_EXTENSION:
        case.extension_pending = TimeLimit.parse(change.extension or "").to_text()
        data["requested"] = case.extension_pending
    elif action is Action.APPROVE_EXTENSION:
        granted = TimeLimit.parse(case.extension_pending or "")
        clock.extend(case, _calendar(session, case.bureau_id), granted, at)
        data.update(granted=granted.to_text(), deadline=_iso(case.step_deadline))
        case.extension_pending = None
    elif action is Action.DENY_EXTENSION:
        data["denied"] = case.extension_pending
        case.extension_pending = None
    elif action is Action.SUSPEND:
        case.suspended_from = state.value
    elif action is Action.RESUME:
        case.suspended_from = None
    return data


def _move_clock(session: Session, case: Case, action: Action, target: CaseState, at: datetime) -> dict[str, Any]:
    """Enter ``target``: stop the old step's clock (noting whether it was in time) and start the new one.

    签收 keeps the 处置 clock that dispatch started; 挂账 pauses the clock and 恢复 resumes it with what was left.
    """
    data: dict[str, Any] = {}
    case.state = target.value
    cal = _calendar(session, case.bureau_id)
    if action is Action.SUSPEND:
        left = clock.pause(case, cal, at)
        if left is not None:
            data["time_left_s"] = round(left)
        return data
    if action is Action.RESUME:
        clock.resume(case, cal, at)
    elif action is not Action.START:
        data.update(_leave_step(case, at))
        new_step = STEP_OF_STATE.get(target)
        if new_step is None:
            clock.stop(case)
        else:
            clock.start(case, cal, new_step, _limit(session, case, new_step), at)
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
    notify_user_id: int | None = None,
) -> CaseEvent:
    """Append one history row (who, when, from, to, note) and queue the side effects of the change.

    The outbox message carries what the event said (its recipients as they were at this moment), so a
    worker that runs it later never reads a case that has moved on since.
    """
    case.history_len = seq = case.history_len + 1  # part of the case's own versioned UPDATE
    values: dict[str, Any] = {
        "seq": seq,
        "action": action,
        "from_state": from_state.value if from_state else None,
        "to_state": case.state,
        "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else SYSTEM_ACTOR,
        "at": at,
        "note": note.strip() if note else None,
        "data": data,
    }
    # Written right after the case's own flush (the case id exists by then), as one INSERT per flush.
    insert_with_flush(session, CaseEvent, lambda: {**values, "case_id": case.id})
    outbox.enqueue(
        session,
        topic="case.changed",
        payload={
            "case_no": case.case_no,
            "action": action,
            "to_state": case.state,
            "seq": seq,
            "reporter_id": case.reporter_id,
            "reporter_phone": case.reporter_phone,
            "assignee_id": case.assignee_id,
            "notify_user_id": notify_user_id,
        },
        bureau_id=case.bureau_id,
    )
    return CaseEvent(case_id=case.id, **values)  # what was recorded (the row itself is written with the flush)


def _calendar(session: Session, bureau_id: int) -> WorkCalendar:
    return calendars.cached_calendar(session, bureau_id=bureau_id)


def _limit(session: Session, case: Case, step: Step) -> TimeLimit:
    """The case's own limit for ``step`` (snapshot at report); cases from before the snapshot read the catalog."""
    if case.step_limits and step.value in case.step_limits:
        return _parse_limit(case.step_limits[step.value])
    return catalog.step_limits(session.get_one(CategoryMinor, case.category_id))[step.value]


@lru_cache(maxsize=256)
def _parse_limit(text: str) -> TimeLimit:
    return TimeLimit.parse(text)


def _leave_step(case: Case, at: datetime) -> dict[str, Any]:
    if case.step is None or case.step_deadline is None:
        return {}
    on_time = at <= case.step_deadline
    if not on_time:
        case.overdue_steps += 1
    return {"step": case.step, "step_on_time": on_time}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def recompute_deadlines(session: Session, *, bureau_ids: Sequence[int]) -> int:
    """Derive open cases' working-time deadlines again on the current calendars (after holidays were
    imported for a year that had none, those deadlines stop being provisional). Returns how many moved."""
    calendars.clear_calendar_cache()
    moved = 0
    stmt = select(Case).where(
        Case.bureau_id.in_(list(bureau_ids)),
        Case.state.in_([s.value for s in OPEN_STATES]),
        Case.clock_working.is_(True),
        Case.step_deadline.is_not(None),
    )
    for case in session.scalars(stmt):
        if clock.recompute(case, _calendar(session, case.bureau_id)):
            moved += 1
    session.flush()
    return moved


MERGE_ATTEMPTS = 5  # a merge that loses this many races in a row gives up with 409 stale-update


def attach_report(
    session: Session,
    *,
    case: Case,
    source: reporters.Reporter,
    actor: User | None,
    at: datetime | None = None,
    note: str | None = None,
) -> None:
    """Another report of the same problem joins ``case`` (duplicates merged by intake): a history row of its
    own, and one more reporter to tell the outcome. A finished case takes no more reports.

    A merge changes nothing anyone decided, so losing a race is no reason to refuse it: when another writer
    changed the case since it was read (two reports joining it at the same moment), the merge is undone to a
    savepoint, the case read again, checked to be still open, and the merge tried again."""
    at = at or utcnow()
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        state = CaseState(case.state)
        if state.is_terminal:
            raise Conflict(f"案件 {case.case_no} 已{state.label}，不能再并入新的上报")
        savepoint = session.begin_nested()  # flushes what the caller changed first, outside the savepoint
        try:
            case.updated_at = at
            record(
                session,
                case=case,
                action=REPORT_MERGED,
                from_state=state,
                actor=actor,
                at=at,
                note=note,  # why intake judged it the same problem (staff only)
                data={"channel": source.channel, "report": source.report_ref},
            )
            reporters.join(session, case=case, source=source, at=at)
            session.flush()  # the case's UPDATE carries "WHERE version = :read"
        except StaleDataError:
            savepoint.rollback()  # the history row and the reporter queued for it go too
            if attempt == MERGE_ATTEMPTS:
                raise
            session.refresh(case)
            continue
        savepoint.commit()
        return


def accept_as_system(session: Session, *, case: Case, reason: str, at: datetime | None = None) -> CaseEvent:
    """受理 taken by the system, not a person: a report from someone the bureau trusts skips the desk's
    verification (who is trusted is intake's rule). The history row names 系统 as the actor, with ``reason``."""
    from chengguan.cases.states import Refusal

    at = at or utcnow()
    state = CaseState(case.state)
    if state not in TRANSITIONS[Action.ACCEPT].sources:
        raise TransitionRefused(
            f"{Action.ACCEPT.label}：{Refusal.ILLEGAL_FROM_STATE.label}（案件 {case.case_no}，状态：{state.label}）",
            reason=Refusal.ILLEGAL_FROM_STATE.value,
            action=Action.ACCEPT.value,
            state=state.value,
        )
    with session.no_autoflush:
        data = _move_clock(session, case, Action.ACCEPT, CaseState.ACCEPTED, at)
        data["waived"] = True
        case.updated_at = at
        event = record(
            session, case=case, action=Action.ACCEPT.value, from_state=state, actor=None, at=at, note=reason, data=data
        )
    session.flush()
    return event
