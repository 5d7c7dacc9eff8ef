"""The web console (zh-CN): server-rendered Jinja2 pages with HTMX, Leaflet and ECharts served locally.

Pages read through the same query and access functions as the API; writes (transitions, reports) go
through the JSON API from the browser so that the API stays the one write path. Every ``/console`` page
redirects to ``/login`` when nobody is logged in.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session

from chengguan import __version__
from chengguan.calendar import service as calendars
from chengguan.cases import queries
from chengguan.cases.access import get_case_for_user, get_own_report
from chengguan.cases.api import REPORTERS
from chengguan.cases.presenters import present_cases, present_detail
from chengguan.cases.public import present_public_detail, present_public_list
from chengguan.cases.states import PUBLIC_REPLY_ACTIONS, TRANSITIONS, Action, CaseState
from chengguan.config import Settings
from chengguan.geo import service as geo
from chengguan.http.deps import (
    SESSION_COOKIE,
    AppSettings,
    Db,
    OptionalUser,
    bearer_token,
    commit,
    set_session_cookie,
)
from chengguan.identity import access
from chengguan.identity import service as identity
from chengguan.identity.access import reporter_scope, scope_of
from chengguan.identity.models import User
from chengguan.identity.roles import DESK_ROLES, STAFF_ROLES, Role, has_any
from chengguan.identity.throttle import LoginThrottled
from chengguan.shared.clock import fmt_local, to_local, utcnow
from chengguan.shared.errors import DomainError, PermissionDenied, Unauthenticated
from chengguan.shared.text import FORBIDDEN_MESSAGE, find_forbidden
from chengguan.web import security
from chengguan.web.pages_filters import ListFilters, PageFilters

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
# The front-end packages and the folder of each that the browser may read (nothing else of node_modules).
VENDOR_DIRS = {
    "leaflet": "leaflet/dist",
    "echarts": "echarts/dist",
    "htmx": "htmx.org/dist",
    "swagger-ui": "swagger-ui-dist",  # /docs (web.docs)
}
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
# Which extra input each action needs in the console (the note is shown for all, required where the rule says).
ACTION_INPUTS: dict[Action, str] = {Action.DISPATCH: "assignee", Action.REQUEST_EXTENSION: "extension"}
DANGER_ACTIONS = frozenset({Action.VOID, Action.REJECT, Action.VERIFY_FAIL, Action.RETURN, Action.DENY_EXTENSION})

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by page handlers when nobody is logged in: answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _page_user(request: Request, user: User | None) -> User:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def _nav(user: User, db: Session | None = None) -> dict[str, Any]:
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


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _error_page(request: Request, user: User, exc: DomainError) -> HTMLResponse:
    return _render(
        request,
        "error.html",
        {**_nav(user), "active": "", "title": exc.title, "detail": exc.detail, "status": exc.status},
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


# ------------------------------------------------------------------------------------------ auth pages


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(request, "login.html", {"next": _safe_next(next), "error": None, "username": ""})


@router.post("/login")
def login_submit(
    request: Request,
    db: Db,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console",
) -> Response:
    error, status, headers = None, 401, {}
    if not username.strip() or not password:
        error = "请输入用户名和密码"
    elif find_forbidden(username) is not None:
        error, status, username = f"用户名{FORBIDDEN_MESSAGE}", 400, ""
    else:
        try:
            issued = security.login(request, db, username=username, password=password)
        except LoginThrottled as exc:  # locked: the same throttle as the JSON login, told on the page
            error, status, headers = exc.detail, exc.status, {"Retry-After": str(exc.retry_after)}
        except Unauthenticated as exc:
            error = exc.detail
    if error is not None:
        ctx = {"next": _safe_next(next), "error": error, "username": username}
        page = _render(request, "login.html", ctx, status_code=status)
        page.headers.update(headers)
        return page
    commit(request, db)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, issued.token, settings, request)
    return response


@router.post("/logout")
def logout_submit(request: Request, db: Db) -> RedirectResponse:
    token = bearer_token(request)
    if token:
        identity.logout(db, token=token)
        commit(request, db)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# ------------------------------------------------------------------------------------------ case list


def _district_names(db: Db, user: User) -> dict[str, str]:
    scope = access.bureau_scope_ids(db, bureau_id=user.bureau_id)
    return {d.code: d.name for d in geo.list_districts(db, bureau_ids=scope)}


def _table_context(db: Db, user: User, f: ListFilters, cursor: str | None) -> dict[str, Any]:
    query = f.to_query()
    if f.mine:
        query = dataclasses.replace(query, assignee_id=user.id)
    page = queries.list_cases(
        db, scope=scope_of(db, user), filters=query, limit=PAGE_SIZE, cursor=cursor, with_total=cursor is None
    )
    base = f.params()
    return {
        "rows": present_cases(db, page.items, viewer=user),
        "total": page.total,
        "next_url": "/console/table?" + urlencode([*base, ("cursor", page.next_cursor)]) if page.next_cursor else None,
        "first_url": "/console/table?" + urlencode(base) if cursor else None,
        "districts": _district_names(db, user),
        "paged": cursor is not None,
    }


@router.get("/console")
def console(
    request: Request,
    db: Db,
    user: OptionalUser,
    f: PageFilters,
) -> Response:
    me = _page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return RedirectResponse("/console/my", status_code=303)
    try:
        table = _table_context(db, me, f, None)
    except DomainError as exc:
        return _error_page(request, me, exc)
    counts = queries.state_counts(db, scope=scope_of(db, me))
    chart = [
        {"state": s.value, "label": s.label, "count": counts.get(s.value, 0), "colour": STATE_COLOURS[s]}
        for s in CaseState
    ]
    open_total = sum(counts.get(s.value, 0) for s in CaseState if not s.is_terminal)
    return _render(
        request,
        "console.html",
        {
            **_nav(me, db),
            **table,
            "active": "list",
            "f": f,
            "chart": chart,
            "grand_total": sum(counts.values()),
            "open_total": open_total,
        },
    )


@router.get("/console/table")
def console_table(
    request: Request,
    db: Db,
    user: OptionalUser,
    f: PageFilters,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The HTMX fragment: the case table for the filters (and a keyset page)."""
    me = _page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return _forbidden_page(request, me)
    try:
        table = _table_context(db, me, f, cursor or None)
    except DomainError as exc:
        return HTMLResponse(
            Markup('<div class="alert alert-error" role="alert">{}</div>').format(exc.detail), status_code=200
        )
    response = _render(request, "_case_table.html", {**table, "f": f})
    response.headers["HX-Push-Url"] = "/console" + ("?" + urlencode(f.params()) if f.params() else "")
    return response


@router.get("/console/my")
def my_reports(
    request: Request, db: Db, user: OptionalUser, cursor: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    """我的上报: what the user reported, in the public view (citizens' home page)."""
    me = _page_user(request, user)
    try:
        page = queries.list_cases(
            db,
            scope=reporter_scope(me),
            filters=queries.CaseFilters(reporter_id=me.id),
            limit=PAGE_SIZE,
            cursor=cursor or None,
        )
    except DomainError as exc:
        return _error_page(request, me, exc)
    return _render(
        request,
        "my_reports.html",
        {
            **_nav(me),
            "active": "mine",
            "rows": present_public_list(db, page.items),
            "next_url": "/console/my?" + urlencode({"cursor": page.next_cursor}) if page.next_cursor else None,
        },
    )


def _forbidden_page(request: Request, user: User) -> HTMLResponse:
    return _error_page(request, user, PermissionDenied("此页面仅供工作人员使用"))


# ------------------------------------------------------------------------------------------ case detail


@router.get("/console/cases/{case_no}")
def case_detail(case_no: str, request: Request, db: Db, user: OptionalUser, settings: AppSettings) -> Response:
    me = _page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):  # reporters outside the bureau see the public timeline
        try:
            own = get_own_report(db, user=me, case_no=case_no)
        except DomainError as exc:
            return _error_page(request, me, exc)
        public = present_public_detail(db, own, queries.history(db, case_id=own.id))
        return _render(
            request,
            "public_case.html",
            {**_nav(me), "active": "mine", "c": public, "timeline": list(reversed(public.timeline))},
        )
    try:
        case = get_case_for_user(db, user=me, case_no=case_no)
    except DomainError as exc:
        return _error_page(request, me, exc)
    detail = present_detail(db, case, queries.history(db, case_id=case.id), viewer=me)
    assignee = db.get(User, case.assignee_id) if case.assignee_id else None
    actions = [
        {
            "action": a.value,
            "label": a.label,
            "input": ACTION_INPUTS.get(a, ""),
            "public_reply": a in PUBLIC_REPLY_ACTIONS,
            "note_required": TRANSITIONS[a].note_required,
            "danger": a in DANGER_ACTIONS,
        }
        for a in detail.available_actions
    ]
    return _render(
        request,
        "case_detail.html",
        {
            **_nav(me, db),
            "active": "list",
            "c": detail,
            "district_name": _district_names(db, me).get(detail.district_code or "", ""),
            "assignee_name": assignee.display_name if assignee else "",
            "actions": actions,
            "history": list(reversed(detail.history)),
            "state_labels": {s.value: s.label for s in CaseState},
            "point": {"lon": detail.lon, "lat": detail.lat, "case_no": detail.case_no},
            "map_settings": _map_settings(settings),
        },
    )


# ------------------------------------------------------------------------------------------ map and report


def _map_settings(settings: Settings) -> dict[str, str]:
    return {"tile_url": settings.tile_url, "tile_attribution": settings.tile_attribution}


@router.get("/console/map")
def case_map(
    request: Request,
    db: Db,
    user: OptionalUser,
    settings: AppSettings,
    f: PageFilters,
) -> Response:
    me = _page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return _forbidden_page(request, me)
    return _render(
        request,
        "map.html",
        {
            **_nav(me, db),
            "active": "map",
            "f": f,
            "districts": _district_names(db, me),
            "points_url": "/api/v1/cases/points?" + urlencode(f.api_params()),
            "map_settings": _map_settings(settings),
            "colours": {s.value: STATE_COLOURS[s] for s in CaseState},
        },
    )


@router.get("/console/report")
def report_page(request: Request, user: OptionalUser, settings: AppSettings) -> Response:
    me = _page_user(request, user)
    nav = _nav(me)
    return _render(
        request,
        "report.html",
        {
            **nav,
            "active": "report",
            "map_settings": _map_settings(settings),
            "is_hotline": has_any(me.roles, DESK_ROLES),
            "is_citizen": not has_any(me.roles, STAFF_ROLES),
        },
        status_code=200 if nav["can_report"] else 403,
    )


# ------------------------------------------------------------------------------------------ install


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Add the console routes, the login redirect and the static mounts (own assets and vendor dists)."""
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if request.headers.get("hx-request"):
            # an HTMX fragment request cannot follow a redirect into a full page: ask for a full reload
            return Response(status_code=204, headers={"HX-Redirect": "/login?next=" + quote(exc.next_url)})
        return RedirectResponse("/login?next=" + quote(exc.next_url, safe="/"), status_code=303)

    app.mount("/static/app", StaticFiles(directory=WEB_DIR / "static"), name="static-app")
    for name, sub in VENDOR_DIRS.items():
        # check_dir=False: the API still starts where npm has not run (the pages then lack their libraries)
        app.mount(
            f"/static/vendor/{name}",
            StaticFiles(directory=settings.node_modules_dir / sub, check_dir=False),
            name=f"vendor-{name}",
        )
