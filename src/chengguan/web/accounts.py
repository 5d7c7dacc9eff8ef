"""Login, logout, the current user, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy import select

from chengguan.http.deps import (
    SESSION_COOKIE,
    AppSettings,
    CurrentUser,
    Db,
    bearer_token,
    commit,
    require_roles,
    set_session_cookie,
)
from chengguan.identity import access, throttle
from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import Role
from chengguan.identity.schemas import LoginIn, NotificationOut, TokenOut, UserCreateIn, UserOut
from chengguan.notify import service as notify
from chengguan.shared.errors import NotFound
from chengguan.web import security

router = APIRouter(prefix="/api/v1", tags=["身份与权限"])
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="用户 ID")]  # BIGINT: larger ids are a 422


def user_out(user: User) -> UserOut:
    roles = sorted((Role(r) for r in user.roles), key=list(Role).index)
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bureau_id=user.bureau_id,
        bureau_name=user.bureau.name,
        roles=roles,
        role_labels=[r.label for r in roles],
    )


@router.post(
    "/auth/login",
    summary="登录，返回令牌并设置会话 Cookie",
    description="连续登录失败会暂时锁定账号（429，含 Retry-After），同一网络地址失败过多也会被限流。",
    responses={
        401: {"description": "用户名或密码错误"},
        429: {"description": "登录失败次数过多，账号或网络地址暂时锁定"},
    },
)
def login(body: LoginIn, request: Request, response: Response, db: Db, settings: AppSettings) -> TokenOut:
    issued = security.login(request, db, username=body.username, password=body.password)
    out = TokenOut(access_token=issued.token, user=user_out(issued.user))
    commit(request, db)
    set_session_cookie(response, issued.token, settings, request)
    return out


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="退出登录")
def logout(request: Request, response: Response, db: Db, user: CurrentUser) -> None:
    token = bearer_token(request)
    if token:
        identity.logout(db, token=token)
        commit(request, db)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", summary="当前用户")
def me(user: CurrentUser) -> UserOut:
    return user_out(user)


@router.get("/me/notifications", summary="我的站内消息（新任务、案件进展），最新在前")
def my_notifications(
    db: Db, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[NotificationOut]:
    return [
        NotificationOut.model_validate(n, from_attributes=True) for n in notify.inbox(db, user_id=user.id, limit=limit)
    ]


@router.get("/users", summary="用户列表（管理员）")
def list_users(db: Db, admin: Admin) -> list[UserOut]:
    scope = access.bureau_scope_ids(db, bureau_id=admin.bureau_id)
    users = db.scalars(select(User).where(User.bureau_id.in_(scope)).order_by(User.id))
    return [user_out(u) for u in users]


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    summary="创建用户（管理员）",
    responses={404: {"description": "bureau_code 指定的单位不存在或不在管理范围内"}},
)
def create_user(body: UserCreateIn, request: Request, db: Db, admin: Admin) -> UserOut:
    bureau = admin.bureau
    if body.bureau_code:
        bureau = identity.get_bureau(db, code=body.bureau_code)
        if bureau.id not in access.bureau_scope_ids(db, bureau_id=admin.bureau_id):
            raise NotFound(f"单位不存在：{body.bureau_code}")
    user = identity.create_user(
        db,
        bureau=db.get_one(Bureau, bureau.id),
        username=body.username,
        password=body.password,
        display_name=body.display_name,
        roles=body.roles,
        phone=body.phone,
    )
    out = user_out(user)
    commit(request, db)
    return out


@router.post(
    "/users/{user_id}/unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="解除账号的登录锁定（管理员）",
)
def unlock_user(user_id: UserId, request: Request, db: Db, admin: Admin, settings: AppSettings) -> None:
    user = db.get(User, user_id)
    if user is None or user.bureau_id not in access.bureau_scope_ids(db, bureau_id=admin.bureau_id):
        raise NotFound("用户不存在")
    throttle.clear_account(db, policy=throttle.ThrottlePolicy.from_settings(settings), username=user.username)
    commit(request, db)
