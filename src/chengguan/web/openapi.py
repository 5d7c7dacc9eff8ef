"""The OpenAPI document declares what the API really sends.

FastAPI documents every error as ``application/json`` with its ``HTTPValidationError`` schema, which our
422 bodies do not follow, and leaves out the other statuses. ``install_openapi`` post-processes the document
that FastAPI builds, in one place, from what each route depends on:

========  =========================================================================================
status    declared for
========  =========================================================================================
400       every operation: control characters in the URL, a body that is not JSON or a form that
          cannot be parsed
401       operations that need a login (``get_current_user`` among the dependencies); also marks the
          operation with the bearer and cookie security schemes
403       operations restricted by ``require_roles`` (unless every role is allowed), and every
          state-changing method (cross-site requests are refused)
404       operations with path parameters (the resource they name may not exist or not be visible)
409       state-changing operations with a body that need a login (versions, refused transitions,
          unique values)
413       operations with a body
422       operations with parameters or a body
500       every operation
========  =========================================================================================

What only the route knows (the login's 401 and 429, a 404 for a resource named in the body, ...) it
declares itself with ``responses={status: {"description": ...}}``; this module gives those the same
problem+json content. Every error response has the ``Problem`` schema under ``application/problem+json``,
and 401/405/429 declare the headers sent with them. New routers get all of this without doing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from chengguan.http.deps import SESSION_COOKIE, get_current_user
from chengguan.identity.roles import Role
from chengguan.web.errors import PROBLEM_MEDIA_TYPE

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REF_PREFIX = "#/components/schemas/"
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

VALIDATION_ISSUE_SCHEMA: dict[str, Any] = {
    "title": "ValidationIssue",
    "type": "object",
    "description": "请求中一处不合法的输入。",
    "properties": {
        "location": {"type": "string", "description": "出错的位置，如 body.lon、query.limit、path.user_id"},
        "message": {"type": "string", "description": "中文说明，如「应小于或等于 180」"},
        "type": {"type": "string", "description": "错误类型（pydantic 的 type），如 less_than_equal"},
    },
    "required": ["location", "message", "type"],
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details。title 与 detail 为中文；type 以稳定的错误代码结尾。",
    "properties": {
        "type": {
            "type": "string",
            "description": "错误类型 URI，以稳定的代码结尾，如 https://chengguan.dev/problems/not-found",
        },
        "title": {"type": "string", "description": "错误类型的简短中文说明"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "HTTP 状态码"},
        "detail": {"type": "string", "description": "本次错误的中文说明"},
        "instance": {"type": "string", "description": "出错的请求路径"},
        "errors": {
            "type": "array",
            "items": {"$ref": REF_PREFIX + "ValidationIssue"},
            "description": "422 validation-error：每处不合法的输入",
        },
        "reason": {
            "type": "string",
            "description": "409 transition-refused：拒绝原因，如 illegal_from_state、role_not_allowed、note_required",
        },
        "action": {"type": "string", "description": "409 transition-refused：被拒绝的操作"},
        "state": {"type": "string", "description": "409 transition-refused：案件当前状态"},
        "current_version": {"type": "integer", "description": "409 stale-update：案件的当前版本号"},
        "retry_after": {"type": "integer", "description": "429：多少秒后可以重试（同 Retry-After 响应头）"},
    },
    "required": ["type", "title", "status", "detail", "instance"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "请求无效：网址含控制字符，或请求体不是合法的 JSON、表单无法解析",
    401: "未登录、令牌无效或登录已过期",
    403: "无权执行此操作",
    404: "资源不存在或不在您的查看范围内",
    405: "该地址不支持此请求方法",
    409: "数据冲突：版本已过期、当前状态不允许此操作，或与已有记录冲突",
    413: "请求内容超过上限",
    415: "不支持的内容类型",
    422: "输入数据不合法（errors 列出每一处）",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True, "schema": {"type": "string"}}},
    405: {"Allow": {"description": "该地址支持的请求方法", "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "多少秒后可以重试", "required": True, "schema": {"type": "integer"}}},
}
_ALL_ROLES = frozenset(r.value for r in Role)


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _dependency_calls(dep)


def _allowed_roles(dependant: Dependant) -> frozenset[str] | None:
    """The roles every ``require_roles`` on the route lets through together; None when there is none."""
    found: frozenset[str] | None = None
    for call in _dependency_calls(dependant):
        roles = getattr(call, "allowed_roles", None)
        if roles is not None:
            found = frozenset(roles) if found is None else found & frozenset(roles)
    return found


def api_routes(routes: list[Any]) -> Iterator[Any]:
    """The API routes of an app as FastAPI documents them: ``APIRoute``s, or, where FastAPI keeps included
    routers as such, the route contexts that carry each route's effective path and dependencies."""
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    if iterate is None:
        yield from (route for route in routes if isinstance(route, APIRoute))
        return
    for context in iterate(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def statuses(route: Any, method: str) -> set[int]:
    """The error statuses ``method`` on ``route`` can send, from what the route depends on."""
    params = get_flat_params(route.dependant)
    has_body = route.body_field is not None
    out = {400, 500}
    if any(call is get_current_user for call in _dependency_calls(route.dependant)):
        out.add(401)
    allowed = _allowed_roles(route.dependant)
    if allowed is not None and allowed != _ALL_ROLES:
        out.add(403)
    if method in UNSAFE_METHODS:
        out.add(403)  # a cross-site request riding the session cookie
        if has_body and 401 in out:
            out.add(409)  # a user's write: stale versions, refused transitions, unique values
    if route.dependant.path_params:
        out.add(404)
    if has_body:
        out |= {413, 422}
    if params:
        out.add(422)
    return out


def requires_login(route: Any) -> bool:
    return any(call is get_current_user for call in _dependency_calls(route.dependant))


def _problem_response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    """An error response: the route's own description when it gave one, the Problem schema, its headers."""
    own = (existing or {}).get("description")
    generic = {"Successful Response", "Validation Error", "Additional Response", ""}
    response: dict[str, Any] = {
        "description": own if own and own not in generic else DESCRIPTIONS.get(status, "请求失败"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF_PREFIX + "Problem"}}},
    }
    if status in _HEADERS:
        response["headers"] = {**_HEADERS[status], **(existing or {}).get("headers", {})}
    return response


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def declare_contract(doc: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Rewrite ``doc`` (FastAPI's document for ``routes``) in place to declare what is really sent."""
    paths: dict[str, Any] = doc.get("paths", {})
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = statuses(route, method) | {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            for status in sorted(wanted):
                responses[str(status)] = _problem_response(status, responses.get(str(status)))
            operation["responses"] = dict(sorted(responses.items()))
            if requires_login(route):
                operation["security"] = SECURITY
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationIssue"] = VALIDATION_ISSUE_SCHEMA
    components["schemas"] = dict(sorted(schemas.items()))
    components["securitySchemes"] = {
        **components.get("securitySchemes", {}),  # what routes declare themselves (the system clients' API key)
        "bearer": {"type": "http", "scheme": "bearer", "description": "登录接口返回的 access_token"},
        "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "控制台的会话 Cookie"},
    }
    dangling = {ref for ref in _refs(doc) if ref.removeprefix(REF_PREFIX) not in schemas}
    assert not dangling, f"the OpenAPI document refers to missing schemas: {sorted(dangling)}"
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the declared contract at ``/openapi.json`` (and to ``app.openapi()``): built by FastAPI, then
    rewritten by ``declare_contract`` once per build (FastAPI builds it again when routes are added)."""
    build = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        doc = build()
        if not done or done[0] is not doc:
            done[:] = [declare_contract(doc, app.routes)]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
