"""Media use cases: accept an upload, attach media to a report or a case, find where a photo was taken,
and sign links to public copies. Functions flush, never commit; bytes are stored before the rows that name
them (see ``storage``).

Access decisions (who may see which copy) belong to the domains that know reports and cases; this package
only records the facts they need: who uploaded which bytes, and what each object is attached to.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import column, select, table, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chengguan.media import checks
from chengguan.media.models import CaseMedia, MediaObject, MediaUpload, ReportMedia
from chengguan.media.schemas import MediaOut
from chengguan.media.storage import Storage, sha256_hex
from chengguan.shared.clock import utcnow
from chengguan.shared.errors import NotFound, ValidationFailed

ANONYMOUS_ATTACH_WINDOW = timedelta(hours=24)  # an anonymous upload may be attached within this time
MAX_PER_REPORT = 9  # photos/videos one report carries (as on the phone apps people know)
MAX_PER_ATTACH = 20  # photos/videos staff attach to a case at once
API = "/api/v1/media"

# Other domains' tables, by name only (this package sits below them): a report and the case it opened or joined.
_REPORT = table("intake_report", column("id"), column("case_id"), column("reporter_id"))


class Role(StrEnum):
    REPORT = "report"  # sent with a report
    RESULT = "result"  # the outcome of the handling (shown to reporters)
    EVIDENCE = "evidence"  # 取证 (staff only)

    @property
    def label(self) -> str:
        return {"report": "上报照片", "result": "处置结果", "evidence": "取证材料"}[self.value]


class Variant(StrEnum):
    PUBLIC = "public"
    THUMB = "thumb"
    ORIGINAL = "original"


# ---- upload -------------------------------------------------------------------------------------------


def ingest(
    session: Session,
    *,
    storage: Storage,
    limits: checks.Limits,
    data: bytes,
    uploader_id: int | None,
    at: datetime | None = None,
) -> MediaObject:
    """Check an upload, store the original and its public copy and thumbnail, and record who sent it.
    The same bytes uploaded again (by anyone) are the same object: stored once, one row."""
    at = at or utcnow()
    sha = sha256_hex(data)
    obj = session.scalar(select(MediaObject).where(MediaObject.sha256 == sha))
    if obj is None:
        found = checks.inspect(data, limits)  # refusals are 4xx DomainErrors, before anything is stored
        public_sha, thumb_sha = sha256_hex(found.public), sha256_hex(found.thumb)
        storage.put(sha, data, content_type=found.mime)
        storage.put(public_sha, found.public, content_type=found.public_mime)
        storage.put(thumb_sha, found.thumb, content_type=found.thumb_mime)
        obj = MediaObject(
            sha256=sha,
            kind=found.kind.value,
            mime=found.mime,
            size=found.size,
            width=found.width,
            height=found.height,
            duration_s=found.duration_s,
            taken_at=found.taken_at,
            gps_lon=found.gps.lon if found.gps else None,
            gps_lat=found.gps.lat if found.gps else None,
            public_sha256=public_sha,
            public_mime=found.public_mime,
            public_size=len(found.public),
            thumb_sha256=thumb_sha,
            created_at=at,
        )
        try:
            with session.begin_nested():  # someone else may be storing the same bytes right now
                session.add(obj)
                session.flush()
        except IntegrityError:
            obj = session.scalars(select(MediaObject).where(MediaObject.sha256 == sha)).one()
    already = session.scalar(
        select(MediaUpload.id).where(
            MediaUpload.sha256 == sha,
            MediaUpload.user_id.is_(None) if uploader_id is None else MediaUpload.user_id == uploader_id,
        )
    )
    if already is None or uploader_id is None:  # anonymous uploads are dated each time (see attachable)
        session.add(MediaUpload(sha256=sha, user_id=uploader_id, uploaded_at=at))
        session.flush()
    return obj


def get(session: Session, *, sha256: str) -> MediaObject:
    obj = session.scalar(select(MediaObject).where(MediaObject.sha256 == sha256.lower()))
    if obj is None:
        raise NotFound("文件不存在")
    return obj


def uploaded_by(session: Session, *, sha256: str, user_id: int) -> bool:
    stmt = select(MediaUpload.id).where(MediaUpload.sha256 == sha256, MediaUpload.user_id == user_id).limit(1)
    return session.scalar(stmt) is not None


# ---- attach ---------------------------------------------------------------------------------------------


def attachable(
    session: Session,
    *,
    sha256s: Sequence[str],
    uploader_id: int | None,
    limit: int,
    at: datetime | None = None,
    field: str = "media",
) -> list[MediaObject]:
    """The media objects named by ``sha256s`` (in order, repeats dropped), each uploaded by ``uploader_id``
    — or, for an anonymous reporter, uploaded anonymously within the last 24 hours; else ``ValidationFailed``
    naming the first that is not. Possessing the bytes is what entitles one to attach them."""
    at = at or utcnow()
    wanted = list(dict.fromkeys(s.lower() for s in sha256s))
    if len(wanted) > limit:
        raise ValidationFailed(f"最多只能附 {limit} 个照片或视频", location=f"body.{field}")
    if not wanted:
        return []
    owned = select(MediaUpload.sha256).where(MediaUpload.sha256.in_(wanted))
    if uploader_id is None:
        owned = owned.where(MediaUpload.user_id.is_(None), MediaUpload.uploaded_at >= at - ANONYMOUS_ATTACH_WINDOW)
    else:
        owned = owned.where(MediaUpload.user_id == uploader_id)
    mine = set(session.scalars(owned))
    objects = {o.sha256: o for o in session.scalars(select(MediaObject).where(MediaObject.sha256.in_(wanted)))}
    for i, sha in enumerate(wanted):
        if sha not in objects or sha not in mine:
            raise ValidationFailed(
                f"第 {i + 1} 个附件（{sha[:12]}…）不存在或不是您上传的，请先上传", location=f"body.{field}"
            )
    return [objects[s] for s in wanted]


def attach_to_report(
    session: Session,
    *,
    report_id: int,
    sha256s: Sequence[str],
    uploader_id: int | None,
    limit: int = MAX_PER_REPORT,
    at: datetime | None = None,
) -> list[MediaObject]:
    at = at or utcnow()
    objects = attachable(session, sha256s=sha256s, uploader_id=uploader_id, limit=limit, at=at)
    for i, obj in enumerate(objects):
        session.add(
            ReportMedia(report_id=report_id, sha256=obj.sha256, role=Role.REPORT.value, position=i, added_at=at)
        )
    if objects:
        session.flush()
    return objects


def report_media(session: Session, *, report_id: int) -> list[MediaObject]:
    stmt = (
        select(MediaObject)
        .join(ReportMedia, ReportMedia.sha256 == MediaObject.sha256)
        .where(ReportMedia.report_id == report_id)
        .order_by(ReportMedia.position, ReportMedia.id)
    )
    return list(session.scalars(stmt))


def attach_to_case(
    session: Session,
    *,
    case_id: int,
    sha256s: Sequence[str],
    role: Role,
    actor_id: int,
    event_seq: int,
    limit: int = MAX_PER_ATTACH,
    note: str | None = None,
    at: datetime | None = None,
) -> list[CaseMedia]:
    """Staff attach what they uploaded to a case: result photos of the handling, or evidence. Attaching the
    same object in the same role twice is a no-op."""
    at = at or utcnow()
    objects = attachable(session, sha256s=sha256s, uploader_id=actor_id, limit=limit, at=at)
    have = {
        row.sha256: row
        for row in session.scalars(select(CaseMedia).where(CaseMedia.case_id == case_id, CaseMedia.role == role.value))
    }
    rows = []
    for obj in objects:
        row = have.get(obj.sha256)
        if row is None:
            row = CaseMedia(
                case_id=case_id,
                sha256=obj.sha256,
                role=role.value,
                event_seq=event_seq,
                added_by_id=actor_id,
                added_at=at,
                note=note,
            )
            session.add(row)
        rows.append(row)
    session.flush()
    return rows


def case_report_media(
    session: Session, *, case_id: int, reporter_id: int | None = None
) -> list[tuple[ReportMedia, MediaObject]]:
    """The photos and videos of every report that opened or joined the case (a report's media are the case's),
    oldest report first, each object once; ``reporter_id``: only that reporter's reports."""
    stmt = (
        select(ReportMedia, MediaObject)
        .join(MediaObject, MediaObject.sha256 == ReportMedia.sha256)
        .join(_REPORT, _REPORT.c.id == ReportMedia.report_id)
        .where(_REPORT.c.case_id == case_id)
        .order_by(ReportMedia.report_id, ReportMedia.position, ReportMedia.id)
    )
    if reporter_id is not None:
        stmt = stmt.where(_REPORT.c.reporter_id == reporter_id)
    seen: set[str] = set()
    out = []
    for row, obj in session.execute(stmt).all():
        if obj.sha256 not in seen:
            seen.add(obj.sha256)
            out.append((row, obj))
    return out


def cases_holding(session: Session, *, sha256: str) -> list[int]:
    """The ids of the cases a media object belongs to: attached by staff, or sent with one of their reports."""
    by_staff = select(CaseMedia.case_id.label("case_id")).where(CaseMedia.sha256 == sha256)
    by_report = (
        select(_REPORT.c.case_id.label("case_id"))
        .join(ReportMedia, ReportMedia.report_id == _REPORT.c.id)
        .where(ReportMedia.sha256 == sha256, _REPORT.c.case_id.is_not(None))
    )
    return sorted({int(i) for i in session.scalars(select(union(by_staff, by_report).subquery().c.case_id))})


def case_media(
    session: Session, *, case_id: int, roles: Sequence[Role] | None = None
) -> list[tuple[CaseMedia, MediaObject]]:
    stmt = (
        select(CaseMedia, MediaObject)
        .join(MediaObject, MediaObject.sha256 == CaseMedia.sha256)
        .where(CaseMedia.case_id == case_id)
        .order_by(CaseMedia.event_seq, CaseMedia.id)
    )
    if roles is not None:
        stmt = stmt.where(CaseMedia.role.in_([r.value for r in roles]))
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


# ---- where and when -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    lon: float  # WGS84
    lat: float
    taken_at: datetime | None
    sha256: str


def location_of(obj: MediaObject) -> Located | None:
    """Where a photo or video was taken (WGS84, from its EXIF GPS or location tag) and when, if it says."""
    if obj.gps_lon is None or obj.gps_lat is None:
        return None
    return Located(lon=obj.gps_lon, lat=obj.gps_lat, taken_at=obj.taken_at, sha256=obj.sha256)


def first_location(session: Session, *, sha256s: Sequence[str]) -> Located | None:
    """The place of the first of these media that records one (for a report that has no other position)."""
    wanted = [s.lower() for s in sha256s]
    if not wanted:
        return None
    objects = {o.sha256: o for o in session.scalars(select(MediaObject).where(MediaObject.sha256.in_(wanted)))}
    for sha in wanted:
        obj = objects.get(sha)
        located = location_of(obj) if obj is not None else None
        if located is not None:
            return located
    return None


# ---- links ----------------------------------------------------------------------------------------------


def path(sha256: str, variant: Variant) -> str:
    return f"{API}/{sha256}" if variant is Variant.PUBLIC else f"{API}/{sha256}/{variant.value}"


def _signature(secret: str, sha256: str, variant: Variant, expires: int) -> str:
    message = f"media:{sha256}:{variant.value}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_path(sha256: str, variant: Variant, *, secret: str, ttl: timedelta, now: datetime | None = None) -> str:
    """A link to a public copy or thumbnail that works without a login until it expires. Expiry is rounded up
    to the hour, so a page shows the same links (and browsers cache them) for an hour at a time."""
    if variant is Variant.ORIGINAL:
        raise ValueError("originals are never linked for the public")
    now = now or utcnow()
    expires = math.ceil((now + ttl).timestamp() / 3600) * 3600
    return f"{path(sha256, variant)}?exp={expires}&sig={_signature(secret, sha256, variant, expires)}"


def signature_valid(
    sha256: str, variant: Variant, *, expires: int | None, sig: str | None, secret: str, now: datetime | None = None
) -> bool:
    if variant is Variant.ORIGINAL or expires is None or not sig:
        return False
    now = now or utcnow()
    if expires < now.timestamp():
        return False
    return hmac.compare_digest(sig, _signature(secret, sha256, variant, expires))


def present(
    obj: MediaObject,
    *,
    role: str | None = None,
    added_at: datetime | None = None,
    original: bool = False,
    signed: tuple[str, timedelta] | None = None,
    with_place: bool = False,
) -> MediaOut:
    """One media object for a reader. ``original``: staff who may see it get its link; ``signed`` (secret,
    lifetime): the public links carry a signature (reporters' and the public's views, which may have no login).
    ``with_place``: the recorded GPS and time (for staff and the uploader only: it is in the original)."""

    def link(variant: Variant) -> str:
        if signed is None:
            return path(obj.sha256, variant)
        return signed_path(obj.sha256, variant, secret=signed[0], ttl=signed[1])

    return MediaOut(
        sha256=obj.sha256,
        kind=obj.kind,
        mime=obj.public_mime,
        size=obj.public_size,
        width=obj.width,
        height=obj.height,
        duration_s=obj.duration_s,
        url=link(Variant.PUBLIC),
        thumbnail_url=link(Variant.THUMB),
        original_url=path(obj.sha256, Variant.ORIGINAL) if original else None,
        original_mime=obj.mime if original else None,
        original_size=obj.size if original else None,
        role=role,
        role_label=Role(role).label if role else None,
        added_at=added_at,
        taken_at=obj.taken_at if with_place else None,
        lon=obj.gps_lon if with_place else None,
        lat=obj.gps_lat if with_place else None,
    )
