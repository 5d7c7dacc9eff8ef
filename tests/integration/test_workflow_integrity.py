"""Workflow integrity: paused clocks, extensions that lapse or are granted, who may act for an assignee,
who a case may go to, notifications that say what the event said, and provisional deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.cases import notifications
from chengguan.cases import service as cases
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.presenters import present_cases
from chengguan.cases.states import Action, CaseState, Refusal
from chengguan.identity import access
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import Role
from chengguan.jobs.models import OutboxMessage
from chengguan.notify.models import Notification
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.errors import TransitionRefused, ValidationFailed
from tests.personas import XIHU_POINT

VENDING = "0501"  # 占道经营: 处置时限 2工作时


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BUREAU_TZ)  # type: ignore[misc]


def dispatched(db: Session, p: dict[str, User], at: datetime, officer: str = "officer1") -> Case:
    """A 占道经营 case in 西湖区 dispatched at ``at`` (report, accept, file and dispatch at the same instant)."""
    case = cases.report_case(
        db,
        actor=p["grid1"],
        report=cases.NewReport(category_code=VENDING, description="人行道摆摊", lon=XIHU_POINT[0], lat=XIHU_POINT[1]),
        at=at,
    )
    cases.transition(db, case=case, action=Action.ACCEPT, actor=p["dispatcher"], at=at)
    cases.transition(db, case=case, action=Action.FILE, actor=p["shift_leader"], at=at)
    cases.transition(db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p[officer].id, at=at)
    return case


def actions(db: Session, case: Case) -> list[str]:
    return list(db.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))


# ---- 挂账 and 恢复 ----------------------------------------------------------------------------------------


def test_resume_continues_with_the_time_that_was_left(city_db: Session, people: dict[str, User]) -> None:
    case = dispatched(city_db, people, local(2026, 11, 23, 9, 0))  # Monday: 处置 due 11:00
    assert case.step_deadline == local(2026, 11, 23, 11, 0)
    leader = people["shift_leader"]
    cases.transition(
        city_db, case=case, action=Action.SUSPEND, actor=leader, note="待协调", at=local(2026, 11, 23, 10, 0)
    )
    assert case.state == CaseState.SUSPENDED and case.step_deadline is None
    cases.transition(city_db, case=case, action=Action.RESUME, actor=leader, at=local(2026, 11, 25, 14, 0))
    # one working hour was left when it was suspended: due an hour after 恢复, not a fresh two hours
    assert case.state == CaseState.DISPATCHED and case.step_deadline == local(2026, 11, 25, 15, 0)


def test_an_overdue_case_stays_overdue_after_resume(city_db: Session, people: dict[str, User]) -> None:
    case = dispatched(city_db, people, local(2026, 11, 23, 9, 0))  # due Monday 11:00
    leader = people["shift_leader"]
    cases.transition(
        city_db, case=case, action=Action.SUSPEND, actor=leader, note="待协调", at=local(2026, 11, 23, 13, 0)
    )
    resumed = local(2026, 11, 27, 10, 0)
    cases.transition(city_db, case=case, action=Action.RESUME, actor=leader, at=resumed)
    assert case.step_deadline == resumed - timedelta(hours=2)  # as overdue as when it was suspended


def test_an_approved_extension_counts_from_the_deadline_or_from_now_when_it_has_passed(
    city_db: Session, people: dict[str, User]
) -> None:
    p = people
    on_time = dispatched(city_db, p, local(2026, 11, 23, 9, 0))  # due Monday 11:00
    cases.transition(city_db, case=on_time, action=Action.START, actor=p["officer1"], at=local(2026, 11, 23, 9, 10))
    cases.transition(
        city_db,
        case=on_time,
        action=Action.REQUEST_EXTENSION,
        actor=p["officer1"],
        extension="1工作日",
        note="当事人外出",
        at=local(2026, 11, 23, 10, 0),
    )
    cases.transition(
        city_db, case=on_time, action=Action.APPROVE_EXTENSION, actor=p["shift_leader"], at=local(2026, 11, 23, 10, 30)
    )
    assert on_time.step_deadline == local(2026, 11, 24, 11, 0)  # one working day after Monday 11:00

    late = dispatched(city_db, p, local(2026, 11, 23, 9, 0))
    cases.transition(
        city_db,
        case=late,
        action=Action.REQUEST_EXTENSION,
        actor=p["officer1"],
        extension="2工作时",
        note="需预约",
        at=local(2026, 11, 23, 10, 0),
    )
    cases.transition(
        city_db, case=late, action=Action.APPROVE_EXTENSION, actor=p["shift_leader"], at=local(2026, 11, 23, 14, 0)
    )
    assert late.step_deadline == local(2026, 11, 23, 16, 0)  # from the approval: 11:00 had passed


# ---- pending 延期 requests never dangle ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "actor", "kw"),
    [
        (Action.RETURN, "officer1", {"note": "非本中队责任区"}),
        (Action.SUSPEND, "shift_leader", {"note": "待协调"}),
    ],
)
def test_a_pending_extension_lapses_in_the_open_when_the_task_moves_on(
    city_db: Session, people: dict[str, User], action: Action, actor: str, kw: dict[str, str]
) -> None:
    p = people
    t = local(2026, 11, 23, 9, 0)
    case = dispatched(city_db, p, t)
    cases.transition(
        city_db, case=case, action=Action.REQUEST_EXTENSION, actor=p["officer1"], extension="2工作日", note="x", at=t
    )
    cases.transition(city_db, case=case, action=action, actor=p[actor], at=t + timedelta(minutes=5), **kw)
    assert case.extension_pending is None
    assert actions(city_db, case)[-2:] == [action.value, "extension_lapsed"]
    lapsed = city_db.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert lapsed is not None and lapsed.data == {"requested": "2工作日", "because": action.value}
    assert lapsed.actor_id is None and "自动撤销" in (lapsed.note or "")
    if action is Action.RETURN:  # the next officer does not inherit the first one's request
        cases.transition(
            city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p["officer5"].id
        )
        with pytest.raises(TransitionRefused) as refused:
            cases.transition(city_db, case=case, action=Action.APPROVE_EXTENSION, actor=p["shift_leader"])
        assert refused.value.extra["reason"] == Refusal.NO_PENDING_EXTENSION


def test_feedback_with_a_pending_extension_closes_the_request(city_db: Session, people: dict[str, User]) -> None:
    p = people
    t = local(2026, 11, 23, 9, 0)
    case = dispatched(city_db, p, t)
    cases.transition(city_db, case=case, action=Action.START, actor=p["officer1"], at=t)
    cases.transition(
        city_db, case=case, action=Action.REQUEST_EXTENSION, actor=p["officer1"], extension="1工作日", note="x", at=t
    )
    cases.transition(city_db, case=case, action=Action.FEEDBACK, actor=p["officer1"], note="已处理", at=t)
    assert case.state == CaseState.HANDLED and case.extension_pending is None
    assert actions(city_db, case)[-1] == "extension_lapsed"


# ---- who may act for the assignee, who a case may go to ---------------------------------------------


def test_only_the_assignees_own_squad_leader_may_act_for_them(city_db: Session, people: dict[str, User]) -> None:
    p = people
    case = dispatched(city_db, p, local(2026, 11, 23, 9, 0), officer="officer1")  # officer1 is in 一中队
    for outsider in ("squad2", "liaison1"):  # 二中队's leader; a department's liaison
        with pytest.raises(TransitionRefused) as refused:
            cases.transition(city_db, case=case, action=Action.START, actor=p[outsider])
        assert refused.value.extra["reason"] == Refusal.NOT_ASSIGNEE
    cases.transition(city_db, case=case, action=Action.START, actor=p["squad1"])  # 一中队's own leader
    assert case.state == CaseState.PROCESSING


def test_a_liaison_acts_only_on_tasks_of_their_own_department(city_db: Session, people: dict[str, User]) -> None:
    p = people
    dept = p["liaison1"].unit
    assert dept is not None
    colleague = identity.create_user(
        city_db,
        bureau=p["liaison1"].bureau,
        username="liaison1b",
        password="chengguan2026",
        display_name="市政养护中心值班",
        roles=[Role.DEPARTMENT_LIAISON],
        unit=dept,
    )
    case = dispatched(city_db, p, local(2026, 11, 23, 9, 0), officer="liaison1")
    with pytest.raises(TransitionRefused):
        cases.transition(city_db, case=case, action=Action.START, actor=p["liaison2"])  # 园林: another department
    cases.transition(city_db, case=case, action=Action.START, actor=colleague)  # same department
    assert case.state == CaseState.PROCESSING


def test_dispatch_candidates_and_the_dispatch_check_are_one_rule(city_db: Session, people: dict[str, User]) -> None:
    p = people
    xihu = city_db.scalars(select(Bureau).where(Bureau.admin_code == "330106")).one()
    candidates = {u.username for u in access.assignable_users(city_db, bureau_id=xihu.id)}
    assert {"officer1", "officer5", "squad1", "squad2", "liaison1", "liaison2"} <= candidates
    assert not candidates & {"officer2", "officer3", "officer6", "grid1", "dispatcher", "citizen1"}
    t = local(2026, 11, 23, 9, 0)
    case = cases.report_case(
        city_db,
        actor=p["grid1"],
        report=cases.NewReport(category_code=VENDING, description="摆摊", lon=XIHU_POINT[0], lat=XIHU_POINT[1]),
        at=t,
    )
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=p["dispatcher"], at=t)
    cases.transition(city_db, case=case, action=Action.FILE, actor=p["shift_leader"], at=t)
    for stranger in ("officer2", "grid1"):  # 上城 officer: would get 404 on this case; not field staff
        with pytest.raises(ValidationFailed):
            cases.transition(
                city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p[stranger].id
            )
    with pytest.raises(ValidationFailed):
        cases.transition(city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=2**62)
    assert case.state == CaseState.FILED


# ---- notifications say what the event said ------------------------------------------------------------


def test_each_dispatch_notice_reaches_the_officer_it_was_meant_for(city_db: Session, people: dict[str, User]) -> None:
    """With a separate worker, messages run after the case moved on: they must not read the case again."""
    p = people
    t = local(2026, 11, 23, 9, 0)
    case = dispatched(city_db, p, t, officer="officer1")
    cases.transition(city_db, case=case, action=Action.RETURN, actor=p["officer1"], note="非本中队", at=t)
    cases.transition(
        city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p["officer5"].id, at=t
    )
    city_db.flush()
    queued = city_db.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "case.changed").order_by(OutboxMessage.id)
    ).all()
    for message in queued:  # the worker runs now, when officer5 holds the case
        if message.payload["case_no"] == case.case_no:
            notifications.on_case_changed(city_db, message.payload)
    told = city_db.scalars(
        select(Notification.user_id).where(Notification.ref == case.case_no, Notification.body.contains("新任务"))
    ).all()
    assert sorted(told) == sorted([p["officer1"].id, p["officer5"].id])


# ---- deadlines across a year without official holidays ------------------------------------------------


def test_deadlines_across_a_year_without_holidays_are_provisional_until_it_is_imported(
    city_db: Session, people: dict[str, User]
) -> None:
    p = people
    city = city_db.scalars(select(Bureau).where(Bureau.code == "hz")).one()
    cal = calendars.get_calendar(city_db, bureau_id=city.id)
    year = max(cal.holiday_years) + 1  # the first year nobody has imported
    start = local(year - 1, 12, 31, 16, 0)
    while not cal.is_working_day(start.date()):  # the last working day of the year before, at 16:00
        start -= timedelta(days=1)
    case = dispatched(city_db, p, start)
    first_working = date(year, 1, 1)
    while not cal.is_working_day(first_working):
        first_working += timedelta(days=1)
    assert case.step_deadline is not None and case.step_deadline.astimezone(BUREAU_TZ).date() == first_working
    assert present_cases(city_db, [case], viewer=p["dispatcher"])[0].deadline_provisional

    calendars.set_special_days(city_db, bureau=city, days=[(first_working, "holiday", "元旦")])
    moved = cases.recompute_deadlines(city_db, bureau_ids=[case.bureau_id])
    assert moved >= 1
    new_day = case.step_deadline.astimezone(BUREAU_TZ).date()
    assert new_day > first_working  # the holiday is no longer counted as working time
    assert not present_cases(city_db, [case], viewer=p["dispatcher"])[0].deadline_provisional


def test_holiday_coverage_warns_when_the_coming_days_reach_an_unimported_year(city_db: Session) -> None:
    city = city_db.scalars(select(Bureau).where(Bureau.code == "hz")).one()
    covered = max(calendars.get_calendar(city_db, bureau_id=city.id).holiday_years)
    ok = calendars.holiday_coverage(city_db, bureau_id=city.id, today=date(covered, 3, 1))
    assert ok.ok and "已覆盖" in ok.message
    late = calendars.holiday_coverage(city_db, bureau_id=city.id, today=date(covered, 12, 1))
    assert late.missing_years == (covered + 1,) and f"{covered + 1} 年" in late.message
