"""The intake API contract: reports as channels send them, and the reporter's view of what became of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from chengguan.cases.schemas import PublicCaseDetailOut
from chengguan.intake.states import ReportStatus
from chengguan.media.schemas import MediaOut, Sha256
from chengguan.media.service import MAX_PER_REPORT
from chengguan.shared.coords import CRS
from chengguan.shared.text import SafeStr

PHONE = r"^\+?\d{5,15}$"
CATEGORY = r"^[0-9A-Za-z]+$"
TRACKING = r"^[0-9A-Za-z]{6,16}$"


class _Place(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: SafeStr = Field(min_length=1, max_length=2000, description="问题描述")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRS = Field(default=CRS.WGS84, description="坐标系：wgs84 / gcj02 / bd09（手机定位与高德等地图为 gcj02）")
    address: SafeStr | None = Field(default=None, max_length=200, description="地址（与坐标相距过远时转人工核实）")
    media: list[Sha256] = Field(
        default_factory=list,
        max_length=MAX_PER_REPORT,
        description="照片、视频（先上传 POST /api/v1/media，再填其返回的 sha256；须为本人上传）",
    )


class StaffReportIn(_Place):
    """A report entered by staff. The channel follows the role (网格员、热线、队员巡查); only the hotline desk
    (受理派遣员、值班长) records the caller's name and phone."""

    category_code: SafeStr = Field(min_length=2, max_length=16, pattern=CATEGORY, description="案件小类编码，如 0501")
    reporter_name: SafeStr | None = Field(default=None, max_length=64, description="来电人姓名（仅热线受理）")
    reporter_phone: str | None = Field(default=None, pattern=PHONE, description="来电人电话（仅热线受理）")


class ReportIn(_Place):
    """A citizen's own report. The channel and the reporter come from the login, never from the body."""

    category_code: SafeStr | None = Field(
        default=None,
        min_length=2,
        max_length=16,
        pattern=CATEGORY,
        description="问题类别（小类，选填：不选则自动识别）",
    )
    contact_phone: str | None = Field(default=None, pattern=PHONE, description="联系电话（选填，仅办案人员可见）")


class ReportOut(BaseModel):
    """The reporter's view of their report: its tracking code, what became of it, and its case's public view."""

    tracking_code: str = Field(description="跟踪编号：凭此查询办理进度")
    status: ReportStatus
    status_label: str
    status_note: str | None
    description: str
    address: str | None
    received_at: datetime
    case_no: str | None
    case: PublicCaseDetailOut | None = Field(default=None, description="所属案件的办理进度（立单或合并后）")
    rating: int | None = Field(default=None, description="满意度评价（1–5）")
    media: list[MediaOut] = Field(
        default_factory=list, description="随上报提交的照片、视频（公开副本：已去除拍摄位置等元数据）"
    )


class ReportPageOut(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None
