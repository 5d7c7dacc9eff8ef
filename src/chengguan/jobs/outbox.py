"""Transactional outbox: side effects are written as rows in the same transaction as the change, and run
only after that transaction commits (in-process right after the request, or by ``chengguan worker``).

Handlers are registered per topic. A worker claims rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so
several workers never run the same message; on SQLite the write lock already serialises claims. A failing
handler is retried with backoff up to ``MAX_ATTEMPTS``; nothing accepted is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import insert_with_flush
from chengguan.jobs.models import OutboxMessage
from chengguan.shared.clock import utcnow

log = logging.getLogger("chengguan.jobs")
MAX_ATTEMPTS = 8
Handler = Callable[[Session, dict[str, Any]], None]
_handlers: dict[str, Handler] = {}


def handler(topic: str) -> Callable[[Handler], Handler]:
    def _register(fn: Handler) -> Handler:
        _handlers[topic] = fn
        return fn

    return _register


def enqueue(
    session: Session,
    *,
    topic: str,
    payload: dict[str, Any] | Callable[[], dict[str, Any]],
    bureau_id: int | None = None,
) -> None:
    """Queue a message in the caller's transaction (written with its next flush, see ``db.insert_with_flush``).

    ``payload`` may be a callable, evaluated when the row is written (for ids of rows flushed just before).
    """

    def row() -> dict[str, Any]:
        now = utcnow()
        body = payload() if callable(payload) else payload
        return {
            "topic": topic,
            "payload": body,
            "bureau_id": bureau_id,
            "created_at": now,
            "available_at": now,
            "attempts": 0,
        }

    insert_with_flush(session, OutboxMessage, row)


def _claim(session: Session, topics: Collection[str], after: int) -> OutboxMessage | None:
    """The oldest due message of ``topics`` with an id above ``after``, locked for this transaction: on
    PostgreSQL ``FOR UPDATE SKIP LOCKED`` (a message another worker holds is passed over, never waited for);
    SQLite's write lock, taken when the transaction begins, already serialises claims."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.done_at.is_(None), OutboxMessage.available_at <= utcnow())
        .where(OutboxMessage.attempts < MAX_ATTEMPTS, OutboxMessage.topic.in_(sorted(topics)))
        .where(OutboxMessage.id > after)
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def run_pending(factory: sessionmaker[Session], *, limit: int = 100) -> int:
    """Run up to ``limit`` due messages, each in a transaction of its own: claim, run, commit. Returns how
    many succeeded.

    One message per transaction keeps the locks a handler takes (a report's row, a case-number counter) for
    that message only, so several workers run side by side without deadlocking on one another; a message
    that fails is rolled back alone and retried later with backoff. Only topics this process has a handler
    for are claimed (the others stay queued for a worker that knows them)."""
    done = 0
    last = 0  # each pass moves forward: a message that failed (and is due again at once) waits for the next call
    for _ in range(limit):
        with factory() as session:
            message = _claim(session, _handlers.keys(), last)
            if message is None:
                break
            last, topic = message.id, message.topic
            try:
                with session.begin_nested():
                    _handlers[topic](session, message.payload)
                message.done_at = utcnow()
            except Exception as exc:
                log.warning("outbox %s (%s) failed: %s", last, topic, exc)
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                message.available_at = utcnow() + timedelta(seconds=min(3600, 2 ** (message.attempts + 1) * 5))
            message.attempts += 1
            succeeded = message.done_at is not None
            try:
                session.commit()
            except DBAPIError as exc:  # e.g. the server chose this transaction as a deadlock victim at commit
                session.rollback()
                log.warning("outbox %s (%s) not committed, stays queued: %s", last, topic, exc)
                continue
            done += succeeded
    return done


def drain_in(session: Session, *, rounds: int = 5) -> int:
    """Run every due message in the caller's own transaction (no commit per message), follow-ups included up
    to ``rounds`` deep; for bulk work with nobody waiting on a lock, e.g. a demo city's month of history
    announced at seeding. A failing handler raises: the caller's unit of work is rolled back whole. Returns
    how many ran."""
    done = 0
    for _ in range(rounds):
        session.flush()
        due = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.done_at.is_(None), OutboxMessage.topic.in_(sorted(_handlers)))
            .order_by(OutboxMessage.id)
        ).all()
        if not due:
            break
        for message in due:
            _handlers[message.topic](session, message.payload)
            message.done_at = utcnow()
            message.attempts += 1
        done += len(due)
    return done
