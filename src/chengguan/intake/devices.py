"""Devices that report by themselves: IoT sensors (readings against thresholds) and cameras (events of the
vision pipeline). Functions flush, never commit.

A device is registered at a place (WGS84, located to its brigade and grid when it is registered) and belongs
to the client that speaks for it (a sensor gateway, the video platform). Its reports are filed at that place.

**When a reading becomes a report** is the threshold rule's say (``intake.thresholds.step``): a breach must
be sustained for the rule's ``for_s`` before an alarm is raised, and a raised alarm stays raised until the
readings are back inside the limit by the rule's ``clear`` margin (hysteresis). The state between readings is
one ``device_alert`` row per device and metric (or camera event class).

**No flood.** A device that keeps seeing the same problem does not open a report per reading: raising an
alarm opens a report, and while that report is still open — received, in triage, or its case not finished —
further exceedances (and alarms raised again) of the same metric are *merged into it*: no new report, the
alert's ``repeats`` counts them and keeps the last value and time. Once the case is finished (or the report
was forwarded or rejected) the next exceedance opens a new report. Readings at or before the alert's last
time are replays and change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.cases.states import CaseState
from chengguan.db import Base, BigIntPK, UTCDateTime
from chengguan.geo import service as geo
from chengguan.identity import access
from chengguan.intake import service as intake
from chengguan.intake import thresholds
from chengguan.intake.models import IntakeClient, MonitoringDevice, Report
from chengguan.intake.states import ReportStatus, may_move
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import Conflict, NotFound, OutsideArea, ValidationFailed
from chengguan.shared.text import clean_text

DEVICE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
SENSOR_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DEFAULT_MIN_CONFIDENCE = 0.5
SENSOR_LABELS = {
    "bin_fill": "垃圾桶满溢传感器",
    "noise": "噪声监测仪",
    "dust": "扬尘监测仪",
    "fume": "油烟监测仪",
    "water": "积水监测仪",
    "manhole": "井盖状态传感器",
}
# Which client channel may own which kind of device.
OWNER_CHANNEL = {"sensor": Channel.IOT_SENSOR, "camera": Channel.CAMERA}


class DeviceAlert(Base):
    """One device's alarm state about one metric (or camera event class): the unbroken breach in progress,
    whether an alarm is raised, the report it opened and how many further exceedances were merged into it
    instead of becoming reports of their own."""

    __tablename__ = "device_alert"
    __table_args__ = (UniqueConstraint("device_id", "metric", name="uq_device_alert_device_metric"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("monitoring_device.id"))
    metric: Mapped[str] = mapped_column(String(32))  # the sensor metric, or the camera event class
    breach_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the current unbroken breach began
    raised: Mapped[bool] = mapped_column(Boolean, default=False)  # an alarm is raised and not cleared
    report_id: Mapped[int | None] = mapped_column(ForeignKey("intake_report.id"), index=True)  # the latest
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when that report's alarm was raised
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the latest reading or event taken into account
    last_value: Mapped[float | None] = mapped_column(Float)
    repeats: Mapped[int] = mapped_column(Integer, default=0)  # exceedances merged into the open report


class CameraEvent(StrEnum):
    """What the vision pipeline may report, each mapped to the catalog's 小类 (see ``EVENT_CATEGORIES``)."""

    STREET_VENDING = "street_vending"
    OUTSIDE_SHOP = "outside_shop"
    MOBILE_VENDOR = "mobile_vendor"
    PILED_MATERIALS = "piled_materials"
    STREET_DRYING = "street_drying"
    MOTOR_PARKING = "motor_parking"
    BIKE_PARKING = "bike_parking"
    OPEN_BARBECUE = "open_barbecue"
    EXPOSED_GARBAGE = "exposed_garbage"
    BIN_OVERFLOW = "bin_overflow"
    OUTDOOR_AD = "outdoor_ad"
    SMALL_AD = "small_ad"
    GRAFFITI = "graffiti"
    SITE_DUST = "site_dust"

    @property
    def label(self) -> str:
        return EVENT_CATEGORIES[self][1]

    @property
    def category(self) -> str:
        return EVENT_CATEGORIES[self][0]


EVENT_CATEGORIES: dict[CameraEvent, tuple[str, str]] = {
    CameraEvent.STREET_VENDING: ("0501", "占道经营"),
    CameraEvent.OUTSIDE_SHOP: ("0502", "店外经营"),
    CameraEvent.MOBILE_VENDOR: ("0503", "游摊小贩"),
    CameraEvent.PILED_MATERIALS: ("0504", "乱堆乱放"),
    CameraEvent.STREET_DRYING: ("0505", "沿街晾晒"),
    CameraEvent.MOTOR_PARKING: ("0506", "机动车乱停放"),
    CameraEvent.BIKE_PARKING: ("0507", "非机动车乱停放"),
    CameraEvent.OPEN_BARBECUE: ("0508", "露天烧烤"),
    CameraEvent.EXPOSED_GARBAGE: ("0101", "暴露垃圾"),
    CameraEvent.BIN_OVERFLOW: ("0108", "垃圾满溢"),
    CameraEvent.OUTDOOR_AD: ("0201", "违规户外广告"),
    CameraEvent.SMALL_AD: ("0202", "非法小广告"),
    CameraEvent.GRAFFITI: ("0203", "乱涂乱画"),
    CameraEvent.SITE_DUST: ("0302", "工地扬尘"),
}


# ---- registry ----------------------------------------------------------------------------------------------


def register_device(
    session: Session,
    *,
    code: str,
    kind: str,
    client: IntakeClient,
    lon: float,
    lat: float,
    crs: CRS = CRS.WGS84,
    sensor_type: str | None = None,
    name: str | None = None,
    address: str | None = None,
    settings: Any = None,
) -> MonitoringDevice:
    """Register a sensor or camera at a place inside the client's bureaus. ``settings`` are a sensor's
    threshold rules (``intake.thresholds``) or a camera's ``{"min_confidence": 0.6}``."""
    code = code.strip()
    if not DEVICE_CODE.match(code):
        raise ValidationFailed("设备编码只能含字母、数字、.、- 和 _，2–64 个字符，以字母或数字开头")
    if kind not in OWNER_CHANNEL:
        raise ValidationFailed("设备类型只能是 sensor（传感器）或 camera（摄像头）")
    if client.channel != OWNER_CHANNEL[kind].value:
        raise ValidationFailed(
            f"客户端 {client.code} 的渠道是 {client.channel}，不能接入{'传感器' if kind == 'sensor' else '摄像头'}"
            f"（需要 {OWNER_CHANNEL[kind].value} 渠道的客户端）"
        )
    if sensor_type is not None and not SENSOR_TYPE.match(sensor_type):
        raise ValidationFailed("设备子类型只能含小写字母、数字和下划线，以字母开头，最长 32 个字符")
    if kind == "sensor" and not sensor_type:
        raise ValidationFailed("传感器必须指定子类型（--type），如 bin_fill、noise、dust")
    stored = _settings(kind, settings)
    if session.scalar(select(MonitoringDevice.id).where(MonitoringDevice.code == code)) is not None:
        raise Conflict(f"设备编码已存在：{code}")
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    where = geo.locate(
        session, bureau_ids=access.bureau_scope_ids(session, bureau_id=client.bureau_id), lon=wgs_lon, lat=wgs_lat
    )
    if where is None:
        raise OutsideArea(f"坐标 ({lon:.6f}, {lat:.6f}) 不在客户端 {client.code} 所属单位的辖区内", lon=lon, lat=lat)
    label = SENSOR_LABELS.get(sensor_type or "", "传感器") if kind == "sensor" else "摄像头"
    name = clean_text((name or f"{where.street_name or where.district_name}{label} {code}").strip())[:100]
    device = MonitoringDevice(
        code=code,
        name=name,
        kind=kind,
        sensor_type=sensor_type,
        bureau_id=where.bureau_id,
        client_id=client.id,
        lon=wgs_lon,
        lat=wgs_lat,
        address=clean_text(address.strip())[:200] if address and address.strip() else None,
        thresholds=stored,
        is_active=True,
    )
    session.add(device)
    session.flush()
    return device


def _settings(kind: str, settings: Any) -> dict[str, Any]:
    if kind == "sensor":
        return thresholds.rules_as_json(thresholds.parse_rules(settings))
    if settings is None:
        return {}
    if not isinstance(settings, dict) or set(settings) - {"min_confidence"}:
        raise ValidationFailed('摄像头的设置只能是 {"min_confidence": 0.6}（低于该置信度的事件转人工确认）')
    value = settings.get("min_confidence", DEFAULT_MIN_CONFIDENCE)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationFailed("min_confidence 应为 0 到 1 之间的数")
    return {"min_confidence": float(value)}


def device_of(session: Session, *, client: IntakeClient, code: str, kind: str) -> MonitoringDevice:
    """The client's own active device ``code``, locked for the rest of the transaction (one device's reports
    are decided one request at a time). Another client's device is "not found", like one that does not exist."""
    stmt = select(MonitoringDevice).where(MonitoringDevice.code == code)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    device = session.scalar(stmt)
    if device is None or device.client_id != client.id or device.kind != kind or not device.is_active:
        raise NotFound(f"设备不存在：{code}")
    return device


# ---- alerts: one open report per device and metric -----------------------------------------------------------

_OPEN_REPORT = frozenset({ReportStatus.RECEIVED.value, ReportStatus.TRIAGE.value})
_WITH_CASE = frozenset({ReportStatus.ACCEPTED.value, ReportStatus.MERGED.value})
_FINISHED = frozenset(s.value for s in CaseState if s.is_terminal)


def _state(session: Session, *, device: MonitoringDevice, metric: str) -> DeviceAlert | None:
    return session.scalar(select(DeviceAlert).where(DeviceAlert.device_id == device.id, DeviceAlert.metric == metric))


def report_is_open(session: Session, report_id: int | None) -> bool:
    """Whether a device's report is still being dealt with: received, in triage, or its case not finished."""
    if report_id is None:
        return False
    row = session.execute(
        select(Report.status, Case.state).outerjoin(Case, Case.id == Report.case_id).where(Report.id == report_id)
    ).first()
    if row is None:
        return False
    status, state = row
    return status in _OPEN_REPORT or (status in _WITH_CASE and state is not None and state not in _FINISHED)


@dataclass
class Raised:
    """What one exceedance or event did: opened a report, merged into the open one, or was a replay."""

    metric: str
    report: Report
    outcome: str  # opened | merged | replayed
    alert: DeviceAlert | None = None


def _report_or_merge(session: Session, *, alert: DeviceAlert, client: IntakeClient, at: datetime, make: Any) -> Raised:
    """The alarm of ``alert`` is (still) raised at ``at``: merge into its open report, or open a new one."""
    if report_is_open(session, alert.report_id):
        assert alert.report_id is not None
        alert.repeats += 1
        return Raised(alert.metric, session.get_one(Report, alert.report_id), "merged", alert)
    incoming: intake.Incoming = make()
    before = session.scalar(
        select(Report.id).where(Report.client_id == client.id, Report.external_id == incoming.external_id)
    )
    report = intake.submit(session, incoming=incoming)
    if before is not None:  # the same alarm sent again after its report was closed: nothing new
        return Raised(alert.metric, report, "replayed", alert)
    alert.report_id, alert.opened_at, alert.repeats = report.id, at, 0
    return Raised(alert.metric, report, "opened", alert)


def _incoming(*, device: MonitoringDevice, client: IntakeClient, channel: Channel, **fields: Any) -> intake.Incoming:
    return intake.Incoming(
        channel=channel,
        lon=device.lon,
        lat=device.lat,
        crs=CRS.WGS84,
        address=device.address,
        location_source="device",
        trusted=True,  # the place is the device's registered one, not a pin someone dropped
        client_id=client.id,
        device_id=device.id,
        scope=(device.bureau_id,),
        **fields,
    )


# ---- sensors ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    observed_at: datetime


@dataclass
class ReadingsOutcome:
    device: MonitoringDevice
    readings: int = 0
    within_limits: int = 0  # no alarm, or the alarm cleared or held inside the hysteresis band
    pending: int = 0  # beyond the limit, not yet for long enough
    cleared: int = 0  # readings that ended an alarm
    no_rule: int = 0
    replayed: int = 0  # at or before the last reading taken into account for their metric
    raised: list[Raised] = field(default_factory=list)


def take_readings(
    session: Session, *, client: IntakeClient, device_code: str, readings: Sequence[Reading]
) -> ReadingsOutcome:
    """A gateway's readings for one of its sensors, in time order through each metric's threshold rule:
    a raised alarm opens a report (or merges into the open one)."""
    device = device_of(session, client=client, code=device_code, kind="sensor")
    rules = thresholds.parse_rules(device.thresholds)
    out = ReadingsOutcome(device=device, readings=len(readings))
    alerts: dict[str, DeviceAlert] = {}
    for reading in sorted(readings, key=lambda r: r.observed_at):
        rule = rules.get(reading.metric)
        if rule is None:
            out.no_rule += 1
            continue
        alert = alerts.get(rule.metric) or _state(session, device=device, metric=rule.metric)
        if alert is None:
            alert = DeviceAlert(device_id=device.id, metric=rule.metric, raised=False, repeats=0)
            session.add(alert)
        elif reading.observed_at <= alert.last_at:
            out.replayed += 1
            continue
        alerts[rule.metric] = alert
        track, phase, hit = thresholds.step(
            rule, thresholds.Track(since=alert.breach_since, raised=alert.raised), reading.value, reading.observed_at
        )
        alert.breach_since, alert.raised = track.since, track.raised
        alert.last_at, alert.last_value = reading.observed_at, reading.value
        if phase is thresholds.Phase.PENDING:
            out.pending += 1
            continue
        if phase is thresholds.Phase.CLEARED:
            out.cleared += 1
            continue
        if hit is None:
            out.within_limits += 1
            continue
        assert track.since is not None

        def make(
            r: Reading = reading, e: thresholds.Exceedance = hit, since: datetime = track.since
        ) -> intake.Incoming:
            lasting = (r.observed_at - since).total_seconds()
            held = f"，已持续 {int(lasting // 60)} 分钟" if lasting >= 60 else ""
            return _incoming(
                device=device,
                client=client,
                channel=Channel.IOT_SENSOR,
                text=f"{device.name}（{device.code}）报警：{e.describe()}{held}",
                claimed_category=e.rule.category,
                occurred_at=since,
                external_id=f"{device.code}:{r.metric}:{int(r.observed_at.timestamp())}"[:64],
                payload={
                    "device": device.code,
                    "metric": r.metric,
                    "value": r.value,
                    "limit": e.limit,
                    "direction": e.direction,
                    "breach_since": since.isoformat(),
                },
            )

        out.raised.append(_report_or_merge(session, alert=alert, client=client, at=reading.observed_at, make=make))
    session.flush()
    return out


# ---- cameras ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """One object the vision pipeline found in a frame (the contract is documented in docs/intake.md)."""

    event_class: CameraEvent
    score: float  # 0–1
    bbox: tuple[float, float, float, float] | None = None  # x_min, y_min, x_max, y_max, 0–1 of the frame


@dataclass(frozen=True)
class Frame:
    """What the vision pipeline sends for one analysed frame of one camera."""

    event_id: str
    frame_at: datetime
    detections: Sequence[Detection]
    snapshot_sha256: str | None = None
    detector: str | None = None


def camera_event(session: Session, *, client: IntakeClient, camera_code: str, frame: Frame) -> list[Raised]:
    """A frame of one of the client's cameras: each class detected in it opens a report at the camera's place
    (held for triage when its best score is below the camera's ``min_confidence``), or is merged into the open
    report of the same class; a frame already taken into account is a replay."""
    camera = device_of(session, client=client, code=camera_code, kind="camera")
    floor = float(camera.thresholds.get("min_confidence", DEFAULT_MIN_CONFIDENCE))
    best: dict[CameraEvent, list[Detection]] = {}
    for d in frame.detections:
        best.setdefault(d.event_class, []).append(d)
    out: list[Raised] = []
    for event_class, found in sorted(best.items()):
        found = sorted(found, key=lambda d: -d.score)
        top = found[0]
        alert = _state(session, device=camera, metric=event_class.value)
        if alert is None:
            alert = DeviceAlert(device_id=camera.id, metric=event_class.value, raised=True, repeats=0)
            session.add(alert)
        elif frame.frame_at <= alert.last_at:
            report = session.get(Report, alert.report_id) if alert.report_id else None
            if report is not None:
                out.append(Raised(event_class.value, report, "replayed", alert))
            continue
        alert.breach_since = alert.breach_since or frame.frame_at
        alert.last_at, alert.last_value = frame.frame_at, top.score

        def make(c: CameraEvent = event_class, top: Detection = top, found: list[Detection] = found) -> intake.Incoming:
            return _incoming(
                device=camera,
                client=client,
                channel=Channel.CAMERA,
                text=f"视频识别：{c.label}（{camera.name}，置信度 {top.score:.0%}，共 {len(found)} 处）",
                claimed_category=c.category,
                occurred_at=frame.frame_at,
                external_id=f"{frame.event_id}:{c.value}"[:64],
                payload={
                    "camera": camera.code,
                    "event_id": frame.event_id,
                    "event_class": c.value,
                    "detections": [{"score": d.score, "bbox": list(d.bbox) if d.bbox else None} for d in found],
                    "snapshot_sha256": frame.snapshot_sha256,
                    "detector": frame.detector,
                },
            )

        raised = _report_or_merge(session, alert=alert, client=client, at=frame.frame_at, make=make)
        if raised.outcome == "opened" and top.score < floor:
            _hold_for_triage(
                raised.report, f"视频识别置信度 {top.score:.0%} 低于本摄像头的阈值 {floor:.0%}，需人工查看画面确认"
            )
        out.append(raised)
    session.flush()
    return out


def _hold_for_triage(report: Report, note: str) -> None:
    """A person decides this one: processing leaves a report that is no longer ``received`` as it is."""
    if may_move(ReportStatus(report.status), ReportStatus.TRIAGE):
        report.status = ReportStatus.TRIAGE.value
        report.status_note = note[:500]
