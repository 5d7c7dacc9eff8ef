"""Domain errors. The web layer renders each as RFC 9457 problem+json; the CLI prints ``title: detail``.

Every error carries a stable machine ``code`` (the problem ``type`` URI ends with it), an HTTP status, a
zh-CN title for people, and optional extra members (e.g. ``reason`` for a refused transition).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "请求无效"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class ValidationFailed(DomainError):
    status = 422
    code = "validation-error"
    title = "输入数据不合法"


class NotFound(DomainError):
    """Also used for resources the caller may not see: "not found" and "forbidden" look the same."""

    status = 404
    code = "not-found"
    title = "资源不存在"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "未登录或登录已过期"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    title = "无权执行此操作"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "数据冲突"


class StaleUpdate(Conflict):
    code = "stale-update"
    title = "数据已被他人修改，请刷新后重试"


class TransitionRefused(Conflict):
    code = "transition-refused"
    title = "当前状态不允许此操作"


class OutsideArea(ValidationFailed):
    code = "outside-area"
    title = "位置不在本单位辖区内"
