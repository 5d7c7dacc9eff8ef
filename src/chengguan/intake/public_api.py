"""The citizens' public door under ``/api/v1/public``: report without an account, follow a report by its
tracking code, rate the outcome, and the helpers the H5 page (``/h5``) asks before sending (is the pin
inside the city, does the typed address agree with it, which categories are there in plain words).

Anyone may call these routes; a citizen's login, when one is sent, links the report to the account (it then
also shows under 我的上报). The channel is always 市民上报, whatever the body says. Abuse controls:

- rate limits per client address (``http.ratelimit``): ``public_max_writes`` reports and ratings and
  ``public_max_reads`` look-ups per ``public_rate_window_seconds``; beyond them 429 with ``Retry-After``;
- size limits: every field is bounded, the body by ``max_body_bytes`` (413), photos by the media API;
- a flood of the same text from the same address within ``public_flood_minutes`` is answered with the
  earlier report's tracking code (200, ``repeated: true``) instead of a new report.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from chengguan.cases.channels import Channel
from chengguan.config import Settings
from chengguan.http.deps import AppSettings, Db, OptionalUser, commit
from chengguan.http.ratelimit import RateLimit, claim, client_of, digest, remember
from chengguan.identity.roles import Role
from chengguan.intake import public, rating
from chengguan.intake import service as intake
from chengguan.intake.schemas import TRACKING
from chengguan.shared.coords import CRS
from chengguan.shared.errors import NotFound
from chengguan.shared.text import SafeStr


def _window(s: Settings) -> timedelta:
    return timedelta(seconds=s.public_rate_window_seconds)


WRITES = RateLimit("public-write", limit=lambda s: s.public_max_writes, window=_window, what="提交")
READS = RateLimit("public-read", limit=lambda s: s.public_max_reads, window=_window, what="查询")
FLOOD_BUCKET = "public-flood"
LIMITED: dict[int | str, dict[str, Any]] = {429: {"description": "同一网络地址请求过于频繁（含 Retry-After）"}}

TrackingCode = Annotated[str, Path(pattern=TRACKING, description="跟踪编号")]
Lon = Annotated[float, Query(ge=-180, le=180, description="经度")]
Lat = Annotated[float, Query(ge=-90, le=90, description="纬度")]

router = APIRouter(prefix="/api/v1/public", tags=["市民随手拍（无需登录）"])


def _flood_key(settings: Settings, request: Request, text: str) -> str:
    return digest(settings.secret_key, FLOOD_BUCKET, client_of(request), " ".join(text.split()))


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    summary="市民反映问题（可匿名），返回跟踪编号",
    description="同一网络地址短时间内提交相同的描述，返回先前那条反映的跟踪编号（200，repeated 为 true）。"
    "位置不在本平台服务的辖区内时拒绝并说明原因（422 outside-area）。",
    dependencies=[Depends(WRITES)],
    responses={200: {"model": public.PublicReportOut, "description": "重复提交：先前那条反映"}, **LIMITED},
)
def create_report(
    body: public.PublicReportIn,
    request: Request,
    response: Response,
    db: Db,
    settings: AppSettings,
    user: OptionalUser,
) -> public.PublicReportOut:
    # One statement checks the flood rule and claims this text for the new report's code (rolled back with the
    # report when it is refused); a repeat gets the earlier report back.
    flood = _flood_key(settings, request, body.description)
    code = intake.new_tracking_code()
    flood_ttl = timedelta(minutes=settings.public_flood_minutes)
    earlier = claim(db, bucket=FLOOD_BUCKET, key=flood, ref=code, ttl=flood_ttl)
    if earlier != code:
        try:
            previous = intake.get_by_tracking_code(db, code=earlier)
        except NotFound:  # the earlier report is gone: take this one as new
            remember(db, bucket=FLOOD_BUCKET, key=flood, ref=code, ttl=flood_ttl)
        else:
            response.status_code = status.HTTP_200_OK
            return public.present_created(db, previous, repeated=True)
    citizen = user if user is not None and Role.CITIZEN in user.roles else None
    name = (body.contact_name or "").strip() or (citizen.display_name if citizen else None)
    submitted = intake.submit(
        db,
        incoming=intake.Incoming(
            channel=Channel.CITIZEN,
            text=body.description,
            lon=body.lon,
            lat=body.lat,
            crs=body.crs,
            address=body.address,
            location_source=body.location_source if body.lon is not None else "address",
            claimed_category=body.category_code,
            reporter_id=citizen.id if citizen else None,
            reporter_name=name,
            reporter_phone=body.contact_phone or (citizen.phone if citizen else None),
            anonymous=name is None,
            payload={"door": "h5", **({"place_confirmed": True} if body.place_confirmed else {})},
            media=tuple(body.media),
        ),
        tracking_code=code,
    )
    commit(request, db)  # the report is kept; processing runs after the commit
    if settings.inline_jobs:  # it ran in this process already: answer with what it decided
        db.refresh(submitted)
    return public.present_created(db, submitted, repeated=False)


@router.get(
    "/reports/{tracking_code}",
    summary="凭跟踪编号查看办理进度（通俗说明、公开时间线、处置结果照片）",
    dependencies=[Depends(READS)],
    responses=LIMITED,
)
def track(tracking_code: TrackingCode, db: Db) -> public.PublicTrackOut:
    return public.present_track(db, intake.get_by_tracking_code(db, code=tracking_code))


@router.post(
    "/reports/{tracking_code}/rating",
    summary="办结后评价满意度（每条反映一次）",
    dependencies=[Depends(WRITES)],
    responses=LIMITED,
)
def rate(tracking_code: TrackingCode, body: public.RatingIn, request: Request, db: Db) -> public.PublicTrackOut:
    report = intake.get_by_tracking_code(db, code=tracking_code)
    rating.rate(db, report=report, score=body.score, comment=body.comment)
    out = public.present_track(db, report)
    commit(request, db)
    return out


@router.get(
    "/place",
    summary="提交前核对位置：是否在服务范围内、属于哪个街道社区、与填写的地址是否一致",
    dependencies=[Depends(READS)],
    responses=LIMITED,
)
def check_place(
    db: Db,
    lon: Lon,
    lat: Lat,
    crs: Annotated[CRS, Query(description="坐标系")] = CRS.WGS84,
    address: Annotated[SafeStr | None, Query(max_length=200, description="填写的地址（选填）")] = None,
) -> public.PlaceCheckOut:
    return public.check_place(db, lon=lon, lat=lat, crs=crs, address=address)


@router.get(
    "/places",
    summary="按地名查找区县、街道、社区（本地地名库）",
    dependencies=[Depends(READS)],
    responses=LIMITED,
)
def search_places(
    db: Db,
    q: Annotated[SafeStr, Query(min_length=1, max_length=200, description="地址或地名")],
    crs: Annotated[CRS, Query(description="返回坐标的坐标系")] = CRS.WGS84,
    limit: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[public.PlaceOut]:
    return public.search_places(db, text=q, crs=crs, limit=limit)


@router.get(
    "/categories",
    summary="问题类别（大类、小类的通俗说法与图标）",
    dependencies=[Depends(READS)],
    responses=LIMITED,
)
def list_categories(
    db: Db,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="选点经度（WGS84，选填）")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="选点纬度")] = None,
) -> list[public.MajorOut]:
    return public.categories(db, bureau_id=public.catalog_bureau(db, lon=lon, lat=lat))
