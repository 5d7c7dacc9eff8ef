"""Systems that speak for a channel: the 12345 platform, a social-media monitor, a sensor gateway, the video
platform. Functions flush, never commit.

A client authenticates with an API key: 32 random bytes from ``secrets`` (URL-safe text, prefixed ``cgk_`` so
a leaked key is recognisable in logs and scanners), shown once when it is made and never again; only its
SHA-256 is stored. A key is high-entropy, so a fast hash is enough (no password hashing needed), and the
lookup is one indexed equality on the hash. The client's channel and bureau come from its record, never from
what a request says.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.cases.channels import Channel
from chengguan.identity.models import Bureau
from chengguan.intake.models import IntakeClient
from chengguan.shared.errors import Conflict, NotFound, ValidationFailed
from chengguan.shared.text import clean_text

KEY_PREFIX = "cgk_"
KEY_BYTES = 32
MAX_KEY_LENGTH = 128
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
# Channels that systems push through (citizens, grid workers and officers log in as people instead).
SYSTEM_CHANNELS = frozenset(
    {Channel.HOTLINE_12345, Channel.SOCIAL_MEDIA, Channel.IOT_SENSOR, Channel.CAMERA, Channel.OPEN311}
)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedClient:
    client: IntakeClient
    key: str  # shown once; only its hash is stored


def create_client(
    session: Session, *, code: str, name: str, channel: Channel, bureau: Bureau, key: str | None = None
) -> IssuedClient:
    """Register a system client and issue its key (``key`` is for the demo only: it derives its own)."""
    code = code.strip()
    if not CODE.match(code):
        raise ValidationFailed("客户端编码只能含小写字母、数字、- 和 _，2–32 个字符，以字母或数字开头")
    name = clean_text(name.strip())
    if not name or len(name) > 100:
        raise ValidationFailed("客户端名称不能为空，最多 100 个字符")
    if channel not in SYSTEM_CHANNELS:
        allowed = "、".join(c.value for c in sorted(SYSTEM_CHANNELS))
        raise ValidationFailed(f"系统客户端的渠道只能是：{allowed}")
    if session.scalar(select(IntakeClient.id).where(IntakeClient.code == code)) is not None:
        raise Conflict(f"客户端编码已存在：{code}")
    key = key or new_key()
    client = IntakeClient(
        code=code, name=name, channel=channel.value, bureau_id=bureau.id, key_hash=key_hash(key), is_active=True
    )
    session.add(client)
    session.flush()
    return IssuedClient(client=client, key=key)


def authenticate(session: Session, *, key: str) -> IntakeClient | None:
    """The active client holding ``key``, or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    client = session.scalar(select(IntakeClient).where(IntakeClient.key_hash == key_hash(key)))
    if client is None or not client.is_active:
        return None
    return client


def get_client(session: Session, *, code: str) -> IntakeClient:
    client = session.scalar(select(IntakeClient).where(IntakeClient.code == code.strip()))
    if client is None:
        raise NotFound(f"客户端不存在：{code}")
    return client


def revoke_client(session: Session, *, code: str) -> IntakeClient:
    """Revoke a client's key at once: its next request is 401. Its reports and devices stay as they are."""
    client = get_client(session, code=code)
    client.is_active = False
    session.flush()
    return client


def reissue_key(session: Session, *, code: str) -> IssuedClient:
    """A new key for a client (the old one stops working at once); the client is active again."""
    client = get_client(session, code=code)
    key = new_key()
    client.key_hash, client.is_active = key_hash(key), True
    session.flush()
    return IssuedClient(client=client, key=key)


def list_clients(session: Session) -> list[IntakeClient]:
    return list(session.scalars(select(IntakeClient).order_by(IntakeClient.code)))
