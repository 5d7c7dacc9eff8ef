"""Settings: defaults for the embedded run, and refusals that protect production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chengguan.config import DEV_SECRET, Settings


def test_embedded_default_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, database_url="")
    assert s.effective_database_url == f"sqlite:///{(tmp_path / 'chengguan.db').resolve()}"
    assert Settings(database_url="postgresql+psycopg://u@h/db").effective_database_url.startswith("postgresql")


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="CHENGGUAN_SECRET_KEY"):
        Settings(env="prod", secret_key=DEV_SECRET)
    assert Settings(env="prod", secret_key="a-real-secret-from-the-vault").env == "prod"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGGUAN_TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")
    monkeypatch.setenv("CHENGGUAN_INLINE_JOBS", "false")
    s = Settings()
    assert s.tile_url.endswith("{y}.png") and s.inline_jobs is False


def test_the_example_env_file_documents_every_setting() -> None:
    import re

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    documented = {m.lower() for m in re.findall(r"^#?\s*CHENGGUAN_([A-Z0-9_]+)=", text, flags=re.MULTILINE)}
    assert set(Settings.model_fields) <= documented
