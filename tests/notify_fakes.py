"""Local stand-ins for the providers behind the notify adapters, for the contract tests.

Each fake is a real server on 127.0.0.1 (``http.server`` / a line-based SMTP server in a thread). It checks a
request the way the provider documents it — the signature recomputed here, independently of
``chengguan.notify.signing`` — and answers in the provider's shapes: success with a message id, a refused
signature, throttling or a server error, taken from a script the test gives it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes


Answer = tuple[int, Any]  # HTTP status and a JSON value (or raw bytes)


@dataclass
class Fake:
    url: str
    received: list[Received] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)  # what to answer next, one entry per accepted request

    def next(self, default: Any) -> Any:
        return self.script.pop(0) if self.script else default


@contextmanager
def http_provider(respond: Callable[[Fake, Received], Answer]) -> Iterator[Fake]:
    fake = Fake(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            req = Received(
                self.command,
                parts.path,
                {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            fake.received.append(req)
            status, answer = respond(fake, req)
            data = answer if isinstance(answer, bytes) else json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# ---- Aliyun dysmsapi SendSms (RPC, HMAC-SHA1) ----------------------------------------------------------------


def _aliyun_encode(value: str) -> str:
    return quote(value, safe="~").replace("+", "%20")  # RFC 3986: A-Z a-z 0-9 - _ . ~ stay


def aliyun_sms(access_key_id: str, secret: str) -> Callable[[Fake, Received], Answer]:
    """Script entries: ``(status, Code)``; the default is success."""
    nonces: set[str] = set()

    def respond(fake: Fake, req: Received) -> Answer:
        params = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
        request_id = f"req-{len(fake.received)}"
        signature = params.pop("Signature", "")
        canonical = "&".join(f"{_aliyun_encode(k)}={_aliyun_encode(v)}" for k, v in sorted(params.items()))
        string_to_sign = f"{req.method}&{_aliyun_encode('/')}&{_aliyun_encode(canonical)}"
        expected = base64.b64encode(
            hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if params.get("AccessKeyId") != access_key_id:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        if signature != expected:
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched with our calculation.",
                "RequestId": request_id,
            }
        if params["SignatureNonce"] in nonces:  # every attempt must sign afresh
            return 400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
        nonces.add(params["SignatureNonce"])
        sent_at = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs(time.time() - sent_at.timestamp()) > 15 * 60:
            return 400, {
                "Code": "InvalidTimeStamp.Expired",
                "Message": "Specified time stamp or date value is expired.",
            }
        if params.get("Action") != "SendSms" or not params.get("TemplateCode") or not params.get("PhoneNumbers"):
            return 400, {"Code": "MissingParameter", "Message": "missing"}
        json.loads(params["TemplateParam"])
        status, code = fake.next((200, "OK"))
        if code == "OK":
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"90061974693649844{len(fake.received)}^0",
                         "RequestId": request_id}  # fmt: skip
        return status, {"Code": code, "Message": f"{code} (fake)", "RequestId": request_id}

    return respond


# ---- Tencent Cloud SendSms (TC3-HMAC-SHA256) -----------------------------------------------------------------

_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def _h(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tencent_sms(secret_id: str, secret_key: str) -> Callable[[Fake, Received], Answer]:
    """Script entries: ``("error", Code)`` for a request-level error, ``("status", Code)`` for a per-number one."""

    def respond(fake: Fake, req: Received) -> Answer:
        request_id = f"req-{len(fake.received)}"

        def error(code: str, message: str) -> Answer:
            return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}

        m = _AUTH_RE.match(req.headers.get("authorization", ""))
        if m is None:
            return error("AuthFailure.InvalidAuthorization", "Authorization 格式不正确")
        if m["id"] != secret_id:
            return error("AuthFailure.SecretIdNotFound", "SecretId 不存在")
        timestamp = int(req.headers["x-tc-timestamp"])
        if abs(time.time() - timestamp) > 300:
            return error("AuthFailure.SignatureExpire", "签名过期")
        if datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d") != m["date"]:
            return error("AuthFailure.SignatureFailure", "凭证日期与时间戳不符")
        signed = m["signed"].split(";")
        if "content-type" not in signed or "host" not in signed:
            return error("AuthFailure.SignatureFailure", "必须签名 content-type 和 host")
        canonical_headers = "".join(f"{k}:{req.headers[k].strip().lower()}\n" for k in signed)
        canonical_request = "\n".join(
            ["POST", "/", "", canonical_headers, m["signed"], hashlib.sha256(req.body).hexdigest()]
        )
        scope = f"{m['date']}/{m['service']}/tc3_request"
        string_to_sign = "\n".join(
            ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = _h(_h(_h(f"TC3{secret_key}".encode(), m["date"]), m["service"]), "tc3_request")
        if hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest() != m["sig"]:
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if req.headers.get("x-tc-action") != "SendSms" or req.headers.get("x-tc-version") != "2021-01-11":
            return error("InvalidAction", "接口不存在")
        payload = json.loads(req.body)
        kind, code = fake.next(("status", "Ok"))
        if kind == "error":
            return error(code, f"{code} (fake)")
        return 200, {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": f"5000:10457106691570536578494996{len(fake.received)}",
                        "PhoneNumber": payload["PhoneNumberSet"][0],
                        "Fee": 1,
                        "SessionContext": payload.get("SessionContext", ""),
                        "Code": code,
                        "Message": "send success" if code == "Ok" else f"{code} (fake)",
                        "IsoCode": "CN",
                    }
                ],
                "RequestId": request_id,
            }
        }

    return respond


# ---- DingTalk and WeCom robots -------------------------------------------------------------------------------


def dingtalk_robot(access_token: str, secret: str) -> Callable[[Fake, Received], Answer]:
    """Script entries: ``(errcode, errmsg)``; the default is ``(0, "ok")``."""

    def respond(fake: Fake, req: Received) -> Answer:
        if req.query.get("access_token") != access_token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        timestamp = req.query.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
            return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        if req.query.get("sign") != base64.b64encode(digest).decode():  # the query arrives URL-decoded
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        json.loads(req.body)
        code, msg = fake.next((0, "ok"))
        return 200, {"errcode": code, "errmsg": msg}

    return respond


def wecom_robot(key: str) -> Callable[[Fake, Received], Answer]:
    def respond(fake: Fake, req: Received) -> Answer:
        if req.query.get("key") != key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        json.loads(req.body)
        code, msg = fake.next((0, "ok"))
        return 200, {"errcode": code, "errmsg": msg}

    return respond


# ---- SMTP ----------------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    host: str
    port: int
    username: str
    password: str
    delivered: list[tuple[str, list[str], str]] = field(default_factory=list)  # envelope from, to, message
    rcpt_replies: list[str] = field(default_factory=list)  # scripted replies to RCPT TO (else 250)


@contextmanager
def smtp_server(username: str = "", password: str = "") -> Iterator[Mailbox]:
    """Enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""
    box = Mailbox("127.0.0.1", 0, username, password)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            def say(line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            say("220 fake.local ESMTP")
            sender, rcpts, data, in_data, authed = "", [], [], False, not username
            while raw := self.rfile.readline():
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if in_data:
                    if line == ".":
                        box.delivered.append((sender, rcpts, "\r\n".join(data)))
                        say("250 2.0.0 Ok: queued")
                        sender, rcpts, data, in_data = "", [], [], False
                    else:
                        data.append(line[1:] if line.startswith("..") else line)
                    continue
                verb = line.split(" ", 1)[0].upper()
                arg = line[len(verb) :].strip()
                if verb == "EHLO":
                    for reply in ("250-fake.local", "250-AUTH PLAIN", "250-8BITMIME", "250 SMTPUTF8"):
                        say(reply)
                elif verb == "HELO":
                    say("250 fake.local")
                elif verb == "AUTH":
                    mech, _, initial = arg.partition(" ")
                    _, user, pw = base64.b64decode(initial).decode().split("\0")
                    authed = mech.upper() == "PLAIN" and (user, pw) == (username, password)
                    say("235 2.7.0 Authentication successful" if authed else "535 5.7.8 Authentication failed")
                elif verb == "MAIL":
                    if not authed:
                        say("530 5.7.0 Authentication required")
                        continue
                    sender = arg.split(":", 1)[1].split()[0].strip("<>")
                    say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    reply = box.rcpt_replies.pop(0) if box.rcpt_replies else "250 2.1.5 Ok"
                    if reply.startswith("250"):
                        rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                    say(reply)
                elif verb == "DATA":
                    if not rcpts:
                        say("554 5.5.1 Error: no valid recipients")
                        continue
                    in_data = True
                    say("354 End data with <CR><LF>.<CR><LF>")
                elif verb in ("RSET", "NOOP"):
                    say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("502 5.5.2 Error: command not recognized")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.port = server.server_address[1]
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
