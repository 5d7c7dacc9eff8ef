"""Tables: notification — one message to one person over one channel, with its delivery state;
notify_outbox — the local outbox: the exact request each adapter would have made (development default)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chengguan.db import Base, BigIntPK, JSONType, UTCDateTime
from chengguan.shared.clock import utcnow


class Notification(Base):
    """``state``: ``queued`` until an adapter has it, then ``sent`` (accepted by the provider, whose message id
    is kept) or ``failed`` (refused for good, or out of retries, with the provider's error). In-app rows are
    delivered by being written (``sent`` at once)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id"), index=True)  # on whose behalf
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    channel: Mapped[str] = mapped_column(String(16))  # app | sms | im | email
    template: Mapped[str | None] = mapped_column(String(40))  # notify.templates key (rows before 0009: none)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(64))  # e.g. the case number
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # delivery
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | sent | failed
    provider: Mapped[str | None] = mapped_column(String(16))  # app | outbox | aliyun | tencent | dingtalk | …
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxRecord(Base):
    """What an adapter would have sent, recorded instead of sending (``CHENGGUAN_NOTIFY_DELIVERY=outbox``):
    method, URL (credentials in the query masked), headers and body exactly as the live adapter builds them."""

    __tablename__ = "notify_outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))  # whose shape: aliyun | tencent | dingtalk | wecom | smtp
    method: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
