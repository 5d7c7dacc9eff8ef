"""Use cases for bureaus, users and sessions. Functions flush, never commit."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload

from chengguan.identity.access import forget_tree
from chengguan.identity.models import AuthSession, Bureau, OrgUnit, User, UserRole
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
    forget_tree(session)
    return bureau


def get_bureau(session: Session, *, code: str) -> Bureau:
    bureau = session.scalar(select(Bureau).where(Bureau.code == code))
    if bureau is None:
        raise NotFound(f"单位不存在：{code}")
    return bureau


def bureau_lineage(session: Session, *, bureau_id: int) -> list[Bureau]:
    """The bureau, then its parent, up to the root: where per-locality data falls back to."""
    chain: list[Bureau] = []
    current = session.get(Bureau, bureau_id)
    while current is not None:
        chain.append(current)
        current = session.get(Bureau, current.parent_id) if current.parent_id else None
    return chain


UNIT_KINDS = {"squad": "中队", "department": "部门"}


def create_unit(session: Session, *, bureau: Bureau, code: str, name: str, kind: str) -> OrgUnit:
    """A squad (中队) of a brigade or a partner department (责任单位) of a bureau."""
    if kind not in UNIT_KINDS:
        raise ValidationFailed(f"未知的单位类型：{kind}（squad 或 department）")
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise Conflict(f"中队或部门编码已存在：{code}")
    unit = OrgUnit(bureau_id=bureau.id, code=code, name=name, kind=kind)
    session.add(unit)
    session.flush()
    return unit


def get_unit(session: Session, *, code: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        raise NotFound(f"中队或部门不存在：{code}")
    return unit


def create_user(
    session: Session,
    *,
    bureau: Bureau,
    username: str,
    password: str,
    display_name: str,
    roles: list[Role],
    phone: str | None = None,
    unit: OrgUnit | None = None,
    password_hash: str | None = None,
) -> User:
    """A user of ``bureau``. ``password_hash`` (an Argon2 hash made earlier) replaces hashing ``password``:
    for imports, and for demo users who share one published password."""
    username = username.strip()
    if not username:
        raise ValidationFailed("用户名不能为空")
    if password_hash is None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if not roles:
        raise ValidationFailed("至少指定一个角色")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"用户名已存在：{username}")
    if unit is not None and unit.bureau_id != bureau.id:
        raise ValidationFailed(f"{unit.name}不属于{bureau.name}")
    user = User(
        bureau_id=bureau.id,
        unit_id=unit.id if unit else None,
        username=username,
        display_name=display_name,
        phone=phone,
        password_hash=password_hash or hash_password(password),
        role_rows=[UserRole(role=Role(r).value) for r in dict.fromkeys(roles)],
    )
    session.add(user)
    session.flush()
    return user


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


def get_user(session: Session, *, user_id: int) -> User | None:
    """A user with roles in one query (the path of every request and every transition)."""
    stmt = select(User).where(User.id == user_id).options(joinedload(User.role_rows), lazyload(User.bureau))
    return session.execute(stmt).unique().scalar_one_or_none()


def user_for_token(session: Session, *, token: str) -> User:
    """The user behind a bearer/cookie token: session, user and roles in one query (the bureau when asked)."""
    stmt = (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == _digest(token))
        .options(joinedload(User.role_rows), lazyload(User.bureau))
    )
    found = session.execute(stmt).unique().one_or_none()
    if found is None or found[0].revoked_at is not None or found[0].expires_at <= utcnow():
        raise Unauthenticated("登录已过期，请重新登录")
    user = found[1]
    if not user.is_active:
        raise Unauthenticated("账号已停用")
    return user


def logout(session: Session, *, token: str) -> None:
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")
