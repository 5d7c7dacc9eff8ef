"""bench/: without a usable PostgreSQL + PostGIS a benchmark says what is missing in one line, no traceback."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import PG_URL

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "_common.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
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


# ---- bench/intake_replay.py: Boston and Los Angeles through the intake API --------------------------------------

SHARED_DATA = BENCH.parents[1] / "shared" / "data"


def test_replay_bench_without_a_server_says_so_in_one_line() -> None:
    env = {**os.environ, "CHENGGUAN_BENCH_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/postgres"}
    done = subprocess.run(
        [sys.executable, str(BENCH / "intake_replay.py"), "--quick"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("错误：无法连接 PostgreSQL")


def test_request_type_mappings_name_only_categories_of_the_catalog_and_real_channels() -> None:
    import yaml

    from chengguan.cases.channels import Channel
    from chengguan.catalog.formats import default_catalog_text, parse_yaml

    minors = {m.code for major in parse_yaml(default_catalog_text()) for m in major.minors}
    for name in ("boston311.yaml", "la311.yaml"):
        mapping = yaml.safe_load((BENCH / "data" / name).read_text(encoding="utf-8"))
        categories = {t["category"] for t in mapping["types"].values() if t.get("category")}
        assert categories and categories <= minors, (name, categories - minors)
        assert set(mapping["channels"].values()) <= {c.value for c in Channel}
        assert all(t.get("text") for t in mapping["types"].values()), name


def test_a_derived_jurisdiction_places_reports_in_its_own_brigades(db: Session) -> None:
    """Districts derived from points become brigades with districts and grids; ``locate`` finds them."""
    import random

    from chengguan.geo import service as geo
    from chengguan.geo.derive import DistrictSpec, create_jurisdiction, derive_areas
    from chengguan.identity.models import Bureau

    rng = random.Random(5)
    points = [(-71.10 + rng.uniform(0, 0.02), 42.30 + rng.uniform(0, 0.02), "West") for _ in range(400)]
    points += [(-71.08 + rng.uniform(0, 0.02), 42.30 + rng.uniform(0, 0.02), "East") for _ in range(400)]
    areas = sorted(derive_areas(points), key=lambda a: a.label)
    made = create_jurisdiction(
        db,
        code="tst",
        name="测试市城市管理指挥中心",
        admin_prefix="99",
        case_prefix="TST",
        timezone="America/New_York",
        districts=[DistrictSpec(area=a, name=a.label, case_prefix=f"T{k}") for k, a in enumerate(areas, 1)],
        grid_size_m=500,
    )
    assert made.city.kind == "city" and made.city.admin_code == "990100" and made.city.timezone == "America/New_York"
    assert {b.admin_code for b in made.brigades.values()} == {"990101", "990102"}
    assert made.grids > 0
    scope = list(db.scalars(select(Bureau.id).where(Bureau.code.like("tst%"))))
    where = geo.locate(db, bureau_ids=scope, lon=-71.095, lat=42.31)
    assert where is not None
    assert where.district_name == "West" and where.bureau_id == made.brigades["West"].id
    assert where.grid_id is not None and where.street_id is not None
    east = geo.locate(db, bureau_ids=scope, lon=-71.065, lat=42.31)
    assert east is not None and east.bureau_id == made.brigades["East"].id
    assert geo.locate(db, bureau_ids=scope, lon=-71.30, lat=42.31) is None  # far outside: nobody's


@pytest.mark.postgres_only
def test_replay_bench_runs_and_ends_with_a_json_line_of_units() -> None:
    """A tiny run of the real thing: both cities set up, a few requests per channel, both servers loaded."""
    assert SHARED_DATA.is_dir(), f"the shared data folder is missing: {SHARED_DATA}"
    env = {**os.environ, "CHENGGUAN_BENCH_DATABASE_URL": PG_URL}
    args = ["--quick", "--replay", "60", "--rate", "40", "--seconds", "1", "--saturate-seconds", "0.5"]
    done = subprocess.run(
        [sys.executable, str(BENCH / "intake_replay.py"), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bos_districts"] >= 15 and result["la_districts"] == 15
    assert result["replay_stored"] >= 0.9 * result["replay_requests"] > 0
    assert not any(k.startswith("5") for k in result["replay_refused"]), result["replay_refused"]
    assert {"citizen", "hotline_12345"} <= set(result["replay_by_channel"])
    assert result["citizen_post_p99_ms"] > 0 and result["floor_post_p99_ms"] > 0
    assert result["citizen_post_max_per_s"] > 0 and result["floor_post_max_per_s"] > 0
    assert result["bos_points_in_own_district_share"] > 0.8 and result["la_points_in_own_district_share"] > 0.8
    for key, value in result.items():  # measured figures carry their unit in the key (or are a share)
        if isinstance(value, float) and key != "citizen_share_of_floor":
            assert key.endswith(("_ms", "_s", "_per_s", "_share")), key
