"""RFC 9457 problem+json for every error the API returns, in zh-CN.

Request validation errors are pydantic's; their English messages are translated here by error ``type``
with the values from the error's ``ctx`` (see ``validation_message``), and each location reads like
``body.lon`` or ``query.limit``. A body that is not JSON at all is a 400, not a 422. What the API sends is
declared in the OpenAPI document by ``web.openapi``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from chengguan.shared.errors import DomainError

log = logging.getLogger("chengguan.web")
PROBLEM_BASE = "https://chengguan.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
INVALID_JSON = "请求体不是合法的 JSON"

_HTTP_TITLES = {
    400: ("bad-request", "请求无效"),
    401: ("unauthenticated", "未登录或登录已过期"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not-found", "资源不存在"),
    405: ("method-not-allowed", "不支持的请求方法"),
    409: ("conflict", "数据冲突"),
    413: ("too-large", "请求内容过大"),
    415: ("unsupported-media-type", "不支持的内容类型"),
    422: ("validation-error", "输入数据不合法"),
    429: ("too-many-requests", "请求过于频繁"),
}

# English details of Starlette's and FastAPI's own HTTP errors (routing, body and form parsing).
_BODY_NOT_PARSED = "There was an error parsing the body"
_HTTP_DETAILS = {
    _BODY_NOT_PARSED: "请求体无法解析",
    "Not Found": "请求的地址不存在",
    "Method Not Allowed": "该地址不支持此请求方法",
}
_CJK = re.compile("[\u3400-\u9fff]")


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    sent = dict(headers or {})
    if status == 401:
        sent.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=sent or None)


# ------------------------------------------------------------------------------------------ validation


def _num(value: Any) -> str:
    """``180.0`` as ``180``: float bounds read like the numbers people typed."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _choices(ctx: Mapping[str, Any]) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as ``'a'、'b'、'c'``."""
    return str(ctx.get("expected", "")).replace(" or ", "、").replace(", ", "、")


def _length_unit(ctx: Mapping[str, Any]) -> str:
    return "项" if str(ctx.get("field_type", "List")).lower() in {"list", "set", "tuple", "frozenset"} else "个"


def _value_error(err: Mapping[str, Any]) -> str:
    """Our own validators' messages, without pydantic's "Value error, " prefix."""
    error = (err.get("ctx") or {}).get("error")
    text = str(error) if error is not None else str(err.get("msg", ""))
    return text.removeprefix("Value error, ").strip() or "取值不合法"


_DATETIME_HINT = "应为日期时间，如 2026-03-01T08:00:00+08:00"
_DATE_HINT = "应为日期，如 2026-03-01"

_MESSAGES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda c: "缺少必填项",
    "extra_forbidden": lambda c: "不允许的字段",
    "json_invalid": lambda c: INVALID_JSON,
    "json_type": lambda c: "应为 JSON 字符串、字节或字节数组",
    "none_required": lambda c: "应为空值（null）",
    "model_type": lambda c: "应为 JSON 对象",
    "model_attributes_type": lambda c: "应为 JSON 对象",
    "dict_type": lambda c: "应为 JSON 对象",
    "mapping_type": lambda c: "应为 JSON 对象",
    "list_type": lambda c: "应为列表（数组）",
    "tuple_type": lambda c: "应为列表（数组）",
    "set_type": lambda c: "应为列表（数组）",
    "frozen_set_type": lambda c: "应为列表（数组）",
    "iterable_type": lambda c: "应为列表（数组）",
    "string_type": lambda c: "应为字符串",
    "string_unicode": lambda c: "应为合法的 Unicode 字符串",
    "string_not_ascii": lambda c: "只能包含 ASCII 字符",
    "string_too_short": lambda c: f"至少 {c.get('min_length')} 个字符",
    "string_too_long": lambda c: f"最多 {c.get('max_length')} 个字符",
    "string_pattern_mismatch": lambda c: f"格式不正确（应匹配 {c.get('pattern')}）",
    "too_short": lambda c: f"至少 {c.get('min_length')} {_length_unit(c)}",
    "too_long": lambda c: f"最多 {c.get('max_length')} {_length_unit(c)}",
    "list_too_short": lambda c: f"至少 {c.get('min_length')} 项",
    "list_too_long": lambda c: f"最多 {c.get('max_length')} 项",
    "greater_than": lambda c: f"应大于 {_num(c.get('gt'))}",
    "greater_than_equal": lambda c: f"应大于或等于 {_num(c.get('ge'))}",
    "less_than": lambda c: f"应小于 {_num(c.get('lt'))}",
    "less_than_equal": lambda c: f"应小于或等于 {_num(c.get('le'))}",
    "multiple_of": lambda c: f"应为 {_num(c.get('multiple_of'))} 的整数倍",
    "finite_number": lambda c: "应为有限的数值",
    "int_type": lambda c: "应为整数",
    "int_parsing": lambda c: "应为整数",
    "int_from_float": lambda c: "应为整数（不能有小数部分）",
    "int_parsing_size": lambda c: "整数超出允许范围",
    "float_type": lambda c: "应为数字",
    "float_parsing": lambda c: "应为数字",
    "decimal_type": lambda c: "应为数字",
    "decimal_parsing": lambda c: "应为数字",
    "decimal_max_digits": lambda c: f"最多 {c.get('max_digits')} 位数字",
    "decimal_max_places": lambda c: f"最多 {c.get('decimal_places')} 位小数",
    "decimal_whole_digits": lambda c: f"整数部分最多 {c.get('whole_digits')} 位",
    "bool_type": lambda c: "应为布尔值（true 或 false）",
    "bool_parsing": lambda c: "应为布尔值（true 或 false）",
    "bytes_type": lambda c: "应为字节串",
    "bytes_too_short": lambda c: f"至少 {c.get('min_length')} 个字节",
    "bytes_too_long": lambda c: f"最多 {c.get('max_length')} 个字节",
    "datetime_type": lambda c: _DATETIME_HINT,
    "datetime_parsing": lambda c: _DATETIME_HINT,
    "datetime_from_date_parsing": lambda c: _DATETIME_HINT,
    "datetime_object_invalid": lambda c: _DATETIME_HINT,
    "datetime_past": lambda c: "应为过去的时间",
    "datetime_future": lambda c: "应为将来的时间",
    "date_type": lambda c: _DATE_HINT,
    "date_parsing": lambda c: _DATE_HINT,
    "date_from_datetime_parsing": lambda c: _DATE_HINT,
    "date_from_datetime_inexact": lambda c: "应为日期，不能带时刻",
    "date_past": lambda c: "应为过去的日期",
    "date_future": lambda c: "应为将来的日期",
    "time_type": lambda c: "应为时刻，如 08:30:00",
    "time_parsing": lambda c: "应为时刻，如 08:30:00",
    "time_delta_type": lambda c: "应为时长",
    "time_delta_parsing": lambda c: "应为时长",
    "timezone_naive": lambda c: "不能带时区",
    "timezone_aware": lambda c: "应带时区，如 +08:00",
    "timezone_offset": lambda c: f"时区偏移应为 {c.get('tz_expected')} 秒",
    "enum": lambda c: f"应为以下值之一：{_choices(c)}",
    "literal_error": lambda c: f"应为以下值之一：{_choices(c)}",
    "union_tag_invalid": lambda c: f"类型标记 {c.get('tag')} 不正确，应为 {_choices(c)}",
    "union_tag_not_found": lambda c: f"缺少类型标记 {c.get('discriminator')}",
    "url_type": lambda c: "应为网址",
    "url_parsing": lambda c: "应为合法的网址",
    "url_syntax_violation": lambda c: "应为合法的网址",
    "url_too_long": lambda c: f"网址最多 {c.get('max_length')} 个字符",
    "url_scheme": lambda c: f"网址协议应为 {c.get('expected_schemes')}",
    "uuid_type": lambda c: "应为 UUID",
    "uuid_parsing": lambda c: "应为 UUID",
    "uuid_version": lambda c: f"应为第 {c.get('expected_version')} 版 UUID",
}


def validation_message(err: Mapping[str, Any]) -> str:
    """A zh-CN message for one pydantic error: by its ``type`` with its ``ctx``; our own validators' messages
    (``value_error`` and custom error types, already zh-CN) as they are; anything else a plain zh-CN fallback."""
    kind = str(err.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        return _value_error(err)
    translate = _MESSAGES.get(kind)
    if translate is not None:
        return translate(err.get("ctx") or {})
    message = str(err.get("msg", ""))
    return message if _CJK.search(message) else "取值不合法"


def location(loc: Sequence[Any]) -> str:
    """``("body", "roles", 0)`` → ``body.roles[0]``; ``("query", "limit")`` → ``query.limit``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    issues = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        message = validation_message(err)
        if err.get("type") == "missing" and loc == ("body",):
            message = "缺少请求体"
        issues.append({"location": location(loc), "message": message, "type": str(err.get("type", ""))})
    return issues


def validation_detail(errors: Sequence[Mapping[str, str]], shown: int = 5) -> str:
    """The first few errors, one ``location：message`` each, for people."""
    if not errors:
        return "请求格式不正确"
    parts = [f"{e['location']}：{e['message']}" for e in errors[:shown]]
    more = f"……共 {len(errors)} 处" if len(errors) > shown else ""
    return "；".join(parts) + more


def http_detail(status: int, detail: Any, fallback: str) -> str:
    """Starlette's and FastAPI's own (English) details in zh-CN; ours are already zh-CN."""
    if not isinstance(detail, str) or not detail:
        return fallback
    if _CJK.search(detail):
        return detail
    if detail in _HTTP_DETAILS:
        return _HTTP_DETAILS[detail]
    if status == 400:  # multipart/form parsing: "Missing boundary in multipart.", "Too many files. ..."
        return "请求体无法解析（表单或上传文件的格式不正确）"
    return fallback


def allowed_methods(request: Request, starlettes: str) -> str:
    """Every method the path allows. Starlette names only those of the first route that matches the path
    (``POST`` for ``PUT /api/v1/cases``, although ``GET`` is allowed too); the API document knows them all."""
    methods = {m.strip().upper() for m in starlettes.split(",") if m.strip()}
    app = request.scope.get("app")
    if isinstance(app, FastAPI) and app.openapi_url:
        for template, operations in app.openapi().get("paths", {}).items():
            if compile_path(template)[0].match(request.url.path):
                methods |= {m.upper() for m in operations}
    return ", ".join(sorted(methods))


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


# ------------------------------------------------------------------------------------------ handlers


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(request, status=400, code="invalid-json", title="请求体无法解析", detail=INVALID_JSON)
        return problem(
            request,
            status=422,
            code="validation-error",
            title="输入数据不合法",
            detail=validation_detail(errors),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED and _is_json(request):
            # not JSON after all: bytes that are not UTF-8, numbers too long to read, nesting too deep
            return problem(request, status=400, code="invalid-json", title="请求体无法解析", detail=INVALID_JSON)
        code, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "请求失败"))
        detail = http_detail(exc.status_code, exc.detail, title)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
        return problem(request, status=exc.status_code, code=code, title=title, detail=detail, headers=headers)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem(
            request,
            status=409,
            code="stale-update",
            title="数据已被他人修改，请刷新后重试",
            detail="并发修改冲突",
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error on %s: %s", request.url.path, exc.orig)
        return problem(request, status=409, code="conflict", title="数据冲突", detail="数据与已有记录冲突")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            request,
            status=500,
            code="internal-error",
            title="服务器内部错误",
            detail="请稍后重试或联系管理员",
        )
