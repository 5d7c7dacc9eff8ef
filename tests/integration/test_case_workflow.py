"""A case's life in the demo city, through the real services on the real database."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from shapely.geometry import box, mapping
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from chengguan.calendar import service as calendars
from chengguan.cases import placement
from chengguan.cases import service as cases
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import Action, CaseState, Refusal
from chengguan.catalog import service as catalog
from chengguan.geo import service as geo
from chengguan.geo.models import District, Street
from chengguan.identity.models import Bureau, User
from chengguan.jobs.models import OutboxMessage
from chengguan.shared.clock import BUREAU_TZ
from chengguan.shared.coords import CRS, wgs84_to_gcj02
from chengguan.shared.errors import OutsideArea, StaleUpdate, TransitionRefused, ValidationFailed
from tests.personas import JIANDE_POINT, SHANGCHENG_POINT, SHANGHAI_POINT, XIAOSHAN_POINT, XIHU_POINT

VENDING = "0501"  # 占道经营


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BUREAU_TZ)  # type: ignore[misc]


def report(db: Session, actor: User, point: tuple[float, float] = XIHU_POINT, **kw: object) -> Case:
    data = {
        "category_code": VENDING,
        "description": "人行道上有流动摊贩摆摊卖水果",
        "lon": point[0],
        "lat": point[1],
    }
    data.update(kw)
    at = data.pop("at", None)
    return cases.report_case(db, actor=actor, report=cases.NewReport(**data), at=at)  # type: ignore[arg-type]


def history(db: Session, case: Case) -> list[CaseEvent]:
    return list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))


def test_a_citizen_report_opens_a_case_at_the_brigade_of_its_district(
    city_db: Session, people: dict[str, User]
) -> None:
    case = report(city_db, people["citizen1"], at=local(2026, 11, 20, 10, 0))
    xihu = city_db.scalar(select(Bureau).where(Bureau.admin_code == "330106"))
    assert xihu is not None and case.bureau_id == xihu.id
    assert case.case_no.startswith("XH-2026-")
    assert case.state == CaseState.REPORTED and case.grid_id is not None and case.channel == "citizen"
    events = history(city_db, case)
    assert [(e.action, e.from_state, e.to_state) for e in events] == [("report", None, "reported")]
    assert city_db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.done_at.is_(None))) >= 1


@pytest.mark.parametrize(("point", "prefix"), [(XIAOSHAN_POINT, "XS-"), (JIANDE_POINT, "JD-")])
def test_a_report_anywhere_in_hangzhou_finds_its_brigade_and_grid(
    city_db: Session, people: dict[str, User], point: tuple[float, float], prefix: str
) -> None:
    case = report(city_db, people["citizen1"], point)
    assert case.case_no.startswith(prefix)
    assert case.street_id is not None and case.community_id is not None and case.grid_id is not None


def test_case_numbers_are_sequential_per_bureau_and_year(city_db: Session, people: dict[str, User]) -> None:
    a = report(city_db, people["citizen1"], at=local(2026, 3, 1, 9, 0))
    b = report(city_db, people["citizen1"], at=local(2026, 3, 1, 9, 5))
    c = report(city_db, people["citizen1"], SHANGCHENG_POINT, at=local(2026, 3, 1, 9, 6))
    d = report(city_db, people["citizen1"], at=local(2027, 1, 4, 9, 0))
    na, nb = int(a.case_no.rsplit("-", 1)[1]), int(b.case_no.rsplit("-", 1)[1])
    assert nb == na + 1
    assert c.case_no.startswith("SC-2026-")
    assert d.case_no == "XH-2027-000001"


def test_the_full_path_from_report_to_closing_is_recorded(city_db: Session, people: dict[str, User]) -> None:
    p = people
    t = local(2026, 11, 23, 9, 0)  # a Monday
    case = report(city_db, p["grid1"], at=t)
    steps = [
        (Action.ACCEPT, p["dispatcher"], {}),
        (Action.FILE, p["shift_leader"], {}),
        (Action.DISPATCH, p["dispatcher"], {"assignee_id": p["officer1"].id}),
        (Action.START, p["officer1"], {}),
        (Action.FEEDBACK, p["officer1"], {"note": "已责令摊贩撤离，现场恢复通行"}),
        (Action.VERIFY_PASS, p["grid1"], {}),
        (Action.CLOSE, p["shift_leader"], {}),
    ]
    for i, (action, actor, kw) in enumerate(steps, start=1):
        cases.transition(city_db, case=case, action=action, actor=actor, at=t + timedelta(minutes=10 * i), **kw)
    assert case.state == CaseState.CLOSED and case.closed_at == t + timedelta(minutes=70)
    assert case.step is None and case.step_deadline is None
    events = history(city_db, case)
    assert [e.action for e in events] == ["report", *[a.value for a, _, _ in steps]]
    for before, after in itertools.pairwise(events):
        assert after.from_state == before.to_state  # an unbroken chain
    assert events[3].data["assignee_id"] == p["officer1"].id
    assert events[5].note == "已责令摊贩撤离，现场恢复通行" and events[5].actor_name == "李明"
    assert all(e.data.get("step_on_time", True) for e in events)


def test_a_refused_action_names_its_reason_and_changes_nothing(city_db: Session, people: dict[str, User]) -> None:
    case = report(city_db, people["citizen1"])
    version = case.version
    with pytest.raises(TransitionRefused) as refused:
        cases.transition(city_db, case=case, action=Action.CLOSE, actor=people["shift_leader"])
    assert refused.value.extra["reason"] == Refusal.ILLEGAL_FROM_STATE
    with pytest.raises(TransitionRefused) as refused:
        cases.transition(city_db, case=case, action=Action.ACCEPT, actor=people["officer1"])
    assert refused.value.extra["reason"] == Refusal.ROLE_NOT_ALLOWED
    city_db.flush()
    assert case.version == version and case.state == CaseState.REPORTED
    assert len(history(city_db, case)) == 1


def test_a_stale_version_is_refused(city_db: Session, people: dict[str, User]) -> None:
    case = report(city_db, people["citizen1"])
    seen = case.version
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=people["dispatcher"], expected_version=seen)
    with pytest.raises(StaleUpdate):
        cases.transition(
            city_db,
            case=case,
            action=Action.VOID,
            actor=people["dispatcher"],
            note="重复",
            expected_version=seen,
        )


def test_bad_reports_are_refused_and_leave_nothing(city_db: Session, people: dict[str, User]) -> None:
    before = city_db.scalar(select(func.count()).select_from(Case))
    with pytest.raises(OutsideArea):
        report(city_db, people["citizen1"], SHANGHAI_POINT)
    with pytest.raises(ValidationFailed) as unknown:
        report(city_db, people["citizen1"], category_code="9999")
    assert unknown.value.code == "unknown-category"
    with pytest.raises(ValidationFailed):
        report(city_db, people["citizen1"], description="   ")
    assert city_db.scalar(select(func.count()).select_from(Case)) == before


def test_gcj02_coordinates_from_a_phone_are_stored_as_wgs84(city_db: Session, people: dict[str, User]) -> None:
    gx, gy = wgs84_to_gcj02(*XIHU_POINT)
    case = report(city_db, people["citizen1"], (gx, gy), crs=CRS.GCJ02)
    assert case.lon == pytest.approx(XIHU_POINT[0], abs=1e-5) and case.lat == pytest.approx(XIHU_POINT[1], abs=1e-5)


def test_sla_clocks_come_from_the_catalog_and_the_working_calendar(city_db: Session, people: dict[str, User]) -> None:
    friday = local(2026, 11, 20, 16, 0)
    case = report(city_db, people["citizen1"], at=friday)
    minor = catalog.resolve_minor(city_db, bureau_id=case.bureau_id, code=VENDING)
    cal = calendars.get_calendar(city_db, bureau_id=case.bureau_id)
    limits = catalog.step_limits(minor)
    assert case.step == "accept" and case.step_deadline == cal.add(friday, limits["accept"])
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=people["dispatcher"], at=friday)
    cases.transition(city_db, case=case, action=Action.FILE, actor=people["shift_leader"], at=friday)
    cases.transition(
        city_db,
        case=case,
        action=Action.DISPATCH,
        actor=people["dispatcher"],
        assignee_id=people["officer1"].id,
        at=friday,
    )
    assert case.step == "handle" and case.step_deadline == cal.add(friday, limits["handle"])
    if limits["handle"].unit.is_working_time:
        assert case.step_deadline.astimezone(BUREAU_TZ).weekday() not in (5, 6)  # never lands on the weekend
    handle_deadline = case.step_deadline
    cases.transition(city_db, case=case, action=Action.START, actor=people["officer1"], at=friday + timedelta(hours=1))
    assert case.step_deadline == handle_deadline  # signing for the task keeps the dispatch clock


def test_extension_and_rework(city_db: Session, people: dict[str, User]) -> None:
    p = people
    t = local(2026, 11, 23, 9, 0)
    case = report(city_db, p["grid1"], at=t)
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=p["dispatcher"], at=t)
    cases.transition(city_db, case=case, action=Action.FILE, actor=p["shift_leader"], at=t)
    cases.transition(
        city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p["officer1"].id, at=t
    )
    cases.transition(city_db, case=case, action=Action.START, actor=p["officer1"], at=t)
    before = case.step_deadline
    cases.transition(
        city_db,
        case=case,
        action=Action.REQUEST_EXTENSION,
        actor=p["officer1"],
        extension="2工作日",
        note="需预约",
        at=t,
    )
    assert case.extension_pending == "2工作日" and case.step_deadline == before
    with pytest.raises(TransitionRefused):
        cases.transition(city_db, case=case, action=Action.APPROVE_EXTENSION, actor=p["officer1"], at=t)
    cases.transition(city_db, case=case, action=Action.APPROVE_EXTENSION, actor=p["shift_leader"], at=t)
    assert case.extension_pending is None and case.step_deadline is not None and before is not None
    assert case.step_deadline > before and case.state == CaseState.PROCESSING
    cases.transition(city_db, case=case, action=Action.FEEDBACK, actor=p["officer1"], note="已处理", at=t)
    cases.transition(city_db, case=case, action=Action.VERIFY_FAIL, actor=p["grid1"], note="问题仍在", at=t)
    assert case.state == CaseState.DISPATCHED and case.rework_count == 1 and case.assignee_id == p["officer1"].id


def test_suspend_and_resume_return_to_the_same_state(city_db: Session, people: dict[str, User]) -> None:
    p = people
    case = report(city_db, p["grid1"])
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=p["dispatcher"])
    cases.transition(city_db, case=case, action=Action.FILE, actor=p["shift_leader"])
    cases.transition(city_db, case=case, action=Action.SUSPEND, actor=p["shift_leader"], note="需多部门协调")
    # the clock is paused: the step is kept, with no deadline while suspended
    assert case.state == CaseState.SUSPENDED and case.step == "dispatch" and case.step_deadline is None
    cases.transition(city_db, case=case, action=Action.RESUME, actor=p["shift_leader"])
    assert case.state == CaseState.FILED and case.step == "dispatch" and case.suspended_from is None


def test_dispatch_only_to_field_staff_of_the_area(city_db: Session, people: dict[str, User]) -> None:
    p = people
    case = report(city_db, p["grid1"])
    cases.transition(city_db, case=case, action=Action.ACCEPT, actor=p["dispatcher"])
    cases.transition(city_db, case=case, action=Action.FILE, actor=p["shift_leader"])
    with pytest.raises(ValidationFailed):
        cases.transition(
            city_db, case=case, action=Action.DISPATCH, actor=p["dispatcher"], assignee_id=p["citizen1"].id
        )
    assert case.state == CaseState.FILED


def test_history_rows_cannot_be_rewritten(city_db: Session, people: dict[str, User]) -> None:
    case = report(city_db, people["citizen1"])
    city_db.flush()
    with pytest.raises(DBAPIError), city_db.begin_nested():
        city_db.execute(text("UPDATE case_event SET note = 'tampered' WHERE case_id = :id"), {"id": case.id})
    with pytest.raises(DBAPIError), city_db.begin_nested():
        city_db.execute(text("DELETE FROM case_event WHERE case_id = :id"), {"id": case.id})
    assert history(city_db, case)[0].note is None


def test_importing_real_streets_replaces_generated_ones_and_cases_follow(
    city_db: Session, people: dict[str, User], tmp_path: Path
) -> None:
    case = report(city_db, people["citizen1"], SHANGCHENG_POINT)
    generated_grid = case.grid_id
    assert generated_grid is not None
    district = city_db.scalars(select(District).where(District.code == "330102")).one()
    minx, miny, maxx, maxy = district.geom.bounds
    mid = (minx + maxx) / 2
    halves = [
        ("330102001", "湖滨街道", district.geom.intersection(box(minx - 1, miny - 1, mid, maxy + 1))),
        ("330102002", "望江街道", district.geom.intersection(box(mid, miny - 1, maxx + 1, maxy + 1))),
    ]
    path = tmp_path / "streets.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"code": c, "name": n}, "geometry": mapping(g)}
                    for c, n, g in halves
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    city = city_db.scalars(select(Bureau).where(Bureau.code == "hz")).one()
    geo.import_boundaries(city_db, bureau=city, level="street", path=path, name_field="name", code_field="code")
    city_db.expire_all()
    assert case.grid_id is None and case.street_id is None  # its generated grid is gone
    scope = [b.id for b in city_db.scalars(select(Bureau))]
    assert placement.relocate(city_db, bureau_ids=scope) >= 1
    street = city_db.get_one(Street, case.street_id)
    expected = "330102001" if SHANGCHENG_POINT[0] < mid else "330102002"
    assert street.code == expected and street.source.startswith("imported:")
    assert case.district_id == district.id and case.state == CaseState.REPORTED


def test_a_batch_action_is_all_or_nothing(city_db: Session, people: dict[str, User]) -> None:
    batch = [report(city_db, people["grid1"]) for _ in range(3)]
    events = cases.transition_many(city_db, cases=batch, action=Action.ACCEPT, actor=people["dispatcher"])
    assert [e.seq for e in events] == [2, 2, 2]
    assert {c.state for c in batch} == {CaseState.ACCEPTED}
    late = report(city_db, people["grid1"])  # still 待受理: 立案 is illegal for it
    with pytest.raises(TransitionRefused) as refused, city_db.begin_nested():
        cases.transition_many(city_db, cases=[*batch, late], action=Action.FILE, actor=people["shift_leader"])
    assert late.case_no in refused.value.detail
    city_db.expire_all()
    assert {c.state for c in batch} == {CaseState.ACCEPTED}
    assert all(len(history(city_db, c)) == 2 for c in batch)
