"""E-mail over SMTP (smtplib): plain text in UTF-8, with a Message-ID of our own that is kept as the
provider's message id. A 4xx reply or a broken connection is retried; a 5xx (unknown mailbox, refused
sender, failed login) fails for good.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Literal
from urllib.parse import urlsplit

from chengguan.notify.ports import Message, NotConfigured, Outcome, Verdict, WireRequest
from chengguan.shared.clock import utcnow

ENVELOPE_FROM = "X-Envelope-From"
ENVELOPE_TO = "X-Envelope-To"
MESSAGE_ID = "Message-ID"


@dataclass
class SmtpMail:
    host: str
    port: int = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = "noreply@chengguan.local"
    timeout: float = 10.0
    now: Callable[[], datetime] = utcnow
    nonce: Callable[[], str] = lambda: uuid.uuid4().hex
    name: str = "smtp"
    secret_query_keys: frozenset[str] = frozenset()

    def prepare(self, message: Message) -> WireRequest:
        if not message.email:
            raise NotConfigured("没有电子邮箱地址")
        mail = EmailMessage(policy=SMTP)
        domain = self.sender.rpartition("@")[2] or "localhost"
        msg_id = f"<notify-{message.notification_id}.{self.nonce()}@{domain}>"
        mail["From"] = self.sender
        mail["To"] = message.email
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(self.now())
        mail[MESSAGE_ID] = msg_id
        mail.set_content(message.body, charset="utf-8")
        headers = {ENVELOPE_FROM: self.sender, ENVELOPE_TO: message.email, MESSAGE_ID: msg_id}
        return WireRequest("SMTP", f"smtp://{self.host}:{self.port}", headers, mail.as_string())

    def send(self, request: WireRequest) -> Outcome:
        target = urlsplit(request.url)
        host, port = target.hostname or self.host, target.port or self.port
        try:
            with self._connect(host, port) as smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.sendmail(
                    request.headers[ENVELOPE_FROM], [request.headers[ENVELOPE_TO]], request.body.encode()
                )
        except smtplib.SMTPRecipientsRefused as exc:
            return _reply_outcome(*next(iter(exc.recipients.values())))
        except smtplib.SMTPResponseException as exc:
            return _reply_outcome(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:  # connection refused or dropped, timeout, TLS
            return Outcome(Verdict.RETRY, error=f"网络错误：{type(exc).__name__}（smtp://{host}:{port}）")
        if refused:
            return _reply_outcome(*next(iter(refused.values())))
        return Outcome(Verdict.SENT, provider_message_id=request.headers[MESSAGE_ID])

    def _connect(self, host: str, port: int) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=self.timeout, context=ssl.create_default_context())
        return smtplib.SMTP(host, port, timeout=self.timeout)


def _reply_outcome(code: int, text: bytes | str) -> Outcome:
    reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    verdict = Verdict.RETRY if 400 <= code < 500 else Verdict.FAILED
    return Outcome(verdict, error=f"SMTP {code}: {reply}"[:480])
