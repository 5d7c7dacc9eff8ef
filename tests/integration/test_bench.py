"""bench/: without a usable PostgreSQL + PostGIS a benchmark says what is missing in one line, no traceback."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "_common.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cases_bench_without_a_server_says_so_in_one_line() -> None:
    env = {**os.environ, "CHENGGUAN_BENCH_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/postgres"}
    done = subprocess.run(
        [sys.executable, str(BENCH / "cases.py"), "--quick"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("错误：无法连接 PostgreSQL（postgresql+psycopg://postgres@127.0.0.1:1/postgres）")
    assert "make system-deps" in lines[0] and "CHENGGUAN_BENCH_DATABASE_URL" in lines[0]


def test_urls_that_are_not_postgresql_are_refused_readably() -> None:
    common = _bench_common()
    assert "需要 PostgreSQL + PostGIS" in common.server_problem("sqlite:///bench.db")
    assert "无法解析" in common.server_problem("::not a url")


@pytest.mark.postgres_only
def test_server_without_postgis_or_login_is_named_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    common = _bench_common()
    assert common.server_problem(PG_URL) is None  # the test server has PostGIS

    monkeypatch.setattr(common, "REQUIRED_EXTENSION", "postgis_absent_from_this_server")
    problem = common.server_problem(PG_URL)
    assert problem and "没有安装 PostGIS" in problem
    assert re.search(r"apt-get install -y postgresql-\d+-postgis-3", problem)
    assert "CHENGGUAN_BENCH_DATABASE_URL" in problem and "\n" not in problem

    monkeypatch.undo()
    nobody = make_url(PG_URL).set(username="no_such_role_chengguan", password="pw").render_as_string(False)
    problem = common.server_problem(nobody)
    assert problem and problem.startswith("PostgreSQL 拒绝登录") and ":pw@" not in problem
