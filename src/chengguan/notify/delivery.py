"""Delivering a queued notification: the ``notify.deliver`` outbox handler (runs after commit).

One delivery, one notification row, locked while it is worked on (``FOR UPDATE`` on PostgreSQL; SQLite's write
lock serialises anyway). A row that is no longer ``queued`` is left alone, so a retried or duplicated job
never sends again what a provider accepted: its acceptance (``sent``, the provider's message id) is written
in the same transaction that marks the job done.

* ``sent``: accepted; the provider's message id (Aliyun BizId, Tencent SerialNo, our SMTP Message-ID; robots
  give none) and the time are kept.
* ``retry`` (network, 5xx, throttling): the error is kept, the attempt counted, and a new job is queued after
  ``RETRY_DELAYS`` (30 s, 2 min, 10 min, 30 min, 1 h); after the last the notification fails with the error.
* ``failed`` (refused for good, or no adapter / approved template configured): kept with the reason.

In outbox mode (``CHENGGUAN_NOTIFY_DELIVERY=outbox``) the adapter's exact request is recorded in
``notify_outbox`` instead of being sent, and the notification is ``sent`` with provider ``outbox``.

The one window left: a provider accepts, and the process dies before this transaction commits. The job then
runs again and sends a second time. Aliyun's ``OutId`` and Tencent's ``SessionContext`` carry the
notification id, so the providers' delivery receipts show such a duplicate.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.jobs import outbox
from chengguan.jobs.models import OutboxMessage
from chengguan.notify import wiring
from chengguan.notify.models import Notification, OutboxRecord
from chengguan.notify.ports import Adapter, Channel, Message, NotConfigured, Outcome, Verdict, redact, scrub
from chengguan.notify.service import DELIVER_TOPIC, bureau_line
from chengguan.shared.clock import utcnow

log = logging.getLogger("chengguan.notify")
RETRY_DELAYS = (30, 120, 600, 1800, 3600)  # seconds before attempt 2, 3, …; then failed


@outbox.handler(DELIVER_TOPIC)
def on_deliver(session: Session, payload: dict[str, Any]) -> None:
    deliver(session, notification_id=int(payload["notification_id"]))


def deliver(session: Session, *, notification_id: int) -> Notification | None:
    stmt = select(Notification).where(Notification.id == notification_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    note = session.scalar(stmt)
    if note is None or note.state != "queued":
        return note
    registry = wiring.current()
    channel = Channel(note.channel)
    adapter = registry.adapter(channel, bureau_line(session, note.bureau_id))
    note.attempts += 1
    if adapter is None:
        _apply(session, note, Outcome(Verdict.FAILED, error=f"未配置{_CHANNEL_NAMES[channel]}通道"), "none")
        return note
    try:
        if note.template is None:
            raise NotConfigured("没有消息模板（短信等通道只能发送已报备的模板）")
        request = adapter.prepare(_message(note))
    except NotConfigured as exc:
        _apply(session, note, Outcome(Verdict.FAILED, error=str(exc)), adapter.name)
        return note
    if registry.mode == "outbox":
        _apply(session, note, _record(session, note, adapter, request), "outbox")
    else:
        _apply(session, note, adapter.send(request), adapter.name)
    return note


_CHANNEL_NAMES = {Channel.APP: "站内", Channel.SMS: "短信", Channel.STAFF_IM: "工作群机器人", Channel.EMAIL: "电子邮件"}


def _message(note: Notification) -> Message:
    channel = Channel(note.channel)
    return Message(
        notification_id=note.id,
        channel=channel,
        template=note.template or "",
        params={str(k): str(v) for k, v in (note.params or {}).items()},
        subject=note.subject,
        body=note.body,
        phone=note.phone if channel is Channel.SMS else None,
        email=note.email,
        mention_phone=note.phone if channel is Channel.STAFF_IM else None,
    )


def _record(session: Session, note: Notification, adapter: Adapter, request: Any) -> Outcome:
    shown = redact(request, adapter.secret_query_keys)
    record = OutboxRecord(
        notification_id=note.id,
        channel=note.channel,
        provider=adapter.name,
        method=shown.method,
        url=shown.url,
        headers=dict(shown.headers),
        body=shown.body,
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return Outcome(Verdict.SENT, provider_message_id=f"outbox-{record.id}")


def _apply(session: Session, note: Notification, outcome: Outcome, provider: str) -> None:
    now = utcnow()
    note.provider = provider
    if outcome.verdict is Verdict.SENT:
        note.state, note.sent_at, note.next_attempt_at = "sent", now, None
        note.provider_message_id = (outcome.provider_message_id or None) and outcome.provider_message_id[:128]
        return
    note.last_error = scrub(outcome.error or outcome.verdict.value)[:500]
    if outcome.verdict is Verdict.RETRY and note.attempts <= len(RETRY_DELAYS):
        note.next_attempt_at = now + timedelta(seconds=RETRY_DELAYS[note.attempts - 1])
        session.add(
            OutboxMessage(
                topic=DELIVER_TOPIC,
                payload={"notification_id": note.id},
                bureau_id=note.bureau_id,
                created_at=now,
                available_at=note.next_attempt_at,
                attempts=0,
            )
        )
        log.info("notification %s: %s, retry at %s", note.id, note.last_error, note.next_attempt_at)
        return
    note.state, note.next_attempt_at = "failed", None
    log.warning("notification %s (%s via %s) failed: %s", note.id, note.channel, provider, note.last_error)
