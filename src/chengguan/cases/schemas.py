"""The case API contract (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chengguan.cases.states import Action, CaseState
from chengguan.media.schemas import MediaOut
from chengguan.shared.text import SafeStr

MAX_ID = 2**63 - 1  # BIGINT: larger ids cannot exist, and are a 422 rather than a database error


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    version: int = Field(ge=1, le=2**31 - 1, description="客户端读到的案件版本号；已被他人修改时返回 409")
    note: SafeStr | None = Field(default=None, max_length=2000, description="内部办理说明（不向上报人公开）")
    assignee_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="派遣对象（见 candidates）")
    extension: SafeStr | None = Field(default=None, max_length=32, description="延期时长，如 2工作日")
    public_reply: SafeStr | None = Field(
        default=None, max_length=500, description="答复上报人的内容（不予立案、作废、结案时可填，上报人可见）"
    )


class EventOut(BaseModel):
    seq: int
    action: str
    action_label: str
    from_state: str | None
    to_state: str
    actor_name: str
    at: datetime
    note: str | None
    data: dict[str, Any]


class CaseOut(BaseModel):
    case_no: str
    version: int
    state: CaseState
    state_label: str
    bureau_id: int
    category_code: str
    category_name: str
    channel: str
    channel_label: str
    description: str
    address: str | None
    lon: float
    lat: float
    district_code: str | None
    grid_code: str | None
    reporter_name: str | None = Field(description="上报人；办案人员以外的角色看到脱敏后的姓名")
    reporter_phone: str | None = Field(description="上报人电话；只有受理派遣、值班长（本单位）和处置人员看到全号")
    assignee_id: int | None
    step: str | None
    step_deadline: datetime | None
    deadline_provisional: bool = Field(description="时限跨越尚未导入法定节假日的年份，为暂定时限")
    overdue: bool
    extension_pending: str | None
    rework_count: int
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class CaseDetailOut(CaseOut):
    history: list[EventOut]
    available_actions: list[Action]


class CasePageOut(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None
    total: int | None


class CandidateOut(BaseModel):
    """Someone this case can be dispatched to (same scope rule as the check on 派遣)."""

    id: int
    display_name: str
    bureau_name: str
    unit_name: str | None
    role_labels: list[str]


class PublicEventOut(BaseModel):
    """One step of the public timeline: plain words, no staff names, no internal notes."""

    at: datetime
    title: str
    text: str | None


class PublicCaseOut(BaseModel):
    """What a reporter (and later the public) sees of a case."""

    case_no: str
    status: str = Field(description="进度：已提交、已受理、处理中、已办结、不予立案、已作废、暂缓处理")
    category_name: str
    description: str
    address: str | None
    lon: float
    lat: float
    reported_at: datetime
    closed_at: datetime | None
    result: str | None = Field(description="办理结果答复")


class PublicCaseDetailOut(PublicCaseOut):
    timeline: list[PublicEventOut]
    photos: list[MediaOut] = Field(
        default_factory=list, description="处置结果照片、视频（公开副本：已去除拍摄位置等元数据）"
    )


class PublicCasePageOut(BaseModel):
    items: list[PublicCaseOut]
    next_cursor: str | None


class CasePointOut(BaseModel):
    case_no: str
    lon: float
    lat: float
    state: CaseState
    state_label: str
    category_name: str
    overdue: bool
