"""``create_app()``: the FastAPI application with its routers, error handlers and static files."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from chengguan import __version__
from chengguan.cases.api import router as cases_router
from chengguan.cases.media_api import router as media_router
from chengguan.catalog.api import router as catalog_router
from chengguan.config import Settings, get_settings
from chengguan.db import make_engine, make_session_factory, read_only_factory
from chengguan.geo.api import router as geo_router
from chengguan.http.idempotency import IdempotencyMiddleware
from chengguan.intake.api import router as intake_router
from chengguan.intake.channels_api import router as channels_router
from chengguan.intake.public_api import router as public_router
from chengguan.jobs import broker
from chengguan.notify import wiring as notify_wiring
from chengguan.notify.api import router as notify_router
from chengguan.open311.api import router as open311_router
from chengguan.web.accounts import router as identity_router
from chengguan.web.docs import install_docs
from chengguan.web.errors import install_error_handlers
from chengguan.web.health import install_health
from chengguan.web.openapi import install_openapi
from chengguan.web.security import SecurityMiddleware, install_security

log = logging.getLogger("chengguan.web")
API_ROUTERS = (
    identity_router,
    intake_router,
    public_router,
    channels_router,
    cases_router,
    media_router,
    catalog_router,
    geo_router,
    notify_router,
)
# Routers whose contract is a published standard rather than /openapi.json (out of the document, walked by
# their own tests instead of the staff route × role walk): Open311 GeoReport v2 (tests/api/test_open311.py).
STANDARD_ROUTERS = (open311_router,)


class ChengguanApp(FastAPI):
    """FastAPI with ``SecurityMiddleware`` outermost: outside even the 500 handler, so that every response
    gets the security headers and no oversized or cross-site request reaches anything else. Inside it,
    ``IdempotencyMiddleware`` answers a retried POST with the answer its first try got."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        inner = IdempotencyMiddleware(
            super().build_middleware_stack(), factory=self.state.session_factory, secret=settings.secret_key
        )
        return SecurityMiddleware(inner, settings)


def create_app(settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    settings = settings or get_settings()
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.effective_database_url))
    app = ChengguanApp(
        title="城管执法平台 chengguan",
        version=__version__,
        description="案件受理、派遣、处置、核查、结案全流程；错误均以 RFC 9457 problem+json 返回。",
        docs_url=None,  # served by web.docs from local assets, without inline script
        redoc_url=None,
    )
    app.state.settings = settings
    broker.configure(settings)
    notify_wiring.configure(settings)
    app.state.session_factory = session_factory
    app.state.read_session_factory = read_only_factory(session_factory)
    install_error_handlers(app)
    install_security(app)
    install_docs(app)
    install_openapi(app)
    for router in (*API_ROUTERS, *STANDARD_ROUTERS):
        app.include_router(router)

    install_health(app)

    from chengguan.web.pages import install_pages  # console pages, static assets

    install_pages(app, settings)
    from chengguan.web.h5 import router as h5_router  # the citizens' own pages (no login)

    app.include_router(h5_router)
    return app
