"""Rate limits for endpoints anyone may call (the citizens' door, Open311), over one small table.

A limit is a *bucket* (``public-write``, ``open311-read`` …), a number of requests and a window: each client
address (an IPv6 client as its /64, as for login throttling) may make ``limit`` requests per window; the next
one is refused with ``429``, ``Retry-After`` and a zh-CN message until the window has passed (a fixed window
that starts with the client's first request). Keys are stored only as HMAC-SHA256 under the secret key, so the
table holds no raw addresses. A limit of 0 switches the bucket off (benchmarks, trusted deployments).

Counting is one upsert per request (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), in a transaction of its
own that commits before the route runs: a request that then fails (a 422, a 404) still counts, and
concurrent requests are all counted. Rows whose window is over are deleted on the way, now and then.

The same table remembers a value per key for a while (``remember`` / ``recall``, or ``claim``: keep a value
unless one is kept, in one statement): the citizens' door keeps the tracking code of a report under the digest
of its address and text, to answer a repeat with it.

``RateLimit(...)`` is the FastAPI dependency; ``hit`` / ``remember`` / ``recall`` are the functions under it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from fastapi import Request
from sqlalchemy import (
    Executable,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    delete,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.exceptions import HTTPException

from chengguan.config import Settings
from chengguan.db import Base, BigIntPK, UTCDateTime, transaction
from chengguan.http.deps import get_session_factory, get_settings
from chengguan.identity.throttle import network_of
from chengguan.shared.clock import utcnow

CLEANUP_SHARE = 0.01  # about one request in a hundred deletes the rows whose window is over


class RateCounter(Base):
    """Requests per bucket and client key in the current window; or a value remembered for a key."""

    __tablename__ = "rate_counter"
    __table_args__ = (UniqueConstraint("bucket", "key_digest"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32))
    key_digest: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256 under the secret key
    hits: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ref: Mapped[str | None] = mapped_column(String(64))  # a remembered value (e.g. a tracking code)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    hits: int
    retry_after: int  # whole seconds until the window ends (0 when allowed)


def digest(secret: str, bucket: str, *parts: str) -> str:
    message = "\0".join(("rate-limit", bucket, *parts)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def client_of(request: Request) -> str:
    """The client as it is counted: its address (IPv6 as the /64); what the server sees, see docs/security.md."""
    return network_of(request.client.host if request.client else None)


def _upsert(session: Session, table: Table, **values: object) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).values(**values)
    return sqlite.insert(table).values(**values)


def hit(
    session: Session, *, bucket: str, key: str, limit: int, window: timedelta, now: datetime | None = None
) -> Decision:
    """Count one request of ``key`` in ``bucket``; allowed while the window holds at most ``limit`` of them."""
    now = now or utcnow()
    table = cast(Table, RateCounter.__table__)
    when = literal(now, UTCDateTime())
    over = table.c.expires_at <= now  # the window has passed: this request starts a new one
    stmt = (
        _upsert(session, table, bucket=bucket, key_digest=key, hits=1, window_started_at=now, expires_at=now + window)
        .on_conflict_do_update(
            index_elements=[table.c.bucket, table.c.key_digest],
            set_={
                "hits": case((over, 1), else_=table.c.hits + 1),
                "window_started_at": case((over, when), else_=table.c.window_started_at),
                "expires_at": case((over, literal(now + window, UTCDateTime())), else_=table.c.expires_at),
            },
        )
        .returning(table.c.hits, table.c.expires_at)
    )
    hits, expires_at = session.execute(stmt).one()
    if random.random() < CLEANUP_SHARE:
        session.execute(
            delete(RateCounter).where(RateCounter.expires_at < now).execution_options(synchronize_session=False)
        )
    session.flush()
    if hits <= limit:
        return Decision(True, hits, 0)
    return Decision(False, hits, max(1, math.ceil((expires_at - now).total_seconds())))


def remember(session: Session, *, bucket: str, key: str, ref: str, ttl: timedelta, now: datetime | None = None) -> None:
    """Keep ``ref`` under ``key`` for ``ttl`` (replacing what was kept)."""
    now = now or utcnow()
    table = cast(Table, RateCounter.__table__)
    values = {"hits": 0, "window_started_at": now, "expires_at": now + ttl, "ref": ref}
    stmt = _upsert(session, table, bucket=bucket, key_digest=key, **values).on_conflict_do_update(
        index_elements=[table.c.bucket, table.c.key_digest], set_=values
    )
    session.execute(stmt)


def claim(session: Session, *, bucket: str, key: str, ref: str, ttl: timedelta, now: datetime | None = None) -> str:
    """Keep ``ref`` under ``key`` for ``ttl`` unless a value is kept there still; return the value kept (``ref``
    when it was free). One statement: the citizens' door checks for a flood and claims the key at once."""
    now = now or utcnow()
    values = {"bucket": bucket, "key_digest": key, "now": now, "expires_at": now + ttl, "ref": ref}
    kept: str = session.execute(_claim_statement(session.get_bind().dialect.name), values).scalar_one()
    return kept


@functools.cache
def _claim_statement(dialect: str) -> Executable:
    """The claim's upsert with bound parameters, built once per dialect (building it costs more than running it)."""
    table = cast(Table, RateCounter.__table__)
    now = bindparam("now", type_=UTCDateTime())
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        bucket=bindparam("bucket"),
        key_digest=bindparam("key_digest"),
        hits=0,
        window_started_at=now,
        expires_at=bindparam("expires_at", type_=UTCDateTime()),
        ref=bindparam("ref"),
    )
    live = and_(table.c.expires_at > now, table.c.ref.is_not(None))
    return insert.on_conflict_do_update(
        index_elements=[table.c.bucket, table.c.key_digest],
        set_={
            name: case((live, table.c[name]), else_=insert.excluded[name])
            for name in ("hits", "window_started_at", "expires_at", "ref")
        },
    ).returning(table.c.ref)


def recall(session: Session, *, bucket: str, key: str, now: datetime | None = None) -> str | None:
    """What is kept under ``key``, while it is kept."""
    now = now or utcnow()
    return session.scalar(
        select(RateCounter.ref).where(
            RateCounter.bucket == bucket,
            RateCounter.key_digest == key,
            RateCounter.expires_at > now,
            RateCounter.ref.is_not(None),
        )
    )


def _wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


class RateLimit:
    """A FastAPI dependency: ``dependencies=[Depends(RateLimit("public-write", limit=..., window=...))]``.

    ``limit`` and ``window`` read the app's settings on each request, so tests and deployments tune them
    without code. ``what`` names the action in the refusal ("提交", "查询").
    """

    def __init__(
        self,
        bucket: str,
        *,
        limit: Callable[[Settings], int],
        window: Callable[[Settings], timedelta],
        what: str = "请求",
    ) -> None:
        self.bucket = bucket
        self.limit = limit
        self.window = window
        self.what = what

    def __call__(self, request: Request) -> None:
        settings = get_settings(request)
        limit = self.limit(settings)
        if limit <= 0:
            return
        key = digest(settings.secret_key, self.bucket, client_of(request))
        with transaction(get_session_factory(request)) as counting:
            decision = hit(counting, bucket=self.bucket, key=key, limit=limit, window=self.window(settings))
        if not decision.allowed:
            raise HTTPException(
                status_code=429,
                detail=f"{self.what}过于频繁（同一网络每 {_wait(int(self.window(settings).total_seconds()))}"
                f"最多 {limit} 次），请 {_wait(decision.retry_after)}后再试",
                headers={"Retry-After": str(decision.retry_after)},
            )
