"""``Idempotency-Key`` on every POST and PATCH (the IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A client that may retry (a phone on a bad network, the 12345 platform, a sensor gateway) sends a key with the
request. The first request with a key runs and its answer is stored; a retry with the same key and the same
body gets the stored answer again (``Idempotent-Replayed: true``) and changes nothing; the same key with a
different body is refused (422), and a retry while the first is still running is told to wait (409). Keys
belong to their caller (the login token, the API key, or the client address when anonymous): one caller's key
never answers for another. Server errors (5xx) are not stored, so a retry runs again. Records expire after
``TTL``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chengguan.http.models import IdempotencyRecord
from chengguan.shared.clock import utcnow
from chengguan.shared.text import find_forbidden

HEADER = b"idempotency-key"
METHODS = frozenset({"POST", "PATCH"})
TTL = timedelta(hours=24)
MAX_KEY = 255
MAX_STORED_BODY = 1024 * 1024
KEPT_HEADERS = frozenset({b"content-type", b"location", b"retry-after"})


def _problem(status: int, code: str, title: str, detail: str, path: str) -> tuple[int, bytes]:
    body = {"type": f"https://chengguan.dev/problems/{code}", "title": title, "status": status, "detail": detail}
    body["instance"] = path
    return status, json.dumps(body, ensure_ascii=False).encode()


class IdempotencyMiddleware:
    """ASGI middleware; ``factory`` opens sessions on the app's database, ``secret`` keys caller scopes."""

    def __init__(self, app: ASGIApp, *, factory: sessionmaker[Session], secret: str) -> None:
        self.app = app
        self.factory = factory
        self.secret = secret.encode()

    def _scope_of(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        caller = headers.get(b"authorization") or headers.get(b"x-api-key")
        if caller is None:
            cookie = headers.get(b"cookie", b"")
            caller = b"cookie:" + cookie if b"cg_session=" in cookie else None
        if caller is None:
            client = scope.get("client") or ("", 0)
            caller = b"addr:" + str(client[0]).encode()
        return hmac.new(self.secret, caller, hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY or find_forbidden(key) is not None:
            await _send(
                send, *_problem(400, "bad-idempotency-key", "请求无效", "Idempotency-Key 应为 1–255 个可见字符", path)
            )
            return
        body = await _read_body(receive)
        fingerprint = hashlib.sha256(scope["method"].encode() + b" " + path.encode() + b"\n" + body).hexdigest()
        owner = self._scope_of(scope, headers)
        stored = self._claim(owner, key, fingerprint, scope["method"], path)
        if stored is not None:
            status, payload, extra = stored
            await _send(send, status, payload, extra)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def replay_receive() -> Message:
            nonlocal body
            chunk, body = body, b""
            return {"type": "http.request", "body": chunk, "more_body": False}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() in KEPT_HEADERS]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            self._finish(owner, key, captured)

    def _claim(
        self, owner: str, key: str, fingerprint: str, method: str, path: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """Record the key as in progress, or answer what a replay gets. None: go on and run the request."""
        now = utcnow()
        with self.factory() as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - TTL))
            row = session.scalar(
                select(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
            )
            if row is None:
                session.add(
                    IdempotencyRecord(
                        owner=owner, key=key, fingerprint=fingerprint, method=method, path=path, created_at=now
                    )
                )
                try:
                    session.commit()
                    return None
                except IntegrityError:  # the same key arrived twice at once: the other one runs
                    session.rollback()
                    return (
                        *_problem(
                            409,
                            "idempotency-in-progress",
                            "数据冲突",
                            "相同 Idempotency-Key 的请求正在处理，请稍后重试",
                            path,
                        ),
                        [(b"retry-after", b"1")],
                    )
            else:
                session.commit()
            if row.fingerprint != fingerprint:
                return (
                    *_problem(
                        422,
                        "idempotency-key-reused",
                        "输入数据不合法",
                        "该 Idempotency-Key 已用于另一个不同的请求",
                        path,
                    ),
                    [],
                )
            if row.status_code is None:
                return (
                    *_problem(
                        409,
                        "idempotency-in-progress",
                        "数据冲突",
                        "相同 Idempotency-Key 的请求正在处理，请稍后重试",
                        path,
                    ),
                    [(b"retry-after", b"1")],
                )
            stored_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (row.response_headers or [])]
            return row.status_code, row.response_body or b"", [*stored_headers, (b"idempotent-replayed", b"true")]

    def _finish(self, owner: str, key: str, captured: dict[str, Any]) -> None:
        """Store the answer (2xx–4xx); forget the key after a server error so that a retry runs again."""
        status = int(captured["status"])
        body = bytes(captured["body"])
        with self.factory() as session:
            row = session.scalar(
                select(IdempotencyRecord).where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
            )
            if row is None:
                return
            if status >= 500 or len(body) > MAX_STORED_BODY:
                session.delete(row)
            else:
                row.status_code = status
                row.response_headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in captured["headers"]]
                row.response_body = body
                row.completed_at = utcnow()
            session.commit()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    extra = list(headers or [])
    if not any(k == b"content-type" for k, _ in extra):
        extra.append((b"content-type", b"application/problem+json"))
    extra.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": extra})
    await send({"type": "http.response.body", "body": body})
