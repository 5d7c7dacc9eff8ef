"""The SLA clock of a case's current step: start, extend, pause (挂账), resume (恢复), recompute.

A running clock is a start instant (``clock_from``) plus a budget (``clock_budget_s``): working seconds on
the bureau's calendar when the step's limit is in working time, elapsed seconds otherwise. The deadline is
derived from them, so it can be derived again when the calendar changes (a year's official holidays
imported after the fact). A paused clock keeps the budget that was left, or — when the step was already
overdue — how long it was overdue (a negative budget), so that 恢复 resumes with the time that was left and
an overdue step stays overdue by as much as it was.

Deadlines are *provisional* while their clock runs in working time across a year without imported official
holidays (``WorkCalendar.holiday_years``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chengguan.calendar.rules import WorkCalendar
from chengguan.cases.models import Case
from chengguan.cases.states import Step
from chengguan.shared.durations import TimeLimit


def _measure(cal: WorkCalendar, working: bool, a: datetime, b: datetime) -> float:
    return cal.working_seconds_between(a, b) if working else (b - a).total_seconds()


def start(case: Case, cal: WorkCalendar, step: Step, limit: TimeLimit, at: datetime) -> None:
    """A new step begins at ``at`` with the catalog's full limit."""
    deadline = cal.add(at, limit)
    case.step = step.value
    case.step_started_at = at
    case.step_deadline = deadline
    case.clock_from = at
    case.clock_working = limit.unit.is_working_time
    case.clock_budget_s = _measure(cal, case.clock_working, at, deadline)


def stop(case: Case) -> None:
    case.step = case.step_started_at = case.step_deadline = None
    case.clock_from = case.clock_budget_s = None
    case.clock_working = False


def extend(case: Case, cal: WorkCalendar, granted: TimeLimit, at: datetime) -> None:
    """An approved 延期: the granted time counts from the deadline, or from now when it has passed."""
    if case.step_deadline is None or case.clock_from is None:
        return
    case.step_deadline = cal.add(max(case.step_deadline, at), granted)
    case.clock_budget_s = _measure(cal, case.clock_working, case.clock_from, case.step_deadline)


def pause(case: Case, cal: WorkCalendar, at: datetime) -> float | None:
    """挂账: stop the clock and keep what was left (negative: how long it was overdue). Returns that."""
    if case.step_deadline is None:
        return None
    if case.step_deadline > at:
        left = _measure(cal, case.clock_working, at, case.step_deadline)
    else:
        left = -(at - case.step_deadline).total_seconds()
    case.clock_budget_s = left
    case.clock_from = None
    case.step_deadline = None
    return left


def resume(case: Case, cal: WorkCalendar, at: datetime) -> None:
    """恢复: the paused step's clock runs again with what was left (an overdue step stays overdue)."""
    left = case.clock_budget_s
    if case.step is None or left is None:
        return
    case.clock_from = at
    if left > 0:
        case.step_deadline = cal.add_working_seconds(at, left) if case.clock_working else at + timedelta(seconds=left)
    else:
        case.step_deadline = at + timedelta(seconds=left)


def recompute(case: Case, cal: WorkCalendar) -> bool:
    """Derive the deadline again on ``cal`` (after holidays were imported). Returns whether it moved."""
    if not case.clock_working or case.clock_from is None or not case.clock_budget_s or case.clock_budget_s <= 0:
        return False
    deadline = cal.add_working_seconds(case.clock_from, case.clock_budget_s)
    if deadline == case.step_deadline:
        return False
    case.step_deadline = deadline
    return True


def is_provisional(case: Case, cal: WorkCalendar) -> bool:
    """Whether the deadline runs in working time through a year whose official holidays are not imported."""
    if not case.clock_working or case.step_deadline is None or case.clock_from is None:
        return False
    first = case.clock_from.astimezone(cal.tz).year
    last = case.step_deadline.astimezone(cal.tz).year
    return any(year not in cal.holiday_years for year in range(first, last + 1))
