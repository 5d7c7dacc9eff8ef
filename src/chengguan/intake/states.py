"""What becomes of a report (pure: no I/O).

``received`` → processing decides: ``accepted`` (a new case was opened), ``merged`` (joined an open case about
the same problem), ``forwarded`` (another department's work: 12345 routes it on), ``rejected`` (not a problem
anyone can act on), or ``triage`` (a person must decide: no category, low confidence, a place that could not
be found or that the reporter's pin and address disagree about). From ``triage`` the desk decides the same
four ways.
"""

from __future__ import annotations

from enum import StrEnum


class ReportStatus(StrEnum):
    RECEIVED = "received"
    TRIAGE = "triage"
    ACCEPTED = "accepted"
    MERGED = "merged"
    FORWARDED = "forwarded"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


STATUS_LABELS: dict[ReportStatus, str] = {
    ReportStatus.RECEIVED: "已接收",
    ReportStatus.TRIAGE: "人工分拣中",
    ReportStatus.ACCEPTED: "已立单",
    ReportStatus.MERGED: "已并入同一问题",
    ReportStatus.FORWARDED: "已转其他部门",
    ReportStatus.REJECTED: "未予受理",
}
FINAL_STATUSES = frozenset({ReportStatus.ACCEPTED, ReportStatus.MERGED, ReportStatus.FORWARDED, ReportStatus.REJECTED})

# Who may move a report from where (processing is the system's; triage is the desk's).
NEXT: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.RECEIVED: frozenset(set(ReportStatus) - {ReportStatus.RECEIVED}),
    ReportStatus.TRIAGE: FINAL_STATUSES,
}


def may_move(current: ReportStatus, target: ReportStatus) -> bool:
    return target in NEXT.get(current, frozenset())
