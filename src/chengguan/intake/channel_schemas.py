"""The contract of the system channels: what the 12345 platform, a social-media monitor, a sensor gateway and
the video platform send, and what they get back. Every field is bounded; times without an offset are the
bureau's local time (Asia/Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chengguan.intake.devices import CameraEvent
from chengguan.intake.schemas import CATEGORY, PHONE
from chengguan.intake.states import ReportStatus
from chengguan.shared.clock import BUREAU_TZ, utcnow
from chengguan.shared.coords import CRS
from chengguan.shared.text import SafeStr

EXTERNAL_ID = r"^[0-9A-Za-z][0-9A-Za-z_\-./:#]{0,63}$"
METRIC = r"^[a-z][a-z0-9_]{0,31}$"
SHA256 = r"^[0-9a-f]{64}$"
FUTURE_SLACK = timedelta(hours=1)  # devices' and platforms' clocks drift; a time beyond this is a mistake


def _moment(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=BUREAU_TZ)
    if not 2000 <= value.year <= 2099:
        raise ValueError("时间应在 2000 至 2099 年之间")
    if value > utcnow() + FUTURE_SLACK:
        raise ValueError("时间不能晚于当前时间")
    return value.astimezone(UTC)


Moment = Annotated[datetime, AfterValidator(_moment)]
ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=EXTERNAL_ID)]


class _Where(BaseModel):
    """Coordinates are optional but come in pairs."""

    model_config = ConfigDict(extra="forbid")

    lon: float | None = Field(default=None, ge=-180, le=180, description="经度")
    lat: float | None = Field(default=None, ge=-90, le=90, description="纬度", validate_default=True)
    crs: CRS = Field(default=CRS.WGS84, description="坐标系：wgs84 / gcj02（高德、腾讯）/ bd09（百度）")

    @field_validator("lat")
    @classmethod
    def _pair(cls, lat: float | None, info: ValidationInfo) -> float | None:
        if "lon" in info.data and (lat is None) != (info.data["lon"] is None):
            raise ValueError("经度和纬度必须同时提供")
        return lat


class HotlineOrderIn(_Where):
    """One 12345 work order as the hotline platform pushes it."""

    order_no: ExternalId = Field(description="工单编号（重复推送同一工单返回已存的上报，HTTP 200）")
    content: SafeStr = Field(min_length=1, max_length=2000, description="诉求内容")
    title: SafeStr | None = Field(default=None, max_length=100, description="工单标题")
    called_at: Moment = Field(description="来电时间（不带时区按北京时间）")
    caller_name: SafeStr | None = Field(default=None, max_length=64, description="来电人")
    caller_phone: str | None = Field(default=None, pattern=PHONE, description="联系电话")
    address: SafeStr | None = Field(default=None, max_length=200, description="事发地址")
    category_code: str | None = Field(
        default=None, min_length=2, max_length=16, pattern=CATEGORY, description="案件小类编码（已分类时）"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> HotlineOrderIn:
        if self.lon is None and not (self.address and self.address.strip()):
            raise ValueError("事发地址和经纬度至少提供一项")
        return self


class SocialPostIn(_Where):
    """A post a social-media monitor found: text, and a geotag or a place name (or neither)."""

    post_id: ExternalId = Field(description="帖子编号（外部编号：重复推送返回已存的上报，HTTP 200）")
    platform: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$", description="平台，如 weibo、douyin"
    )
    url: HttpUrl = Field(description="帖子链接（http/https）")
    author: SafeStr = Field(min_length=1, max_length=64, description="作者账号")
    text: SafeStr = Field(min_length=1, max_length=2000, description="帖子内容")
    posted_at: Moment = Field(description="发布时间")
    place: SafeStr | None = Field(default=None, max_length=200, description="地名（无地理标记时按地名定位）")
    category_code: str | None = Field(default=None, min_length=2, max_length=16, pattern=CATEGORY)

    @field_validator("url")
    @classmethod
    def _short_url(cls, url: HttpUrl) -> HttpUrl:
        if len(str(url)) > 500:
            raise ValueError("链接最多 500 个字符")
        return url


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(pattern=METRIC, max_length=32, description="指标，如 fill_pct、noise_db、pm10")
    value: float = Field(ge=-1e9, le=1e9, allow_inf_nan=False, description="读数（单位见设备阈值）")
    at: Moment = Field(description="测量时间")


class ReadingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(min_length=1, max_length=200, description="读数（一次最多 200 条）")


class DetectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    event_class: CameraEvent = Field(alias="class", description="识别出的问题类别，映射到案件小类")
    score: float = Field(ge=0, le=1, allow_inf_nan=False, description="识别置信度 0–1")
    bbox: list[float] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="目标框 [x_min, y_min, x_max, y_max]，相对画面宽高的 0–1 比例，原点在左上角",
    )

    @field_validator("bbox")
    @classmethod
    def _box(cls, box: list[float] | None) -> list[float] | None:
        if box is None:
            return None
        x0, y0, x1, y1 = box
        if not all(0 <= v <= 1 for v in box):
            raise ValueError("目标框的坐标应为 0 到 1 之间的比例")
        if not (x0 < x1 and y0 < y1):
            raise ValueError("目标框应满足 x_min < x_max 且 y_min < y_max")
        return box


class CameraEventIn(BaseModel):
    """One analysed frame of one camera (docs/intake.md, "The camera-event contract"); the camera is the
    path's device code."""

    model_config = ConfigDict(extra="forbid")

    event_id: ExternalId = Field(description="事件编号（视频平台生成；重复推送不会重复上报）")
    frame_at: Moment = Field(description="画面时间（不带时区按北京时间）")
    detections: list[DetectionIn] = Field(min_length=1, max_length=50, description="画面中识别出的目标（最多 50 个）")
    snapshot_sha256: str | None = Field(
        default=None, pattern=SHA256, description="抓拍画面的 SHA-256（媒体存储中的引用）"
    )
    detector: SafeStr | None = Field(default=None, max_length=64, description="识别模型及版本，如 yolo-street-v3")


class IntakeAck(BaseModel):
    """What a system channel gets back: the report it made (or the one it made before)."""

    tracking_code: str = Field(description="跟踪编号")
    external_id: str | None = Field(description="渠道自己的编号（工单编号、帖子编号、事件编号）")
    status: ReportStatus
    status_label: str
    status_note: str | None
    case_no: str | None = Field(description="立单或合并后的案件编号")
    received_at: datetime
    replay: bool = Field(description="true：同一编号已接收过，返回的是已存的上报")


class AlertOut(BaseModel):
    metric: str = Field(description="指标，或摄像头识别的问题类别")
    outcome: Literal["opened", "merged", "replayed"]
    tracking_code: str
    status: ReportStatus
    status_label: str
    repeats: int = Field(description="并入该上报的后续超限读数或事件")


class ReadingsOut(BaseModel):
    device: str
    readings: int
    within_limits: int = Field(description="未超限（或在回差范围内、报警未解除）的读数")
    pending: int = Field(description="已超限、但持续时间还不够（for_s）的读数")
    cleared: int = Field(description="使报警解除的读数")
    no_rule: int = Field(description="该设备没有阈值规则的指标的读数")
    replayed: int = Field(description="不晚于该指标上次读数时间的读数（重复推送，不再计入）")
    alerts: list[AlertOut] = Field(description="触发或仍在报警的读数的去向")


class CameraEventOut(BaseModel):
    device: str
    event_id: str
    alerts: list[AlertOut] = Field(
        description="每类目标的去向：opened 新上报；merged 同一摄像头同类问题的上报尚未办结，已计入；replayed 重复推送"
    )


class ImportErrorOut(BaseModel):
    row: int = Field(description="行号（CSV/XLSX 列名为第 1 行；JSON 为第几项）")
    column: str | None = Field(description="原文件的列名")
    message: str


class ImportOut(BaseModel):
    format: str
    encoding: str | None
    file_sha256: str
    columns: dict[str, str] = Field(description="字段 → 原文件列名")
    rows: int
    stored: int = Field(description="新导入的工单")
    replayed: int = Field(description="以前已导入过的工单（按工单编号识别）")
    invalid_rows: int = Field(description="有错误、未导入的行")
    errors: list[ImportErrorOut] = Field(description="错误报告（最多 200 条）")
