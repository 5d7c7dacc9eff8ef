"""Telling people: who is reached over which channel, and the queue of deliveries. Functions flush, never commit.

``send`` writes one ``notification`` row per channel in the caller's transaction and queues the delivery of
every row that leaves the platform (``notify.deliver`` in the outbox, run after commit):

* an account gets the in-app message (delivered by being written);
* staff also get their bureau's group robot (DingTalk / WeCom), when one is configured for the bureau or a
  bureau above it, mentioning them by phone;
* a reporter without an account but with a phone gets an SMS;
* an e-mail address, when one is given, gets an e-mail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import STAFF_ROLES, has_any
from chengguan.jobs import outbox
from chengguan.notify import templates, wiring
from chengguan.notify.models import Notification, OutboxRecord
from chengguan.notify.ports import Channel
from chengguan.shared.clock import utcnow

DELIVER_TOPIC = "notify.deliver"


def bureau_line(session: Session, bureau_id: int | None) -> list[str]:
    """The codes of a bureau and the bureaus above it, nearest first (where a staff robot is looked up)."""
    codes: list[str] = []
    seen: set[int] = set()
    while bureau_id is not None and bureau_id not in seen:
        seen.add(bureau_id)
        row = session.execute(select(Bureau.code, Bureau.parent_id).where(Bureau.id == bureau_id)).first()
        if row is None:
            break
        codes.append(row.code)
        bureau_id = row.parent_id
    return codes


def send(
    session: Session,
    *,
    template: str,
    params: Mapping[str, str],
    user_id: int | None = None,
    phone: str | None = None,
    email: str | None = None,
    ref: str | None = None,
    bureau_id: int | None = None,
) -> list[Notification]:
    """Tell one person ``template`` with ``params`` over every channel that reaches them (see the module)."""
    tpl = templates.get(template)
    subject, body = tpl.render(params)
    values: dict[str, Any] = {
        "template": tpl.key,
        "params": dict(params),
        "subject": subject,
        "body": body,
        "ref": ref,
        "bureau_id": bureau_id,
    }
    rows: list[Notification] = []
    if user_id:
        user = session.get(User, user_id)
        staff = user is not None and has_any(user.roles, STAFF_ROLES)
        if user is not None and values["bureau_id"] is None:
            values["bureau_id"] = user.bureau_id
        rows.append(_delivered_in_app(user_id=user_id, phone=phone, **values))
        if user is not None and staff and wiring.current().robot_for(bureau_line(session, user.bureau_id)):
            rows.append(
                Notification(
                    user_id=user_id, phone=user.phone, channel=Channel.STAFF_IM.value, state="queued", **values
                )
            )
    elif phone:
        rows.append(Notification(user_id=None, phone=phone, channel=Channel.SMS.value, state="queued", **values))
    if email:
        rows.append(Notification(user_id=user_id, email=email, channel=Channel.EMAIL.value, state="queued", **values))
    _queue(session, rows)
    return rows


def _delivered_in_app(**values: Any) -> Notification:
    now = utcnow()
    return Notification(
        channel=Channel.APP.value, state="sent", provider="app", attempts=1, sent_at=now, created_at=now, **values
    )


def _queue(session: Session, rows: Sequence[Notification]) -> None:
    """Write the rows and, with the same flush, a delivery job for each one that leaves the platform."""
    session.add_all(rows)
    for row in rows:
        if row.state == "queued":
            outbox.enqueue(session, topic=DELIVER_TOPIC, payload=_job(row), bureau_id=row.bureau_id)
    session.flush()


def _job(row: Notification) -> Callable[[], dict[str, Any]]:
    return lambda: {"notification_id": row.id}  # the id exists once the row is flushed


def send_in_app(
    session: Session, *, user_id: int | None, phone: str | None, subject: str, body: str, ref: str | None
) -> Notification:
    """A free-text message (no template): in-app for an account. Without an account it is recorded as an SMS
    that cannot go out (providers send approved templates only) and fails on delivery with that reason;
    new callers use ``send`` with a template."""
    if user_id:
        note = _delivered_in_app(user_id=user_id, phone=phone, subject=subject, body=body, ref=ref)
    else:
        note = Notification(
            user_id=None, phone=phone, channel="sms", state="queued", subject=subject, body=body, ref=ref
        )
    _queue(session, [note])
    return note


def inbox(session: Session, *, user_id: int, limit: int = 50) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user_id, Notification.channel == Channel.APP.value)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recent(
    session: Session,
    *,
    bureau_ids: Sequence[int] | None,
    limit: int = 20,
    state: str | None = None,
    channel: str | None = None,
) -> list[Notification]:
    """The latest notifications, newest first, of ``bureau_ids`` (None: all), optionally of one state/channel."""
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if bureau_ids is not None:
        stmt = stmt.where(Notification.bureau_id.in_(bureau_ids))
    if state:
        stmt = stmt.where(Notification.state == state)
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    return list(session.scalars(stmt))


def recorded(session: Session, *, bureau_ids: Sequence[int] | None, limit: int = 20) -> list[OutboxRecord]:
    """The latest requests recorded by the local outbox, newest first (None: of every bureau)."""
    stmt = select(OutboxRecord).order_by(OutboxRecord.id.desc()).limit(limit)
    if bureau_ids is not None:
        stmt = stmt.join(Notification, Notification.id == OutboxRecord.notification_id).where(
            Notification.bureau_id.in_(bureau_ids)
        )
    return list(session.scalars(stmt))


def records_of(session: Session, *, notification_ids: Sequence[int]) -> dict[int, list[OutboxRecord]]:
    """The outbox records of these notifications, by notification id."""
    out: dict[int, list[OutboxRecord]] = {}
    if notification_ids:
        stmt = select(OutboxRecord).where(OutboxRecord.notification_id.in_(notification_ids)).order_by(OutboxRecord.id)
        for record in session.scalars(stmt):
            out.setdefault(record.notification_id, []).append(record)
    return out
