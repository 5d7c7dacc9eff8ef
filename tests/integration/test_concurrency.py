"""Two people change the same case at the same moment: exactly one wins, the other is told 409.

Real PostgreSQL, real threads, real commits (as in cosmicpython's concurrency test). The optimistic
version column turns the loser's UPDATE into "0 rows matched" after the winner commits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from chengguan.cases import service as cases
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import Action
from chengguan.config import Settings
from chengguan.identity.models import User
from chengguan.shared.clock import BUREAU_TZ
from chengguan.web.app import create_app
from tests.personas import XIHU_POINT

pytestmark = pytest.mark.postgres_only


def _users(s: Session) -> dict[str, User]:
    return {u.username: u for u in s.scalars(select(User))}


def _filed_case(factory: sessionmaker[Session]) -> str:
    with factory() as s:
        p = _users(s)
        case = cases.report_case(
            s,
            actor=p["grid1"],
            report=cases.NewReport(
                category_code="0504", description="人行道堆放建材", lon=XIHU_POINT[0], lat=XIHU_POINT[1]
            ),
        )
        cases.transition(s, case=case, action=Action.ACCEPT, actor=p["dispatcher"])
        cases.transition(s, case=case, action=Action.FILE, actor=p["shift_leader"])
        s.commit()
        return case.case_no


def _race(workers: list[Callable[[], str]]) -> list[str]:
    results: list[str] = []
    lock = threading.Lock()

    def run(fn: Callable[[], str]) -> None:
        outcome = fn()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(results)


def test_two_dispatchers_dispatch_the_same_case_exactly_one_wins(city_engine: Engine) -> None:
    factory = sessionmaker(bind=city_engine, expire_on_commit=False)
    case_no = _filed_case(factory)
    both_have_read = threading.Barrier(2, timeout=30)

    def dispatcher_sends(officer: str) -> Callable[[], str]:
        def go() -> str:
            with factory() as s:
                p = _users(s)
                case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
                seen = case.version
                both_have_read.wait()  # both hold the same version before either writes
                try:
                    cases.transition(
                        s,
                        case=case,
                        action=Action.DISPATCH,
                        actor=p["dispatcher"],
                        assignee_id=p[officer].id,
                        expected_version=seen,
                    )
                    s.commit()
                    return "won"
                except StaleDataError:
                    s.rollback()
                    return "409"

        return go

    assert _race([dispatcher_sends("officer1"), dispatcher_sends("officer5")]) == ["409", "won"]
    with factory() as s:
        case = s.scalars(select(Case).where(Case.case_no == case_no)).one()
        dispatches = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "dispatch")
        ).all()
        assert len(dispatches) == 1 and dispatches[0].data["assignee_id"] == case.assignee_id


def test_two_users_through_the_api_one_200_one_409(city_engine: Engine) -> None:
    """A real race: both requests have read the case and passed the version check before either writes."""
    factory = sessionmaker(bind=city_engine, expire_on_commit=False)
    case_no = _filed_case(factory)
    app = create_app(Settings(env="test", inline_jobs=False), session_factory=factory)

    def client(username: str) -> TestClient:
        c = TestClient(app, raise_server_exceptions=False)
        token = c.post("/api/v1/auth/login", json={"username": username, "password": "chengguan2026"}).json()
        c.headers["Authorization"] = f"Bearer {token['access_token']}"
        return c

    dispatcher, leader = client("dispatcher"), client("shift_leader")
    version = dispatcher.get(f"/api/v1/cases/{case_no}").json()["version"]
    officer_id = next(
        o["id"] for o in dispatcher.get(f"/api/v1/cases/{case_no}/candidates").json() if o["display_name"] == "李明"
    )
    # Both transitions reach their flush, and only then may either write: neither can have seen the other.
    both_checked = threading.Barrier(2, timeout=30)

    @event.listens_for(factory, "before_flush")
    def _hold(session: Session, _ctx: object, _instances: object) -> None:
        both_checked.wait()

    def dispatch() -> str:
        r = dispatcher.post(
            f"/api/v1/cases/{case_no}/transitions",
            json={"action": "dispatch", "version": version, "assignee_id": officer_id},
        )
        return str(r.status_code)

    def suspend() -> str:
        r = leader.post(
            f"/api/v1/cases/{case_no}/transitions", json={"action": "suspend", "version": version, "note": "待协调"}
        )
        return str(r.status_code)

    try:
        assert _race([dispatch, suspend]) == ["200", "409"]
    finally:
        event.remove(factory, "before_flush", _hold)
    history = dispatcher.get(f"/api/v1/cases/{case_no}").json()["history"]
    assert [h["action"] for h in history][:3] == ["report", "accept", "file"]
    assert len(history) == 4


def test_concurrent_reports_get_gap_free_case_numbers(city_engine: Engine) -> None:
    """Eight reporters at once, into the same brigade, in a year that has no counter row yet."""
    factory = sessionmaker(bind=city_engine, expire_on_commit=False)
    year = 2031
    at = datetime(year, 3, 2, 9, 0, tzinfo=BUREAU_TZ)
    start = threading.Barrier(8, timeout=30)

    def reporter(i: int) -> Callable[[], str]:
        def go() -> str:
            with factory() as s:
                grid = _users(s)["grid1"]
                start.wait()  # all eight race for the same counter row
                case = cases.report_case(
                    s,
                    actor=grid,
                    report=cases.NewReport(
                        category_code="0202", description=f"小广告{i}", lon=XIHU_POINT[0], lat=XIHU_POINT[1]
                    ),
                    at=at,
                )
                s.commit()
                return case.case_no

        return go

    numbers = _race([reporter(i) for i in range(8)])
    assert numbers == [f"XH-{year}-{n:06d}" for n in range(1, 9)]
