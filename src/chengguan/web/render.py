"""What every console page module shares: the templates, the logged-in user, the navigation, error pages.

Pages read through the same query and access functions as the API; writes (transitions, reports) go
through the JSON API from the browser so that the API stays the one write path. Every ``/console`` page
redirects to ``/login`` when nobody is logged in (``LoginRequired``, answered in ``pages.install_pages``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from chengguan import __version__
from chengguan.calendar import service as calendars
from chengguan.cases.states import CaseState
from chengguan.config import Settings
from chengguan.identity.models import User
from chengguan.identity.roles import STAFF_ROLES, Role, has_any
from chengguan.intake.api import REPORTERS
from chengguan.shared.clock import fmt_local, to_local, utcnow
from chengguan.shared.errors import DomainError, PermissionDenied

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
# The front-end packages and the folder of each that the browser may read (nothing else of node_modules).
VENDOR_DIRS = {
    "leaflet": "leaflet/dist",
    "echarts": "echarts/dist",
    "htmx": "htmx.org/dist",
    "swagger-ui": "swagger-ui-dist",  # /docs (web.docs)
}
# Vendor folders that hold more than the browser needs are served only these files (swagger-ui-dist also
# ships a demo index.html pointing at a public sample API).
VENDOR_FILES = {"swagger-ui": frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})}
PAGE_SIZE = 30

# Badge colours per state (CSS classes in console.css) and chart colours (kept in step with them).
STATE_COLOURS: dict[CaseState, str] = {
    CaseState.REPORTED: "#d97706",
    CaseState.ACCEPTED: "#ca8a04",
    CaseState.FILED: "#2563eb",
    CaseState.DISPATCHED: "#7c3aed",
    CaseState.PROCESSING: "#0891b2",
    CaseState.HANDLED: "#0d9488",
    CaseState.VERIFIED: "#16a34a",
    CaseState.CLOSED: "#475569",
    CaseState.NOT_FILED: "#94a3b8",
    CaseState.SUSPENDED: "#be123c",
    CaseState.VOIDED: "#9ca3af",
}


class LoginRequired(Exception):
    """Raised by page handlers when nobody is logged in: answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def page_user(request: Request, user: User | None) -> User:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def nav(user: User, db: Session | None = None) -> dict[str, Any]:
    roles = sorted((Role(r) for r in user.roles), key=list(Role).index)
    banner = None
    if db is not None and Role.ADMIN in user.roles:  # admins are told before deadlines go provisional
        coverage = calendars.holiday_coverage(db, bureau_id=user.bureau_id, today=to_local(utcnow()).date())
        banner = None if coverage.ok else coverage.message
    return {
        "user": user,
        "role_labels": "、".join(r.label for r in roles),
        "can_report": has_any(user.roles, frozenset(REPORTERS)),
        "is_staff": has_any(user.roles, STAFF_ROLES),
        "holiday_banner": banner,
        "version": __version__,
    }


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, user: User, exc: DomainError) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {**nav(user), "active": "", "title": exc.title, "detail": exc.detail, "status": exc.status},
        status_code=exc.status,
    )


# ------------------------------------------------------------------------------------------ jinja helpers


def _badge(state: str, label: str | None = None) -> Markup:
    try:
        st = CaseState(state)
    except ValueError:
        return Markup('<span class="badge">{}</span>').format(label or state)
    return Markup('<span class="badge badge-{}">{}</span>').format(st.value, label or st.label)


templates.env.filters["local"] = fmt_local
templates.env.filters["badge"] = _badge
templates.env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
templates.env.globals["STATES"] = list(CaseState)


def forbidden_page(request: Request, user: User) -> HTMLResponse:
    return error_page(request, user, PermissionDenied("此页面仅供工作人员使用"))


def map_settings(settings: Settings) -> dict[str, str]:
    return {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution}
