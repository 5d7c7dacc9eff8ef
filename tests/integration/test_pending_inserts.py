"""Rows queued with ``db.insert_with_flush`` (history, outbox): written with the flush, dropped on rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.jobs import outbox
from chengguan.jobs.models import OutboxMessage


def _count(db: Session, topic: str) -> int:
    return db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.topic == topic)) or 0


def test_queued_rows_are_written_by_the_next_flush_or_commit(db: Session) -> None:
    outbox.enqueue(db, topic="t.flush", payload={"n": 1})
    assert _count(db, "t.flush") == 0  # nothing written yet: a clean session's query does not flush
    db.commit()  # a commit with nothing else to flush writes them (a SAVEPOINT release in this fixture)
    assert _count(db, "t.flush") == 1


def test_rows_queued_in_a_rolled_back_savepoint_are_dropped(db: Session) -> None:
    def refused_half_way() -> None:
        with db.begin_nested():
            outbox.enqueue(db, topic="t.drop", payload={"n": 2})
            raise RuntimeError("refused half-way")

    outbox.enqueue(db, topic="t.keep", payload={"n": 1})
    with pytest.raises(RuntimeError):
        refused_half_way()
    db.commit()
    assert _count(db, "t.keep") == 1 and _count(db, "t.drop") == 0


def test_a_payload_can_be_computed_when_written(db: Session) -> None:
    seen: list[str] = []
    outbox.enqueue(db, topic="t.late", payload=lambda: {"written": seen.append("now") or "yes"})
    assert seen == []
    db.flush()
    db.commit()
    assert seen == ["now"] and db.scalar(select(OutboxMessage.payload).where(OutboxMessage.topic == "t.late")) == {
        "written": "yes"
    }
