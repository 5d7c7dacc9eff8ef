"""Intake: store what a channel said, then turn it into a case — or a merge, a forward, a rejection, or a
question for a person. Functions flush, never commit.

``submit`` validates, places and stores the report in the caller's transaction (a report answered 2xx is in
the database) and queues ``intake.report`` in the outbox; ``process`` (run after commit: in-process on the
embedded default, by workers in production) classifies, looks for an open case about the same problem and
opens or joins one. ``process`` is idempotent: a report is processed once, whatever delivers it twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from chengguan.cases import reporters
from chengguan.cases import service as cases
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.catalog import service as catalog
from chengguan.catalog.service import UnknownCategory
from chengguan.geo import service as geo
from chengguan.identity.models import User
from chengguan.intake import classify, dedupe, gazetteer, trust
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus, may_move
from chengguan.jobs import broker, outbox
from chengguan.media import service as media
from chengguan.shared import cursors
from chengguan.shared.clock import utcnow
from chengguan.shared.coords import CRS, to_wgs84
from chengguan.shared.errors import Conflict, NotFound, OutsideArea, ValidationFailed

TOPIC = "intake.report"
# Unambiguous characters only (no 0/O, 1/I/L): people read tracking codes aloud and type them on phones.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_LENGTH = 10  # 31^10 ≈ 8·10^14: not guessable, so a code is enough to follow an anonymous report
MAX_TEXT = 2000
MAX_MEDIA = media.MAX_PER_REPORT  # photos/videos one report carries


@dataclass(frozen=True)
class Incoming:
    """A report as a channel hands it over. The channel and the reporter are decided by the endpoint from the
    authenticated caller (an account, an API client, a device), never taken from the body."""

    channel: Channel
    text: str
    lon: float | None = None
    lat: float | None = None
    crs: CRS = CRS.WGS84
    address: str | None = None
    location_source: str | None = None  # gps | pin | address | device
    claimed_category: str | None = None
    occurred_at: datetime | None = None
    reporter_id: int | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    anonymous: bool = False
    trusted: bool = False
    client_id: int | None = None
    device_id: int | None = None
    external_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    scope: tuple[int, ...] = ()  # bureaus the place may belong to; empty: any bureau on the platform
    media: tuple[str, ...] = ()  # SHA-256 of photos/videos the reporter uploaded first (POST /api/v1/media)


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def submit(
    session: Session, *, incoming: Incoming, at: datetime | None = None, tracking_code: str | None = None
) -> Report:
    """Validate, place and store a report; queue its processing. A channel's replay of a report it already
    sent (same client, same external id) returns the stored one instead of storing it twice.

    Only what must be answered now is done here: the checks, the place (refused outside the jurisdiction) and
    whether the chosen 小类 exists, from in-process copies of the boundaries and the catalog; then one INSERT of
    the report and its outbox row. Classification, reconciling the address and merging wait for ``process``.
    ``tracking_code``: one the caller drew already (``new_tracking_code``), e.g. to claim a flood key with it."""
    at = at or utcnow()
    text = incoming.text.strip()
    if not text:
        raise ValidationFailed("问题描述不能为空")
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"问题描述不能超过 {MAX_TEXT} 字")
    if incoming.client_id is not None and incoming.external_id:
        existing = session.scalar(
            select(Report).where(Report.client_id == incoming.client_id, Report.external_id == incoming.external_id)
        )
        if existing is not None:
            return existing
    if incoming.media:  # each must have been uploaded by this reporter (anonymous: anonymously, lately)
        media.attachable(session, sha256s=incoming.media, uploader_id=incoming.reporter_id, limit=MAX_MEDIA, at=at)
        if incoming.lon is None or incoming.lat is None:
            incoming = _placed_by_media(session, incoming)
    report = Report(
        tracking_code=tracking_code or new_tracking_code(),
        channel=incoming.channel.value,
        client_id=incoming.client_id,
        device_id=incoming.device_id,
        external_id=incoming.external_id,
        received_at=at,
        occurred_at=incoming.occurred_at,
        text=text,
        claimed_category=(incoming.claimed_category or "").strip() or None,
        crs=incoming.crs.value,
        address=(incoming.address or "").strip() or None,
        location_source=incoming.location_source,
        reporter_id=incoming.reporter_id,
        reporter_name=None if incoming.anonymous else incoming.reporter_name,
        reporter_phone=incoming.reporter_phone,
        anonymous=incoming.anonymous,
        trusted=incoming.trusted,
        status=ReportStatus.RECEIVED.value,
        payload=incoming.payload,
    )
    _place(session, report, incoming)
    session.add(report)
    session.flush()
    if incoming.media:
        media.attach_to_report(
            session, report_id=report.id, sha256s=incoming.media, uploader_id=incoming.reporter_id, at=at
        )
    outbox.enqueue(session, topic=TOPIC, payload={"report_id": report.id}, bureau_id=report.bureau_id)
    return report


def _placed_by_media(session: Session, incoming: Incoming) -> Incoming:
    """A report without coordinates is placed where its first geotagged photo or video was taken (WGS84, from
    the original's EXIF GPS or location tag); when it says, that is also when the problem was seen."""
    found = media.first_location(session, sha256s=incoming.media)
    if found is None:
        return incoming
    return replace(
        incoming,
        lon=found.lon,
        lat=found.lat,
        crs=CRS.WGS84,
        location_source="exif",
        occurred_at=incoming.occurred_at or found.taken_at,
    )


def _scope(incoming_scope: tuple[int, ...]) -> list[int] | None:
    """The bureaus a place may belong to; None: every bureau on the platform."""
    return list(incoming_scope) or None


def _place(session: Session, report: Report, incoming: Incoming) -> None:
    """Where the report is: a point is located now (outside every district of the scope: refused with the
    reason); an address alone is looked up in the gazetteer; a pin far from the typed address is questioned."""
    scope = _scope(incoming.scope)
    if incoming.lon is not None and incoming.lat is not None:
        lon, lat = to_wgs84(incoming.lon, incoming.lat, incoming.crs)
        where = geo.locate(session, bureau_ids=scope, lon=lon, lat=lat)
        if where is None:
            raise OutsideArea(
                f"坐标 ({incoming.lon:.6f}, {incoming.lat:.6f}) 不在本平台服务的辖区内，请确认位置或向当地部门反映",
                lon=incoming.lon,
                lat=incoming.lat,
            )
        report.lon, report.lat = lon, lat
        report.bureau_id, report.grid_id = where.bureau_id, where.grid_id
        report.location_source = report.location_source or "gps"
        if report.claimed_category:  # a category that does not exist is the caller's mistake: say so now
            catalog.check_minor(session, bureau_id=where.bureau_id, code=report.claimed_category)
        if report.address:
            report.location_note = gazetteer.disagreement(session, address=report.address, lon=lon, lat=lat)
        return
    if report.address:
        found = gazetteer.lookup(session, address=report.address, bureau_ids=scope)
        if found is not None:
            where = geo.locate(session, bureau_ids=scope, lon=found.lon, lat=found.lat)
            if where is not None:
                report.lon, report.lat = found.lon, found.lat
                report.bureau_id, report.grid_id = where.bureau_id, where.grid_id
                report.location_source = "address"
                report.location_note = f"按地址定位：{found.name}"
                return
    report.location_note = "未能确定位置（没有坐标，地址也未能定位），需人工确认"


def process(session: Session, *, report_id: int, at: datetime | None = None) -> Report | None:
    """Decide what becomes of a received report (once: a report already processed is left as it is)."""
    at = at or utcnow()
    stmt = select(Report).where(Report.id == report_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    report = session.scalar(stmt)
    if report is None or report.status != ReportStatus.RECEIVED:
        return report
    report.processed_at = at
    if report.lon is None or report.bureau_id is None:
        return _to(report, ReportStatus.TRIAGE, report.location_note)
    if report.location_note and not report.trusted and report.location_source != "address":
        return _to(report, ReportStatus.TRIAGE, report.location_note)  # the pin and the address disagree
    code = _category(session, report)
    if report.status != ReportStatus.RECEIVED:  # classification forwarded it or sent it to triage
        return report
    if code is None:
        return _to(report, ReportStatus.TRIAGE, "未能确定问题类别，需人工分拣")
    report.category_code = code
    return _open_or_merge(session, report, actor=None, at=at)


def _to(report: Report, status: ReportStatus, note: str | None) -> Report:
    if not may_move(ReportStatus(report.status), status):
        raise Conflict(
            f"上报 {report.tracking_code} 当前为「{ReportStatus(report.status).label}」，不能改为「{status.label}」"
        )
    report.status = status.value
    report.status_note = note[:500] if note else None
    return report


def _category(session: Session, report: Report) -> str | None:
    """The 小类 the reporter chose when it exists in the catalog; else what the classifier says."""
    assert report.bureau_id is not None
    if report.claimed_category:
        try:
            return catalog.resolve_minor(session, bureau_id=report.bureau_id, code=report.claimed_category).code
        except UnknownCategory:
            report.status_note = f"上报的类别 {report.claimed_category} 不在目录中"
    result = classify.classify(report.text)
    if result is None:
        return None
    report.classification = result.as_json()
    if not result.city_management and result.confident:
        department = classify.DEPARTMENT_NAMES.get(result.department or "", "其他部门")
        _to(report, ReportStatus.FORWARDED, f"经识别属于{department}职责，已转交")
        return None
    if not result.city_management or result.category_code is None or not result.confident:
        _to(report, ReportStatus.TRIAGE, f"自动分类置信度不足（{result.confidence:.0%}），需人工分拣")
        return None
    return result.category_code


def _open_or_merge(session: Session, report: Report, *, actor: User | None, at: datetime) -> Report:
    assert report.lon is not None and report.lat is not None and report.category_code is not None
    verdict = dedupe.find_open_case(session, report=report, at=at)
    report.merge_reasons = verdict.reasons() if verdict is not None else None  # why (not) merged, for staff
    reporter = reporters.Reporter(
        channel=report.channel,
        user_id=report.reporter_id,
        name=report.reporter_name,
        phone=report.reporter_phone,
        report_ref=report.tracking_code,
    )
    if verdict is not None and verdict.case is not None:
        case = verdict.case
        cases.attach_report(session, case=case, source=reporter, actor=actor, at=at, note=verdict.explain())
        report.case_id, report.merge_score = case.id, verdict.merge_score
        return _to(report, ReportStatus.MERGED, f"与案件 {case.case_no} 为同一问题，已合并办理")
    case = cases.open_case(
        session,
        source=cases.CaseSource(
            channel=Channel(report.channel),
            actor=actor,
            reporter_id=report.reporter_id,
            reporter_name=report.reporter_name or ("匿名" if report.anonymous else None),
            reporter_phone=report.reporter_phone,
            category_code=report.category_code,
            description=report.text,
            lon=report.lon,
            lat=report.lat,
            address=report.address,
            scope=(report.bureau_id,) if report.bureau_id else (),
            report_ref=report.tracking_code,
        ),
        at=at,
    )
    report.case_id = case.id
    reporter_user = session.get(User, report.reporter_id) if report.reporter_id else None
    waiver = trust.verification_waiver(reporter_user.roles) if reporter_user else None
    if waiver:  # trusted reporters (网格员、联络员): accepted by the system, no verification
        cases.accept_as_system(session, case=case, reason=waiver, at=at)
    return _to(report, ReportStatus.ACCEPTED, f"已立单，案件编号 {case.case_no}")


@outbox.handler(TOPIC)
def on_report(session: Session, payload: dict[str, Any]) -> None:
    """The outbox hands a received report to whoever processes it (this process, or JetStream workers)."""
    broker.dispatch(session, TOPIC, payload, msg_id=f"report-{payload['report_id']}")


@broker.consumer(TOPIC)
def consume_report(session: Session, payload: dict[str, Any]) -> None:
    process(session, report_id=int(payload["report_id"]))


# ---- the desk's triage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageDecision:
    status: ReportStatus  # accepted | merged | forwarded | rejected
    note: str | None = None
    category_code: str | None = None  # for accepted: the 小类 the desk chose
    lon: float | None = None  # for accepted: the place the desk confirmed (WGS84)
    lat: float | None = None
    case_no: str | None = None  # for merged: the case it joins


def decide(
    session: Session, *, report: Report, decision: TriageDecision, actor: User, at: datetime | None = None
) -> Report:
    """A person decides a report in triage: open a case, join one, forward it, or reject it (with a reason)."""
    at = at or utcnow()
    if report.status != ReportStatus.TRIAGE:
        raise Conflict(f"上报 {report.tracking_code} 不在人工分拣中（当前：{ReportStatus(report.status).label}）")
    if decision.status in (ReportStatus.FORWARDED, ReportStatus.REJECTED):
        if not (decision.note and decision.note.strip()):
            raise ValidationFailed("转交或不予受理必须说明理由")
        return _to(report, decision.status, decision.note.strip())
    if decision.status is ReportStatus.MERGED:
        case = session.scalar(select(Case).where(Case.case_no == (decision.case_no or "")))
        if case is None or case.bureau_id != report.bureau_id:
            raise NotFound(f"案件不存在：{decision.case_no}")
        cases.attach_report(
            session,
            case=case,
            source=reporters.Reporter(
                channel=report.channel,
                user_id=report.reporter_id,
                name=report.reporter_name,
                phone=report.reporter_phone,
                report_ref=report.tracking_code,
            ),
            actor=actor,
            at=at,
        )
        report.case_id = case.id
        return _to(report, ReportStatus.MERGED, decision.note or f"人工确认与案件 {case.case_no} 为同一问题")
    if decision.status is not ReportStatus.ACCEPTED:
        raise ValidationFailed(f"分拣结果只能是立单、合并、转交或不予受理，不能是「{decision.status.label}」")
    if decision.lon is not None and decision.lat is not None:
        where = geo.locate(session, bureau_ids=_scope(()), lon=decision.lon, lat=decision.lat)
        if where is None:
            raise OutsideArea("确认的位置不在本平台服务的辖区内", lon=decision.lon, lat=decision.lat)
        report.lon, report.lat, report.bureau_id, report.grid_id = (
            decision.lon,
            decision.lat,
            where.bureau_id,
            where.grid_id,
        )
        report.location_source = "desk"
    if report.lon is None or report.bureau_id is None:
        raise ValidationFailed("请先确认问题位置（经纬度）再立单")
    code = decision.category_code or report.category_code
    if not code:
        raise ValidationFailed("请选择问题类别（小类）再立单")
    report.category_code = catalog.resolve_minor(session, bureau_id=report.bureau_id, code=code).code
    return _open_or_merge(session, report, actor=actor, at=at)


def get_by_tracking_code(session: Session, *, code: str) -> Report:
    report = session.scalar(select(Report).where(Report.tracking_code == code.strip().upper()))
    if report is None:
        raise NotFound(f"没有找到跟踪编号为 {code} 的上报")
    return report


def list_by_reporter(
    session: Session, *, user_id: int, limit: int, cursor: str | None = None
) -> tuple[list[Report], str | None]:
    """A reporter's own reports, newest first, a keyset page at a time: (reports, next cursor)."""
    stmt = select(Report).where(Report.reporter_id == user_id)
    if cursor:
        at, report_id = cursors.decode(cursor)
        stmt = stmt.where(or_(Report.received_at < at, and_(Report.received_at == at, Report.id < report_id)))
    rows = list(session.scalars(stmt.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, cursors.encode(rows[-1].received_at, rows[-1].id)
