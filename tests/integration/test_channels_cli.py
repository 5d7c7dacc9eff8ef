"""The system-channel commands as an administrator uses them, on a copy of the demo city."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from chengguan.cli import app
from chengguan.config import get_settings
from chengguan.db import make_engine
from chengguan.intake import clients
from chengguan.intake.models import IntakeClient, MonitoringDevice, Report
from chengguan.shared.clock import BUREAU_TZ
from tests.conftest import _copy_of
from tests.personas import xihu_spot

runner = CliRunner()


@pytest.fixture(scope="module")
def city_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _copy_of(tmp_path_factory, "city") as url:
        yield url


def run(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("CHENGGUAN_DATABASE_URL", url)
    monkeypatch.setenv("CHENGGUAN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_clients_devices_and_an_import_from_the_command_line(
    city_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(
        city_url, tmp_path, monkeypatch, "create-client", "xh-12345", "--name", "西湖区 12345 分中心",
        "--channel", "hotline_12345", "--bureau", "hz-xh",
    )  # fmt: skip
    assert code == 0, out
    key = re.search(r"cgk_[A-Za-z0-9_-]{40,}", out)
    assert key is not None
    engine = make_engine(city_url)
    try:
        with engine.connect() as conn:
            stored = conn.scalar(select(IntakeClient.key_hash).where(IntakeClient.code == "xh-12345"))
        assert stored == clients.key_hash(key.group(0))  # only the hash is kept

        code, out = run(city_url, tmp_path, monkeypatch, "create-client", "x-1", "--name", "x", "--channel", "citizen")
        assert code == 2 and "--channel 只能是" in out
        code, out = run(city_url, tmp_path, monkeypatch, "list-clients")
        assert code == 0 and "xh-12345" in out and "cgk_" not in out

        code, out = run(
            city_url, tmp_path, monkeypatch, "register-device", "XH-NOISE-CLI", "--kind", "sensor", "--type", "noise",
            "--client", "hz-iot", "--lon", "120.13", "--lat", "30.275",
            "--settings", '{"noise_db": {"above": 70, "for_s": 600, "clear": 5, "category": "0301"}}',
        )  # fmt: skip
        assert code == 0, out
        with engine.connect() as conn:
            rules = conn.scalar(select(MonitoringDevice.thresholds).where(MonitoringDevice.code == "XH-NOISE-CLI"))
        assert rules == {"noise_db": {"above": 70.0, "for_s": 600.0, "clear": 5.0, "category": "0301"}}

        when = (datetime.now(BUREAU_TZ) - timedelta(hours=3)).strftime("%Y/%m/%d %H:%M")
        lines = ["受理单号,反映时间,反映内容,X,Y"]
        lines += [f"CLI{i},{when},店外经营 {i},{xihu_spot()[0]},{xihu_spot()[1]}" for i in range(3)]
        lines.append(f"CLI9,{when},,120.13,30.27")
        export = tmp_path / "工单.csv"
        export.write_text("\n".join(lines) + "\n", encoding="gbk")
        mapping = "受理单号=external_id,反映时间=called_at,反映内容=content,X=lon,Y=lat"
        code, out = run(
            city_url, tmp_path, monkeypatch, "import-hotline", str(export), "--client", "xh-12345", "--map", mapping
        )
        assert code == 0, out
        assert "共 4 行，新导入 3，已导入过 0，错误 1 行" in out and "row[5].反映内容" in out
        code, out = run(
            city_url, tmp_path, monkeypatch, "import-hotline", str(export), "--client", "xh-12345", "--map", mapping
        )
        assert code == 0 and "新导入 0，已导入过 3" in out
        code, out = run(
            city_url, tmp_path, monkeypatch, "import-hotline", str(export), "--client", "xh-12345", "--map", mapping,
            "--strict",
        )  # fmt: skip
        assert code == 2 and "整个文件未导入" in out
        code, out = run(
            city_url, tmp_path, monkeypatch, "import-hotline", str(export), "--client", "xh-12345", "--map", "受理单号"
        )
        assert code == 2 and "原列名=字段名" in out
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Report).where(Report.external_id.like("CLI%"))) == 3

        code, out = run(city_url, tmp_path, monkeypatch, "revoke-client", "xh-12345")
        assert code == 0
        with engine.connect() as conn:
            assert conn.scalar(select(IntakeClient.is_active).where(IntakeClient.code == "xh-12345")) is False
        code, out = run(city_url, tmp_path, monkeypatch, "reissue-client-key", "xh-12345")
        fresh = re.search(r"cgk_[A-Za-z0-9_-]{40,}", out)
        assert code == 0 and fresh is not None and fresh.group(0) != key.group(0)
    finally:
        engine.dispose()
