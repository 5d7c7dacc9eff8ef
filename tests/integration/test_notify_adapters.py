"""Contract tests of the notify adapters against local stand-ins of the providers (tests/notify_fakes.py).

Each fake verifies the signature the way the provider documents it and answers in the provider's shapes; the
adapters send real HTTP (httpx) and SMTP (smtplib). Then the delivery of a queued notification: accepted →
``sent`` with the provider's message id; throttling or a server error → retried with backoff, then ``failed``
with the error; a refusal → ``failed`` at once; a delivery that already went out is never sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_string
from email.policy import default as default_policy

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.identity.models import User
from chengguan.jobs.models import OutboxMessage
from chengguan.notify import delivery, wiring
from chengguan.notify import service as notify
from chengguan.notify.mail import SmtpMail
from chengguan.notify.models import Notification, OutboxRecord
from chengguan.notify.ports import Channel, Message, Verdict
from chengguan.notify.robots import DingTalkRobot, WeComRobot
from chengguan.notify.sms import AliyunSms, TencentSms
from chengguan.shared.clock import utcnow
from tests.notify_fakes import (
    aliyun_sms,
    dingtalk_robot,
    http_provider,
    smtp_server,
    tencent_sms,
    wecom_robot,
)

PHONE = "13800001111"
CODES = {"case.closed": "SMS_2026001", "case.accepted": "SMS_2026002"}


def msg(channel: Channel = Channel.SMS, **kw: object) -> Message:
    fields: dict[str, object] = {
        "notification_id": 7,
        "channel": channel,
        "template": "case.closed",
        "params": {"no": "XH-2026-000123"},
        "subject": "案件 XH-2026-000123 进展",
        "body": "您反映的问题（XH-2026-000123）已处理完毕并结案，感谢您的参与。",
        "phone": PHONE if channel is Channel.SMS else None,
    }
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _own_wiring() -> Iterator[None]:
    yield
    wiring.install(None)


# ---- Aliyun ---------------------------------------------------------------------------------------------------


def test_aliyun_sms_is_accepted_by_a_provider_that_checks_the_signature() -> None:
    with http_provider(aliyun_sms("LTAI-id", "s3cr3t")) as fake:
        sms = AliyunSms("LTAI-id", "s3cr3t", "城管执法", CODES, endpoint=fake.url)
        out = sms.send(sms.prepare(msg()))
        assert out.verdict is Verdict.SENT and out.provider_message_id and out.provider_message_id.endswith("^0")
        assert fake.received[0].headers["content-type"].startswith("application/x-www-form-urlencoded")
        # the same message again signs with a fresh nonce (the provider refuses a nonce it has seen)
        assert sms.send(sms.prepare(msg())).verdict is Verdict.SENT

        wrong = AliyunSms("LTAI-id", "not-the-secret", "城管执法", CODES, endpoint=fake.url)
        out = wrong.send(wrong.prepare(msg()))
        assert out.verdict is Verdict.FAILED and out.error and out.error.startswith("SignatureDoesNotMatch")
        replayed = sms.prepare(msg())
        assert sms.send(replayed).verdict is Verdict.SENT
        out = sms.send(replayed)  # a request replayed byte for byte is refused
        assert out.verdict is Verdict.FAILED and "SignatureNonceUsed" in (out.error or "")


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ((200, "isv.BUSINESS_LIMIT_CONTROL"), Verdict.RETRY),  # 流控: too many to one number
        ((503, "ServiceUnavailable"), Verdict.RETRY),
        ((500, "InternalError"), Verdict.RETRY),
        ((200, "isv.MOBILE_NUMBER_ILLEGAL"), Verdict.FAILED),
        ((200, "isv.SMS_TEMPLATE_ILLEGAL"), Verdict.FAILED),
        ((400, "isv.AMOUNT_NOT_ENOUGH"), Verdict.FAILED),
    ],
)
def test_aliyun_failure_answers(answer: tuple[int, str], verdict: Verdict) -> None:
    with http_provider(aliyun_sms("id", "k")) as fake:
        fake.script.append(answer)
        sms = AliyunSms("id", "k", "城管执法", CODES, endpoint=fake.url)
        out = sms.send(sms.prepare(msg()))
        assert out.verdict is verdict and out.error and out.error.startswith(answer[1])


# ---- Tencent Cloud -------------------------------------------------------------------------------------------


def test_tencent_sms_is_accepted_by_a_provider_that_checks_tc3() -> None:
    with http_provider(tencent_sms("AKIDtest", "key")) as fake:
        sms = TencentSms("AKIDtest", "key", "1400006666", "城管执法", CODES, endpoint=fake.url)
        out = sms.send(sms.prepare(msg()))
        assert out.verdict is Verdict.SENT and out.provider_message_id and out.provider_message_id.startswith("5000:")
        sent = json.loads(fake.received[0].body)
        assert sent["PhoneNumberSet"] == ["+8613800001111"] and sent["TemplateParamSet"] == ["XH-2026-000123"]

        wrong = TencentSms("AKIDtest", "other", "1400006666", "城管执法", CODES, endpoint=fake.url)
        out = wrong.send(wrong.prepare(msg()))
        assert out.verdict is Verdict.FAILED and (out.error or "").startswith("AuthFailure.SignatureFailure")

        request = sms.prepare(msg())
        tampered = type(request)(
            request.method, request.url, request.headers, request.body.replace("XH-2026-000123", "XH-2026-000999")
        )
        assert sms.send(tampered).verdict is Verdict.FAILED  # the payload's hash is signed


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (("error", "RequestLimitExceeded"), Verdict.RETRY),
        (("error", "InternalError.Timeout"), Verdict.RETRY),
        (("status", "LimitExceeded.PhoneNumberDailyLimit"), Verdict.FAILED),
        (("status", "InvalidParameterValue.IncorrectPhoneNumber"), Verdict.FAILED),
        (("error", "FailedOperation.TemplateIncorrectOrUnapproved"), Verdict.FAILED),
    ],
)
def test_tencent_failure_answers(answer: tuple[str, str], verdict: Verdict) -> None:
    with http_provider(tencent_sms("id", "k")) as fake:
        fake.script.append(answer)
        sms = TencentSms("id", "k", "1400006666", "城管执法", CODES, endpoint=fake.url)
        out = sms.send(sms.prepare(msg()))
        assert out.verdict is verdict and (out.error or "").startswith(answer[1])


# ---- robots ---------------------------------------------------------------------------------------------------


def test_dingtalk_robot_signs_and_mentions() -> None:
    with http_provider(dingtalk_robot("T0KEN", "SECabc")) as fake:
        robot = DingTalkRobot(f"{fake.url}robot/send?access_token=T0KEN", "SECabc")
        out = robot.send(robot.prepare(msg(Channel.STAFF_IM, mention_phone="13900002222")))
        assert out.verdict is Verdict.SENT
        body = json.loads(fake.received[0].body)
        assert body["at"]["atMobiles"] == ["13900002222"] and fake.received[0].path == "/robot/send"

        unsigned = DingTalkRobot(f"{fake.url}robot/send?access_token=T0KEN", "SECwrong")
        out = unsigned.send(unsigned.prepare(msg(Channel.STAFF_IM)))
        assert out.verdict is Verdict.FAILED and out.error == "310000: sign not match"

        fake.script.append((130101, "send too fast, exceed 20 times per minute"))
        assert robot.send(robot.prepare(msg(Channel.STAFF_IM))).verdict is Verdict.RETRY
        fake.script.append((310000, "keywords not in content"))
        assert robot.send(robot.prepare(msg(Channel.STAFF_IM))).verdict is Verdict.FAILED


def test_wecom_robot_key_and_throttling() -> None:
    with http_provider(wecom_robot("k-1")) as fake:
        robot = WeComRobot(f"{fake.url}cgi-bin/webhook/send?key=k-1")
        assert robot.send(robot.prepare(msg(Channel.STAFF_IM, mention_phone="13900002222"))).verdict is Verdict.SENT
        assert json.loads(fake.received[0].body)["text"]["mentioned_mobile_list"] == ["13900002222"]
        fake.script.append((45009, "api freq out of limit"))
        assert robot.send(robot.prepare(msg(Channel.STAFF_IM))).verdict is Verdict.RETRY
        wrong = WeComRobot(f"{fake.url}cgi-bin/webhook/send?key=other")
        out = wrong.send(wrong.prepare(msg(Channel.STAFF_IM)))
        assert out.verdict is Verdict.FAILED and "other" not in (out.error or "")


def test_an_unreachable_provider_is_retried_and_the_error_names_no_credentials() -> None:
    with http_provider(wecom_robot("k")) as fake:
        url = fake.url
    robot = WeComRobot(f"{url}cgi-bin/webhook/send?key=SECRET-KEY", timeout=2)  # the server is gone
    out = robot.send(robot.prepare(msg(Channel.STAFF_IM)))
    assert out.verdict is Verdict.RETRY and "SECRET-KEY" not in (out.error or "") and "网络错误" in (out.error or "")


def test_an_answer_that_is_not_the_providers_shape() -> None:
    def gateway(fake, req):  # type: ignore[no-untyped-def]
        return 502, b"<html>Bad Gateway</html>"

    with http_provider(gateway) as fake:
        sms = AliyunSms("id", "k", "城管执法", CODES, endpoint=fake.url)
        out = sms.send(sms.prepare(msg()))
        assert out.verdict is Verdict.RETRY and "502" in (out.error or "")


# ---- SMTP -----------------------------------------------------------------------------------------------------


def test_smtp_mail_is_delivered_with_login_and_its_message_id_kept() -> None:
    with smtp_server("notify", "pw") as box:
        mail = SmtpMail(box.host, box.port, "none", "notify", "pw", "noreply@cg.example.gov.cn")
        request = mail.prepare(msg(Channel.EMAIL, phone=None, email="wang@example.com"))
        out = mail.send(request)
        assert out.verdict is Verdict.SENT and out.provider_message_id == request.headers["Message-ID"]
        sender, rcpts, raw = box.delivered[0]
        assert (sender, rcpts) == ("noreply@cg.example.gov.cn", ["wang@example.com"])
        parsed = message_from_string(raw, policy=default_policy)
        assert parsed["Subject"] == "案件 XH-2026-000123 进展" and parsed["Message-ID"] == out.provider_message_id
        assert "已处理完毕并结案" in parsed.get_content()  # type: ignore[attr-defined]

        box.rcpt_replies.append("450 4.2.1 Mailbox busy, try later")
        out = mail.send(mail.prepare(msg(Channel.EMAIL, phone=None, email="wang@example.com")))
        assert out.verdict is Verdict.RETRY and (out.error or "").startswith("SMTP 450")
        box.rcpt_replies.append("550 5.1.1 <nobody@example.com>: Recipient address rejected")
        out = mail.send(mail.prepare(msg(Channel.EMAIL, phone=None, email="nobody@example.com")))
        assert out.verdict is Verdict.FAILED and (out.error or "").startswith("SMTP 550")

        bad_login = SmtpMail(box.host, box.port, "none", "notify", "wrong", "noreply@cg.example.gov.cn")
        out = bad_login.send(bad_login.prepare(msg(Channel.EMAIL, phone=None, email="wang@example.com")))
        assert out.verdict is Verdict.FAILED and (out.error or "").startswith("SMTP 535")
        assert len(box.delivered) == 1
    gone = SmtpMail(box.host, box.port, "none", timeout=2)
    out = gone.send(gone.prepare(msg(Channel.EMAIL, phone=None, email="wang@example.com")))
    assert out.verdict is Verdict.RETRY and "网络错误" in (out.error or "")


# ---- delivery of queued notifications: retries with backoff, then failed ---------------------------------------


def queued_sms(db: Session) -> Notification:
    [note] = notify.send(db, template="case.closed", params={"no": "XH-2026-000123"}, phone=PHONE, ref="XH-2026-000123")
    assert (note.channel, note.state, note.attempts) == ("sms", "queued", 0)
    return note


def retry_jobs(db: Session, note: Notification) -> list[OutboxMessage]:
    jobs = db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.deliver")).all()
    return [j for j in jobs if j.payload == {"notification_id": note.id}]


def test_delivery_retries_with_backoff_then_is_sent_once(city_db: Session) -> None:
    with http_provider(aliyun_sms("id", "k")) as fake:
        wiring.install(wiring.Registry(mode="live", sms=AliyunSms("id", "k", "城管执法", CODES, endpoint=fake.url)))
        note = queued_sms(city_db)
        assert len(retry_jobs(city_db, note)) == 1  # queued with the write, run after commit
        fake.script += [(503, "ServiceUnavailable"), (200, "isv.BUSINESS_LIMIT_CONTROL")]

        before = utcnow()
        delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.attempts) == ("queued", 1) and (note.last_error or "").startswith("ServiceUnavailable")
        assert note.next_attempt_at is not None and note.next_attempt_at >= before + timedelta(seconds=30)
        later = [j for j in retry_jobs(city_db, note) if j.available_at > before]
        assert [j.available_at for j in later] == [note.next_attempt_at]  # the next try waits for its time

        delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.attempts) == ("queued", 2) and note.next_attempt_at >= before + timedelta(seconds=120)
        delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.attempts, note.provider) == ("sent", 3, "aliyun")
        assert note.provider_message_id and note.provider_message_id.endswith("^0") and note.sent_at is not None

        delivery.deliver(city_db, notification_id=note.id)  # a duplicated job: nothing goes out again
        assert len(fake.received) == 3 and note.attempts == 3


def test_delivery_fails_after_the_last_retry_with_the_error_kept(city_db: Session) -> None:
    with http_provider(tencent_sms("id", "k")) as fake:
        sms = TencentSms("id", "k", "1400006666", "城管执法", CODES, endpoint=fake.url)
        wiring.install(wiring.Registry(mode="live", sms=sms))
        note = queued_sms(city_db)
        fake.script += [("error", "RequestLimitExceeded")] * 10
        for _ in range(len(delivery.RETRY_DELAYS) + 1):
            delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.attempts) == ("failed", len(delivery.RETRY_DELAYS) + 1)
        assert (note.last_error or "").startswith("RequestLimitExceeded") and note.next_attempt_at is None
        assert len(fake.received) == len(delivery.RETRY_DELAYS) + 1
        delivery.deliver(city_db, notification_id=note.id)
        assert len(fake.received) == len(delivery.RETRY_DELAYS) + 1


def test_a_refusal_fails_at_once_and_logs_no_phone_number(city_db: Session, caplog: pytest.LogCaptureFixture) -> None:
    with http_provider(aliyun_sms("id", "k")) as fake:
        wiring.install(wiring.Registry(mode="live", sms=AliyunSms("id", "k", "城管执法", CODES, endpoint=fake.url)))
        note = queued_sms(city_db)
        fake.script.append((200, f"isv.MOBILE_NUMBER_ILLEGAL {PHONE}"))  # some errors repeat the number
        with caplog.at_level(logging.INFO, logger="chengguan"):
            delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.attempts) == ("failed", 1) and "MOBILE_NUMBER_ILLEGAL" in (note.last_error or "")
        assert PHONE not in (note.last_error or "") and "138****1111" in (note.last_error or "")
        assert PHONE not in caplog.text and "failed" in caplog.text
        assert len(retry_jobs(city_db, note)) == 1  # only the first job: no retry


def test_an_event_without_an_approved_template_fails_with_the_reason(city_db: Session) -> None:
    wiring.install(
        wiring.Registry(mode="live", sms=AliyunSms("id", "k", "城管执法", {}, endpoint="http://127.0.0.1:9/"))
    )
    note = queued_sms(city_db)
    delivery.deliver(city_db, notification_id=note.id)
    assert note.state == "failed" and "未配置短信模板" in (note.last_error or "")
    wiring.install(wiring.Registry(mode="live"))  # no SMS provider at all
    other = queued_sms(city_db)
    delivery.deliver(city_db, notification_id=other.id)
    assert (other.state, other.provider, other.last_error) == ("failed", "none", "未配置短信通道")


def test_the_local_outbox_records_exactly_what_the_provider_would_accept(city_db: Session) -> None:
    """In outbox mode nothing is sent; the recorded request, replayed as it is, passes the provider's checks."""
    with http_provider(tencent_sms("AKIDtest", "key")) as fake:
        sms = TencentSms("AKIDtest", "key", "1400006666", "城管执法", CODES, endpoint=fake.url)
        wiring.install(wiring.Registry(mode="outbox", sms=sms))
        note = queued_sms(city_db)
        delivery.deliver(city_db, notification_id=note.id)
        assert (note.state, note.provider) == ("sent", "outbox") and fake.received == []
        [record] = city_db.scalars(select(OutboxRecord).where(OutboxRecord.notification_id == note.id)).all()
        assert (record.channel, record.provider, record.method, record.url) == ("sms", "tencent", "POST", fake.url)
        assert note.provider_message_id == f"outbox-{record.id}"
        assert json.loads(record.body)["PhoneNumberSet"] == ["+8613800001111"]
        answer = httpx.post(record.url, headers=record.headers, content=record.body.encode()).json()
        assert answer["Response"]["SendStatusSet"][0]["Code"] == "Ok"


def test_the_outbox_masks_webhook_credentials_and_sends_e_mail_nowhere(city_db: Session) -> None:
    robot = DingTalkRobot("https://oapi.dingtalk.com/robot/send?access_token=T0KEN-SECRET", "SECx")
    mail = SmtpMail("smtp.invalid", 25)
    wiring.install(wiring.Registry(mode="outbox", email=mail, robots={"hz": robot}))
    officer = city_db.scalar(select(User).where(User.username == "officer1"))
    assert officer is not None
    rows = notify.send(
        city_db, template="task.dispatched", params={"no": "XH-2026-000001"}, user_id=officer.id,
        email="officer1@example.com", ref="XH-2026-000001",
    )  # fmt: skip
    assert [r.channel for r in rows] == ["app", "im", "email"]  # the brigade has no robot: the city's is used
    assert rows[0].state == "sent" and rows[1].phone == officer.phone
    for row in rows[1:]:
        delivery.deliver(city_db, notification_id=row.id)
        assert row.state == "sent" and row.provider == "outbox"
    records = {r.provider: r for r in city_db.scalars(select(OutboxRecord))}
    assert "T0KEN-SECRET" not in records["dingtalk"].url and "access_token=***&timestamp=" in records["dingtalk"].url
    assert json.loads(records["dingtalk"].body)["at"]["atMobiles"] == [officer.phone]
    assert records["smtp"].method == "SMTP" and records["smtp"].headers["X-Envelope-To"] == "officer1@example.com"
    mail_text = message_from_string(records["smtp"].body, policy=default_policy).get_content()  # type: ignore[attr-defined]
    assert "新任务：案件 XH-2026-000001" in mail_text
