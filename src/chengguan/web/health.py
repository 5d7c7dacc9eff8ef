"""``/healthz``: liveness, the database, and whether official holidays are on record for the coming days.

Monitoring reads it; so do people: ``holidays.message`` says in zh-CN what to import before deadlines that
count working days become provisional.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from chengguan import __version__
from chengguan.calendar import service as calendars
from chengguan.identity.models import Bureau
from chengguan.shared.clock import to_local, utcnow


def health(request: Request) -> JSONResponse:
    factory = request.app.state.read_session_factory
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        with factory() as session:
            roots = session.scalars(select(Bureau.id).where(Bureau.parent_id.is_(None))).all()
            today = to_local(utcnow()).date()
            coverages = [calendars.holiday_coverage(session, bureau_id=b, today=today) for b in roots]
    except SQLAlchemyError:
        return JSONResponse({**body, "status": "error", "database": "unreachable"}, status_code=503)
    missing = sorted({y for c in coverages for y in c.missing_years})
    body["database"] = "ok"
    body["holidays"] = {
        "ok": not missing,
        "missing_years": missing,
        "message": next((c.message for c in coverages if not c.ok), coverages[0].message if coverages else ""),
    }
    return JSONResponse(body)


def install_health(app: FastAPI) -> None:
    app.add_api_route("/healthz", health, methods=["GET"], include_in_schema=False)
