"""``chengguan worker`` delivers queued notifications after commit; ``chengguan notifications`` shows them with
the exact request the local outbox recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chengguan.cli import app
from chengguan.config import get_settings
from chengguan.db import make_engine
from chengguan.migrate import upgrade
from chengguan.notify import service as notify
from chengguan.notify import wiring
from tests.conftest import _throwaway_database

runner = CliRunner()


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with _throwaway_database(tmp_path_factory, "notify-cli") as url:
        engine = make_engine(url)
        upgrade(engine)
        monkeypatch.setenv("CHENGGUAN_DATABASE_URL", url)
        monkeypatch.setenv("CHENGGUAN_NOTIFY_DELIVERY", "outbox")
        monkeypatch.setenv("CHENGGUAN_NOTIFY_SMS_PROVIDER", "tencent")
        monkeypatch.setenv("CHENGGUAN_NOTIFY_SMS_APP_ID", "1400006666")
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()
            wiring.install(None)
            engine.dispose()


def test_worker_delivers_and_the_command_shows_what_would_be_sent(env: str) -> None:
    engine = make_engine(env)
    with Session(engine) as session:
        notify.send(session, template="case.accepted", params={"no": "XH-2026-000042"}, phone="13800001111")
        session.commit()
    engine.dispose()

    queued = runner.invoke(app, ["notifications", "--state", "queued"])
    assert queued.exit_code == 0 and "sms → 13800001111  queued" in queued.output
    worked = runner.invoke(app, ["worker", "--once"])
    assert worked.exit_code == 0, worked.output

    shown = runner.invoke(app, ["notifications", "--last", "5"])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "sms → 13800001111  sent（outbox，outbox-1，尝试 1 次）" in out
    assert "您反映的问题（XH-2026-000042）已受理。" in out
    assert "[tencent] POST https://sms.tencentcloudapi.com/" in out and "X-TC-Action: SendSms" in out
    assert "Authorization: TC3-HMAC-SHA256 Credential=" in out and '"PhoneNumberSet":["+8613800001111"]' in out
    assert "没有通知" in runner.invoke(app, ["notifications", "--state", "failed"]).output
    assert runner.invoke(app, ["notifications", "--state", "lost"]).exit_code == 2
