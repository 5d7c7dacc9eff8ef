"""The API contract: the OpenAPI document declares what is really sent (``web.openapi``), and what is sent
for errors is RFC 9457 problem+json in zh-CN (``web.errors``), validation messages included."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import sessionmaker

from chengguan.cases.media_api import FILE_TYPES
from chengguan.cases.states import CaseState
from chengguan.config import Settings
from chengguan.http.deps import CurrentUser, require_roles
from chengguan.identity.models import User
from chengguan.identity.roles import Role
from chengguan.web.app import create_app
from chengguan.web.errors import INVALID_JSON, install_error_handlers, location, validation_message
from chengguan.web.openapi import install_openapi
from tests.personas import XIHU_POINT

PROBLEM = "application/problem+json"
ENGLISH = re.compile("[A-Za-z]{4,}")
CJK = re.compile("[\u4e00-\u9fff]")
# Photos and videos: anyone may upload them and fetch a public copy or thumbnail by a signed link
MEDIA_OPEN = {("post", "/api/v1/media"), ("get", "/api/v1/media/{sha256}"), ("get", "/api/v1/media/{sha256}/thumb")}

# What each operation of today's API can send, pinned (the rules of web.openapi, spelled out).
EXPECTED = {
    ("post", "/api/v1/auth/login"): {200, 400, 401, 403, 413, 422, 429, 500},
    ("post", "/api/v1/auth/logout"): {204, 400, 401, 403, 500},
    ("get", "/api/v1/me"): {200, 400, 401, 500},
    ("get", "/api/v1/me/notifications"): {200, 400, 401, 422, 500},
    ("get", "/api/v1/users"): {200, 400, 401, 403, 500},
    ("post", "/api/v1/users"): {201, 400, 401, 403, 404, 409, 413, 422, 500},
    ("post", "/api/v1/users/{user_id}/unlock"): {204, 400, 401, 403, 404, 422, 500},
    ("post", "/api/v1/cases"): {201, 400, 401, 403, 409, 413, 422, 500},
    ("get", "/api/v1/cases"): {200, 400, 401, 403, 422, 500},
    ("get", "/api/v1/cases/points"): {200, 400, 401, 403, 422, 500},
    ("get", "/api/v1/cases/{case_no}"): {200, 400, 401, 403, 404, 422, 500},
    ("get", "/api/v1/cases/{case_no}/candidates"): {200, 400, 401, 403, 404, 422, 500},
    ("post", "/api/v1/cases/{case_no}/transitions"): {200, 400, 401, 403, 404, 409, 413, 422, 500},
    ("post", "/api/v1/my/reports"): {201, 400, 401, 403, 409, 413, 422, 500},
    ("get", "/api/v1/my/reports"): {200, 400, 401, 422, 500},
    ("get", "/api/v1/my/reports/{tracking_code}"): {200, 400, 401, 404, 422, 500},
    ("get", "/api/v1/catalog"): {200, 400, 401, 500},
    ("get", "/api/v1/geo/boundaries"): {200, 400, 401, 422, 500},
    ("get", "/api/v1/geo/locate"): {200, 400, 401, 422, 500},
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """The document as served; it needs no database."""
    app = create_app(Settings(env="test"), session_factory=sessionmaker())
    r = TestClient(app).get("/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def assert_problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["type"].endswith("/" + code) and body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    return body


# ------------------------------------------------------------------------------------------ the document


def test_every_error_is_declared_as_problem_json_and_fastapis_schemas_are_gone(doc: dict[str, Any]) -> None:
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert {"errors", "reason", "action", "state", "current_version", "retry_after"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/ValidationIssue"}
    assert doc["components"]["schemas"]["ValidationIssue"]["required"] == ["location", "message", "type"]
    checked = 0
    for method, path, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                    method,
                    path,
                    status,
                )
                assert CJK.search(response["description"]), (method, path, status)  # for people: zh-CN
                checked += 1
            else:
                sent = {"application/json"} | (set(FILE_TYPES) if path.startswith("/api/v1/media/") else set())
                assert set(response.get("content", {})) <= sent, (method, path, status)
    assert checked >= 100


def test_each_operation_declares_the_statuses_it_can_send(doc: dict[str, Any]) -> None:
    documented = {(method, path): {int(s) for s in op["responses"]} for method, path, op in operations(doc)}
    assert set(EXPECTED) <= set(documented)
    for key, statuses in EXPECTED.items():
        assert documented[key] == statuses, key
    for key, statuses in documented.items():  # routes added later follow the same rules
        assert {400, 500} <= statuses, key


def test_successes_are_declared_as_sent(doc: dict[str, Any], login: Callable[[str], TestClient]) -> None:
    paths = doc["paths"]
    created = paths["/api/v1/cases"]["post"]["responses"]
    assert "201" in created and "200" not in created
    assert created["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseDetailOut"}
    logout = paths["/api/v1/auth/logout"]["post"]["responses"]
    assert "204" in logout and "content" not in logout["204"] and "200" not in logout
    dispatcher = login("dispatcher")
    body = {"category_code": "0501", "description": "占道经营", "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    r = dispatcher.post("/api/v1/cases", json=body)
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    r = dispatcher.post("/api/v1/auth/logout")
    assert r.status_code == 204 and r.content == b""


def test_login_is_the_only_operation_without_security_and_401_and_429_say_their_headers(
    doc: dict[str, Any],
) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    assert schemes["session"]["in"] == "cookie" and schemes["session"]["name"] == "cg_session"
    open_ops = {(m, p) for m, p, op in operations(doc) if "security" not in op}
    public_door = {(m, p) for m, p in open_ops if p.startswith("/api/v1/public/")}  # tests/api/test_public.py
    assert open_ops - MEDIA_OPEN - public_door == {("post", "/api/v1/auth/login")}
    for _, _, op in operations(doc):
        if "401" in op["responses"]:
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert login["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "锁定" in login["429"]["description"] and "密码" in login["401"]["description"]


class ThingIn(BaseModel):
    name: str = Field(max_length=10)


FieldWorker = Annotated[User, Depends(require_roles(Role.OFFICER, Role.SQUAD_LEADER))]


def test_a_router_added_later_is_declared_by_the_same_rules() -> None:
    """No per-route work: what a new router's routes depend on decides what they declare."""
    things = APIRouter(prefix="/api/v1/things")

    @things.get("/{thing_id}")
    def get_thing(thing_id: int, user: FieldWorker, verbose: bool = False) -> dict[str, int]:
        return {"id": thing_id}

    @things.post("", status_code=201, responses={410: {"description": "已归档"}})
    def add_thing(body: ThingIn, user: CurrentUser) -> dict[str, str]:
        return {"name": body.name}

    @things.get("/open/ping")
    def ping() -> dict[str, str]:
        return {"ping": "pong"}

    app = FastAPI()
    install_openapi(app)
    app.include_router(things)
    paths = app.openapi()["paths"]
    got = {
        (m, p): {int(s) for s in op["responses"]} for p, ops in paths.items() for m, op in ops.items() if "things" in p
    }
    assert got == {
        ("get", "/api/v1/things/{thing_id}"): {200, 400, 401, 403, 404, 422, 500},
        ("post", "/api/v1/things"): {201, 400, 401, 403, 409, 410, 413, 422, 500},
        ("get", "/api/v1/things/open/ping"): {200, 400, 500},
    }
    assert paths["/api/v1/things"]["post"]["responses"]["410"]["description"] == "已归档"
    assert paths["/api/v1/things"]["post"]["responses"]["410"]["content"][PROBLEM]
    assert "security" not in paths["/api/v1/things/open/ping"]["get"]


# ------------------------------------------------------------------------------------------ zh-CN validation


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=4, pattern=r"^[a-z]+$")
    count: int = Field(gt=0, le=10)
    ratio: float = Field(ge=0, lt=1.5)
    flag: bool = False
    at: Any = None
    state: CaseState = CaseState.REPORTED
    level: Literal["district", "grid"] = "district"
    tags: list[int] = Field(default_factory=list, max_length=2)

    @field_validator("at")
    @classmethod
    def _at(cls, value: Any) -> Any:
        if value == "bad":
            raise ValueError("时间超出允许范围（2000–2099 年）")
        return value


def _errors(**data: Any) -> dict[str, str]:
    base = {"name": "ab", "count": 1, "ratio": 0.5}
    with pytest.raises(ValidationError) as info:
        _Kind.model_validate({**base, **data})
    return {location(e["loc"]): validation_message(e) for e in info.value.errors()}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        ({"name": None}, "name", "应为字符串"),
        ({"name": "a"}, "name", "至少 2 个字符"),
        ({"name": "abcde"}, "name", "最多 4 个字符"),
        ({"name": "AB"}, "name", "格式不正确（应匹配 ^[a-z]+$）"),
        ({"count": 0}, "count", "应大于 0"),
        ({"count": 11}, "count", "应小于或等于 10"),
        ({"count": "x"}, "count", "应为整数"),
        ({"count": 1.5}, "count", "应为整数（不能有小数部分）"),
        ({"count": "9" * 5000}, "count", "整数超出允许范围"),
        ({"ratio": -1}, "ratio", "应大于或等于 0"),
        ({"ratio": 2}, "ratio", "应小于 1.5"),
        ({"ratio": "东经"}, "ratio", "应为数字"),
        ({"flag": "maybe"}, "flag", "应为布尔值（true 或 false）"),
        ({"state": "flying"}, "state", "应为以下值之一："),
        ({"level": "city"}, "level", "应为以下值之一：'district'、'grid'"),
        ({"tags": [1, 2, 3]}, "tags", "最多 2 项"),
        ({"tags": ["x"]}, "tags[0]", "应为整数"),
        ({"tags": 5}, "tags", "应为列表（数组）"),
        ({"extra": 1}, "extra", "不允许的字段"),
        ({"at": "bad"}, "at", "时间超出允许范围（2000–2099 年）"),
    ],
)
def test_validation_messages_are_zh_cn(data: dict[str, Any], where: str, message: str) -> None:
    got = _errors(**data)
    assert got[where].startswith(message), got
    assert "Value error" not in got[where]
    words = got[where].split("：")[0].split("（")[0]  # the values named after it are the API's own
    assert not ENGLISH.search(words), got[where]


def test_missing_fields_and_unknown_error_types() -> None:
    with pytest.raises(ValidationError) as info:
        _Kind.model_validate({})
    messages = {location(e["loc"]): validation_message(e) for e in info.value.errors()}  # type: ignore[arg-type]
    assert messages == {"name": "缺少必填项", "count": "缺少必填项", "ratio": "缺少必填项"}
    assert validation_message({"type": "some_new_type", "msg": "Something new went wrong"}) == "取值不合法"
    assert validation_message({"type": "forbidden_character", "msg": "不能包含控制字符（U+0000）"}).startswith("不能")
    assert location(("body", "roles", 0)) == "body.roles[0]" and location(()) == "body"


def test_a_422_names_each_place_in_zh_cn(login: Callable[[str], TestClient]) -> None:
    dispatcher, admin = login("dispatcher"), login("admin")
    r = dispatcher.post("/api/v1/cases", json={"category_code": "0501", "lon": "东经", "lat": 100, "x": 1})
    body = assert_problem(r, 422, "validation-error")
    errors = {e["location"]: e for e in body["errors"]}
    assert errors["body.lon"]["message"] == "应为数字" and errors["body.lon"]["type"] == "float_parsing"
    assert errors["body.lat"]["message"] == "应小于或等于 90"
    assert errors["body.description"]["message"] == "缺少必填项"
    assert errors["body.x"]["message"] == "不允许的字段"
    assert body["detail"].startswith("body.description：缺少必填项；") or "body.lon：应为数字" in body["detail"]
    assert all(not ENGLISH.search(e["message"]) for e in body["errors"])
    r = dispatcher.get("/api/v1/cases", params={"limit": 0, "state": "flying"})
    body = assert_problem(r, 422, "validation-error")
    assert {e["location"] for e in body["errors"]} == {"query.limit", "query.state[0]"}
    assert "query.limit：应大于或等于 1" in body["detail"]
    body = assert_problem(admin.post("/api/v1/users/abc/unlock"), 422, "validation-error")
    assert body["detail"] == "path.user_id：应为整数"
    body = assert_problem(dispatcher.post("/api/v1/cases"), 422, "validation-error")
    assert body["detail"] == "body：缺少请求体"


# ------------------------------------------------------------------------------------------ 400s and others


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"description": "\xff\xfe"}', b'{"version": ' + b"9" * 5000 + b"}", b"[" * 50_000],
    ids=["syntax", "not-utf8", "endless-number", "too-deep"],
)
def test_an_unparsable_body_is_400_and_writes_nothing(login: Callable[[str], TestClient], content: bytes) -> None:
    dispatcher = login("dispatcher")
    before = dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"]
    r = dispatcher.post("/api/v1/cases", content=content, headers={"content-type": "application/json"})
    assert assert_problem(r, 400, "invalid-json")["detail"] == INVALID_JSON
    assert dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"] == before


def test_starlettes_own_errors_are_zh_cn(client: TestClient) -> None:
    r = client.put("/api/v1/cases")
    body = assert_problem(r, 405, "method-not-allowed")
    assert body["detail"] == "该地址不支持此请求方法" and set(r.headers["allow"].split(", ")) == {"GET", "POST"}
    assert assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")["detail"] == "请求的地址不存在"
    r = client.get("/api/v1/me")
    assert_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_malformed_form_is_a_zh_cn_400() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/form")
    def form(name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    c = TestClient(app)
    r = c.post("/form", content=b"--x\r\nnot a part", headers={"content-type": "multipart/form-data"})
    body = assert_problem(r, 400, "bad-request")
    assert body["detail"] == "请求体无法解析（表单或上传文件的格式不正确）"
    assert c.post("/form", data={"name": "张三"}).json() == {"name": "张三"}


# ------------------------------------------------------------------------------------------ found by fuzzing


def test_an_id_beyond_bigint_is_422_not_500(login: Callable[[str], TestClient]) -> None:
    """schemathesis: POST /api/v1/users/9223372036854775808/unlock was a 500 (OverflowError in the driver)."""
    admin = login("admin")
    r = admin.post(f"/api/v1/users/{2**63}/unlock")
    assert assert_problem(r, 422, "validation-error")["errors"][0]["location"] == "path.user_id"
    assert_problem(admin.post("/api/v1/users/0/unlock"), 422, "validation-error")
    assert_problem(admin.post(f"/api/v1/users/{2**63 - 1}/unlock"), 404, "not-found")
