"""Routes of the system channels: the 12345 platform, social-media monitors, sensor gateways and the video
platform push here with their ``X-Api-Key``; the desk uploads 12345 exports here.

A client's channel and bureau come from its record (``intake_client``), never from the body: a key of
another channel is refused (403), a missing or unknown key is 401, and a person's login is not a key (403).
Pushes are idempotent on the channel's own id (order number, post id, event id): a replay answers 200 with
the report stored the first time; a new report answers 201.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, Security, UploadFile, status
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.http.deps import Db, bearer_token, commit, get_optional_user, require_roles
from chengguan.identity import access
from chengguan.identity.models import User
from chengguan.identity.roles import DESK_ROLES
from chengguan.intake import clients, devices, imports
from chengguan.intake import service as intake
from chengguan.intake.channel_schemas import (
    AlertOut,
    CameraEventIn,
    CameraEventOut,
    HotlineOrderIn,
    ImportErrorOut,
    ImportOut,
    IntakeAck,
    ReadingsIn,
    ReadingsOut,
    SocialPostIn,
)
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.states import ReportStatus
from chengguan.shared.errors import NotFound, PermissionDenied, Unauthenticated

API_KEY_HEADER = "X-Api-Key"
api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="apiKey",
    description="系统客户端的 API Key（chengguan create-client 生成，只显示一次）",
    auto_error=False,
)
KEY_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "缺少 X-Api-Key，或 Key 无效、已停用"}}


def system_client(*channels: Channel) -> Callable[..., IntakeClient]:
    """A dependency that lets through only an active client of one of ``channels``."""
    allowed = frozenset(c.value for c in channels)
    names = "、".join(c.label for c in channels)

    def _client(request: Request, db: Db, key: Annotated[str | None, Security(api_key)] = None) -> IntakeClient:
        if not key:
            if bearer_token(request) and get_optional_user(request, db) is not None:
                raise PermissionDenied(f"此接口只接受系统客户端的 {API_KEY_HEADER}，不能用登录账号调用")
            raise Unauthenticated(f"缺少 {API_KEY_HEADER} 请求头（系统客户端的 API Key）")
        client = clients.authenticate(db, key=key)
        if client is None:
            raise Unauthenticated(f"{API_KEY_HEADER} 无效，或该客户端已停用")
        if client.channel not in allowed:
            raise PermissionDenied(
                f"客户端 {client.code}（{Channel(client.channel).label}）不能调用此接口（仅限{names}）"
            )
        return client

    _client.allowed_roles = frozenset()  # type: ignore[attr-defined]  # no person's role: a login gets 403
    return _client


Hotline = Annotated[IntakeClient, Depends(system_client(Channel.HOTLINE_12345))]
Social = Annotated[IntakeClient, Depends(system_client(Channel.SOCIAL_MEDIA))]
Sensors = Annotated[IntakeClient, Depends(system_client(Channel.IOT_SENSOR))]
Cameras = Annotated[IntakeClient, Depends(system_client(Channel.CAMERA))]
Desk = Annotated[User, Depends(require_roles(*DESK_ROLES))]
DeviceCode = Annotated[
    str, Path(min_length=2, max_length=64, pattern=devices.DEVICE_CODE.pattern, description="设备编码")
]
REPLAYED: dict[int | str, dict[str, Any]] = {
    200: {"model": IntakeAck, "description": "重复推送：该编号已接收过，返回已存的上报"}
}

router = APIRouter(tags=["系统渠道接入"])


def _ack(db: Session, report: Report, *, replay: bool) -> IntakeAck:
    case_no = db.scalar(select(Case.case_no).where(Case.id == report.case_id)) if report.case_id else None
    state = ReportStatus(report.status)
    return IntakeAck(
        tracking_code=report.tracking_code,
        external_id=report.external_id,
        status=state,
        status_label=state.label,
        status_note=report.status_note,
        case_no=case_no,
        received_at=report.received_at,
        replay=replay,
    )


def _stored(db: Session, client: IntakeClient, external_id: str) -> Report | None:
    return db.scalar(select(Report).where(Report.client_id == client.id, Report.external_id == external_id))


def _take(request: Request, response: Response, db: Session, incoming: intake.Incoming) -> IntakeAck:
    """Store a pushed report once: a replay (or a concurrent push of the same id that won) answers 200."""
    assert incoming.client_id is not None and incoming.external_id is not None
    client = db.get_one(IntakeClient, incoming.client_id)
    earlier = _stored(db, client, incoming.external_id)
    if earlier is None:
        try:
            with db.begin_nested():
                report = intake.submit(db, incoming=incoming)
        except IntegrityError:
            earlier = _stored(db, client, incoming.external_id)
            if earlier is None:
                raise
    if earlier is not None:
        response.status_code = status.HTTP_200_OK
        return _ack(db, earlier, replay=True)
    commit(request, db)  # the report is kept; processing runs after the commit
    db.refresh(report)
    return _ack(db, report, replay=False)


@router.post(
    "/api/v1/intake/hotline",
    status_code=status.HTTP_201_CREATED,
    responses={**REPLAYED, **KEY_ERRORS},
    summary="12345 热线平台推送一张工单",
)
def push_hotline(body: HotlineOrderIn, request: Request, response: Response, db: Db, client: Hotline) -> IntakeAck:
    incoming = intake.Incoming(
        channel=Channel.HOTLINE_12345,
        text=body.content,
        lon=body.lon,
        lat=body.lat,
        crs=body.crs,
        address=body.address,
        location_source="gps" if body.lon is not None else None,
        claimed_category=body.category_code,
        occurred_at=body.called_at,
        reporter_name=body.caller_name,
        reporter_phone=body.caller_phone,
        client_id=client.id,
        external_id=body.order_no,
        payload={"title": body.title} if body.title else {},
        scope=tuple(access.bureau_scope_ids(db, bureau_id=client.bureau_id)),
    )
    return _take(request, response, db, incoming)


@router.post(
    "/api/v1/intake/social",
    status_code=status.HTTP_201_CREATED,
    responses={**REPLAYED, **KEY_ERRORS},
    summary="网络舆情监测推送一条帖子",
)
def push_social(body: SocialPostIn, request: Request, response: Response, db: Db, client: Social) -> IntakeAck:
    incoming = intake.Incoming(
        channel=Channel.SOCIAL_MEDIA,
        text=body.text,
        lon=body.lon,
        lat=body.lat,
        crs=body.crs,
        address=body.place,
        location_source="gps" if body.lon is not None else None,
        claimed_category=body.category_code,
        occurred_at=body.posted_at,
        reporter_name=body.author,
        client_id=client.id,
        external_id=body.post_id,
        payload={"platform": body.platform, "url": str(body.url), "author": body.author},
        scope=tuple(access.bureau_scope_ids(db, bureau_id=client.bureau_id)),
    )
    return _take(request, response, db, incoming)


def _alerts(db: Session, raised: list[devices.Raised]) -> list[AlertOut]:
    out = []
    for r in raised:
        db.refresh(r.report)
        state = ReportStatus(r.report.status)
        out.append(
            AlertOut(
                metric=r.metric,
                outcome=r.outcome,  # type: ignore[arg-type]
                tracking_code=r.report.tracking_code,
                status=state,
                status_label=state.label,
                repeats=r.alert.repeats if r.alert else 0,
            )
        )
    return out


@router.post(
    "/api/v1/intake/devices/{code}/readings",
    responses=KEY_ERRORS,
    summary="物联感知网关上报一台传感器的读数（持续超过阈值才上报问题）",
)
def post_readings(code: DeviceCode, body: ReadingsIn, request: Request, db: Db, client: Sensors) -> ReadingsOut:
    outcome = devices.take_readings(
        db,
        client=client,
        device_code=code,
        readings=[devices.Reading(metric=r.metric, value=r.value, observed_at=r.at) for r in body.readings],
    )
    commit(request, db)
    return ReadingsOut(
        device=outcome.device.code,
        readings=outcome.readings,
        within_limits=outcome.within_limits,
        pending=outcome.pending,
        cleared=outcome.cleared,
        no_rule=outcome.no_rule,
        replayed=outcome.replayed,
        alerts=_alerts(db, outcome.raised),
    )


@router.post(
    "/api/v1/intake/cameras/{code}/events",
    responses=KEY_ERRORS,
    summary="视频智能识别推送一个摄像头画面的识别结果",
)
def post_camera_event(
    code: DeviceCode, body: CameraEventIn, request: Request, db: Db, client: Cameras
) -> CameraEventOut:
    raised = devices.camera_event(
        db,
        client=client,
        camera_code=code,
        frame=devices.Frame(
            event_id=body.event_id,
            frame_at=body.frame_at,
            detections=[
                devices.Detection(
                    event_class=d.event_class,
                    score=d.score,
                    bbox=(d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]) if d.bbox else None,
                )
                for d in body.detections
            ],
            snapshot_sha256=body.snapshot_sha256,
            detector=body.detector,
        ),
    )
    commit(request, db)
    return CameraEventOut(device=code, event_id=body.event_id, alerts=_alerts(db, raised))


@router.post(
    "/api/v1/intake/hotline/imports",
    responses={404: {"description": "客户端不存在或不在本单位范围内"}},
    summary="导入 12345 工单导出文件（CSV、JSON、XLSX；有错误的行逐行报告，其余照常导入）",
)
def import_hotline(
    request: Request,
    db: Db,
    user: Desk,
    file: Annotated[UploadFile, File(description="工单导出文件：CSV（UTF-8 或 GBK）、JSON 或 XLSX")],
    client: Annotated[
        str, Form(min_length=2, max_length=32, pattern=clients.CODE.pattern, description="12345 客户端编码")
    ],
    strict: Annotated[bool, Form(description="有任何错误行则整个文件不导入（默认：导入其余各行）")] = False,
    mapping: Annotated[str | None, Form(max_length=imports.MAX_MAPPING, description="列映射（YAML 或 JSON）")] = None,
    encoding: Annotated[str | None, Form(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="CSV 编码")] = None,
) -> ImportOut:
    target = clients.get_client(db, code=client)
    if target.bureau_id not in access.bureau_scope_ids(db, bureau_id=user.bureau_id):
        raise NotFound(f"客户端不存在：{client}")
    result = imports.import_orders(
        db,
        client=target,
        data=file.file.read(),
        filename=file.filename,
        mapping=imports.load_mapping(mapping) if mapping else None,
        strict=strict,
        encoding=encoding,
    )
    commit(request, db)
    return ImportOut(
        format=result.fmt,
        encoding=result.encoding,
        file_sha256=result.file_sha256,
        columns=result.columns,
        rows=result.rows,
        stored=result.stored,
        replayed=result.replayed,
        invalid_rows=result.invalid_rows,
        errors=[
            ImportErrorOut(row=e.row, column=e.column, message=e.message)
            for e in result.errors[: imports.MAX_ERRORS_SHOWN]
        ],
    )
