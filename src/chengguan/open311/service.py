"""Open311 GeoReport v2 on top of intake: who is asking (an API key is an intake client), which bureau's
catalog and requests they see (the jurisdiction), a POST turned into an intake report, and the public view
of service requests. Functions flush, never commit.

Identifiers. A service request is what the bureau handles: its ``service_request_id`` is the case number
(``XH-2026-000123``) once the report has joined a case. Until then the caller holds a **token**, the report's
tracking code (unguessable; ``GET tokens/{token}`` answers the case number when there is one). A report
that ends without a case (forwarded to another department, rejected) becomes a closed request whose id is
its tracking code, so every caller learns the outcome.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.cases.media import public_links
from chengguan.cases.models import Case, CaseEvent
from chengguan.cases.states import OPEN_STATES, TERMINAL_STATES
from chengguan.catalog import service as catalog
from chengguan.catalog.models import CategoryMinor
from chengguan.catalog.service import UnknownCategory
from chengguan.identity import access
from chengguan.identity.models import Bureau
from chengguan.intake import clients
from chengguan.intake import service as intake
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.states import ReportStatus
from chengguan.media import checks
from chengguan.media import service as media
from chengguan.media.storage import Storage
from chengguan.open311 import definitions
from chengguan.open311.formats import Open311Error
from chengguan.shared.clock import utcnow
from chengguan.shared.coords import CRS

WINDOW = timedelta(days=90)  # the spec's default and widest date range
MAX_REQUESTS = 1000  # the spec's default (and our largest) page
MAX_WITH_NOTES = 200  # the largest page with ``extensions=true`` (each request's public timeline)
CASE_NO = re.compile(r"^[A-Za-z0-9]{1,16}-\d{4}-\d{1,12}$")
WITHOUT_CASE = (ReportStatus.FORWARDED.value, ReportStatus.REJECTED.value)


# ---- who is asking, and for which bureau ----------------------------------------------------------------


def client_for_key(session: Session, *, api_key: str) -> IntakeClient:
    """The active Open311 application holding ``api_key``: a system client of intake (``intake.clients``) of
    the Open311 channel. An unknown or inactive key, or a key of another channel (a 12345 platform's), is a 403."""
    client = clients.authenticate(session, key=api_key)
    if client is None:
        raise Open311Error(403, "api_key 无效或已停用")
    if client.channel != Channel.OPEN311.value:
        label = Channel(client.channel).label
        raise Open311Error(
            403, f"该 api_key 属于{label}客户端 {client.code}，不能用于 Open311；请使用 Open311 应用的 api_key"
        )
    return client


@dataclass(frozen=True)
class Jurisdiction:
    """The bureau an Open311 call is about: its catalog is the service list, its requests (and those of the
    bureaus below it) are the ones listed; a POST may be placed anywhere in its city."""

    bureau: Bureau
    scope: tuple[int, ...]
    city_scope: tuple[int, ...]


def jurisdiction_of(session: Session, *, jurisdiction_id: str | None, client: IntakeClient | None) -> Jurisdiction:
    """From the client's bureau when an API key came, else from ``jurisdiction_id`` (a bureau code), else the
    platform's only city. A ``jurisdiction_id`` that names no bureau is a 404; one that is not the key's
    bureau or a bureau above it is a 400; none on a platform of several cities is a 400 (the spec's rules)."""
    named: Bureau | None = None
    if jurisdiction_id:
        named = session.scalar(select(Bureau).where(Bureau.code == jurisdiction_id))
        if named is None:
            raise Open311Error(404, f"jurisdiction_id 不存在：{jurisdiction_id}")
    if client is not None:
        bureau = session.get_one(Bureau, client.bureau_id)
        if named is not None and named.id not in access.bureau_tree(session).lineage(bureau.id):
            raise Open311Error(400, f"jurisdiction_id {jurisdiction_id} 与 api_key 所属单位不符")
    elif named is not None:
        bureau = named
    else:
        roots = list(session.scalars(select(Bureau).where(Bureau.parent_id.is_(None)).limit(2)))
        if len(roots) != 1:
            raise Open311Error(400, "本平台服务多个城市，请提供 jurisdiction_id（城市或区县单位编码）")
        bureau = roots[0]
    return Jurisdiction(
        bureau=bureau,
        scope=tuple(access.bureau_scope_ids(session, bureau_id=bureau.id)),
        city_scope=tuple(access.city_scope_ids(session, bureau_id=bureau.id)),
    )


# ---- services -------------------------------------------------------------------------------------------


def services(session: Session, *, jurisdiction: Jurisdiction) -> list[CategoryMinor]:
    """The active 小类 of the jurisdiction's catalog, in the catalog's order."""
    return [m for major in catalog.list_catalog(session, bureau_id=jurisdiction.bureau.id) for m in major.minors]


def service(session: Session, *, jurisdiction: Jurisdiction, service_code: str) -> CategoryMinor:
    try:
        return catalog.resolve_minor(session, bureau_id=jurisdiction.bureau.id, code=service_code)
    except UnknownCategory:
        raise Open311Error(404, f"service_code 不存在：{service_code[:32]}") from None


# ---- POST requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewRequest:
    """A POST's fields, already checked for form and bounds by the API (``api.read_request``)."""

    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
    media: bytes | None = None  # a photo or video uploaded with the request (multipart ``media``)


@dataclass(frozen=True)
class Uploads:
    """Where an uploaded photo or video goes, and what is accepted (from the app's settings)."""

    storage: Storage
    limits: checks.Limits


def _name(first: str | None, last: str | None) -> str | None:
    """``王`` + ``小明`` → ``王小明`` (family name first when both are Chinese), else ``John Smith``."""
    first, last = (first or "").strip(), (last or "").strip()
    if not (first or last):
        return None
    if re.fullmatch(r"[\u3400-\u9fff·]+", first + last):
        return (last + first)[:64]
    return " ".join(p for p in (first, last) if p)[:64]


def submit(
    session: Session,
    *,
    client: IntakeClient,
    jurisdiction: Jurisdiction,
    new: NewRequest,
    uploads: Uploads | None = None,
    at: datetime | None = None,
) -> Report:
    """Check the request against the service definition and hand it to intake (one report, in the caller's
    transaction, channel ``open311``, the client recorded). Every refusal of the request itself happens before
    anything is stored; an uploaded photo or video is checked by the media service (type from its bytes, size,
    decompression bombs) and its bytes are stored just before the report that names them."""
    at = at or utcnow()
    minor = service(session, jurisdiction=jurisdiction, service_code=new.service_code)
    spec = definitions.load().for_service(minor.code)
    try:
        answers = definitions.check_answers(spec, new.attributes)
    except definitions.InvalidAnswer as e:
        raise Open311Error(400, str(e)) from None
    if (new.lat is None) != (new.long is None):
        raise Open311Error(400, "lat 和 long 必须同时提供")
    if new.lat is None and not new.address_string:
        if new.address_id:
            raise Open311Error(
                400, f"无法识别 address_id {new.address_id}：本平台没有门牌地址库，请提供 lat/long 或 address_string"
            )
        raise Open311Error(400, "缺少位置：请提供 lat 和 long（WGS84），或 address_string")
    description = (new.description or "").strip()
    said = definitions.summary(spec, answers)
    text = description or minor.name
    if said and len(text) + len(said) + 4 <= intake.MAX_TEXT:
        text = f"{text}（{said}）"
    seen_at = answers.get("SEEN_AT")
    extra = {
        "attributes": answers,
        "email": new.email,
        "device_id": new.device_id,
        "account_id": new.account_id,
        "media_url": new.media_url,
        "address_id": new.address_id,
        "description": description or None,
    }
    name = _name(new.first_name, new.last_name)
    uploaded: tuple[str, ...] = ()
    if new.media is not None:
        if uploads is None:
            raise Open311Error(400, "本服务未配置媒体存储，请提供 media_url")
        obj = media.ingest(
            session, storage=uploads.storage, limits=uploads.limits, data=new.media, uploader_id=None, at=at
        )
        uploaded = (obj.sha256,)
        extra["media"] = obj.sha256  # published by the reporter with the request: shown as its media_url
    return intake.submit(
        session,
        incoming=intake.Incoming(
            channel=Channel.OPEN311,
            text=text,
            lon=new.long,
            lat=new.lat,
            crs=CRS.WGS84,  # the spec's coordinates are WGS84
            address=new.address_string,
            location_source="gps" if new.lat is not None else None,
            claimed_category=minor.code,
            occurred_at=datetime.fromisoformat(seen_at) if isinstance(seen_at, str) else None,
            reporter_name=name,
            reporter_phone=new.phone,
            anonymous=not (name or new.phone or new.email),
            trusted=False,
            client_id=client.id,
            payload={"open311": {k: v for k, v in extra.items() if v not in (None, {}, "")}},
            scope=jurisdiction.city_scope,
            media=uploaded,
        ),
        at=at,
    )


def request_id_of(session: Session, report: Report) -> str | None:
    """The service request a report became: its case's number, its own tracking code when it ended without a
    case, or None while it is still being decided."""
    if report.case_id is not None:
        return session.scalar(select(Case.case_no).where(Case.id == report.case_id))
    if report.status in WITHOUT_CASE:
        return report.tracking_code
    return None


def report_by_token(session: Session, *, token: str) -> Report:
    report = session.scalar(select(Report).where(Report.tracking_code == token.strip().upper()))
    if report is None:
        raise Open311Error(404, f"token 不存在：{token}")
    return report


# ---- GET requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[str, ...] = ()  # overrides every other filter (the spec)
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # open | closed
    page: int = 1
    page_size: int = MAX_REQUESTS
    extensions: bool = False


def window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The date range searched: the most recent 90 days by default; one end given, 90 days from it; both
    given, at most 90 days apart (the spec's limit)."""
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise Open311Error(400, "end_date 不能早于 start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "start_date 与 end_date 相隔不能超过 90 天")
    return start, end


@dataclass(frozen=True)
class Found:
    """What the public view of the requests needs, read in a fixed number of queries."""

    cases: list[tuple[Case, CategoryMinor]]
    reports: list[Report]  # reports that ended without a case (asked for by id only)
    bureau_names: dict[int, str]
    events: dict[int, list[CaseEvent]]  # per case: its history, when the view needs it
    media: dict[int, str]  # per case: what an Open311 reporter published with it (see ``published_media``)
    minor_names: dict[str, str]


def find(session: Session, *, jurisdiction: Jurisdiction, query: RequestQuery, now: datetime | None = None) -> Found:
    now = now or utcnow()
    stmt = (
        select(Case, CategoryMinor)
        .join(CategoryMinor, CategoryMinor.id == Case.category_id)
        .where(Case.bureau_id.in_(jurisdiction.scope))
    )
    reports: list[Report] = []
    if query.ids:
        stmt = stmt.where(Case.case_no.in_(query.ids))
        codes = [i.upper() for i in query.ids if not CASE_NO.match(i)]
        if codes:
            reports = list(
                session.scalars(
                    select(Report)
                    .where(Report.tracking_code.in_(codes), Report.status.in_(WITHOUT_CASE), Report.case_id.is_(None))
                    .where(Report.bureau_id.in_(jurisdiction.scope) | Report.bureau_id.is_(None))
                )
            )
    else:
        start, end = window(query.start, query.end, now)
        stmt = stmt.where(Case.reported_at >= start, Case.reported_at <= end)
        if query.service_codes:
            stmt = stmt.where(CategoryMinor.code.in_(query.service_codes))
        if set(query.statuses) == {"open"}:
            stmt = stmt.where(Case.state.in_([s.value for s in OPEN_STATES]))
        elif set(query.statuses) == {"closed"}:
            stmt = stmt.where(Case.state.in_([s.value for s in TERMINAL_STATES]))
        stmt = stmt.offset((query.page - 1) * query.page_size)
    stmt = stmt.order_by(Case.reported_at.desc(), Case.id.desc()).limit(query.page_size)
    rows = [(row[0], row[1]) for row in session.execute(stmt).all()]
    return _with_details(session, rows, reports, extensions=query.extensions)


def _with_details(
    session: Session, rows: list[tuple[Case, CategoryMinor]], reports: list[Report], *, extensions: bool
) -> Found:
    case_ids = [c.id for c, _ in rows]
    # the answer written for the public sits on terminal steps; the whole timeline only for notes
    wanted = case_ids if extensions else [c.id for c, _ in rows if c.state in {s.value for s in TERMINAL_STATES}]
    events: dict[int, list[CaseEvent]] = {}
    if wanted:
        stmt = select(CaseEvent).where(CaseEvent.case_id.in_(wanted)).order_by(CaseEvent.case_id, CaseEvent.seq)
        for event in session.scalars(stmt):
            events.setdefault(event.case_id, []).append(event)
    media: dict[int, str] = {}
    if case_ids:
        stmt_r = (
            select(Report.case_id, Report.payload)
            .where(Report.case_id.in_(case_ids), Report.channel == Channel.OPEN311.value)
            .order_by(Report.id)
        )
        for case_id, payload in session.execute(stmt_r).all():
            url = published_media(payload)
            if case_id is not None and url and case_id not in media:
                media[case_id] = url
    bureau_ids = {c.bureau_id for c, _ in rows} | {r.bureau_id for r in reports if r.bureau_id}
    names = {
        row.id: row.name for row in session.execute(select(Bureau.id, Bureau.name).where(Bureau.id.in_(bureau_ids)))
    }
    minor_names: dict[str, str] = {}
    for report in reports:
        code = report.category_code or report.claimed_category
        if code and report.bureau_id:
            with contextlib.suppress(UnknownCategory):
                minor_names[code] = catalog.resolve_minor(session, bureau_id=report.bureau_id, code=code).name
    return Found(cases=rows, reports=reports, bureau_names=names, events=events, media=media, minor_names=minor_names)


def published_media(payload: dict[str, object] | None) -> str | None:
    """The media an Open311 reporter published with a request: the ``media_url`` they gave, else a signed link
    (a path on this server) to the public copy of the photo they uploaded (no EXIF, no GPS). Photos that came
    through other channels are never shown here."""
    given = (payload or {}).get("open311")
    if not isinstance(given, dict):
        return None
    if given.get("media_url"):
        return str(given["media_url"])
    if given.get("media"):
        secret, ttl = public_links()
        return media.signed_path(str(given["media"]), media.Variant.PUBLIC, secret=secret, ttl=ttl)
    return None


def find_one(session: Session, *, jurisdiction: Jurisdiction, request_id: str, extensions: bool) -> Found:
    found = find(session, jurisdiction=jurisdiction, query=RequestQuery(ids=(request_id,), extensions=extensions))
    if not found.cases and not found.reports:
        raise Open311Error(404, f"service_request_id 不存在：{request_id}")
    return found
