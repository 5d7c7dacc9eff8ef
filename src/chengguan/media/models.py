"""Tables of media: one row per distinct original (``media_object``, keyed by its SHA-256), who uploaded
those bytes (``media_upload``), and what they are attached to (``report_media``, ``case_media``).

Foreign keys name other domains' tables by name only (``intake_report``, ``case_record``, ``app_user``):
this package sits below the domains and imports none of them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengguan.db import Base, BigIntPK, UTCDateTime
from chengguan.shared.clock import utcnow


class MediaObject(Base):
    """An accepted original and its derived copies. The original (with its EXIF) is evidence and is shown only
    to staff who may read a case it belongs to; everyone else gets ``public_sha256`` (no metadata) and
    ``thumb_sha256``. All three are content addresses in the storage."""

    __tablename__ = "media_object"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # image | video
    mime: Mapped[str] = mapped_column(String(32))  # sniffed from the bytes
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # EXIF / container, as recorded
    gps_lon: Mapped[float | None] = mapped_column(Float)  # WGS84 from EXIF GPS or the video's location tag
    gps_lat: Mapped[float | None] = mapped_column(Float)
    public_sha256: Mapped[str] = mapped_column(String(64))
    public_mime: Mapped[str] = mapped_column(String(32))
    public_size: Mapped[int] = mapped_column(BigInteger)
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaUpload(Base):
    """Who uploaded which bytes (one row per uploader; ``user_id`` NULL: an anonymous citizen). Attaching a
    media object to a report requires having uploaded its bytes: knowing a hash is not enough."""

    __tablename__ = "media_upload"
    __table_args__ = (
        Index("ix_media_upload_sha_user", "sha256", "user_id"),
        Index("ix_media_upload_user", "user_id", "uploaded_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("media_object.sha256"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportMedia(Base):
    """Photos and videos a reporter sent with a report (role ``report``), in the order they were given."""

    __tablename__ = "report_media"
    __table_args__ = (UniqueConstraint("report_id", "sha256"), Index("ix_report_media_sha", "sha256"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("intake_report.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("media_object.sha256"))
    role: Mapped[str] = mapped_column(String(16), default="report")
    position: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseMedia(Base):
    """Media staff added to a case: ``result`` (the handling's outcome, shown to reporters as public copies) and
    ``evidence`` (staff only). ``event_seq`` is the case's history length when it was added (the step it belongs
    to, e.g. 处理反馈). The reporters' own photos stay on their reports (``report_media``)."""

    __tablename__ = "case_media"
    __table_args__ = (
        UniqueConstraint("case_id", "sha256", "role"),
        Index("ix_case_media_sha", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    sha256: Mapped[str] = mapped_column(ForeignKey("media_object.sha256"))
    role: Mapped[str] = mapped_column(String(16))  # result | evidence
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(200))
