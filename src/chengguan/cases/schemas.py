"""The case API contract (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chengguan.cases.channels import Channel
from chengguan.cases.states import Action, CaseState
from chengguan.shared.coords import CRS


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category_code: str = Field(min_length=2, max_length=16, description="案件小类编码，如 0501")
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRS = Field(default=CRS.WGS84, description="坐标系：wgs84 / gcj02 / bd09")
    address: str | None = Field(default=None, max_length=200)
    reporter_name: str | None = Field(default=None, max_length=64)
    reporter_phone: str | None = Field(default=None, pattern=r"^\+?\d{5,15}$")
    channel: Channel | None = None


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    version: int = Field(ge=1, description="客户端读到的案件版本号；已被他人修改时返回 409")
    note: str | None = Field(default=None, max_length=2000)
    assignee_id: int | None = None
    extension: str | None = Field(default=None, max_length=32, description="延期时长，如 2工作日")


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
    reporter_name: str | None
    reporter_phone: str | None
    assignee_id: int | None
    step: str | None
    step_deadline: datetime | None
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


class CasePointOut(BaseModel):
    case_no: str
    lon: float
    lat: float
    state: CaseState
    state_label: str
    category_name: str
    overdue: bool
