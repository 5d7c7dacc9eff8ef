"""Provider signatures against the vendors' own documented examples, templates, and the adapters' requests.

Vectors:
- Aliyun, "签名机制 / Signature mechanism" of the RPC APIs (help.aliyun.com, document 28839 and its English
  versions): DescribeRegions with AccessKeyId ``testid``, secret ``testsecret``, nonce
  ``3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf`` at 2016-02-23T12:46:24Z signs to ``OLeaidS1JvxuMvnyHOwuJ+uX5qY=``.
- Tencent Cloud, API 3.0 "Signature v3" (TC3-HMAC-SHA256): CVM DescribeInstances at 1551113065 with SecretKey
  ``Gu5t9xGARNpq86cd98joQYCN3EXAMPLE``: payload hash ``35e9c5b0…``, canonical request hash ``5ffe6a04…``,
  signature ``72e494ea…``; the later edition of the page, which also signs ``x-tc-action``, gives the canonical
  request hash ``7019a55b…``.
- DingTalk publishes its robot signing procedure (sample code) but no fixed example values; the test pins the
  encoding rules it states and a value computed here, labelled as ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote_plus

import pytest

from chengguan.notify import signing, templates
from chengguan.notify.ports import Channel, Message, WireRequest, redact
from chengguan.notify.robots import DingTalkRobot, WeComRobot
from chengguan.notify.sms import AliyunSms, TencentSms

ALIYUN_DOC_PARAMS = {  # deliberately not in sorted order: the signature must sort them itself
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
ALIYUN_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)

TC3_DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
TC3_DOC_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"}


def message(**kw: object) -> Message:
    fields: dict[str, object] = {
        "notification_id": 42,
        "channel": Channel.SMS,
        "template": "case.closed",
        "params": {"no": "XH-2026-000123"},
        "subject": "案件 XH-2026-000123 进展",
        "body": "您反映的问题（XH-2026-000123）已处理完毕并结案，感谢您的参与。",
        "phone": "13800001111",
    }
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


AT = datetime(2026, 11, 30, 2, 3, 4, tzinfo=UTC)


# ---- Aliyun ---------------------------------------------------------------------------------------------------


def test_aliyun_string_to_sign_and_signature_match_the_documented_example() -> None:
    assert signing.aliyun_string_to_sign("GET", ALIYUN_DOC_PARAMS) == ALIYUN_DOC_STRING_TO_SIGN
    assert signing.aliyun_signature("GET", ALIYUN_DOC_PARAMS, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # the Signature parameter itself never takes part
    signed = {**ALIYUN_DOC_PARAMS, "Signature": "anything"}
    assert signing.aliyun_signature("GET", signed, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert signing.aliyun_signature("GET", ALIYUN_DOC_PARAMS, "othersecret") != "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_post_signs_the_same_string_behind_its_own_method() -> None:
    post = signing.aliyun_string_to_sign("POST", ALIYUN_DOC_PARAMS)
    assert post == "POST" + ALIYUN_DOC_STRING_TO_SIGN.removeprefix("GET")
    expected = base64.b64encode(hmac.new(b"testsecret&", post.encode(), hashlib.sha1).digest()).decode()
    assert signing.aliyun_signature("POST", ALIYUN_DOC_PARAMS, "testsecret") == expected


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),  # a space is %20, never +
        ("a*b", "a%2Ab"),
        ("a~b-c_d.e", "a~b-c_d.e"),  # unreserved characters stay
        ("2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"),
        ("/", "%2F"),
        ("城管", "%E5%9F%8E%E7%AE%A1"),  # UTF-8 bytes, upper-case hex
        ('{"no":"XH-1"}', "%7B%22no%22%3A%22XH-1%22%7D"),
    ],
)
def test_aliyun_percent_encoding_follows_the_rules_it_publishes(raw: str, encoded: str) -> None:
    assert signing.aliyun_percent_encode(raw) == encoded


def test_aliyun_send_sms_request_carries_template_and_verifiable_signature() -> None:
    adapter = AliyunSms("LTAI-test", "s3cr3t", "城管执法", {"case.closed": "SMS_2026001"}, now=lambda: AT)
    adapter.nonce = lambda: "nonce-1"
    req = adapter.prepare(message())
    assert (req.method, req.url) == ("POST", "https://dysmsapi.aliyuncs.com/")
    assert req.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    params = dict(parse_qsl(req.body, keep_blank_values=True))
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["TemplateCode"] == "SMS_2026001" and params["SignName"] == "城管执法"
    assert json.loads(params["TemplateParam"]) == {"no": "XH-2026-000123"}
    assert params["PhoneNumbers"] == "13800001111" and params["OutId"] == "42"
    assert params["Timestamp"] == "2026-11-30T02:03:04Z" and params["SignatureNonce"] == "nonce-1"
    signature = params.pop("Signature")
    assert signature == signing.aliyun_signature("POST", params, "s3cr3t")
    assert "s3cr3t" not in req.body and "s3cr3t" not in repr(adapter)  # the secret never leaves


# ---- Tencent Cloud ------------------------------------------------------------------------------------------


def test_tc3_matches_the_documented_example() -> None:
    signed = signing.tc3_sign(
        secret_id="AKID**********************0123456789EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        method="POST",
        headers=TC3_DOC_HEADERS,
        payload=TC3_DOC_PAYLOAD,
        timestamp=1551113065,
    )
    assert hashlib.sha256(TC3_DOC_PAYLOAD).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert signed.canonical_request == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert signed.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    assert signed.signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert signed.authorization == (
        "TC3-HMAC-SHA256 Credential=AKID**********************0123456789EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_tc3_signing_the_action_header_matches_the_later_documented_example() -> None:
    signed = signing.tc3_sign(
        secret_id="AKID",
        secret_key="any",
        service="cvm",
        method="POST",
        headers={**TC3_DOC_HEADERS, "X-TC-Action": "DescribeInstances"},
        payload=TC3_DOC_PAYLOAD,
        timestamp=1551113065,
    )
    assert "x-tc-action:describeinstances\n" in signed.canonical_request  # values lower-cased too
    assert hashlib.sha256(signed.canonical_request.encode()).hexdigest() == (
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert "SignedHeaders=content-type;host;x-tc-action," in signed.authorization


def test_tc3_credential_date_is_the_utc_date() -> None:
    # 1551113065 is 2019-02-26 00:44:25 in Beijing and still 2019-02-25 in UTC
    signed = signing.tc3_sign(
        secret_id="id", secret_key="k", service="sms", method="POST", headers=TC3_DOC_HEADERS, payload=b"{}",
        timestamp=1551113065,
    )  # fmt: skip
    assert "/2019-02-25/sms/tc3_request" in signed.authorization


def test_tencent_send_sms_request_is_signed_over_what_is_sent() -> None:
    adapter = TencentSms("AKIDtest", "key", "1400006666", "城管执法", {"case.closed": "1110"}, now=lambda: AT)
    req = adapter.prepare(message(phone="13800001111"))
    body = json.loads(req.body)
    assert body["PhoneNumberSet"] == ["+8613800001111"] and body["TemplateId"] == "1110"
    assert body["TemplateParamSet"] == ["XH-2026-000123"] and body["SmsSdkAppId"] == "1400006666"
    assert body["SessionContext"] == "42"
    h = req.headers
    assert h["X-TC-Action"] == "SendSms" and h["X-TC-Version"] == "2021-01-11" and h["X-TC-Region"] == "ap-guangzhou"
    assert h["Host"] == "sms.tencentcloudapi.com" and h["X-TC-Timestamp"] == str(int(AT.timestamp()))
    expected = signing.tc3_sign(
        secret_id="AKIDtest",
        secret_key="key",
        service="sms",
        method="POST",
        headers={k: h[k] for k in ("Content-Type", "Host", "X-TC-Action")},
        payload=req.body.encode(),
        timestamp=int(AT.timestamp()),
    )
    assert h["Authorization"] == expected.authorization


# ---- DingTalk and WeCom -------------------------------------------------------------------------------------


def test_dingtalk_sign_follows_the_published_procedure() -> None:
    secret = "SECtest"
    for ts in range(1_700_000_000_000, 1_700_000_000_200):
        sign = signing.dingtalk_sign(ts, secret)
        raw = base64.b64decode(unquote_plus(sign))
        assert raw == hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        assert not set("+/=") & set(sign)  # base64's + / = are URL-encoded (%2B %2F %3D)
    # a value computed here (DingTalk publishes none), pinned against regressions
    assert signing.dingtalk_sign(1700000000000, secret) == "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"


def test_dingtalk_robot_request_mentions_by_phone_and_signs_the_url() -> None:
    robot = DingTalkRobot("https://oapi.dingtalk.com/robot/send?access_token=T0KEN123", "SECx", now=lambda: AT)
    req = robot.prepare(message(channel=Channel.STAFF_IM, phone=None, mention_phone="13900002222"))
    ts = int(AT.timestamp() * 1000)
    sign = signing.dingtalk_sign(ts, "SECx")
    assert req.url == f"https://oapi.dingtalk.com/robot/send?access_token=T0KEN123&timestamp={ts}&sign={sign}"
    body = json.loads(req.body)
    assert body["msgtype"] == "markdown" and body["at"] == {"atMobiles": ["13900002222"], "isAtAll": False}
    assert "@13900002222" in body["markdown"]["text"] and "已处理完毕" in body["markdown"]["text"]
    shown = redact(req, robot.secret_query_keys)
    assert "access_token=***&timestamp=" in shown.url and "T0KEN123" not in shown.url
    assert shown.url.split("&", 1)[1] == req.url.split("&", 1)[1]  # everything else byte for byte


def test_wecom_robot_uses_text_to_mention_and_markdown_otherwise() -> None:
    robot = WeComRobot("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1")
    mention = json.loads(robot.prepare(message(channel=Channel.STAFF_IM, mention_phone="13900002222")).body)
    assert mention["msgtype"] == "text" and mention["text"]["mentioned_mobile_list"] == ["13900002222"]
    plain = json.loads(robot.prepare(message(channel=Channel.STAFF_IM)).body)
    assert plain["msgtype"] == "markdown" and plain["markdown"]["content"].startswith("**案件")
    shown = redact(WireRequest("POST", "https://h/cgi-bin/webhook/send?key=k-1&debug=1"), robot.secret_query_keys)
    assert shown.url == "https://h/cgi-bin/webhook/send?key=***&debug=1"


# ---- templates ------------------------------------------------------------------------------------------------


def test_templates_render_with_their_variables_and_refuse_anything_else() -> None:
    subject, body = templates.get("task.dispatched").render({"no": "XH-2026-000001"})
    assert subject == "案件 XH-2026-000001 任务" and body.startswith("新任务：案件 XH-2026-000001 已派遣给您")
    tpl = templates.get("case.closed")
    for bad in ({}, {"no": "X", "extra": "y"}, {"no": ""}, {"no": "X" * 36}, {"no": "XH\x00"}, {"no": "a\nb"}):
        with pytest.raises(ValueError, match=r"case\.closed"):
            tpl.render(bad)
    with pytest.raises(ValueError, match="unknown"):
        templates.get("case.nonexistent")
    assert all("{no}" in t.text for t in templates.TEMPLATES.values())
