"""Open311 GeoReport v2 (``/open311/v2/``) on PostgreSQL: what the standard's layer costs on top of intake.

In a throwaway database with the demo city (Hangzhou), through the whole app in-process (FastAPI's test client:
every middleware, no network), one request at a time:

1. ``POST requests.json`` (form-encoded, api_key, two attributes, WGS84 point) → p50/p99, against the same
   report pushed through the 12345 channel's ``POST /api/v1/intake/hotline`` (JSON, X-Api-Key): the same door
   (``intake.service.submit``) without the Open311 layer. Processing is left to workers (``inline_jobs`` off),
   as in production, so both measure storing the report.
2. ``GET requests.json`` (the spec's default: the last 90 days, up to 1,000 requests; with ``extensions=true``
   up to 200, each with its public timeline) and ``GET requests/{id}.json`` → p50/p99, against
   ``GET discovery.json`` (no database: the floor of the stack), after the reports of step 1 became cases.

Usage: ``python bench/open311.py`` (1,000 requests) or ``--quick`` (100; about a minute).
``CHENGGUAN_BENCH_DATABASE_URL`` names the server (default: local postgres). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from _common import percentile, require_server, throwaway_pg  # noqa: E402
from chengguan import demo  # noqa: E402
from chengguan.cases.channels import Channel  # noqa: E402
from chengguan.config import Settings  # noqa: E402
from chengguan.db import make_engine, make_session_factory, transaction  # noqa: E402
from chengguan.identity.models import Bureau  # noqa: E402
from chengguan.intake import clients  # noqa: E402
from chengguan.intake import service as intake  # noqa: E402
from chengguan.intake.models import Report  # noqa: E402
from chengguan.migrate import upgrade  # noqa: E402
from chengguan.web.app import create_app  # noqa: E402

V2 = "/open311/v2"
OPEN311_KEY = "cgk_bench-open311-application-key"
HOTLINE_KEY = "cgk_bench-12345-platform-key"


def timed(n: int, call: Callable[[int], int]) -> list[float]:
    """Milliseconds of ``call(i)`` for i in range(n); every call must answer the status it expects."""
    out = []
    for i in range(n):
        t = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 2), "p99_ms": round(percentile(ms, 99), 2)}


def point(i: int) -> tuple[float, float]:
    """Points spread over 西湖区 (about 3 × 2 km), WGS84."""
    return 120.115 + (i * 37 % 300) / 10000, 30.262 + (i * 53 % 200) / 10000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 requests instead of 1,000")
    args = parser.parse_args()
    n = 100 if args.quick else 1000
    require_server()
    started = time.perf_counter()
    with throwaway_pg() as url, TemporaryDirectory() as data_dir:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with transaction(factory) as s:
            demo.seed_city(s, grid_size_m=3000)  # coarse grids: seeding is not measured
            city = s.scalars(select(Bureau).where(Bureau.code == "hz")).one()
            clients.create_client(
                s, code="bench-311", name="Open311 应用", channel=Channel.OPEN311, bureau=city, key=OPEN311_KEY
            )
            clients.create_client(
                s, code="bench-12345", name="12345 平台", channel=Channel.HOTLINE_12345, bureau=city, key=HOTLINE_KEY
            )
        settings = Settings(env="test", inline_jobs=False, data_dir=Path(data_dir))
        client = TestClient(create_app(settings, session_factory=factory))

        def open311_post(i: int) -> int:
            lon, lat = point(i)
            r = client.post(
                f"{V2}/requests.json",
                data={
                    "api_key": OPEN311_KEY,
                    "service_code": "0501",
                    "lat": f"{lat}",
                    "long": f"{lon}",
                    "description": f"人行道上有流动摊贩占道经营（{i}）",
                    "attribute[BLOCKS_TRAFFIC]": "yes",
                    "attribute[STALLS]": "2",
                },
            )
            assert r.status_code == 201, r.text
            return r.status_code

        def hotline_post(i: int) -> int:
            lon, lat = point(i)
            r = client.post(
                "/api/v1/intake/hotline",
                headers={"X-Api-Key": HOTLINE_KEY},
                json={
                    "order_no": f"B{i:08d}",
                    "content": f"人行道上有流动摊贩占道经营（{i}）",
                    "lon": lon,
                    "lat": lat,
                    "called_at": "2026-05-01T08:30:00+08:00",
                    "category_code": "0501",
                },
            )
            assert r.status_code == 201, r.text
            return r.status_code

        for i in range(5):  # warm up both paths (imports, caches, prepared plans)
            open311_post(10_000 + i)
            hotline_post(10_000 + i)
        post_ms = timed(n, open311_post)
        hotline_ms = timed(n, lambda i: hotline_post(20_000 + i))

        with factory() as s:  # what workers would do: every report becomes a case (or joins one)
            ids = list(s.scalars(select(Report.id).order_by(Report.id)))
        for report_id in ids:
            with transaction(factory) as s:
                intake.process(s, report_id=report_id)
        first = client.get(f"{V2}/requests.json").json()
        assert first, "no service requests to read"
        some = [row["service_request_id"] for row in first[:50]]

        def get(path: str, **params: str) -> Callable[[int], int]:
            def call(i: int) -> int:
                r = client.get(path.format(id=some[i % len(some)]), params=params)
                assert r.status_code == 200, r.text
                return r.status_code

            return call

        reads = max(10, n // 20)
        list_ms = timed(reads, get(f"{V2}/requests.json"))
        notes_ms = timed(reads, get(f"{V2}/requests.json", extensions="true"))
        one_ms = timed(reads * 5, get(f"{V2}/requests/{{id}}.json"))
        floor_ms = timed(reads * 5, get(f"{V2}/discovery.json"))
        engine.dispose()
    result = {
        "requests": n,
        "listed": len(first),
        "open311_post": summary(post_ms),
        "baseline_hotline_post": summary(hotline_ms),
        "open311_post_p50_over_baseline": round(percentile(post_ms, 50) / percentile(hotline_ms, 50), 2),
        "get_requests_list": summary(list_ms),
        "get_requests_list_with_notes": summary(notes_ms),
        "get_request_by_id": summary(one_ms),
        "baseline_get_discovery": summary(floor_ms),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
