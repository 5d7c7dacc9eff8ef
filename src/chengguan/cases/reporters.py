"""Everyone who reported a case's problem, and who is told what (the outcome goes to all of them).

The first report opens the case; reports of the same problem merged later join it with a history row of their
own (``report_merged``). A reporter hears about the steps from the moment they joined (``since_seq``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case, CaseReporter
from chengguan.db import insert_with_flush

if TYPE_CHECKING:
    from chengguan.cases.service import CaseSource


@dataclass(frozen=True)
class Reporter:
    channel: str
    user_id: int | None
    name: str | None
    phone: str | None
    report_ref: str | None = None

    @classmethod
    def of(cls, source: CaseSource) -> Reporter:
        return cls(
            channel=source.channel.value,
            user_id=source.reporter_id,
            name=source.reporter_name,
            phone=source.reporter_phone,
            report_ref=source.report_ref,
        )


def join(session: Session, *, case: Case, source: Reporter, at: datetime) -> None:
    """Add a reporter to ``case`` from its current history length on (written with the case's flush)."""
    row: dict[str, Any] = {
        "since_seq": case.history_len,
        "channel": source.channel,
        "user_id": source.user_id,
        "name": source.name,
        "phone": source.phone,
        "report_ref": source.report_ref,
        "joined_at": at,
    }
    insert_with_flush(session, CaseReporter, lambda: {**row, "case_id": case.id})


def told_at(session: Session, *, case_no: str, seq: int) -> list[CaseReporter]:
    """The reporters of a case who had joined by history row ``seq`` (who a message about it is for)."""
    stmt = (
        select(CaseReporter)
        .join(Case, Case.id == CaseReporter.case_id)
        .where(Case.case_no == case_no, CaseReporter.since_seq <= seq)
        .order_by(CaseReporter.id)
    )
    return list(session.scalars(stmt))
