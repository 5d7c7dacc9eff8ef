"""The ``chengguan`` command as an administrator uses it, on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from typer.testing import CliRunner

from chengguan.cli import app
from chengguan.config import get_settings
from chengguan.db import Base, make_engine
from chengguan.migrate import alembic_config, current_heads, downgrade, import_all_models
from tests.conftest import _throwaway_database

runner = CliRunner()


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with _throwaway_database(tmp_path_factory, "cli") as url:
        data_dir = tmp_path_factory.mktemp("cli-data")
        yield {"CHENGGUAN_DATABASE_URL": url, "CHENGGUAN_DATA_DIR": str(data_dir)}


def run(env: dict[str, str], *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.output


def test_migrate_seed_and_manage(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, out = run(cli_env, "migrate", monkeypatch=monkeypatch)
    assert code == 0 and "已创建数据库结构" in out
    code, out = run(cli_env, "seed-demo", "--cases", "15", "--grid-size", "3000", monkeypatch=monkeypatch)
    assert code == 0, out
    assert "13 个区县" in out and "15 个案件" in out
    # the demo's history is announced at seeding: no backlog waits in front of the first live request
    engine = make_engine(cli_env["CHENGGUAN_DATABASE_URL"])
    with engine.connect() as conn:
        queued = conn.execute(text("SELECT count(*) FROM outbox_message WHERE done_at IS NULL")).scalar_one()
        ran = conn.execute(text("SELECT count(*) FROM outbox_message WHERE done_at IS NOT NULL")).scalar_one()
        notes = conn.execute(text("SELECT count(*) FROM notification")).scalar_one()
    engine.dispose()
    assert (queued, ran > 0, notes > 0) == (0, True, True)
    code, out = run(cli_env, "seed-demo", "--if-empty", monkeypatch=monkeypatch)
    assert code == 0 and "跳过" in out
    code, out = run(cli_env, "seed-demo", monkeypatch=monkeypatch)
    assert code == 2 and "已存在" in out

    code, out = run(
        cli_env,
        "create-user",
        "xu",
        "--name",
        "徐队员",
        "--role",
        "officer",
        "--bureau",
        "hz-xh",
        "--password",
        "long-enough-1",
        monkeypatch=monkeypatch,
    )
    assert code == 0 and "执法队员" in out
    code, out = run(
        cli_env,
        "create-user",
        "xu",
        "--name",
        "徐",
        "--role",
        "officer",
        "--password",
        "long-enough-1",
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "用户名已存在" in out and "Traceback" not in out
    code, out = run(
        cli_env,
        "create-user",
        "yy",
        "--name",
        "y",
        "--role",
        "wizard",
        "--password",
        "long-enough-1",
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "未知角色" in out

    code, exported = run(cli_env, "export-catalog", "--format", "yaml", monkeypatch=monkeypatch)
    assert code == 0 and "占道经营" in exported
    path = tmp_path / "catalog.yaml"
    path.write_text(exported.replace("占道经营", "占道经营（本地）", 1), encoding="utf-8")
    code, out = run(cli_env, "import-catalog", str(path), monkeypatch=monkeypatch)
    assert code == 0, out
    code, exported = run(cli_env, "export-catalog", monkeypatch=monkeypatch)
    assert "占道经营（本地）" in exported

    bad = tmp_path / "bad.csv"
    bad.write_text("大类编码,大类名称\n05,街面秩序\n", encoding="utf-8")
    code, out = run(cli_env, "import-catalog", str(bad), monkeypatch=monkeypatch)
    assert code == 2 and out.startswith("错误") and "Traceback" not in out
    code, out = run(cli_env, "import-catalog", str(tmp_path / "missing.yaml"), monkeypatch=monkeypatch)
    assert code == 2 and "无法读取" in out
    code, out = run(
        cli_env, "import-boundaries", str(tmp_path / "none.geojson"), "--level", "street", monkeypatch=monkeypatch
    )
    assert code == 2 and "文件不存在" in out

    code, out = run(cli_env, "worker", "--once", monkeypatch=monkeypatch)
    assert code == 0 and "已处理" in out


def test_migrate_says_what_it_did(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    with _throwaway_database(tmp_path_factory, "migrate") as url:
        env = {"CHENGGUAN_DATABASE_URL": url, "CHENGGUAN_DATA_DIR": str(tmp_path_factory.mktemp("migrate-data"))}
        engine = make_engine(url)
        try:
            script = ScriptDirectory.from_config(alembic_config(engine))
            head = script.get_current_head()
            assert head
            chain = [rev.revision for rev in script.walk_revisions()]  # newest first
            assert chain[0] == head and len(chain) >= 3
            import_all_models()

            # an empty database: the schema is created, all of it
            code, out = run(env, "migrate", monkeypatch=monkeypatch)
            assert code == 0, out
            assert f"已创建数据库结构：版本 {head}，共 {len(Base.metadata.tables)} 张表" in out
            assert "最新" not in out
            assert current_heads(engine) == (head,)

            # nothing to do
            code, out = run(env, "migrate", monkeypatch=monkeypatch)
            assert code == 0 and f"数据库已是最新版本：{head}，无需升级" in out
            assert "已创建" not in out and "已升级" not in out

            # an old database: it names the revisions it applied, oldest first
            downgrade(engine, chain[2])
            code, out = run(env, "migrate", monkeypatch=monkeypatch)
            assert code == 0, out
            assert f"已升级数据库结构：{chain[2]} → {head}，应用了 2 个版本（{chain[1]}、{head}）" in out
            assert "最新" not in out
            assert current_heads(engine) == (head,)
        finally:
            engine.dispose()
