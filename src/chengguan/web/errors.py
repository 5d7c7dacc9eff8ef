"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chengguan.shared.errors import DomainError

log = logging.getLogger("chengguan.web")
PROBLEM_BASE = "https://chengguan.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

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


def problem(request: Request, *, status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "location": [str(p) for p in err.get("loc", ())],
                "message": err.get("msg", ""),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"location": [], "message": ""}
        where = ".".join(first["location"][1:]) or "body"
        detail = f"{where}: {first['message']}" if errors else "请求格式不正确"
        if errors and errors[0]["type"] == "json_invalid":
            detail = "请求体不是合法的 JSON"
        return problem(
            request, status=422, code="validation-error", title="输入数据不合法", detail=detail, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "请求失败"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        return problem(request, status=exc.status_code, code=code, title=title, detail=detail)

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
