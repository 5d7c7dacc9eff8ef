"""API contract of the administrators' view of deliveries and of the local outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class ChannelName(StrEnum):
    APP = "app"
    SMS = "sms"
    IM = "im"
    EMAIL = "email"


class DeliveryOut(BaseModel):
    """One notification and where its delivery stands."""

    id: int
    channel: str = Field(description="app 站内 | sms 短信 | im 工作群机器人 | email 电子邮件")
    template: str | None = Field(description="消息模板（notify.templates 的键）")
    subject: str
    body: str
    ref: str | None = Field(description="相关案件编号")
    recipient: str | None = Field(description="收件人：用户编号、脱敏手机号或邮箱")
    state: str = Field(description="queued 待发送 | sent 已发送（服务商已受理）| failed 发送失败")
    provider: str | None = Field(description="app | outbox | aliyun | tencent | dingtalk | wecom | smtp | none")
    provider_message_id: str | None = Field(description="服务商返回的消息编号（BizId、SerialNo、Message-ID）")
    attempts: int
    last_error: str | None = Field(description="服务商最近一次返回的错误")
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


class OutboxRecordOut(BaseModel):
    """A request the local outbox recorded instead of sending: exactly what the adapter would send (the
    credentials in a webhook URL masked)."""

    id: int
    notification_id: int
    channel: str
    provider: str = Field(description="请求的格式：aliyun | tencent | dingtalk | wecom | smtp")
    method: str
    url: str
    headers: dict[str, Any]
    body: str
    created_at: datetime
