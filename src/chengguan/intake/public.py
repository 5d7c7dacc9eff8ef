"""The citizens' public door: what an anonymous reporter sends, and the views they get back.

A reporter without an account has one key: the tracking code. The views here are built for them (plain words,
the case's public timeline, never a staff record): ``present_created`` right after sending, ``present_track``
when they follow the report, ``check_place`` before sending (is the pin inside the city, and does the typed
address agree with it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases import queries
from chengguan.cases.media import public_links
from chengguan.cases.models import Case
from chengguan.cases.public import PUBLIC_STATUS, present_public_detail
from chengguan.cases.schemas import PublicCaseDetailOut
from chengguan.cases.states import CaseState
from chengguan.catalog import service as catalog
from chengguan.geo import service as geo
from chengguan.identity.models import Bureau
from chengguan.intake import gazetteer, rating
from chengguan.intake.models import Report
from chengguan.intake.schemas import CATEGORY, PHONE
from chengguan.intake.states import ReportStatus
from chengguan.media import service as media
from chengguan.media.schemas import MediaOut, Sha256
from chengguan.media.service import MAX_PER_REPORT
from chengguan.shared.coords import CRS, from_wgs84, to_wgs84
from chengguan.shared.text import SafeStr

# ---- what comes in ------------------------------------------------------------------------------------------


class PublicReportIn(BaseModel):
    """A report from anyone, without an account. Anonymous unless a name is given; a phone number (optional)
    is seen only by the staff handling the case and used to tell the reporter the outcome."""

    model_config = ConfigDict(extra="forbid")

    description: SafeStr = Field(min_length=1, max_length=2000, description="问题描述")
    category_code: SafeStr | None = Field(
        default=None,
        min_length=2,
        max_length=16,
        pattern=CATEGORY,
        description="问题类别（小类，选填：不选则自动识别）",
    )
    lon: float | None = Field(default=None, ge=-180, le=180, description="经度（与纬度同时提供）")
    lat: float | None = Field(default=None, ge=-90, le=90, description="纬度")
    crs: CRS = Field(
        default=CRS.WGS84, description="坐标系：wgs84（手机定位）/ gcj02（高德、腾讯地图）/ bd09（百度地图）"
    )
    location_source: Literal["gps", "pin"] = Field(default="pin", description="gps：手机定位；pin：地图选点")
    address: SafeStr | None = Field(default=None, max_length=200, description="地址（与地图选点相距过远时转人工核实）")
    place_confirmed: bool = Field(default=False, description="地址与选点不一致时，上报人已确认以地图选点为准")
    contact_name: SafeStr | None = Field(
        default=None, min_length=1, max_length=64, description="称呼（选填；不填为匿名）"
    )
    contact_phone: str | None = Field(default=None, pattern=PHONE, description="联系电话（选填，仅办案人员可见）")
    media: list[Sha256] = Field(
        default_factory=list,
        max_length=MAX_PER_REPORT,
        description="照片、视频（先上传 POST /api/v1/media，再填其返回的 sha256；匿名上传须在 24 小时内使用）",
    )

    @model_validator(mode="after")
    def _somewhere(self) -> PublicReportIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("经度和纬度须同时提供")
        if self.lon is None and not (self.address and self.address.strip()):
            raise ValueError("请在地图上选点，或填写问题发生的地址")
        return self


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=rating.MIN_SCORE, le=rating.MAX_SCORE, description="满意度：1 很不满意 … 5 很满意")
    comment: SafeStr | None = Field(default=None, max_length=rating.MAX_COMMENT, description="评价内容（选填）")


# ---- what goes out ------------------------------------------------------------------------------------------


class PlaceNames(BaseModel):
    district: str | None = None
    street: str | None = None
    community: str | None = None


class PublicReportOut(BaseModel):
    """The answer to a report: the tracking code to follow it by, and where it was placed."""

    tracking_code: str = Field(description="跟踪编号：凭此查询办理进度（请妥善保存，不会再次显示在公开页面）")
    repeated: bool = Field(description="true：同一网络短时间内提交过相同内容，返回的是先前那条反映")
    status: ReportStatus
    progress: str = Field(description="进度（通俗说法）")
    progress_text: str = Field(description="进度说明")
    received_at: datetime
    place: PlaceNames
    location_note: str | None = Field(description="位置说明，如地图选点与地址不一致、按地址定位")
    track_path: str = Field(description="查看进度的页面地址")


class PublicTrackOut(BaseModel):
    """What the reporter sees by the tracking code: progress in plain words, the case's public timeline and
    result, and whether they may rate it now."""

    tracking_code: str
    status: ReportStatus
    progress: str
    progress_text: str
    description: str
    address: str | None
    place: PlaceNames
    received_at: datetime
    photos: list[MediaOut] = Field(description="随反映提交的照片、视频（公开副本：已去除拍摄位置等元数据）")
    case_no: str | None
    case: PublicCaseDetailOut | None = Field(description="所属案件的办理进度与结果（立单或合并后），含处置结果照片")
    finished: bool = Field(description="已办结（可评价）")
    can_rate: bool
    rating: int | None
    rating_comment: str | None


class PlaceCheckOut(BaseModel):
    """Before sending: is the point inside the city, where is it, and does the typed address agree."""

    inside: bool
    reason: str | None = Field(description="不在服务范围内的原因（inside 为 false 时）")
    lon: float = Field(description="WGS84")
    lat: float
    place: PlaceNames
    address_place: str | None = Field(description="地址中识别出的地名（区县、街道或社区）")
    address_precision: str | None
    distance_m: float | None = Field(description="选点到地址所指区域的距离（米，区域内为 0）")
    disagrees: bool = Field(description="选点与地址相距过远：提交前请确认位置")
    note: str | None


class PlaceOut(BaseModel):
    """A named area found in typed text (address → coordinates)."""

    name: str
    full_name: str
    level: str
    level_label: str
    lon: float = Field(description="区域的标注点，坐标系与请求的 crs 相同")
    lat: float
    crs: CRS
    precision: str


# ---- views --------------------------------------------------------------------------------------------------

_PROGRESS: dict[ReportStatus, tuple[str, str]] = {
    ReportStatus.RECEIVED: ("已收到", "我们已收到您的反映，正在确认位置和问题类别。"),
    ReportStatus.TRIAGE: ("核实中", "工作人员正在核实您反映的位置和问题类别，核实后将立单处理。"),
    ReportStatus.FORWARDED: ("已转交", "经核实，该问题属于其他部门职责，已转交相关部门办理。"),
    ReportStatus.REJECTED: ("未予受理", "经核实，该反映未予受理。"),
}
_CASE_TEXT: dict[str, str] = {
    "已提交": "已立单，等待受理。",
    "已受理": "已受理，正在安排处置。",
    "处理中": "正在处理中，请耐心等待。",
    "暂缓处理": "该问题需要协调，暂缓处理，恢复后将继续办理。",
    "已办结": "已办结，欢迎您对办理结果进行评价。",
    "不予立案": "经核实不予立案，欢迎您对办理情况进行评价。",
    "已作废": "该反映已作废处理。",
}


def _progress(report: Report, case: Case | None) -> tuple[str, str]:
    if case is not None:
        label = PUBLIC_STATUS[CaseState(case.state)]
        text = _CASE_TEXT.get(label, label)
        if ReportStatus(report.status) is ReportStatus.MERGED:
            text = "其他市民也反映了这个问题，已合并办理；" + text
        return label, text
    label, text = _PROGRESS.get(ReportStatus(report.status), (ReportStatus(report.status).label, ""))
    if ReportStatus(report.status) in (ReportStatus.FORWARDED, ReportStatus.REJECTED) and report.status_note:
        text = f"{text}说明：{report.status_note}"
    return label, text


def place_names(session: Session, report: Report) -> PlaceNames:
    if report.lon is None or report.lat is None or report.bureau_id is None:
        return PlaceNames()
    where = geo.locate(session, bureau_ids=[report.bureau_id], lon=report.lon, lat=report.lat)
    if where is None:
        return PlaceNames()
    return PlaceNames(district=where.district_name, street=where.street_name, community=where.community_name)


def track_path(code: str) -> str:
    return f"/h5/track/{code}"


def present_created(session: Session, report: Report, *, repeated: bool) -> PublicReportOut:
    case = session.get(Case, report.case_id) if report.case_id else None
    progress, text = _progress(report, case)
    return PublicReportOut(
        tracking_code=report.tracking_code,
        repeated=repeated,
        status=ReportStatus(report.status),
        progress=progress,
        progress_text=text,
        received_at=report.received_at,
        place=place_names(session, report),
        location_note=report.location_note,
        track_path=track_path(report.tracking_code),
    )


def present_track(session: Session, report: Report) -> PublicTrackOut:
    case = session.get(Case, report.case_id) if report.case_id else None
    progress, text = _progress(report, case)
    done = rating.finished(session, report)
    return PublicTrackOut(
        tracking_code=report.tracking_code,
        status=ReportStatus(report.status),
        progress=progress,
        progress_text=text,
        description=report.text,
        address=report.address,
        place=place_names(session, report),
        received_at=report.received_at,
        photos=[media.present(o, signed=public_links()) for o in media.report_media(session, report_id=report.id)],
        case_no=case.case_no if case else None,
        case=present_public_detail(session, case, queries.history(session, case_id=case.id)) if case else None,
        finished=done,
        can_rate=done and report.rating is None,
        rating=report.rating,
        rating_comment=report.rating_comment,
    )


# ---- places ---------------------------------------------------------------------------------------------------


def outside_reason(lon: float, lat: float) -> str:
    return f"坐标 ({lon:.6f}, {lat:.6f}) 不在本平台服务的辖区内，请确认位置或向当地部门反映"


def check_place(session: Session, *, lon: float, lat: float, crs: CRS, address: str | None) -> PlaceCheckOut:
    wlon, wlat = to_wgs84(lon, lat, crs)
    where = geo.locate(session, bureau_ids=None, lon=wlon, lat=wlat)
    if where is None:
        return PlaceCheckOut(
            inside=False,
            reason=outside_reason(lon, lat),
            lon=wlon,
            lat=wlat,
            place=PlaceNames(),
            address_place=None,
            address_precision=None,
            distance_m=None,
            disagrees=False,
            note=None,
        )
    named = gazetteer.lookup(session, address=address, bureau_ids=None) if address and address.strip() else None
    distance = gazetteer.pin_distance_m(named, wlon, wlat) if named is not None else None
    disagrees = distance is not None and distance > gazetteer.DISAGREE_M
    note = None
    if named is not None and distance is not None and disagrees:
        note = f"地图选点与填写的地址（{named.full_name}）相距约 {distance / 1000:.1f} 公里，请确认问题发生的位置"
    return PlaceCheckOut(
        inside=True,
        reason=None,
        lon=wlon,
        lat=wlat,
        place=PlaceNames(district=where.district_name, street=where.street_name, community=where.community_name),
        address_place=named.full_name if named else None,
        address_precision=named.precision if named else None,
        distance_m=round(distance, 1) if distance is not None else None,
        disagrees=disagrees,
        note=note,
    )


def search_places(session: Session, *, text: str, crs: CRS, limit: int) -> list[PlaceOut]:
    out = []
    for p in gazetteer.search(session, text=text, bureau_ids=None, limit=limit):
        lon, lat = from_wgs84(p.lon, p.lat, crs)
        out.append(
            PlaceOut(
                name=p.name,
                full_name=p.full_name,
                level=p.level,
                level_label=gazetteer.LEVEL_ZH[p.level],
                lon=round(lon, 6),
                lat=round(lat, 6),
                crs=crs,
                precision=p.precision,
            )
        )
    return out


# ---- categories in plain words ----------------------------------------------------------------------------

# What people call each 大类 and 小类 of the default catalog, with a picture (an icon of h5-icons.svg) per
# 大类. A 小类 a locality adds without a plain name here is shown by its catalog name.
MAJOR_WORDS: dict[str, tuple[str, str]] = {
    "01": ("垃圾与卫生", "trash"),
    "02": ("小广告与涂画", "poster"),
    "03": ("工地与施工", "cone"),
    "04": ("道路险情", "warning"),
    "05": ("占道与乱停", "stall"),
}
MINOR_WORDS: dict[str, str] = {
    "0101": "路边有垃圾",
    "0102": "垃圾渣土堆积",
    "0103": "路面脏",
    "0104": "河道水面有垃圾",
    "0105": "绿地脏乱",
    "0106": "旧家具乱扔",
    "0107": "有人烧垃圾",
    "0108": "垃圾桶满了",
    "0109": "路上有动物尸体",
    "0110": "饭店油烟",
    "0201": "广告牌不规范",
    "0202": "墙上贴小广告",
    "0203": "乱涂乱画",
    "0204": "乱挂横幅标语",
    "0205": "招牌坏了",
    "0206": "街头发传单",
    "0301": "施工噪声吵",
    "0302": "工地扬尘",
    "0303": "渣土车撒了一路",
    "0304": "施工占了道路",
    "0305": "有人挖马路",
    "0306": "工地围挡坏了",
    "0307": "违章搭建",
    "0401": "路面塌陷",
    "0402": "路上积水",
    "0403": "井盖丢了",
    "0404": "闻到燃气味",
    "0405": "水管爆了",
    "0406": "树倒了",
    "0407": "路面结冰",
    "0501": "占道摆摊",
    "0502": "店铺占道经营",
    "0503": "流动小贩",
    "0504": "乱堆杂物",
    "0505": "沿街晾衣服",
    "0506": "汽车乱停",
    "0507": "电动车自行车乱停",
    "0508": "路边烧烤",
    "0509": "乱拉电线绳子",
    "0510": "废品收购占道",
}


class MinorOut(BaseModel):
    code: str
    words: str = Field(description="通俗说法")
    name: str = Field(description="目录中的小类名称")


class MajorOut(BaseModel):
    code: str
    words: str = Field(description="通俗说法")
    name: str = Field(description="目录中的大类名称")
    icon: str = Field(description="图标名（/static/app/h5-icons.svg 中的 symbol）")
    minors: list[MinorOut]


def catalog_bureau(session: Session, *, lon: float | None = None, lat: float | None = None) -> int | None:
    """The bureau whose catalog a citizen chooses from: where the point is, else the first city on the platform."""
    if lon is not None and lat is not None:
        where = geo.locate(session, bureau_ids=None, lon=lon, lat=lat)
        if where is not None:
            return where.bureau_id
    return session.scalar(select(Bureau.id).where(Bureau.parent_id.is_(None)).order_by(Bureau.id).limit(1))


def categories(session: Session, *, bureau_id: int | None) -> list[MajorOut]:
    if bureau_id is None:
        return []
    return [
        MajorOut(
            code=major.code,
            words=MAJOR_WORDS.get(major.code, (major.name, "other"))[0],
            name=major.name,
            icon=MAJOR_WORDS.get(major.code, (major.name, "other"))[1],
            minors=[MinorOut(code=m.code, words=MINOR_WORDS.get(m.code, m.name), name=m.name) for m in major.minors],
        )
        for major in catalog.list_catalog(session, bureau_id=bureau_id)
    ]
