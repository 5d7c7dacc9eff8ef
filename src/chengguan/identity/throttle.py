"""Login throttling: failed logins are counted per account name and per client address, in the database.

- **Account.** ``max_failures`` wrong passwords for one name within ``window`` lock that name for
  ``lockout``; while locked even the right password is refused. Names that belong to nobody are counted
  and locked exactly the same way, so a lock says nothing about which names exist.
- **Address.** ``address_max_failures`` failures from one client address (an IPv6 address counts as its
  /64, which one host can rotate through freely) within ``window`` refuse every login from that address
  for ``window``: this slows down trying one password against many names.
- A successful login clears the account's counter (not the address's). An administrator can clear an
  account's lock (``clear_account``); address locks run out by themselves.

Keys are stored only as HMAC-SHA256 digests under the application's secret key: no raw addresses, and
none of the names people type (a name field often receives a password). Rotating the secret key resets
every counter.

Functions take a ``Session`` and flush; the caller owns the transaction. ``record_failure`` must run in a
transaction of its own that commits even though the login request fails.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, cast

from sqlalchemy import Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chengguan.config import Settings
from chengguan.db import UTCDateTime
from chengguan.identity.models import LoginThrottle
from chengguan.shared.clock import utcnow
from chengguan.shared.errors import DomainError

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    secret: str
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    address_max_failures: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            secret=settings.secret_key,
            max_failures=settings.login_max_failures,
            window=timedelta(minutes=settings.login_window_minutes),
            lockout=timedelta(minutes=settings.login_lockout_minutes),
            address_max_failures=settings.login_address_max_failures,
        )


class LoginThrottled(DomainError):
    """A login refused before the password was looked at. ``retry_after`` is in whole seconds."""

    status: ClassVar[int] = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class AccountLocked(LoginThrottled):
    code: ClassVar[str] = "login-locked"
    title: ClassVar[str] = "账号已暂时锁定"


class AddressThrottled(LoginThrottled):
    code: ClassVar[str] = "login-rate-limited"
    title: ClassVar[str] = "登录尝试过于频繁"


def _digest(policy: ThrottlePolicy, kind: str, value: str) -> str:
    message = f"login-throttle\0{kind}\0{value}".encode()
    return hmac.new(policy.secret.encode(), message, hashlib.sha256).hexdigest()


def account_key(policy: ThrottlePolicy, username: str) -> str:
    return _digest(policy, ACCOUNT, username.strip())


def address_key(policy: ThrottlePolicy, address: str | None) -> str:
    return _digest(policy, ADDRESS, network_of(address))


def network_of(address: str | None) -> str:
    """What one client is counted as: an IPv4 address, the /64 of an IPv6 address (IPv4-mapped ones as IPv4)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def check(session: Session, *, policy: ThrottlePolicy, username: str, address: str | None) -> None:
    """Raise ``AddressThrottled`` or ``AccountLocked`` while a lock holds; otherwise return."""
    now = utcnow()
    keys = {(ADDRESS, address_key(policy, address)), (ACCOUNT, account_key(policy, username))}
    rows = session.execute(
        select(LoginThrottle.kind, LoginThrottle.locked_until).where(
            or_(*(and_(LoginThrottle.kind == kind, LoginThrottle.key_digest == key) for kind, key in keys)),
            LoginThrottle.locked_until > now,
        )
    ).all()
    locks = {kind: until for kind, until in rows if until is not None}
    if ADDRESS in locks:
        wait = _seconds_until(locks[ADDRESS], now)
        raise AddressThrottled(f"此网络地址登录失败次数过多，请 {_minutes(wait)} 分钟后再试", retry_after=wait)
    if ACCOUNT in locks:
        wait = _seconds_until(locks[ACCOUNT], now)
        raise AccountLocked(
            f"登录失败次数过多，账号已暂时锁定，请 {_minutes(wait)} 分钟后再试或联系管理员解锁", retry_after=wait
        )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def record_failure(session: Session, *, policy: ThrottlePolicy, username: str, address: str | None) -> None:
    """Count one failed login for the name and the address; lock those that reached their limit.

    One upsert per key, so concurrent failures never lose a count; a counter whose window or lock has
    run out starts again at 1. Rows nobody has failed on for a while are removed on the way.
    """
    now = utcnow()
    targets = (
        (ACCOUNT, account_key(policy, username), policy.max_failures, policy.lockout),
        (ADDRESS, address_key(policy, address), policy.address_max_failures, policy.window),
    )
    for kind, key, limit, lock_for in targets:
        _count(session, kind=kind, key=key, now=now, window=policy.window)
        session.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.kind == kind,
                LoginThrottle.key_digest == key,
                LoginThrottle.failures >= limit,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
            )
            .values(locked_until=now + lock_for)
            .execution_options(synchronize_session=False)
        )
    stale = now - max(policy.window, policy.lockout)
    session.execute(
        delete(LoginThrottle)
        .where(
            LoginThrottle.last_failure_at < stale,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _count(session: Session, *, kind: str, key: str, now: datetime, window: timedelta) -> None:
    table = cast(Table, LoginThrottle.__table__)
    when = literal(now, UTCDateTime())
    # A counter starts again when its window has passed or the lock it led to has run out.
    restart = or_(
        table.c.window_started_at <= now - window,
        and_(table.c.locked_until.is_not(None), table.c.locked_until <= now),
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        kind=kind, key_digest=key, failures=1, window_started_at=now, last_failure_at=now, locked_until=None
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.kind, table.c.key_digest],
        set_={
            "failures": case((restart, 1), else_=table.c.failures + 1),
            "window_started_at": case((restart, when), else_=table.c.window_started_at),
            "locked_until": case((restart, literal(None, UTCDateTime())), else_=table.c.locked_until),
            "last_failure_at": when,
        },
    )
    session.execute(stmt)


def clear_account(session: Session, *, policy: ThrottlePolicy, username: str) -> bool:
    """Forget the failures and the lock of one account name. True when it was locked."""
    key = account_key(policy, username)
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.kind == ACCOUNT, LoginThrottle.key_digest == key))
    if row is None:
        return False
    was_locked = row.locked_until is not None and row.locked_until > utcnow()
    session.delete(row)
    session.flush()
    return was_locked
