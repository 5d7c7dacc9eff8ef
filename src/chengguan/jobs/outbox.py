"""Transactional outbox: side effects are written as rows in the same transaction as the change, and run
only after that transaction commits (in-process right after the request, or by ``chengguan worker``).

Handlers are registered per topic. A worker claims rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so
several workers never run the same message; on SQLite the write lock already serialises claims. A failing
handler is retried with backoff up to ``MAX_ATTEMPTS``; nothing accepted is dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
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


def _claim(session: Session, limit: int) -> list[OutboxMessage]:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.done_at.is_(None), OutboxMessage.available_at <= utcnow())
        .where(OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def run_pending(factory: sessionmaker[Session], *, limit: int = 100) -> int:
    """Run up to ``limit`` due messages, each in its own transaction. Returns how many succeeded."""
    done = 0
    with factory() as session:
        for message in _claim(session, limit):
            fn = _handlers.get(message.topic)
            if fn is None:  # a topic with no handler yet stays queued for a worker that knows it
                continue
            try:
                with session.begin_nested():
                    fn(session, message.payload)
                message.done_at = utcnow()
                done += 1
            except Exception as exc:
                log.warning("outbox %s (%s) failed: %s", message.id, message.topic, exc)
                message.attempts += 1
                message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                message.available_at = utcnow() + timedelta(seconds=min(3600, 2**message.attempts * 5))
            else:
                message.attempts += 1
        session.commit()
    return done
