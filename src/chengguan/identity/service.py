"""Use cases for bureaus, users and sessions. Functions flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.identity.models import AuthSession, Bureau, User, UserRole
from chengguan.identity.passwords import hash_password, verify_password
from chengguan.identity.roles import Role
from chengguan.shared.clock import utcnow
from chengguan.shared.errors import Conflict, NotFound, Unauthenticated, ValidationFailed

MIN_PASSWORD_LENGTH = 8


def create_bureau(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    admin_code: str,
    case_prefix: str,
    parent: Bureau | None = None,
) -> Bureau:
    if kind not in ("city", "district"):
        raise ValidationFailed(f"未知的单位类型：{kind}")
    if session.scalar(select(Bureau.id).where(Bureau.code == code)) is not None:
        raise Conflict(f"单位编码已存在：{code}")
    bureau = Bureau(
        code=code,
        name=name,
        kind=kind,
        admin_code=admin_code,
        case_prefix=case_prefix,
        parent_id=parent.id if parent else None,
    )
    session.add(bureau)
    session.flush()
    return bureau


def get_bureau(session: Session, *, code: str) -> Bureau:
    bureau = session.scalar(select(Bureau).where(Bureau.code == code))
    if bureau is None:
        raise NotFound(f"单位不存在：{code}")
    return bureau


def bureau_scope_ids(session: Session, *, bureau_id: int) -> list[int]:
    """The bureau and all bureaus below it (a city centre sees its district brigades)."""
    scope = [bureau_id]
    frontier = [bureau_id]
    while frontier:
        children = list(session.scalars(select(Bureau.id).where(Bureau.parent_id.in_(frontier))))
        scope.extend(children)
        frontier = children
    return scope


def bureau_lineage(session: Session, *, bureau_id: int) -> list[Bureau]:
    """The bureau, then its parent, up to the root: where per-locality data falls back to."""
    chain: list[Bureau] = []
    current = session.get(Bureau, bureau_id)
    while current is not None:
        chain.append(current)
        current = session.get(Bureau, current.parent_id) if current.parent_id else None
    return chain


def create_user(
    session: Session,
    *,
    bureau: Bureau,
    username: str,
    password: str,
    display_name: str,
    roles: list[Role],
    phone: str | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise ValidationFailed("用户名不能为空")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if not roles:
        raise ValidationFailed("至少指定一个角色")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名已存在：{username}")
    user = User(
        bureau_id=bureau.id,
        username=username,
        display_name=display_name,
        phone=phone,
        password_hash=hash_password(password),
        role_rows=[UserRole(role=Role(r).value) for r in dict.fromkeys(roles)],
    )
    session.add(user)
    session.flush()
    return user


FIELD_ROLES = (Role.OFFICER, Role.SQUAD_LEADER, Role.DEPARTMENT_LIAISON)


def assignable_users(session: Session, *, bureau_id: int) -> list[User]:
    """Active field staff a case of this bureau's city can be dispatched to."""
    root = bureau_lineage(session, bureau_id=bureau_id)[-1]
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.bureau_id.in_(bureau_scope_ids(session, bureau_id=root.id)),
            User.is_active.is_(True),
            UserRole.role.in_([r.value for r in FIELD_ROLES]),
        )
        .order_by(User.bureau_id, User.id)
        .distinct()
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class IssuedToken:
    token: str
    user: User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(session: Session, *, username: str, password: str, ttl_hours: int = 12) -> IssuedToken:
    user = session.scalar(select(User).where(User.username == username.strip()))
    # Verify against a dummy hash when the user is missing so timing does not reveal which names exist.
    stored = user.password_hash if user is not None else _DUMMY_HASH
    if not verify_password(stored, password) or user is None or not user.is_active:
        raise Unauthenticated("用户名或密码错误")
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(token_hash=_digest(token), user_id=user.id, expires_at=utcnow() + timedelta(hours=ttl_hours))
    )
    session.flush()
    return IssuedToken(token=token, user=user)


def user_for_token(session: Session, *, token: str) -> User:
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthenticated("登录已过期，请重新登录")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("账号已停用")
    return user


def logout(session: Session, *, token: str) -> None:
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")
