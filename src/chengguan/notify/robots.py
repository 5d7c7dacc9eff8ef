"""Staff group robots: DingTalk custom robots (浙政钉 uses the same shape) and WeCom (企业微信) group robots.

Each bureau may have one, configured with its webhook URL (``CHENGGUAN_NOTIFY_STAFF_IM``). A message goes to the
group and mentions the staff member by phone. DingTalk robots with 加签 get ``timestamp`` and ``sign`` in the
URL; a WeCom robot is authorised by the ``key`` in its URL. Both answer ``{"errcode": 0, "errmsg": "ok"}``;
throttling (DingTalk 130101, WeCom 45009) and system busy (-1) are retried, everything else fails for good
(a wrong token or key, a failed signature, a keyword the robot requires).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from chengguan.notify import signing
from chengguan.notify.ports import Message, Outcome, Verdict, WireRequest
from chengguan.notify.wire import Unreachable, error_text, exchange, not_json, unreachable
from chengguan.shared.clock import utcnow

JSON_UTF8 = "application/json; charset=utf-8"


def _errcode_outcome(data: dict[str, object] | None, status: int, retry_codes: frozenset[int]) -> Outcome | None:
    if data is None or "errcode" not in data:
        return None
    code = data["errcode"]
    if code == 0 and status == 200:
        return Outcome(Verdict.SENT)  # robots give no message id; the notification's state is the guard
    retry = status >= 500 or code in retry_codes
    return Outcome(Verdict.RETRY if retry else Verdict.FAILED, error=error_text(code, data.get("errmsg")))


@dataclass
class DingTalkRobot:
    webhook: str = field(repr=False)  # https://oapi.dingtalk.com/robot/send?access_token=…
    secret: str = field(default="", repr=False)  # SEC…, when the robot has 加签
    timeout: float = 5.0
    now: Callable[[], datetime] = utcnow
    name: str = "dingtalk"
    secret_query_keys: frozenset[str] = frozenset({"access_token"})

    def prepare(self, message: Message) -> WireRequest:
        url = self.webhook
        if self.secret:
            ts = int(self.now().timestamp() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={signing.dingtalk_sign(ts, self.secret)}"
        text = f"#### {message.subject}\n\n{message.body}"
        mentions = [message.mention_phone] if message.mention_phone else []
        if mentions:
            text += "\n\n" + " ".join(f"@{p}" for p in mentions)  # DingTalk mentions only who the text names
        body = {
            "msgtype": "markdown",
            "markdown": {"title": message.subject, "text": text},
            "at": {"atMobiles": mentions, "isAtAll": False},
        }
        return WireRequest("POST", url, {"Content-Type": JSON_UTF8}, json.dumps(body, ensure_ascii=False))

    def send(self, request: WireRequest) -> Outcome:
        try:
            answer = exchange(request, timeout=self.timeout)
        except Unreachable as exc:
            return unreachable(exc)
        return _errcode_outcome(answer.data, answer.status, frozenset({-1, 130101})) or not_json(answer)


@dataclass
class WeComRobot:
    webhook: str = field(repr=False)  # https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…
    timeout: float = 5.0
    name: str = "wecom"
    secret_query_keys: frozenset[str] = frozenset({"key"})

    def prepare(self, message: Message) -> WireRequest:
        if message.mention_phone:  # a markdown message cannot mention by phone; a text message can
            body: dict[str, object] = {
                "msgtype": "text",
                "text": {
                    "content": f"{message.subject}\n{message.body}",
                    "mentioned_mobile_list": [message.mention_phone],
                },
            }
        else:
            body = {"msgtype": "markdown", "markdown": {"content": f"**{message.subject}**\n{message.body}"}}
        return WireRequest("POST", self.webhook, {"Content-Type": JSON_UTF8}, json.dumps(body, ensure_ascii=False))

    def send(self, request: WireRequest) -> Outcome:
        try:
            answer = exchange(request, timeout=self.timeout)
        except Unreachable as exc:
            return unreachable(exc)
        return _errcode_outcome(answer.data, answer.status, frozenset({-1, 45009})) or not_json(answer)
