"""Two reports join the same open case at the same moment: both are merged, neither is refused.

Real PostgreSQL, real threads, real commits: both merges read the case before either writes (a barrier at
``before_flush``), so the second's versioned UPDATE matches no row once the first commits; ``attach_report``
reads the case again and merges."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from chengguan.cases import reporters
from chengguan.cases import service as cases
from chengguan.cases.models import Case, CaseEvent, CaseReporter
from chengguan.cases.states import REPORT_MERGED
from chengguan.identity.models import User
from tests.personas import XIHU_POINT

pytestmark = pytest.mark.postgres_only


def test_two_merges_into_one_case_at_the_same_moment_both_land(city_engine: Engine) -> None:
    factory = sessionmaker(bind=city_engine, expire_on_commit=False)
    with factory() as s:
        grid1 = s.scalars(select(User).where(User.username == "grid1")).one()
        case = cases.report_case(
            s,
            actor=grid1,
            report=cases.NewReport(
                category_code="0504", description="人行道堆放建材", lon=XIHU_POINT[0], lat=XIHU_POINT[1]
            ),
        )
        s.commit()
        case_no, first_version = case.case_no, case.version
    both_read = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def merge(ref: str) -> None:
        with factory() as s:
            held = {"waited": False}

            @event.listens_for(s, "before_flush")
            def _hold(_s: Session, _ctx: object, _instances: object) -> None:
                if not held["waited"] and s.dirty:  # the first flush that writes the case: wait for the other
                    held["waited"] = True
                    both_read.wait()

            target = s.scalars(select(Case).where(Case.case_no == case_no)).one()
            try:
                cases.attach_report(
                    s,
                    case=target,
                    source=reporters.Reporter(channel="citizen", user_id=None, name=None, phone=None, report_ref=ref),
                    actor=None,
                )
                s.commit()
                result = "merged"
            except Exception as exc:  # the outcome is what the test compares
                s.rollback()
                result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=merge, args=(ref,)) for ref in ("RACE000001", "RACE000002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert outcomes == ["merged", "merged"]
        with factory() as s:
            case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
            merges = s.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == REPORT_MERGED)
            ).all()
            joined = s.scalars(select(CaseReporter.report_ref).where(CaseReporter.case_id == case.id)).all()
            assert sorted(e.data["report"] for e in merges) == ["RACE000001", "RACE000002"]
            assert sorted(e.seq for e in merges) == [2, 3]  # no gap, no duplicate from the undone attempt
            assert {"RACE000001", "RACE000002"} <= set(joined)
            assert case.version == first_version + 2 and case.history_len == 3
    finally:
        with factory() as s:
            case_id = s.scalars(select(Case.id).where(Case.case_no == case_no)).one()
            s.execute(delete(CaseReporter).where(CaseReporter.case_id == case_id))
            s.commit()
