"""Attack and abuse resistance at the HTTP edge: login throttling, CSRF, security headers, body limits,
control characters and a Swagger UI without third-party hosts (docs/security.md)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from chengguan.config import Settings
from chengguan.identity import service as identity_service
from chengguan.identity.models import LoginThrottle, User
from chengguan.web.app import create_app
from tests.api.conftest import PASSWORD
from tests.personas import XIHU_POINT, xihu_spot

PROBLEM = "application/problem+json"
FOREIGN = "https://evil.example"
SELF = "http://testserver"


def assert_problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + code) and body["status"] == status
    assert body["title"] and body["detail"]
    return body


def cases_count(db: Session) -> int:
    return int(db.execute(text("SELECT count(*) FROM case_record")).scalar_one())


def report(client: TestClient, **headers: str) -> Any:
    lon, lat = xihu_spot()  # a spot of its own: the same problem at the same spot would merge into one case
    body = {"category_code": "0501", "description": "早餐摊占用人行道经营", "lon": lon, "lat": lat}
    return client.post("/api/v1/cases", json=body, headers=headers)


@pytest.fixture
def strict_app(city_db: Session) -> FastAPI:
    """Small limits, so that reaching them takes few (slow, Argon2-checked) attempts."""
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    settings = Settings(env="test", login_max_failures=3, login_address_max_failures=5, max_body_bytes=4096)
    return create_app(settings, session_factory=factory)


def attempt(c: TestClient, username: str, password: str = "wrong-password") -> Any:
    return c.post("/api/v1/auth/login", json={"username": username, "password": password})


# ------------------------------------------------------------------------------------------ throttling


def test_five_failures_lock_the_account_and_even_the_right_password_is_refused(
    client: TestClient, city_db: Session
) -> None:
    for _ in range(5):
        assert_problem(attempt(client, "dispatcher"), 401, "unauthenticated")
    r = attempt(client, "dispatcher", PASSWORD)
    body = assert_problem(r, 429, "login-locked")
    assert "账号已暂时锁定" in body["detail"] and "15 分钟" in body["detail"] and "管理员" in body["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60 and body["retry_after"] == int(r.headers["Retry-After"])
    assert "cg_session" not in r.cookies
    # another account from the same address is not affected
    assert attempt(client, "shift_leader", PASSWORD).status_code == 200


def test_an_unknown_name_is_locked_exactly_like_a_real_one(strict_app: FastAPI) -> None:
    """The answers for a real name and a made-up one are the same at every step: a lock reveals nothing."""
    seen: dict[str, list[tuple[int, str, str | None]]] = {}
    for name in ("dispatcher", "no-such-user-anywhere"):
        c = TestClient(strict_app, raise_server_exceptions=False, client=(f"10.1.1.{len(seen) + 1}", 4000))
        answers = [attempt(c, name) for _ in range(3)] + [attempt(c, name, PASSWORD)]
        seen[name] = [(r.status_code, r.json()["detail"], r.headers.get("Retry-After")) for r in answers]
    real, unknown = seen.values()
    assert [s for s, _, _ in real] == [401, 401, 401, 429]
    assert [(s, d) for s, d, _ in real] == [(s, d) for s, d, _ in unknown]
    assert real[-1][2] is not None and unknown[-1][2] is not None


def test_the_dummy_hash_is_still_verified_for_unknown_names(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, people: dict[str, User]
) -> None:
    verified: list[str] = []
    real_verify = identity_service.verify_password

    def spy(stored: str, plain: str) -> bool:
        verified.append(stored)
        return real_verify(stored, plain)

    monkeypatch.setattr(identity_service, "verify_password", spy)
    assert attempt(client, "nobody-at-all").status_code == 401
    assert verified == [identity_service._DUMMY_HASH]
    assert attempt(client, "dispatcher").status_code == 401
    assert verified[-1] == people["dispatcher"].password_hash


def test_failures_are_kept_although_the_login_fails_and_keys_are_hmacs(strict_app: FastAPI, city_db: Session) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False, client=("203.0.113.7", 5000))
    assert attempt(c, "dispatcher").status_code == 401
    rows = list(city_db.scalars(select(LoginThrottle)))
    assert {r.kind for r in rows} == {"account", "address"} and all(r.failures == 1 for r in rows)
    stored = " ".join(f"{r.kind} {r.key_digest}" for r in rows)
    assert "dispatcher" not in stored and "203.0.113" not in stored
    assert all(re.fullmatch(r"[0-9a-f]{64}", r.key_digest) for r in rows)


def test_a_successful_login_clears_the_account_counter(strict_app: FastAPI) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False)
    for _ in range(2):
        assert attempt(c, "dispatcher").status_code == 401
    assert attempt(c, "dispatcher", PASSWORD).status_code == 200
    for _ in range(2):
        assert attempt(c, "dispatcher").status_code == 401  # would be locked had the count survived
    assert attempt(c, "dispatcher", PASSWORD).status_code == 200


def test_too_many_failures_from_one_address_refuse_every_login_from_it(strict_app: FastAPI) -> None:
    spraying = TestClient(strict_app, raise_server_exceptions=False, client=("198.51.100.9", 6000))
    for i in range(5):  # one password tried against many names: no account reaches its own limit
        assert attempt(spraying, f"guess-{i}").status_code == 401
    r = attempt(spraying, "dispatcher", PASSWORD)
    body = assert_problem(r, 429, "login-rate-limited")
    assert "网络地址" in body["detail"] and int(r.headers["Retry-After"]) > 0
    elsewhere = TestClient(strict_app, raise_server_exceptions=False, client=("198.51.100.10", 6000))
    assert attempt(elsewhere, "dispatcher", PASSWORD).status_code == 200


def test_an_ipv6_client_is_counted_by_its_64(strict_app: FastAPI) -> None:
    for i in range(5):
        c = TestClient(strict_app, raise_server_exceptions=False, client=(f"2001:db8:1:2::{i + 1}", 6000))
        assert attempt(c, f"guess-{i}").status_code == 401
    same_net = TestClient(strict_app, raise_server_exceptions=False, client=("2001:db8:1:2:ffff::1", 6000))
    assert_problem(attempt(same_net, "dispatcher", PASSWORD), 429, "login-rate-limited")
    other_net = TestClient(strict_app, raise_server_exceptions=False, client=("2001:db8:1:3::1", 6000))
    assert attempt(other_net, "dispatcher", PASSWORD).status_code == 200


def test_an_administrator_unlocks_an_account(strict_app: FastAPI, people: dict[str, User]) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False, client=("192.0.2.1", 7000))
    for _ in range(3):
        attempt(c, "officer1")
    assert_problem(attempt(c, "officer1", PASSWORD), 429, "login-locked")

    def logged_in(name: str) -> TestClient:
        s = TestClient(strict_app, raise_server_exceptions=False, client=(f"192.0.2.{len(name)}", 7001))
        r = attempt(s, name, PASSWORD)
        assert r.status_code == 200, r.text
        s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        s.cookies.clear()
        return s

    officer1 = people["officer1"].id
    assert_problem(logged_in("dispatcher").post(f"/api/v1/users/{officer1}/unlock"), 403, "forbidden")
    admin = logged_in("admin")
    # an administrator of another brigade does not see the account: 404, as for one that does not exist
    r = admin.post(
        "/api/v1/users",
        json={"username": "sc_admin", "password": PASSWORD, "display_name": "上城管理员", "roles": ["admin"]}
        | {"bureau_code": people["officer2"].bureau.code},
    )
    assert r.status_code == 201, r.text
    assert_problem(logged_in("sc_admin").post(f"/api/v1/users/{officer1}/unlock"), 404, "not-found")
    assert_problem(admin.post("/api/v1/users/99999999/unlock"), 404, "not-found")
    assert_problem(attempt(c, "officer1", PASSWORD), 429, "login-locked")

    assert admin.post(f"/api/v1/users/{officer1}/unlock").status_code == 204
    assert attempt(c, "officer1", PASSWORD).status_code == 200


def test_the_console_login_form_goes_through_the_same_throttle(strict_app: FastAPI) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False, follow_redirects=False)
    for _ in range(3):
        r = c.post("/login", data={"username": "squad1", "password": "wrong-password"}, headers={"Origin": SELF})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = c.post("/login", data={"username": "squad1", "password": PASSWORD}, headers={"Origin": SELF})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert 'data-testid="login-error"' in r.text and "账号已暂时锁定" in r.text
    assert "cg_session" not in r.cookies
    # the JSON login sees the same lock
    assert_problem(attempt(c, "squad1", PASSWORD), 429, "login-locked")


# ------------------------------------------------------------------------------------------ CSRF


@pytest.fixture
def cookie_client(app: FastAPI) -> TestClient:
    """A browser-like client: logged in through the JSON login, riding the session cookie only."""
    c = TestClient(app, raise_server_exceptions=False)
    r = c.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}, headers={"Origin": SELF})
    assert r.status_code == 200 and "cg_session" in c.cookies
    return c


def test_a_foreign_origin_riding_the_cookie_is_refused_and_writes_nothing(
    cookie_client: TestClient, city_db: Session
) -> None:
    before = cases_count(city_db)
    body = assert_problem(report(cookie_client, Origin=FOREIGN), 403, "csrf")
    assert "跨站" in body["title"]
    assert_problem(report(cookie_client, Referer=FOREIGN + "/page.html"), 403, "csrf")
    assert_problem(report(cookie_client, **{"Sec-Fetch-Site": "cross-site"}), 403, "csrf")
    assert_problem(report(cookie_client, Origin="null"), 403, "csrf")
    assert_problem(report(cookie_client, Origin="http://testserver:8080"), 403, "csrf")  # another port
    assert cases_count(city_db) == before


def test_the_same_origin_passes(cookie_client: TestClient, city_db: Session) -> None:
    before = cases_count(city_db)
    assert report(cookie_client, Origin=SELF).status_code == 201
    assert (
        report(cookie_client, Referer=SELF + "/console/report", **{"Sec-Fetch-Site": "same-origin"}).status_code == 201
    )
    assert report(cookie_client, Origin="HTTP://TESTSERVER:80").status_code == 201  # the same origin, spelt out
    assert report(cookie_client).status_code == 201  # no Origin, no Referer: not sent by a web page
    assert cases_count(city_db) == before + 4


def test_a_trusted_origin_from_the_settings_passes(city_db: Session) -> None:
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    app = create_app(Settings(env="test", trusted_origins=["https://cg.example.gov.cn/"]), session_factory=factory)
    c = TestClient(app, raise_server_exceptions=False)
    r = c.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD}, headers={"Origin": SELF})
    assert r.status_code == 200
    assert report(c, Origin="https://cg.example.gov.cn").status_code == 201
    assert_problem(report(c, Origin=FOREIGN), 403, "csrf")


def test_a_bearer_token_without_cookie_is_not_csrf_able(login: Callable[[str], TestClient]) -> None:
    dispatcher = login("dispatcher")
    assert "cg_session" not in dispatcher.cookies
    assert report(dispatcher, Origin=FOREIGN).status_code == 201


def test_login_and_logout_from_a_foreign_origin_are_refused(app: FastAPI, cookie_client: TestClient) -> None:
    stranger = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    form = {"username": "dispatcher", "password": PASSWORD}
    assert_problem(stranger.post("/login", data=form, headers={"Origin": FOREIGN}), 403, "csrf")
    r = stranger.post("/api/v1/auth/login", json=form, headers={"Origin": FOREIGN})
    assert_problem(r, 403, "csrf")
    assert "cg_session" not in stranger.cookies
    assert stranger.post("/login", data=form, headers={"Origin": SELF}).status_code == 303
    # a forged logout does not end the session
    cookie_client.follow_redirects = False
    assert_problem(cookie_client.post("/logout", headers={"Origin": FOREIGN}), 403, "csrf")
    assert cookie_client.get("/api/v1/me").status_code == 200
    assert cookie_client.post("/logout", headers={"Origin": SELF}).status_code == 303


# ------------------------------------------------------------------------------------------ headers

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def assert_security_headers(r: Any) -> None:
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (r.url, name)
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert (
        "'unsafe-inline'" not in csp.get("style-src", "")
        and "'unsafe-eval'" not in r.headers["content-security-policy"]
    )
    assert csp["object-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'" and csp["default-src"] == "'self'"
    assert csp["img-src"].split() == ["'self'", "data:", "blob:"]
    assert "strict-transport-security" not in r.headers  # plain HTTP


def test_security_headers_on_pages_api_static_and_errors(app: FastAPI, client: TestClient) -> None:
    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("boom")

    answers = {
        "page": client.get("/login"),
        "api": client.get("/api/v1/me"),
        "json": client.get("/healthz"),
        "404": client.get("/no/such/page"),
        "static": client.get("/static/app/console.css"),
        "vendor": client.get("/static/vendor/leaflet/leaflet.js"),
        "docs": client.get("/docs"),
        "500": client.get("/boom-for-test"),
    }
    expected = {"page": 200, "api": 401, "json": 200, "404": 404, "static": 200, "vendor": 200, "docs": 200, "500": 500}
    assert {k: r.status_code for k, r in answers.items()} == expected
    for r in answers.values():
        assert_security_headers(r)


def test_https_adds_hsts_and_a_secure_cookie(app: FastAPI) -> None:
    secure = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    r = secure.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("cg_session=") and "; Secure" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert r.headers["strict-transport-security"].startswith("max-age=")
    plain = TestClient(app, raise_server_exceptions=False)
    r = plain.post("/api/v1/auth/login", json={"username": "dispatcher", "password": PASSWORD})
    assert "Secure" not in r.headers["set-cookie"] and "strict-transport-security" not in r.headers


def test_a_tile_server_is_allowed_for_images_only(city_db: Session) -> None:
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    app = create_app(Settings(env="test", tile_url="https://{s}.tiles.example.cn/{z}/{x}/{y}.png"), factory)
    csp = TestClient(app).get("/login").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["img-src"].split() == ["'self'", "data:", "blob:", "https://*.tiles.example.cn"]
    assert "tiles.example.cn" not in directives["script-src"] + directives["connect-src"]


def test_pages_carry_no_inline_script_or_style(login: Callable[[str], TestClient]) -> None:
    dispatcher = login("dispatcher")
    for url in ("/console", "/console/map", "/console/report"):
        html = dispatcher.get(url).text
        assert " style=" not in html, url
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/' in tag or 'type="application/json"' in tag, (url, tag)
        assert 'name="htmx-config"' in html and '"includeIndicatorCSS": false' in html


# ------------------------------------------------------------------------------------------ body size


def test_a_declared_oversized_body_is_refused_before_it_is_read(strict_app: FastAPI, city_db: Session) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False)
    token = attempt(c, "dispatcher", PASSWORD).json()["access_token"]
    before = cases_count(city_db)
    big = {"category_code": "0501", "description": "x" * 5000, "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    r = c.post("/api/v1/cases", json=big, headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(r, 413, "too-large")
    assert body["title"] == "请求内容过大" and "4 KiB" in body["detail"]
    assert cases_count(city_db) == before


def test_a_chunked_body_is_counted_while_read(strict_app: FastAPI, city_db: Session) -> None:
    c = TestClient(strict_app, raise_server_exceptions=False)
    token = attempt(c, "dispatcher", PASSWORD).json()["access_token"]
    before = cases_count(city_db)

    def chunks() -> Iterator[bytes]:
        yield b'{"category_code": "0501", "lon": 120.1, "lat": 30.2, "description": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = c.post(
        "/api/v1/cases",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_problem(r, 413, "too-large")
    assert cases_count(city_db) == before
    assert c.get("/healthz").status_code == 200


def test_the_limit_stops_a_stream_in_the_middle(strict_app: FastAPI) -> None:
    """At the ASGI level: many small chunks, no Content-Length; reading stops once the limit is passed."""
    sent: list[dict[str, Any]] = []
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"z" * 1000, "more_body": pulled < 100}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/login",
        "raw_path": b"/api/v1/auth/login",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(strict_app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled == 5  # 4096 bytes allowed: the fifth kilobyte crosses the limit, nothing more is read


# ------------------------------------------------------------------------------------------ control chars


def test_control_characters_never_reach_the_database(client: TestClient, login: Callable[[str], TestClient]) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "dispatch\x00er", "password": PASSWORD})
    body = assert_problem(r, 422, "validation-error")
    assert "不能包含控制字符或双向文本控制符" in body["detail"]
    dispatcher = login("dispatcher")
    for url in ("/api/v1/cases?q=%00", "/api/v1/cases?district=%E2%80%AE330106", "/console/cases/XH%00-1"):
        body = assert_problem(dispatcher.get(url), 400, "forbidden-character")
        assert "不能包含控制字符" in body["detail"]
    r = client.post("/login", data={"username": "admin\x00", "password": PASSWORD}, headers={"Origin": SELF})
    assert r.status_code == 400 and "不能包含控制字符" in r.text
    assert client.get("/healthz").status_code == 200  # the server stays up
    assert dispatcher.get("/api/v1/cases", params={"q": "占道\t经营"}).status_code == 200  # tab is fine


def test_bidi_overrides_are_refused_in_stored_text(login: Callable[[str], TestClient]) -> None:
    admin = login("admin")
    user = {"username": "spoof1", "password": "long-enough-1", "roles": ["officer"]}
    for name in ("李\u202e明", "李\u2066明", "李\x7f明", "李\x1b明"):
        body = assert_problem(admin.post("/api/v1/users", json=user | {"display_name": name}), 422, "validation-error")
        assert body["detail"].endswith("不能包含控制字符或双向文本控制符（" + f"U+{ord(name[1]):04X}）")
    assert admin.post("/api/v1/users", json=user | {"display_name": "李明（二中队）"}).status_code == 201


# ------------------------------------------------------------------------------------------ /docs


def test_swagger_ui_is_served_from_this_site_only(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("<!doctype html>", "")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(refs) >= {
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/app/swagger-init.js",
    }
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//")
        assert client.get(ref).status_code == 200, ref
    assert 'data-openapi-url="/openapi.json"' in html
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404
    init = client.get("/static/app/swagger-init.js").text
    assert "validatorUrl: null" in init and "http" not in init.replace("openapiUrl", "")
    # the package's demo page (pointing at a public sample API) and the rest of the folder are not served
    assert client.get("/static/vendor/swagger-ui/index.html").status_code == 404
    assert client.get("/static/vendor/swagger-ui/package.json").status_code == 404
