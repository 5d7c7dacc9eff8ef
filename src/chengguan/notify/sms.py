"""Cloud SMS adapters: Aliyun (dysmsapi ``SendSms``, RPC signature) and Tencent Cloud (``SendSms`` 2021-01-11,
TC3-HMAC-SHA256). Both send an approved template with variables; the provider's message id is kept.

Aliyun answers ``{"Code": "OK", "BizId": …}`` or a ``Code`` such as ``isv.MOBILE_NUMBER_ILLEGAL``; Tencent
answers ``{"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": …}]}}`` or ``{"Response": {"Error":
{"Code": "AuthFailure.SignatureFailure", …}}}``. Throttling and the providers' internal errors are retried;
everything else (a wrong number, an unapproved template, wrong credentials) fails for good.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from chengguan.notify import signing, templates
from chengguan.notify.ports import Message, NotConfigured, Outcome, Verdict, WireRequest
from chengguan.notify.wire import Unreachable, error_text, exchange, not_json, unreachable
from chengguan.shared.clock import utcnow


def _new_nonce() -> str:
    return uuid.uuid4().hex


def _template_code(codes: Mapping[str, str], message: Message) -> str:
    code = codes.get(message.template)
    if not code:
        raise NotConfigured(f"未配置短信模板：{message.template}（CHENGGUAN_NOTIFY_SMS_TEMPLATES）")
    return code


def _phone(message: Message) -> str:
    if not message.phone:
        raise NotConfigured("没有手机号")
    return message.phone


# ---- Aliyun ------------------------------------------------------------------------------------------------

ALIYUN_RETRY = ("isv.BUSINESS_LIMIT_CONTROL", "Throttling", "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR")


@dataclass
class AliyunSms:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    sign_name: str
    template_codes: Mapping[str, str]
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    region: str = "cn-hangzhou"
    timeout: float = 5.0
    now: Callable[[], datetime] = utcnow
    nonce: Callable[[], str] = _new_nonce
    name: str = "aliyun"
    secret_query_keys: frozenset[str] = frozenset()

    def params(self, message: Message) -> dict[str, str]:
        return {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": str(message.notification_id),  # comes back in delivery receipts: one SMS, one notification
            "PhoneNumbers": _phone(message),
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": _template_code(self.template_codes, message),
            "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": signing.aliyun_timestamp(self.now()),
            "Version": "2017-05-25",
        }

    def prepare(self, message: Message) -> WireRequest:
        params = self.params(message)
        params["Signature"] = signing.aliyun_signature("POST", params, self.access_key_secret)
        body = "&".join(
            f"{signing.aliyun_percent_encode(k)}={signing.aliyun_percent_encode(v)}" for k, v in sorted(params.items())
        )
        return WireRequest(
            "POST", self.endpoint, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body
        )

    def send(self, request: WireRequest) -> Outcome:
        try:
            answer = exchange(request, timeout=self.timeout)
        except Unreachable as exc:
            return unreachable(exc)
        data = answer.data
        if data is None or "Code" not in data:
            return not_json(answer)
        code = str(data["Code"])
        if code == "OK" and answer.status == 200:
            return Outcome(Verdict.SENT, provider_message_id=str(data.get("BizId") or data.get("RequestId") or ""))
        retry = answer.status >= 500 or code.startswith(ALIYUN_RETRY)
        return Outcome(Verdict.RETRY if retry else Verdict.FAILED, error=error_text(code, data.get("Message")))


# ---- Tencent Cloud -------------------------------------------------------------------------------------------

TENCENT_RETRY = ("RequestLimitExceeded", "InternalError", "FailedOperation.ServiceUnavailable")


@dataclass
class TencentSms:
    secret_id: str
    secret_key: str = field(repr=False)
    sdk_app_id: str
    sign_name: str
    template_codes: Mapping[str, str]
    endpoint: str = "https://sms.tencentcloudapi.com/"
    region: str = "ap-guangzhou"
    timeout: float = 5.0
    now: Callable[[], datetime] = utcnow
    name: str = "tencent"
    secret_query_keys: frozenset[str] = frozenset()
    service = "sms"
    version = "2021-01-11"

    def payload(self, message: Message) -> dict[str, object]:
        phone = _phone(message)
        return {
            "PhoneNumberSet": [phone if phone.startswith("+") else f"+86{phone}"],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": _template_code(self.template_codes, message),
            "TemplateParamSet": templates.get(message.template).ordered(message.params),
            "SessionContext": str(message.notification_id),  # returned in receipts
        }

    def prepare(self, message: Message) -> WireRequest:
        body = json.dumps(self.payload(message), ensure_ascii=False, separators=(",", ":"))
        timestamp = int(self.now().timestamp())
        host = urlsplit(self.endpoint).netloc
        signed = {"Content-Type": "application/json; charset=utf-8", "Host": host, "X-TC-Action": "SendSms"}
        sig = signing.tc3_sign(
            secret_id=self.secret_id,
            secret_key=self.secret_key,
            service=self.service,
            method="POST",
            headers=signed,
            payload=body.encode(),
            timestamp=timestamp,
        )
        headers = {
            "Authorization": sig.authorization,
            **signed,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": self.version,
            "X-TC-Region": self.region,
        }
        return WireRequest("POST", self.endpoint, headers, body)

    def send(self, request: WireRequest) -> Outcome:
        try:
            answer = exchange(request, timeout=self.timeout)
        except Unreachable as exc:
            return unreachable(exc)
        response = (answer.data or {}).get("Response")
        if not isinstance(response, dict):
            return not_json(answer)
        error = response.get("Error")
        if isinstance(error, dict):
            return self._verdict(str(error.get("Code")), error.get("Message"), answer.status)
        statuses = response.get("SendStatusSet")
        if not isinstance(statuses, list) or not statuses or not isinstance(statuses[0], dict):
            return Outcome(Verdict.RETRY, error="应答缺少 SendStatusSet")
        first = statuses[0]
        if first.get("Code") == "Ok":
            return Outcome(Verdict.SENT, provider_message_id=str(first.get("SerialNo") or ""))
        return self._verdict(str(first.get("Code")), first.get("Message"), answer.status)

    @staticmethod
    def _verdict(code: str, message: object, status: int) -> Outcome:
        retry = status >= 500 or code.startswith(TENCENT_RETRY)
        return Outcome(Verdict.RETRY if retry else Verdict.FAILED, error=error_text(code, message))
