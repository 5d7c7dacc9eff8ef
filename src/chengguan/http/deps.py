"""Request-scoped dependencies: the database session, the current user, role checks, the commit.

A route that writes ends with ``commit(request, db)``: the web layer owns the transaction, services only
flush. After a successful commit, queued outbox messages run in-process when ``inline_jobs`` is on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session, sessionmaker

from chengguan.config import Settings
from chengguan.identity import service as identity
from chengguan.identity.models import User
from chengguan.identity.roles import Role
from chengguan.jobs import outbox
from chengguan.shared.errors import PermissionDenied, Unauthenticated

log = logging.getLogger("chengguan.http")

SESSION_COOKIE = "cg_session"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """The request's session: requests that only read get one that does not take SQLite's write lock."""
    factory = get_session_factory(request)
    if request.method in SAFE_METHODS:
        factory = request.app.state.read_session_factory
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


Db = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def get_current_user(request: Request, db: Db) -> User:
    token = bearer_token(request)
    if not token:
        raise Unauthenticated("请先登录")
    user = identity.user_for_token(db, token=token)
    request.state.user = user
    return user


def get_optional_user(request: Request, db: Db) -> User | None:
    token = bearer_token(request)
    if not token:
        return None
    try:
        return identity.user_for_token(db, token=token)
    except Unauthenticated:
        return None


CurrentUser = Annotated[User, Depends(get_current_user)]
OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    """A dependency that lets through only users holding one of ``roles``."""
    allowed = frozenset(r.value for r in roles)

    def _check(user: CurrentUser) -> User:
        if not (user.roles & allowed):
            raise PermissionDenied("当前角色无权访问此功能")
        return user

    _check.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the route x role test
    return _check


def set_session_cookie(response: Response, token: str, settings: Settings, request: Request) -> None:
    """The browser's session: HttpOnly, SameSite=Lax, as long as the token lives; Secure in production and
    whenever the request came over HTTPS (``request.url.scheme``, which uvicorn takes from X-Forwarded-Proto
    only for trusted proxies), so a cookie set over HTTPS is never sent back over plain HTTP."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.env == "prod" or request.url.scheme == "https",
        max_age=settings.session_ttl_hours * 3600,
    )


def commit(request: Request, db: Session) -> None:
    """Commit the request's unit of work, then run its queued side effects in-process (embedded default).

    Once the commit succeeded the write stands: a failing side effect is logged and stays queued for the next
    run or a worker; it never turns the committed request into an error for the caller.
    """
    db.commit()
    settings = get_settings(request)
    if settings.inline_jobs:
        try:
            # a handler may queue follow-ups (a case change queues the deliveries of its notifications)
            for _ in range(3):
                if not outbox.run_pending(get_session_factory(request), limit=100):
                    break
        except Exception:
            log.exception("side effects after the commit of %s failed; they stay queued", request.url.path)
