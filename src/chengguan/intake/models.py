"""Tables of intake: what a channel said (``intake_report``), who may speak for a system channel
(``intake_client``), and the devices that report by themselves (``monitoring_device``: IoT sensors, cameras).

A report is what a channel said; a case is what the bureau handles. Many reports can join one case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengguan.db import Base, BigIntPK, JSONType, UTCDateTime
from chengguan.shared.clock import utcnow


class IntakeClient(Base):
    """A system that pushes reports (the 12345 platform, a social-media monitor, a sensor gateway, the video
    platform). It authenticates with an API key (only its SHA-256 is stored); its channel is fixed here, so
    what a caller claims about its channel is never trusted."""

    __tablename__ = "intake_client"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(32))
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonitoringDevice(Base):
    """A registered device that reports by itself: an IoT sensor (满溢、噪声、扬尘 …) or a camera.

    ``thresholds`` maps a metric to when a reading becomes a report, e.g.
    ``{"fill_pct": {"above": 90, "category": "0101"}}``.
    """

    __tablename__ = "monitoring_device"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # sensor | camera
    sensor_type: Mapped[str | None] = mapped_column(String(32))  # bin_fill | noise | dust | ...
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("intake_client.id"), index=True)
    lon: Mapped[float] = mapped_column(Float)  # WGS84
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(Base):
    """One report as its channel said it, and what intake made of it (place, category, case)."""

    __tablename__ = "intake_report"
    __table_args__ = (
        # a channel's own id for a report (12345 work-order number, post id, device event id): a replay
        # of the same report is recognised, not stored twice
        UniqueConstraint("client_id", "external_id", name="uq_intake_report_client_external"),
        Index("ix_intake_report_status_received", "status", "received_at"),
        Index("ix_intake_report_reporter_received", "reporter_id", "received_at"),
        Index("ix_intake_report_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)  # what the reporter follows it by
    channel: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("intake_client.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_device.id"))
    external_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    # what the reporter chose, and what intake decided (the catalog's 小类 code)
    claimed_category: Mapped[str | None] = mapped_column(String(16))
    category_code: Mapped[str | None] = mapped_column(String(16))
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # model, scores, confidence
    # where: as given (crs, address) and as resolved (WGS84, district → grid)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    crs: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[str | None] = mapped_column(String(200))
    location_source: Mapped[str | None] = mapped_column(String(16))  # gps | pin | address | device
    location_note: Mapped[str | None] = mapped_column(String(200))  # e.g. the pin and the address disagree
    bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureau.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("unit_grid.id", ondelete="SET NULL"))
    # who: an account, or a name and phone the channel gave (masked for most readers), or nobody
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)  # 网格员、联络员: no verification step
    # what became of it
    status: Mapped[str] = mapped_column(String(16))  # see intake.states.ReportStatus
    status_note: Mapped[str | None] = mapped_column(String(500))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    merge_score: Mapped[float | None] = mapped_column(Float)
    # why intake joined an open case or opened a new one: the window, the best candidate and its evidence
    # (distance, text and photo similarity, score), shown to staff (intake.dedupe.Verdict.reasons)
    merge_reasons: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)  # satisfaction 1–5 at closing
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the channel's own fields
