"""Operations: `chengguan doctor`, /healthz and the admins' banner say when official holidays are missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chengguan.calendar import service as calendars
from chengguan.cli import app as cli
from chengguan.identity.models import Bureau
from chengguan.shared.clock import to_local, utcnow


def _coverage(db: Session) -> calendars.HolidayCoverage:
    city = db.scalars(select(Bureau).where(Bureau.code == "hz")).one()
    return calendars.holiday_coverage(db, bureau_id=city.id, today=to_local(utcnow()).date())


def test_healthz_reports_holiday_coverage(client: TestClient, city_db: Session) -> None:
    body = client.get("/healthz").json()
    coverage = _coverage(city_db)
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["holidays"]["ok"] is coverage.ok
    assert body["holidays"]["missing_years"] == list(coverage.missing_years)
    assert body["holidays"]["message"] == coverage.message


def test_the_console_warns_admins_only(login: Callable[[str], TestClient], city_db: Session) -> None:
    coverage = _coverage(city_db)
    admin_page = login("admin").get("/console").text
    assert ('data-testid="holiday-banner"' in admin_page) is (not coverage.ok)
    if not coverage.ok:
        assert coverage.message in admin_page
    assert 'data-testid="holiday-banner"' not in login("dispatcher").get("/console").text


def test_doctor_on_a_fresh_and_a_migrated_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chengguan.config import get_settings

    monkeypatch.setenv("CHENGGUAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CHENGGUAN_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        missing = runner.invoke(cli, ["doctor"])
        assert missing.exit_code == 1 and "chengguan migrate" in missing.output
        assert runner.invoke(cli, ["migrate"]).exit_code == 0
        empty = runner.invoke(cli, ["doctor"])
        assert empty.exit_code == 0, empty.output
        assert "OK   数据库" in empty.output and "还没有单位数据" in empty.output
        strict = runner.invoke(cli, ["doctor", "--strict"])
        assert strict.exit_code == 1  # a development secret and no bureaus are warnings
    finally:
        get_settings.cache_clear()
