"""Read side: the filtered, keyset-paginated case list and a case's history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import TERMINAL_STATES, CaseState
from chengguan.catalog.models import CategoryMajor, CategoryMinor
from chengguan.geo.models import District, UnitGrid
from chengguan.identity.access import Scope
from chengguan.shared import cursors
from chengguan.shared.clock import utcnow


@dataclass(frozen=True)
class CaseFilters:
    states: tuple[CaseState, ...] = ()
    category: str | None = None  # a 小类 code, or a 大类 code for all its 小类
    grid: str | None = None  # unit grid code
    district: str | None = None  # district admin code
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    overdue: bool | None = None
    assignee_id: int | None = None
    channel: str | None = None
    reporter_id: int | None = None  # "my reports"


@dataclass
class CasePage:
    items: list[Case]
    next_cursor: str | None
    total: int | None = None
    filters: CaseFilters = field(default_factory=CaseFilters)


def encode_cursor(case: Case) -> str:
    return cursors.encode(case.reported_at, case.id)


decode_cursor = cursors.decode


def _filtered(session: Session, scope: Scope, f: CaseFilters) -> Select[Case] | None:
    """The filtered statement, or None when a filter names something with no visible cases (empty result)."""
    stmt = select(Case)
    if not scope.staff:  # citizens: only what they reported
        stmt = stmt.where(Case.reporter_id == scope.user_id)
    bureau_ids = set(scope.bureau_ids) if scope.staff else None
    if f.district:
        # A district belongs to one brigade: narrow the bureau scope to it (an index-friendly equality).
        districts = session.execute(select(District.id, District.bureau_id).where(District.code == f.district)).all()
        if bureau_ids is not None:
            bureau_ids &= {d.bureau_id for d in districts}
            if not bureau_ids:
                return None
        if not districts:
            return None
        stmt = stmt.where(Case.district_id.in_([d.id for d in districts]))
    if bureau_ids is not None:
        if len(bureau_ids) == 1:
            stmt = stmt.where(Case.bureau_id == next(iter(bureau_ids)))
        else:
            stmt = stmt.where(Case.bureau_id.in_(sorted(bureau_ids)))
    if f.states:
        stmt = stmt.where(Case.state.in_([s.value for s in f.states]))
    if f.category:
        minor_ids = list(
            session.scalars(
                select(CategoryMinor.id)
                .join(CategoryMajor, CategoryMinor.major_id == CategoryMajor.id)
                .where(or_(CategoryMinor.code == f.category, CategoryMajor.code == f.category))
            )
        )
        if not minor_ids:
            return None
        stmt = stmt.where(Case.category_id.in_(minor_ids))
    if f.grid:
        grid_ids = list(session.scalars(select(UnitGrid.id).where(UnitGrid.code == f.grid)))
        if not grid_ids:
            return None
        stmt = stmt.where(Case.grid_id.in_(grid_ids))
    if f.reported_from:
        stmt = stmt.where(Case.reported_at >= f.reported_from)
    if f.reported_to:
        stmt = stmt.where(Case.reported_at < f.reported_to)
    if f.overdue is not None:
        open_states = [s.value for s in CaseState if s not in TERMINAL_STATES and s is not CaseState.SUSPENDED]
        late = and_(Case.state.in_(open_states), Case.step_deadline < utcnow())
        stmt = stmt.where(late if f.overdue else ~late)
    if f.assignee_id is not None:
        stmt = stmt.where(Case.assignee_id == f.assignee_id)
    if f.channel:
        stmt = stmt.where(Case.channel == f.channel)
    if f.reporter_id is not None:
        stmt = stmt.where(Case.reporter_id == f.reporter_id)
    return stmt


def list_cases(
    session: Session,
    *,
    scope: Scope,
    filters: CaseFilters,
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = False,
) -> CasePage:
    stmt = _filtered(session, scope, filters)
    if stmt is None:
        return CasePage(items=[], next_cursor=None, total=0 if with_total else None, filters=filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) if with_total else None
    if cursor:
        at, case_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Case.reported_at < at, and_(Case.reported_at == at, Case.id < case_id)))
    rows = list(session.scalars(stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return CasePage(items=rows[:limit], next_cursor=next_cursor, total=total, filters=filters)


def history(session: Session, *, case_id: int) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def state_counts(session: Session, *, scope: Scope) -> dict[str, int]:
    stmt = _filtered(session, scope, CaseFilters())
    assert stmt is not None
    sub = stmt.subquery()
    rows = session.execute(select(sub.c.state, func.count()).group_by(sub.c.state))
    return {state: count for state, count in rows.all()}  # noqa: C416 - rows are Row objects
