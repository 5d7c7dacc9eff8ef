"""The citizens' own H5 pages (zh-CN, phone first), not the staff console: report a problem in a few taps
(where, a photo, what, a word or two, optionally who) and follow it by its tracking code.

No login is needed; a citizen who is logged in (the session cookie) reports as themselves. The pages are
shells: everything they show and send goes through ``/api/v1/public`` (``intake.public_api``) and
``/api/v1/media``, so the API stays the one write path.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from chengguan.http.deps import AppSettings, OptionalUser
from chengguan.identity.roles import Role
from chengguan.intake.schemas import TRACKING
from chengguan.media.service import MAX_PER_REPORT
from chengguan.web.render import map_settings, render

router = APIRouter(include_in_schema=False)


@router.get("/h5")
def h5_report(request: Request, user: OptionalUser, settings: AppSettings) -> HTMLResponse:
    citizen = user if user is not None and Role.CITIZEN in user.roles else None
    return render(
        request,
        "h5.html",
        {
            "map_settings": map_settings(settings),
            "citizen": citizen,
            "max_media": MAX_PER_REPORT,
            "max_image_mb": settings.media_max_image_bytes // (1024 * 1024),
            "max_video_mb": settings.media_max_video_bytes // (1024 * 1024),
        },
    )


@router.get("/h5/track", response_model=None)
def h5_find(
    request: Request, code: Annotated[str | None, Query(max_length=32)] = None
) -> HTMLResponse | RedirectResponse:
    """Where people type their tracking code (the form also works without script)."""
    clean = (code or "").strip().upper()
    if re.fullmatch(TRACKING, clean):
        return RedirectResponse(f"/h5/track/{clean}", status_code=303)
    return render(request, "h5_track.html", {"code": None})


@router.get("/h5/track/{code}", response_model=None)
def h5_track(request: Request, code: Annotated[str, Path(max_length=32)]) -> HTMLResponse | RedirectResponse:
    clean = code.strip().upper()
    if not re.fullmatch(TRACKING, clean):
        return RedirectResponse("/h5/track", status_code=303)
    return render(request, "h5_track.html", {"code": clean})
