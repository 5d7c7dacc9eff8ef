"""The demo city looks like a working bureau whenever it is seeded: every state appears, through real
transitions (history rows), with some steps on time and some overdue."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan import demo
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import CaseState
from chengguan.shared.clock import BUREAU_TZ


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 23, 8, 5, tzinfo=BUREAU_TZ),  # Monday before work
        datetime(2026, 11, 28, 3, 0, tzinfo=BUREAU_TZ),  # Saturday night
        datetime(2026, 10, 3, 15, 0, tzinfo=BUREAU_TZ),  # National Day holiday
    ],
)
def test_every_state_appears_whenever_the_demo_is_seeded(city_db: Session, now: datetime) -> None:
    made = demo.seed_cases(city_db, count=40, now=now)
    assert made == 40
    states = {s: n for s, n in city_db.execute(select(Case.state, func.count()).group_by(Case.state)).all()}  # noqa: C416
    assert set(states) == {s.value for s in CaseState}
    transitions = city_db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.action != "report"))
    assert transitions is not None and transitions > 40  # states were reached by running transitions
    on_time = [e.data.get("step_on_time") for e in city_db.scalars(select(CaseEvent)) if "step_on_time" in e.data]
    assert True in on_time and False in on_time
