"""Sending notifications. In-app messages are rows; an SMS gateway adapter comes with the notify issue."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.notify.models import Notification


def send_in_app(
    session: Session, *, user_id: int | None, phone: str | None, subject: str, body: str, ref: str | None
) -> Notification:
    note = Notification(
        user_id=user_id, phone=phone, channel="app" if user_id else "sms", subject=subject, body=body, ref=ref
    )
    session.add(note)
    session.flush()
    return note


def inbox(session: Session, *, user_id: int, limit: int = 50) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
