"""Defences of the HTTP edge: one ASGI middleware and the throttled login (see docs/security.md).

``SecurityMiddleware`` wraps the whole application (outside the error handlers, so that even a 500 gets
the headers) and, for every HTTP request, in this order:

1. refuses control characters and bidi controls in the URL path and query string (400), so that no query
   filter can carry them to the database;
2. refuses cross-site state-changing requests that ride the session cookie, and cross-site logins and
   logouts even without one (403, code ``csrf``);
3. refuses request bodies above ``max_body_bytes`` (413; photo and video uploads to ``UPLOAD_PATHS`` up to
   the media size limits): at once when Content-Length says so, otherwise while the body is read;
4. adds the security headers (CSP, nosniff, frame denial, referrer policy, HSTS over HTTPS) to every
   response: pages, API, static files and errors.

``login`` is the one way both login endpoints (JSON and console form) check passwords: through the
throttle of ``identity.throttle``.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chengguan.config import Settings
from chengguan.db import transaction
from chengguan.http.deps import SESSION_COOKIE, get_session_factory, get_settings
from chengguan.identity import service as identity
from chengguan.identity import throttle
from chengguan.shared.errors import Unauthenticated
from chengguan.shared.text import FORBIDDEN_MESSAGE, describe, find_forbidden
from chengguan.web.errors import problem

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Checked for cross-site use even without a session cookie: a forged login plants the attacker's session
# in the victim's browser, a forged logout is a nuisance.
AUTH_PATHS = frozenset({"/login", "/logout", "/api/v1/auth/login", "/api/v1/auth/logout"})
# Uploads of photos and videos may be as large as the media limits allow (plus the multipart framing).
UPLOAD_PATHS = frozenset(
    {"/api/v1/media", "/open311/v2/requests.json", "/open311/v2/requests.xml"}
)  # Open311: media upload
UPLOAD_OVERHEAD = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ------------------------------------------------------------------------------------------ headers


def content_security_policy(settings: Settings) -> str:
    """No inline script, no plugins, no framing; images also from the tile server when one is configured."""
    images = ["'self'", "data:", "blob:"]
    tiles = tile_source(settings.tile_url)
    if tiles:
        images.append(tiles)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a Leaflet tile URL template: its origin, ``{s}`` subdomains as a wildcard."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None  # a relative URL: served by this site, already 'self'
    labels = parts.netloc.rsplit("@", 1)[-1].split(".")
    if labels and labels[0].startswith("{"):  # {s}.tile.example.org
        labels[0] = "*"
    host = ".".join(labels).lower()
    if "{" in host or any(c in host for c in " ;,'\""):
        return None
    return f"{parts.scheme}://{host}"


def security_headers(settings: Settings, *, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


# ------------------------------------------------------------------------------------------ origins


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port; None for anything else ("null")."""
    parts = urlsplit(value.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def own_origin(scope: Scope, headers: Headers) -> str | None:
    """The origin the request was made to, as this server sees it (scheme of the connection, Host header)."""
    host = headers.get("host")
    if not host:
        server = scope.get("server")
        if not server:
            return None
        host = f"{server[0]}:{server[1]}"
    return normalise_origin(f"{scope.get('scheme', 'http')}://{host}")


def _has_session_cookie(headers: Headers) -> bool:
    raw = headers.get("cookie")
    if not raw:
        return False
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw)
    except Exception:  # a malformed Cookie header: look for the name ourselves
        return f"{SESSION_COOKIE}=" in raw
    return SESSION_COOKIE in cookies


def is_cross_site(scope: Scope, headers: Headers, trusted: frozenset[str]) -> bool:
    """Whether a state-changing request comes from a page of another site.

    Browsers send ``Origin`` on every cross-origin POST (and ``Sec-Fetch-Site``); a request with neither
    ``Origin`` nor ``Referer`` does not come from a web page and cannot be forged by one.
    """
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    source = headers.get("origin")
    if source is None:
        referer = headers.get("referer")
        if referer is None:
            return False
        source = referer
    origin = normalise_origin(source)
    allowed = trusted | {o for o in (own_origin(scope, headers),) if o}
    return origin is None or origin not in allowed


def needs_origin_check(method: str, path: str, headers: Headers) -> bool:
    if method not in UNSAFE_METHODS:
        return False
    if _has_session_cookie(headers):
        return True  # the browser attaches the cookie wherever the request came from
    if headers.get("authorization", "").lower().startswith("bearer "):
        return False  # a header no other site can make the browser send
    return path in AUTH_PATHS


# ------------------------------------------------------------------------------------------ middleware


class BodyTooLarge(StarletteHTTPException):
    """Raised while a body is read; the error handlers turn it into 413 problem+json."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"请求内容超过 {_size(limit)} 的上限")


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} 字节"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.max_body = settings.max_body_bytes
        largest = max(settings.media_max_image_bytes, settings.media_max_video_bytes)
        self.max_upload = max(self.max_body, largest + UPLOAD_OVERHEAD)
        self.trusted = frozenset(o for o in (normalise_origin(t) for t in settings.trusted_origins) if o)
        self.headers = {https: list(security_headers(settings, https=https).items()) for https in (False, True)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers[scope.get("scheme") == "https"]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name not in headers:  # a page may set a stricter or looser policy of its own
                        headers[name] = value
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, self._limited(receive, self._body_limit(scope)), send_with_headers)
        except BodyTooLarge as exc:  # read outside the error handlers (not by a route): answer here
            if started:
                raise
            response = self._problem(scope, 413, "too-large", "请求内容过大", str(exc.detail))
            await response(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        headers = Headers(scope=scope)
        query = unquote(scope.get("query_string", b"").decode("utf-8", "replace"), errors="replace")
        for part in (scope.get("path", ""), query):
            char = find_forbidden(part)
            if char is not None:
                detail = f"网址中{FORBIDDEN_MESSAGE}（{describe(char)}）"
                return self._problem(scope, 400, "forbidden-character", "请求无效", detail)
        method = scope.get("method", "GET")
        if needs_origin_check(method, scope.get("path", ""), headers) and is_cross_site(scope, headers, self.trusted):
            detail = "请求来源与本站不一致，已拒绝（防跨站请求伪造）。请在本站页面中重新操作。"
            return self._problem(scope, 403, "csrf", "跨站请求被拒绝", detail)
        length = headers.get("content-length")
        limit = self._body_limit(scope)
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return self._problem(scope, 413, "too-large", "请求内容过大", f"请求内容超过 {_size(limit)} 的上限")
        return None

    def _body_limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST" and scope.get("path") in UPLOAD_PATHS:
            return self.max_upload
        return self.max_body

    def _limited(self, receive: Receive, limit: int) -> Receive:
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return receive_limited

    @staticmethod
    def _problem(scope: Scope, status: int, code: str, title: str, detail: str) -> JSONResponse:
        return problem(Request(scope), status=status, code=code, title=title, detail=detail)


# ------------------------------------------------------------------------------------------ login


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def login(request: Request, db: Session, *, username: str, password: str) -> identity.IssuedToken:
    """Check the throttle, then the password; count a failure in a transaction of its own.

    The caller commits ``db`` on success (the new session and the cleared counter go together).
    """
    settings = get_settings(request)
    policy = throttle.ThrottlePolicy.from_settings(settings)
    address = client_address(request)
    throttle.check(db, policy=policy, username=username, address=address)
    try:
        issued = identity.login(db, username=username, password=password, ttl_hours=settings.session_ttl_hours)
    except Unauthenticated:
        # Release the request's transaction first: on SQLite it holds the write lock, and under the test
        # savepoints a later rollback of it would undo the count.
        db.rollback()
        with transaction(get_session_factory(request)) as counting:
            throttle.record_failure(counting, policy=policy, username=username, address=address)
        raise
    throttle.clear_account(db, policy=policy, username=username)
    return issued


def install_security(app: FastAPI) -> None:
    """The handler that adds ``Retry-After`` to throttled logins (the middleware is added by create_app)."""

    @app.exception_handler(throttle.LoginThrottled)
    async def _throttled(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, throttle.LoginThrottled)
        response = problem(request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
