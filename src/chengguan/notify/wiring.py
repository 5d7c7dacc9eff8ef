"""Which adapter serves which channel in this process, from the settings (the one place adapters are wired).

``configure(settings)`` is called by the app, the worker and the CLI; a process that never called it uses
``get_settings()`` on first use. Tests install a ``Registry`` of their own with ``install``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chengguan.config import Settings, StaffRobot, get_settings
from chengguan.notify import templates
from chengguan.notify.mail import SmtpMail
from chengguan.notify.ports import Adapter, Channel
from chengguan.notify.robots import DingTalkRobot, WeComRobot
from chengguan.notify.sms import AliyunSms, TencentSms


@dataclass
class Registry:
    mode: Literal["outbox", "live"] = "outbox"
    sms: Adapter | None = None
    email: Adapter | None = None
    robots: Mapping[str, Adapter] = field(default_factory=dict)  # bureau code → the bureau's staff robot

    def robot_for(self, bureau_codes: list[str]) -> Adapter | None:
        """The first robot along a bureau's line (its own, else its parent's: a brigade falls back to the city)."""
        for code in bureau_codes:
            if code in self.robots:
                return self.robots[code]
        return None

    def adapter(self, channel: Channel, bureau_codes: list[str]) -> Adapter | None:
        if channel is Channel.SMS:
            return self.sms
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.STAFF_IM:
            return self.robot_for(bureau_codes)
        return None


def _robot(spec: StaffRobot, timeout: float) -> Adapter:
    if spec.provider == "dingtalk":
        return DingTalkRobot(spec.webhook.get_secret_value(), spec.secret.get_secret_value(), timeout=timeout)
    return WeComRobot(spec.webhook.get_secret_value(), timeout=timeout)


def build(settings: Settings) -> Registry:
    timeout = settings.notify_timeout_seconds
    codes = dict(settings.notify_sms_templates)
    if settings.notify_delivery == "outbox":  # a developer sees the request with the template key as its code
        codes = {key: codes.get(key, key) for key in templates.TEMPLATES} | codes
    sms: Adapter | None = None
    secret = settings.notify_sms_key_secret.get_secret_value()
    if settings.notify_sms_provider == "aliyun":
        sms = AliyunSms(
            settings.notify_sms_key_id,
            secret,
            settings.notify_sms_sign_name,
            codes,
            endpoint=settings.notify_sms_endpoint or AliyunSms.endpoint,
            region=settings.notify_sms_region or AliyunSms.region,
            timeout=timeout,
        )
    elif settings.notify_sms_provider == "tencent":
        sms = TencentSms(
            settings.notify_sms_key_id,
            secret,
            settings.notify_sms_app_id,
            settings.notify_sms_sign_name,
            codes,
            endpoint=settings.notify_sms_endpoint or TencentSms.endpoint,
            region=settings.notify_sms_region or TencentSms.region,
            timeout=timeout,
        )
    email: Adapter | None = None
    if settings.notify_smtp_host:
        email = SmtpMail(
            settings.notify_smtp_host,
            settings.notify_smtp_port,
            settings.notify_smtp_security,
            settings.notify_smtp_username,
            settings.notify_smtp_password.get_secret_value(),
            settings.notify_mail_from,
            timeout=timeout,
        )
    robots = {code: _robot(spec, timeout) for code, spec in settings.notify_staff_im.items()}
    return Registry(mode=settings.notify_delivery, sms=sms, email=email, robots=robots)


_current: Registry | None = None


def configure(settings: Settings) -> Registry:
    global _current
    _current = build(settings)
    return _current


def install(registry: Registry | None) -> None:
    """Use ``registry`` in this process (tests); None goes back to the settings on next use."""
    global _current
    _current = registry


def current() -> Registry:
    return _current if _current is not None else configure(get_settings())
