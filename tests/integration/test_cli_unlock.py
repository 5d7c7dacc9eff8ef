"""``chengguan unlock-user``: an administrator at the console of the server lifts a login lock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from chengguan.cli import app
from chengguan.config import get_settings
from chengguan.db import make_engine, make_session_factory, transaction
from chengguan.identity import service as identity
from chengguan.identity import throttle
from chengguan.identity.roles import Role
from tests.conftest import _throwaway_database

runner = CliRunner()


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with _throwaway_database(tmp_path_factory, "cli-unlock") as url:
        monkeypatch.setenv("CHENGGUAN_DATABASE_URL", url)
        monkeypatch.setenv("CHENGGUAN_DATA_DIR", str(tmp_path_factory.mktemp("cli-unlock-data")))
        monkeypatch.setenv("CHENGGUAN_SECRET_KEY", "a-secret-for-this-test")
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()


def test_unlock_user(env: str) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    engine = make_engine(env)
    factory = make_session_factory(engine)
    policy = throttle.ThrottlePolicy.from_settings(get_settings())
    with transaction(factory) as s:
        city = identity.create_bureau(s, code="hz", name="杭州市", kind="city", admin_code="330100", case_prefix="HZ")
        identity.create_user(
            s, bureau=city, username="wang", password="long-enough-1", display_name="王芳", roles=[Role.DISPATCHER]
        )
        for _ in range(policy.max_failures):
            throttle.record_failure(s, policy=policy, username="wang", address="192.0.2.1")

    def is_locked() -> bool:
        with factory() as s:
            try:
                throttle.check(s, policy=policy, username="wang", address="198.51.100.1")
            except throttle.AccountLocked:
                return True
            return False

    assert is_locked()
    result = runner.invoke(app, ["unlock-user", "wang"])
    assert result.exit_code == 0 and "已解除 wang 的登录锁定" in result.output
    assert not is_locked()
    result = runner.invoke(app, ["unlock-user", "wang"])
    assert result.exit_code == 0 and "当前未被锁定" in result.output
    result = runner.invoke(app, ["unlock-user", "nobody"])
    assert result.exit_code == 2 and "用户不存在" in result.output
    engine.dispose()
