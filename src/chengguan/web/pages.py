"""The web console (zh-CN): server-rendered Jinja2 pages with HTMX, Leaflet and ECharts served locally.

This module holds the login pages, the map and the report form, and installs every console route (the case
pages live in ``pages_cases``; what pages share in ``render``) with the static mounts.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Scope

from chengguan.cases.states import CaseState
from chengguan.config import Settings
from chengguan.http.deps import (
    SESSION_COOKIE,
    AppSettings,
    Db,
    OptionalUser,
    bearer_token,
    commit,
    set_session_cookie,
)
from chengguan.identity import service as identity
from chengguan.identity.roles import DESK_ROLES, STAFF_ROLES, has_any
from chengguan.identity.throttle import LoginThrottled
from chengguan.shared.errors import Unauthenticated
from chengguan.shared.text import FORBIDDEN_MESSAGE, find_forbidden
from chengguan.web import pages_cases, pages_triage, security
from chengguan.web.pages_cases import district_names
from chengguan.web.pages_filters import PageFilters
from chengguan.web.render import (
    STATE_COLOURS,
    VENDOR_DIRS,
    VENDOR_FILES,
    WEB_DIR,
    LoginRequired,
    forbidden_page,
    map_settings,
    nav,
    page_user,
    render,
    safe_next,
)

router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------------------------------------ auth pages


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=303)


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


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
        ctx = {"next": safe_next(next), "error": error, "username": username}
        page = render(request, "login.html", ctx, status_code=status)
        page.headers.update(headers)
        return page
    commit(request, db)
    response = RedirectResponse(safe_next(next), status_code=303)
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


# ------------------------------------------------------------------------------------------ map and report


@router.get("/console/map")
def case_map(
    request: Request,
    db: Db,
    user: OptionalUser,
    settings: AppSettings,
    f: PageFilters,
) -> Response:
    me = page_user(request, user)
    if not has_any(me.roles, STAFF_ROLES):
        return forbidden_page(request, me)
    return render(
        request,
        "map.html",
        {
            **nav(me, db),
            "active": "map",
            "f": f,
            "districts": district_names(db, me),
            "points_url": "/api/v1/cases/points?" + urlencode(f.api_params()),
            "map_settings": map_settings(settings),
            "colours": {s.value: STATE_COLOURS[s] for s in CaseState},
        },
    )


@router.get("/console/report")
def report_page(request: Request, user: OptionalUser, settings: AppSettings) -> Response:
    me = page_user(request, user)
    context = nav(me)
    return render(
        request,
        "report.html",
        {
            **context,
            "active": "report",
            "map_settings": map_settings(settings),
            "is_hotline": has_any(me.roles, DESK_ROLES),
            "is_citizen": not has_any(me.roles, STAFF_ROLES),
        },
        status_code=200 if context["can_report"] else 403,
    )


# ------------------------------------------------------------------------------------------ install


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Add the console routes, the login redirect and the static mounts (own assets and vendor dists)."""
    for pages_router in PAGE_ROUTERS:
        app.include_router(pages_router)

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
            VendorFiles(directory=settings.node_modules_dir / sub, check_dir=False, only=VENDOR_FILES.get(name)),
            name=f"vendor-{name}",
        )


class VendorFiles(StaticFiles):
    """A vendor package's folder, or only the named files of it."""

    def __init__(self, *, only: frozenset[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.only = only

    async def get_response(self, path: str, scope: Scope) -> Response:
        if self.only is not None and path not in self.only:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


# every console page (the route x role walk reads this)
PAGE_ROUTERS = (router, pages_cases.router, pages_triage.router)
