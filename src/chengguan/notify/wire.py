"""Sending a prepared HTTP request and reading a JSON answer, for the HTTP adapters.

Network trouble is worth another try (``RETRY``); so is a 5xx or a 429. Error texts name the exception and the
host, never the query string, where webhook credentials live.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from chengguan.notify.ports import Outcome, Verdict, WireRequest, safe_url

MAX_ANSWER_BYTES = 64 * 1024  # a provider's answer is a few hundred bytes; more is not one


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict[str, Any] | None  # the JSON object, or None when the body was not one


class Unreachable(Exception):
    """The request did not get an answer (connection refused, timeout, TLS failure)."""


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _shared_client() -> httpx.Client:
    """One client per process (thread-safe): connections to a provider are kept alive between deliveries, and
    the TLS context is built once rather than per message."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(follow_redirects=False, trust_env=False)
        return _client


def exchange(request: WireRequest, *, timeout: float) -> Answer:
    try:
        with _shared_client().stream(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.body.encode(),
            timeout=timeout,
        ) as response:
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) >= MAX_ANSWER_BYTES:
                    break
            raw = raw[:MAX_ANSWER_BYTES]
    except httpx.HTTPError as exc:
        raise Unreachable(f"{type(exc).__name__}（{safe_url(request.url)}）") from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return Answer(response.status_code, data if isinstance(data, dict) else None)


def unreachable(exc: Unreachable) -> Outcome:
    return Outcome(Verdict.RETRY, error=f"网络错误：{exc}")


def not_json(answer: Answer) -> Outcome:
    verdict = Verdict.RETRY if answer.status >= 500 or answer.status == 429 else Verdict.FAILED
    return Outcome(verdict, error=f"HTTP {answer.status}，应答不是 JSON 对象")


def error_text(code: object, message: object) -> str:
    return f"{code}: {message}"[:480]
