"""A case's photos and videos: result photos and evidence that staff attach, and what reporters see of them.

Staff who may act on a case attach media they uploaded (``POST /api/v1/cases/{no}/media``): ``result`` for
the outcome of the handling (e.g. with 处理反馈; reporters see these as public copies on their timeline) and
``evidence`` (取证, staff only). Each attachment records who, when and the case's history length at the time
(the step it belongs to). The reporters' own photos stay on their reports (``report_media``) and are the case's
through them: every report that opened or joined a case brings its photos to the case's gallery.

Who sees what: staff who may read a case see all of it (originals with their EXIF and place, as evidence);
reporters see public copies (no metadata) of what they sent and of the result, behind signed expiring links.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from chengguan.config import get_settings
from chengguan.identity.access import scope_of
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES, has_any
from chengguan.media import service as media
from chengguan.media.models import MediaObject
from chengguan.media.schemas import MediaOut


def attach(
    session: Session, *, case: Case, actor: User, sha256s: Sequence[str], role: media.Role, note: str | None = None
) -> None:
    """Attach media ``actor`` uploaded to ``case`` (the caller has checked that ``actor`` may act on it)."""
    if role is media.Role.REPORT:
        raise ValueError("report media are attached to reports, not cases")
    media.attach_to_case(
        session,
        case_id=case.id,
        sha256s=sha256s,
        role=role,
        actor_id=actor.id,
        event_seq=case.history_len,
        note=note,
    )


def public_links() -> tuple[str, timedelta]:
    """The secret and lifetime of signed links in reporters' and the public's views."""
    settings = get_settings()
    return settings.secret_key, timedelta(minutes=settings.media_url_ttl_minutes)


def result_media(session: Session, *, case_id: int) -> list[MediaOut]:
    """The outcome photos of a case as the reporters and the public see them: public copies (no EXIF, no GPS)
    behind signed links, so that a tracking-code page without a login can show them."""
    signed = public_links()
    return [
        media.present(obj, role=row.role, added_at=row.added_at, signed=signed)
        for row, obj in media.case_media(session, case_id=case_id, roles=[media.Role.RESULT])
    ]


def reporter_media(session: Session, *, case_id: int, reporter_id: int) -> list[MediaOut]:
    """What one reporter sent with their reports of this case, as they see it: public copies, signed links."""
    signed = public_links()
    return [
        media.present(obj, role=row.role, added_at=row.added_at, signed=signed)
        for row, obj in media.case_report_media(session, case_id=case_id, reporter_id=reporter_id)
    ]


def gallery(session: Session, *, case: Case) -> list[MediaOut]:
    """Everything a case holds, for staff who may read it: the reporters' photos and videos (from every report
    that opened or joined it), then result photos and evidence in the order they were added. Originals and
    the place and time each was taken are included (evidence); links need the staff login."""
    out = [
        media.present(obj, role=row.role, added_at=row.added_at, original=True, with_place=True)
        for row, obj in media.case_report_media(session, case_id=case.id)
    ]
    out += [
        media.present(obj, role=row.role, added_at=row.added_at, original=True, with_place=True)
        for row, obj in media.case_media(session, case_id=case.id)
    ]
    return out


def may_fetch(session: Session, *, user: User, obj: MediaObject, original: bool) -> bool:
    """Whether ``user`` may fetch ``obj`` without a signed link: its uploader (staff also its original), or
    staff who may read a case it belongs to. Citizens get public copies through the signed links of their
    views; an original is evidence and goes to staff only."""
    staff = has_any(user.roles, STAFF_ROLES)
    if original and not staff:
        return False
    if media.uploaded_by(session, sha256=obj.sha256, user_id=user.id):
        return True
    if not staff:
        return False
    ids = media.cases_holding(session, sha256=obj.sha256)
    if not ids:
        return False
    scope = scope_of(session, user)
    rows = session.execute(select(Case.bureau_id, Case.reporter_id).where(Case.id.in_(ids))).all()
    return any(scope.can_read(bureau_id=bureau_id, reporter_id=reporter_id) for bureau_id, reporter_id in rows)
