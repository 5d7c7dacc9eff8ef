"""The console's list filters: parsed from the query string, turned into case queries and back into URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from chengguan.cases import queries
from chengguan.cases.states import CaseState
from chengguan.shared.clock import BUREAU_TZ, MAX_YEAR, MIN_YEAR


@dataclass(frozen=True)
class ListFilters:
    """The console's filter form, as typed values plus the query string that reproduces it."""

    states: tuple[CaseState, ...] = ()
    category: str = ""
    district: str = ""
    overdue: str = ""  # "", "1", "0"
    date_from: date | None = None
    date_to: date | None = None
    mine: bool = False
    notice: str = ""  # why a filter value was set aside (shown above the form)

    def to_query(self, tz: ZoneInfo = BUREAU_TZ) -> queries.CaseFilters:
        return queries.CaseFilters(
            states=self.states,
            category=self.category or None,
            district=self.district or None,
            reported_from=datetime.combine(self.date_from, time.min, tz) if self.date_from else None,
            # the "to" day is included: the query's upper bound is exclusive, so take the next midnight
            reported_to=datetime.combine(self.date_to + timedelta(days=1), time.min, tz) if self.date_to else None,
            overdue={"1": True, "0": False}.get(self.overdue),
        )

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [("state", s.value) for s in self.states]
        for key, value in (
            ("category", self.category),
            ("district", self.district),
            ("overdue", self.overdue),
            ("from", self.date_from.isoformat() if self.date_from else ""),
            ("to", self.date_to.isoformat() if self.date_to else ""),
            ("mine", "1" if self.mine else ""),
        ):
            if value:
                out.append((key, value))
        return out

    def api_params(self) -> list[tuple[str, str]]:
        """The same filters in the JSON API's terms (for the map's points request)."""
        q = self.to_query()
        out: list[tuple[str, str]] = [("state", s.value) for s in self.states]
        if q.category:
            out.append(("category", q.category))
        if q.district:
            out.append(("district", q.district))
        if q.reported_from:
            out.append(("from", q.reported_from.isoformat()))
        if q.reported_to:
            out.append(("to", q.reported_to.isoformat()))
        if q.overdue is not None:
            out.append(("overdue", "true" if q.overdue else "false"))
        if self.mine:
            out.append(("mine", "true"))
        return out


def _parse_date(value: str | None, label: str, notices: list[str]) -> date | None:
    """A filter date, or None with a notice when it is not a date or lies outside the years on record."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        notices.append(f"{label}「{value[:20]}」不是有效日期（应为 YYYY-MM-DD），已忽略")
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        notices.append(f"{label} {day.isoformat()} 超出允许范围（{MIN_YEAR}–{MAX_YEAR} 年），已忽略")
        return None
    return day


def parse_filters(
    state: list[str] | None,
    category: str | None,
    district: str | None,
    overdue: str | None,
    date_from: str | None,
    date_to: str | None,
    mine: str | None,
) -> ListFilters:
    known = {s.value: s for s in CaseState}
    states = tuple(dict.fromkeys(known[s] for s in (state or []) if s in known))
    notices: list[str] = []
    return ListFilters(
        states=states,
        category=(category or "").strip()[:16],
        district=(district or "").strip()[:12],
        overdue=overdue if overdue in ("1", "0") else "",
        date_from=_parse_date(date_from, "上报时间起", notices),
        date_to=_parse_date(date_to, "上报时间止", notices),
        mine=mine in ("1", "on", "true"),
        notice="；".join(notices),
    )


StateQ = Annotated[list[str] | None, Query(alias="state")]
FromQ = Annotated[str | None, Query(alias="from", max_length=32)]
ToQ = Annotated[str | None, Query(alias="to", max_length=32)]
ShortQ = Annotated[str | None, Query(max_length=32)]


def filters_from_query(
    state: StateQ = None,
    category: ShortQ = None,
    district: ShortQ = None,
    overdue: ShortQ = None,
    date_from: FromQ = None,
    date_to: ToQ = None,
    mine: ShortQ = None,
) -> ListFilters:
    """A dependency: the filter form's fields from the query string (unknown values are dropped)."""
    return parse_filters(state, category, district, overdue, date_from, date_to, mine)


PageFilters = Annotated[ListFilters, Depends(filters_from_query)]
