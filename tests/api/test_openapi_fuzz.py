"""Property-based fuzzing of every API operation against the app's own OpenAPI document (schemathesis).

Every operation in ``/openapi.json`` gets generated requests, valid and invalid (schemathesis' coverage and
fuzzing phases), sent in-process to the ``app`` fixture (the demo city, rolled back after each operation),
signed in with a bearer token as a persona who may call it; the reporter's own operations run again as
citizen1. Each response must be no server error and must match what the document declares for the
operation: status code, content type, headers and body schema; invalid input must be refused with a 4xx;
an operation that needs a login must refuse a request without one.

Half of the valid requests are steered past the first refusal (a real category and a point in 西湖区 for
reports, a real case number in paths, the case's current version in transitions), so that the examples also
reach the services behind the validation.

Bounded and reproducible: a fixed seed, derandomized generation, no example database, ``MAX_EXAMPLES``
per operation in the fuzzing phase.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.api.conftest import PASSWORD
from tests.personas import XIHU_POINT

MAX_EXAMPLES = 15
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260301,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "with-security-parameters": False,  # the bearer token is ours, sent with every call
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
    checks.unsupported_method,
]
STAFF = "dispatcher"  # the 12345 desk reports, lists and works cases
PERSONA_BY_PREFIX = {"/api/v1/users": "admin"}  # user administration is the administrator's
CITIZEN_PATHS = "^/api/v1/(my/reports|me$|me/)"  # what the reporter's own pages call (我的上报)
CITIZENS_ONLY = {("POST", "/api/v1/my/reports")}  # a staff token only gets 403 there: fuzzed as citizen1
# A fresh token per call: logging out would end the shared one.
FRESH_TOKEN = {"/api/v1/auth/logout"}
CALLS: dict[str, list[tuple[int, float]]] = {}  # operation → (status, seconds) of each request


class CurrentApp:
    """The ASGI app schemathesis sends to: each test's own ``app`` (bound by ``_bind``).

    At import it is an app without a database: enough to serve ``/openapi.json``, which needs none."""

    def __init__(self) -> None:
        from sqlalchemy.orm import sessionmaker

        from chengguan.config import Settings
        from chengguan.web.app import create_app

        self.app: Any = create_app(Settings(env="test"), session_factory=sessionmaker())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


CURRENT = CurrentApp()
schema = schemathesis.openapi.from_asgi("/openapi.json", CURRENT, config=CONFIG)
# One app (one rolled-back database) per operation, shared by its examples: that is intended here.
SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _bind(app: FastAPI) -> Iterator[None]:
    CURRENT.app, before = app, CURRENT.app
    yield
    CURRENT.app = before


@pytest.fixture
def tokens(app: FastAPI) -> Callable[..., str]:
    """Bearer tokens per persona, logged in from an address of their own (fuzzed logins may lock ours)."""
    cache: dict[str, str] = {}

    def token(username: str, *, fresh: bool = False) -> str:
        if fresh or username not in cache:
            c = TestClient(app, client=("10.99.0.1", 5000))
            r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[username] = r.json()["access_token"]
        return cache[username]

    return token


@pytest.fixture
def real_case(app: FastAPI, tokens: Callable[..., str]) -> str:
    """A case in 西湖区 reported by citizen1: every persona here may see it, the dispatcher may work it."""
    c = TestClient(app, headers={"Authorization": f"Bearer {tokens('citizen1')}"})
    body = {"category_code": "0501", "description": "早餐摊占用人行道", "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    r = c.post("/api/v1/my/reports", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["case_no"])


def _persona(path: str) -> str:
    return next((who for prefix, who in PERSONA_BY_PREFIX.items() if path.startswith(prefix)), STAFF)


def _steer(case: Any, real_case: str, version: Callable[[], int]) -> None:
    """Send half of the valid requests past the first refusal; which half is decided by the data itself."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    seen = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if seen % 2:
        return
    if "case_no" in (case.path_parameters or {}):
        case.path_parameters["case_no"] = real_case
    lon, lat = XIHU_POINT[0] + (seen % 97) / 10_000, XIHU_POINT[1] + (seen % 89) / 10_000
    if case.query and "lon" in case.query and "lat" in case.query:
        case.query.update(lon=lon, lat=lat, crs="wgs84")
    body = case.body
    if isinstance(body, dict):
        if "category_code" in body and "lon" in body and "lat" in body:
            body.update(category_code="0501", lon=lon, lat=lat, crs="wgs84")
        if "version" in body and case.path_parameters.get("case_no") == real_case:
            body["version"] = version()


def _call(case: Any, token: str, real_case: str, app: FastAPI) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    def version() -> int:
        r = TestClient(app, headers=headers).get(f"/api/v1/cases/{real_case}")
        return int(r.json()["version"]) if r.status_code == 200 else 1

    _steer(case, real_case, version)
    started = time.perf_counter()
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    CALLS.setdefault(case.operation.label, []).append((response.status_code, time.perf_counter() - started))


STAFF_RUN = schema.exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in CITIZENS_ONLY)
CITIZEN_RUN = schema.include(path_regex=CITIZEN_PATHS)


@pytest.fixture(autouse=True)
def _exercised(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each operation's test made requests (an operation nothing can be generated for must not pass quietly)."""
    label = getattr(request.node, "operation_label", None)
    before = len(CALLS.get(label or "", []))
    yield
    if label is not None:
        assert len(CALLS.get(label, [])) > before, f"{label}: no request was sent"


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    """What this process sent, per operation and status (shown with ``pytest -s``)."""
    yield
    total = sum(len(calls) for calls in CALLS.values())
    seconds = sum(s for calls in CALLS.values() for _, s in calls)
    print(f"\nfuzz: {len(CALLS)} operations, {total} requests, {seconds:.1f}s in requests")
    for label, calls in sorted(CALLS.items()):
        statuses = Counter(status for status, _ in calls)
        shown = " ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
        print(f"  {label:44s} {len(calls):4d}  {shown}")


# The audience is a pytest parameter so that each operation's test has an id of its own: pytest 9 builds
# ids from the function's name and its parameters only, and pytest-xdist runs one test per id.
@STAFF_RUN.parametrize()
@pytest.mark.parametrize("audience", ["staff"])
@SHARED_APP
def test_every_operation(case: Any, audience: str, app: FastAPI, tokens: Callable[..., str], real_case: str) -> None:
    path = case.operation.path
    _call(case, tokens(_persona(path), fresh=path in FRESH_TOKEN), real_case, app)


@CITIZEN_RUN.parametrize()
@pytest.mark.parametrize("audience", ["citizen"])
@SHARED_APP
def test_the_reporters_operations(
    case: Any, audience: str, app: FastAPI, tokens: Callable[..., str], real_case: str
) -> None:
    _call(case, tokens("citizen1"), real_case, app)


def _labels(run: Any) -> set[str]:
    return {result.ok().label for result in run.get_all_operations()}  # .ok(): a schema error raises here


def test_every_documented_operation_is_fuzzed() -> None:
    documented = {f"{m.upper()} {p}" for p, ops in CURRENT.app.openapi()["paths"].items() for m in ops}
    staff, citizen = _labels(STAFF_RUN), _labels(CITIZEN_RUN)
    assert staff | citizen == documented and len(documented) >= 19
    assert {f"{m} {p}" for m, p in CITIZENS_ONLY} <= citizen
    assert {"POST /api/v1/my/reports", "GET /api/v1/my/reports", "GET /api/v1/my/reports/{tracking_code}"} <= citizen
