"""Every API route × every role: allowed roles get past the permission check, others get 403, and
anonymous callers get 401. The allowed set is read from the route's own ``require_roles`` dependency, and
the test also pins the expected matrix for the routes that matter most, so a loosened check fails here."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from chengguan.identity.roles import Role
from chengguan.web.app import API_ROUTERS

PERSONA = {
    Role.ADMIN: "admin",
    Role.DISPATCHER: "dispatcher",
    Role.SHIFT_LEADER: "shift_leader",
    Role.OFFICER: "officer1",
    Role.SQUAD_LEADER: "squad1",
    Role.GRID_WORKER: "grid1",
    Role.CITIZEN: "citizen1",
    Role.LEGAL_REVIEWER: "legal1",
    Role.DEPARTMENT_LIAISON: "liaison1",
    Role.AUDITOR: "auditor1",
}
PUBLIC = {("POST", "/api/v1/auth/login")}
EXPECTED = {
    ("POST", "/api/v1/cases"): {
        Role.CITIZEN,
        Role.GRID_WORKER,
        Role.DISPATCHER,
        Role.SHIFT_LEADER,
        Role.OFFICER,
        Role.SQUAD_LEADER,
    },
    ("POST", "/api/v1/cases/{case_no}/transitions"): set(Role) - {Role.CITIZEN},
    ("GET", "/api/v1/users"): {Role.ADMIN},
    ("POST", "/api/v1/users"): {Role.ADMIN},
    ("GET", "/api/v1/officers"): set(Role) - {Role.CITIZEN},
}


def _allowed(dependant: Dependant) -> frozenset[str] | None:
    """The roles a route's ``require_roles`` lets through; None when any logged-in user may call it."""
    found: frozenset[str] | None = None
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            found = roles if found is None else found & roles
        inner = _allowed(dep)
        if inner is not None:
            found = inner if found is None else found & inner
    return found


def _api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    out = []
    for router in API_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            out.extend((method, route.path, route) for method in sorted(route.methods))
    # every documented API operation is walked (a router left out of API_ROUTERS would fail here)
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() if p.startswith("/api/") for m in ops}
    assert documented == {(m, p) for m, p, _ in out}
    return out


def _url(path: str, case_no: str) -> str:
    return re.sub(r"\{case_no\}", case_no, path)


@pytest.fixture
def case_no(login: Callable[[str], TestClient]) -> str:
    r = login("citizen1").post(
        "/api/v1/cases", json={"category_code": "0202", "description": "墙上小广告", "lon": 120.13, "lat": 30.275}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_no"])


def test_every_route_for_every_role(app: FastAPI, login: Callable[[str], TestClient], case_no: str) -> None:
    clients = {role: login(name) for role, name in PERSONA.items()}
    anonymous = TestClient(app, raise_server_exceptions=False)
    routes = _api_routes(app)
    assert len(routes) >= 10
    checked = 0
    for method, path, route in routes:
        if (method, path) in PUBLIC:
            continue
        if (method, path) == ("POST", "/api/v1/auth/logout"):
            continue  # would end the shared session; covered in test_login_failures_and_logout
        url = _url(path, case_no)
        allowed = _allowed(route.dependant)
        allowed_roles = set(Role) if allowed is None else {Role(r) for r in allowed}
        if (method, path) in EXPECTED:
            assert allowed_roles == EXPECTED[(method, path)], (method, path)
        r = anonymous.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.status_code)
        for role, client in clients.items():
            r = client.request(method, url, json={} if method == "POST" else None)
            if role in allowed_roles:
                assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
            checked += 1
    assert checked >= 10 * len(PERSONA)


def test_every_console_page_for_every_role(app: FastAPI, login: Callable[[str], TestClient], case_no: str) -> None:
    from chengguan.cases.api import REPORTERS
    from chengguan.web.pages import router as pages_router

    anonymous = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    pages = [
        r.path for r in pages_router.routes if isinstance(r, APIRoute) and "GET" in r.methods and r.path != "/login"
    ]
    assert {"/console", "/console/map", "/console/report", "/console/cases/{case_no}"} <= set(pages)
    # The case lies in 西湖区 and was reported by citizen1: every persona may see it (city centre staff,
    # the 西湖 brigade, the reporter); visibility across brigades is tested in test_cases_api.
    for path in pages:
        url = _url(path, case_no)
        r = anonymous.get(url)
        assert r.status_code in (303, 307) and r.headers["location"].startswith("/login" if path != "/" else "/"), path
        for role, name in PERSONA.items():
            c = login(name)
            c.follow_redirects = False
            r = c.get(url)
            if path == "/console/report" and role not in REPORTERS:
                assert r.status_code == 403, (path, role)
            elif path == "/":
                assert r.status_code in (303, 307), (path, role)
            else:
                assert r.status_code == 200, (path, role, r.status_code)
