"""Intake through the real services: one door, many reports, one case per problem, everyone told."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.cases import notifications
from chengguan.cases import service as cases
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case, CaseEvent, CaseReporter
from chengguan.cases.states import Action
from chengguan.identity.models import User
from chengguan.intake import service as intake
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.jobs.models import OutboxMessage
from chengguan.notify.models import Notification
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.errors import Conflict, OutsideArea, ValidationFailed
from tests.personas import SHANGHAI_POINT, xihu_spot

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=BUREAU_TZ)  # a Monday


def citizen_report(p: dict[str, User], spot: tuple[float, float], **kw: object) -> intake.Incoming:
    fields: dict[str, object] = {
        "channel": Channel.CITIZEN,
        "text": "人行道上有人摆摊卖水果",
        "lon": spot[0],
        "lat": spot[1],
        "claimed_category": "0501",
        "reporter_id": p["citizen1"].id,
        "reporter_name": p["citizen1"].display_name,
        "reporter_phone": "13900001111",
    }
    fields.update(kw)
    return intake.Incoming(**fields)  # type: ignore[arg-type]


def submit_and_process(db: Session, incoming: intake.Incoming, at: datetime = T0) -> Report:
    report = intake.submit(db, incoming=incoming, at=at)
    done = intake.process(db, report_id=report.id, at=at)
    assert done is not None
    return done


def test_a_located_report_with_a_category_opens_a_case(city_db: Session, people: dict[str, User]) -> None:
    report = submit_and_process(city_db, citizen_report(people, xihu_spot()))
    assert report.status == ReportStatus.ACCEPTED and report.case_id is not None
    case = city_db.get_one(Case, report.case_id)
    assert case.channel == "citizen" and case.reporter_id == people["citizen1"].id
    joined = city_db.scalars(select(CaseReporter).where(CaseReporter.case_id == case.id)).all()
    assert [(r.user_id, r.report_ref, r.since_seq) for r in joined] == [
        (people["citizen1"].id, report.tracking_code, 1)
    ]
    assert len(report.tracking_code) == 10 and report.tracking_code.isalnum()


def test_the_same_problem_from_another_channel_joins_the_open_case(city_db: Session, people: dict[str, User]) -> None:
    spot = xihu_spot()
    first = submit_and_process(city_db, citizen_report(people, spot))
    call = intake.Incoming(
        channel=Channel.HOTLINE_12345,
        text="市民来电：文三路人行道有流动摊贩",
        lon=spot[0] + 0.0003,  # about 30 m away
        lat=spot[1],
        claimed_category="0501",
        reporter_name="王先生",
        reporter_phone="13700002222",
    )
    second = submit_and_process(city_db, call, at=T0 + timedelta(hours=2))
    assert second.status == ReportStatus.MERGED and second.case_id == first.case_id
    assert second.merge_score is not None and 0 < second.merge_score <= 1
    case = city_db.get_one(Case, first.case_id)
    events = city_db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
    assert [e.action for e in events] == ["report", "report_merged"]
    assert events[1].data == {"channel": "hotline_12345", "report": second.tracking_code}
    # elsewhere, or another 小类, or long after: a problem of its own
    far = submit_and_process(city_db, citizen_report(people, xihu_spot()), at=T0 + timedelta(hours=3))
    other = submit_and_process(city_db, citizen_report(people, spot, claimed_category="0202"), at=T0)
    later = submit_and_process(city_db, citizen_report(people, spot), at=T0 + timedelta(days=5))
    assert {far.case_id, other.case_id, later.case_id}.isdisjoint({first.case_id})


def test_every_reporter_is_told_the_outcome(city_db: Session, people: dict[str, User]) -> None:
    p = people
    spot = xihu_spot()
    first = submit_and_process(city_db, citizen_report(p, spot))
    merged = submit_and_process(
        city_db,
        intake.Incoming(
            channel=Channel.HOTLINE_12345,
            text="来电反映同一处摆摊",
            lon=spot[0],
            lat=spot[1],
            claimed_category="0501",
            reporter_name="王先生",
            reporter_phone="13700002222",
        ),
    )
    case = city_db.get_one(Case, first.case_id)
    t = T0 + timedelta(minutes=5)
    for action, actor, kw in [
        (Action.ACCEPT, "dispatcher", {}),
        (Action.FILE, "shift_leader", {}),
        (Action.DISPATCH, "dispatcher", {"assignee_id": p["officer1"].id}),
        (Action.START, "officer1", {}),
        (Action.FEEDBACK, "officer1", {"note": "已劝离"}),
        (Action.VERIFY_PASS, "grid1", {}),
        (Action.CLOSE, "shift_leader", {}),
    ]:
        cases.transition(city_db, case=case, action=action, actor=p[actor], at=t, **kw)  # type: ignore[arg-type]
    city_db.flush()
    for message in city_db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.changed")):
        if message.payload["case_no"] == case.case_no:
            notifications.on_case_changed(city_db, message.payload)
    closed = city_db.scalars(
        select(Notification).where(Notification.ref == case.case_no, Notification.body.contains("已处理完毕"))
    ).all()
    assert {(n.user_id, n.phone) for n in closed} == {(p["citizen1"].id, "13900001111"), (None, "13700002222")}
    joined = city_db.scalars(
        select(Notification).where(Notification.ref == case.case_no, Notification.body.contains("并入"))
    ).all()
    assert [(n.user_id, n.phone) for n in joined] == [(None, "13700002222")]  # only the one who joined
    assert merged.status == ReportStatus.MERGED


def test_a_replayed_report_is_stored_once(city_db: Session, people: dict[str, User]) -> None:
    from chengguan.intake.models import IntakeClient

    client = IntakeClient(
        code="t-12345",
        name="12345 测试",
        channel="hotline_12345",
        bureau_id=people["dispatcher"].bureau_id,
        key_hash="x" * 64,
    )
    city_db.add(client)
    city_db.flush()
    incoming = citizen_report(
        people, xihu_spot(), channel=Channel.HOTLINE_12345, client_id=client.id, external_id="GD-1"
    )
    a = intake.submit(city_db, incoming=incoming)
    b = intake.submit(city_db, incoming=incoming)
    assert a.id == b.id
    assert city_db.scalar(select(func.count()).select_from(Report).where(Report.client_id == client.id)) == 1


def test_a_report_outside_every_district_is_refused_with_the_reason(city_db: Session, people: dict[str, User]) -> None:
    before = city_db.scalar(select(func.count()).select_from(Report))
    with pytest.raises(OutsideArea) as refused:
        intake.submit(city_db, incoming=citizen_report(people, SHANGHAI_POINT))
    assert "不在本平台服务的辖区内" in refused.value.detail
    assert city_db.scalar(select(func.count()).select_from(Report)) == before


def test_a_pin_far_from_the_typed_address_is_questioned(city_db: Session, people: dict[str, User]) -> None:
    report = submit_and_process(city_db, citizen_report(people, xihu_spot(), address="萧山区某小区门口"))
    assert report.status == ReportStatus.TRIAGE and report.case_id is None
    assert report.location_note is not None and "萧山区" in report.location_note and "公里" in report.location_note


def test_without_a_place_or_a_category_a_person_decides(city_db: Session, people: dict[str, User]) -> None:
    p = people
    nowhere = submit_and_process(
        city_db, citizen_report(p, (0, 0), lon=None, lat=None, address="某某小区门口垃圾堆了好几天")
    )
    assert nowhere.status == ReportStatus.TRIAGE and "位置" in (nowhere.status_note or "")
    spot = xihu_spot()
    # no category chosen, and words that do not say which problem: the classifier is not confident
    vague = "门口这个情况持续好几天了，请尽快处理"
    uncategorised = submit_and_process(city_db, citizen_report(p, spot, claimed_category=None, text=vague))
    assert uncategorised.status == ReportStatus.TRIAGE and uncategorised.case_id is None
    with pytest.raises(ValidationFailed):  # forwarding needs a reason
        intake.decide(
            city_db,
            report=uncategorised,
            decision=intake.TriageDecision(status=ReportStatus.FORWARDED),
            actor=p["dispatcher"],
        )
    intake.decide(
        city_db,
        report=uncategorised,
        decision=intake.TriageDecision(status=ReportStatus.ACCEPTED, category_code="0504"),
        actor=p["dispatcher"],
        at=T0,
    )
    assert uncategorised.status == ReportStatus.ACCEPTED and uncategorised.category_code == "0504"
    with pytest.raises(Conflict):  # decided once
        intake.decide(
            city_db,
            report=uncategorised,
            decision=intake.TriageDecision(status=ReportStatus.REJECTED, note="重复"),
            actor=p["dispatcher"],
        )
    intake.decide(
        city_db,
        report=nowhere,
        decision=intake.TriageDecision(status=ReportStatus.ACCEPTED, category_code="0101", lon=spot[0], lat=spot[1]),
        actor=p["dispatcher"],
        at=T0,
    )
    assert nowhere.status == ReportStatus.ACCEPTED and nowhere.location_source == "desk"


def test_processing_twice_changes_nothing(city_db: Session, people: dict[str, User]) -> None:
    report = submit_and_process(city_db, citizen_report(people, xihu_spot()))
    cases_before = city_db.scalar(select(func.count()).select_from(Case))
    again = intake.process(city_db, report_id=report.id)
    assert again is report and city_db.scalar(select(func.count()).select_from(Case)) == cases_before


def test_an_unknown_category_is_refused_at_once(city_db: Session, people: dict[str, User]) -> None:
    with pytest.raises(ValidationFailed):
        intake.submit(city_db, incoming=citizen_report(people, xihu_spot(), claimed_category="9999"))
