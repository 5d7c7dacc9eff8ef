"""The notify port: what an adapter is given, what it would send, and what came of it (no I/O here).

An adapter turns a ``Message`` into the exact ``WireRequest`` its provider expects (``prepare``), sends it
(``send``) and reads the provider's answer into an ``Outcome``. The local outbox calls ``prepare`` and records
the request instead of sending it, so what a developer reads there is what the live adapter would send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit


class Channel(StrEnum):
    APP = "app"  # the in-app inbox (a row is the delivery)
    SMS = "sms"  # reporters without an account, by phone
    STAFF_IM = "im"  # the bureau's DingTalk / WeCom group robot, mentioning the staff member
    EMAIL = "email"


class Verdict(StrEnum):
    SENT = "sent"  # the provider accepted it (its message id, where it gives one, is recorded)
    RETRY = "retry"  # not accepted yet, worth trying again later (network, 5xx, throttling)
    FAILED = "failed"  # refused for good (bad number, unapproved template, wrong credentials)


@dataclass(frozen=True)
class Message:
    """One notification to one address over one channel, rendered from a template."""

    notification_id: int
    channel: Channel
    template: str  # key in notify.templates, e.g. "case.accepted"
    params: Mapping[str, str]  # the template's variables, in the template's order
    subject: str
    body: str
    phone: str | None = None
    email: str | None = None
    mention_phone: str | None = None  # staff IM: whom to @


@dataclass(frozen=True)
class WireRequest:
    """The request exactly as it goes on the wire: HTTP (method, URL, headers, body) or SMTP (method "SMTP",
    URL ``smtp://host:port``, the envelope as headers ``X-Envelope-*`` and the RFC 5322 message as body)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    provider_message_id: str | None = None
    error: str | None = None  # the provider's code and message, never a secret


class NotConfigured(Exception):
    """The adapter cannot build this message (no approved template for the event, no address)."""


class Adapter(Protocol):
    name: str  # aliyun | tencent | dingtalk | wecom | smtp
    secret_query_keys: frozenset[str]  # query parameters that are credentials (masked when recorded)

    def prepare(self, message: Message) -> WireRequest: ...

    def send(self, request: WireRequest) -> Outcome: ...


MASK = "***"


def redact(request: WireRequest, secret_query_keys: frozenset[str]) -> WireRequest:
    """The request with credential query parameters (a WeCom ``key``, a DingTalk ``access_token``) masked,
    as it may be recorded and shown; every other byte exactly as sent."""
    parts = urlsplit(request.url)
    if not parts.query or not secret_query_keys:
        return request
    names = "|".join(re.escape(k) for k in sorted(secret_query_keys))
    query = re.sub(rf"(^|&)({names})=[^&]*", rf"\g<1>\g<2>={MASK}", parts.query)
    return WireRequest(request.method, urlunsplit(parts._replace(query=query)), request.headers, request.body)


def safe_url(url: str) -> str:
    """A URL fit for a log line or an error message: its query (where webhook credentials live) dropped."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


def mask_phone(phone: str | None) -> str | None:
    """``138****5678``: enough for staff to tell numbers apart, not to call one."""
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def mask_email(email: str | None) -> str | None:
    """``w***@example.com``."""
    if not email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86)?1\d{10}(?!\d)")


def scrub(text: str) -> str:
    """A provider's error text with the addresses in it masked (an SMTP server repeats the refused mailbox,
    some SMS errors the number): what is stored, shown to staff and logged."""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group()) or "", text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group()) or "", text)
