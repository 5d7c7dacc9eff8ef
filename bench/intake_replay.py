"""Replay real 311 data through the intake HTTP API on PostgreSQL, against the floor of the same stack.

Data (read from the shared folder beside the checkout, never copied into the repository):
``../shared/data/boston311_2015/raw/`` — all 121,145 Boston 311 requests of 2015 with their real intake channel
(``Source``) and neighbourhood — and the four MyLA311 slices in ``../shared/data/la311/`` (39,999 requests, with
``RequestSource`` and council district ``CD``).

Boston and Los Angeles are set up as jurisdictions of their own in a throwaway database: a city bureau and one
brigade per neighbourhood (Boston) or council district (Los Angeles), with district boundaries derived from
the requests' own points (``chengguan.geo.derive``), generated streets/communities/grids below them and the
default catalog. ``bench/data/boston311.yaml`` and ``la311.yaml`` map each request type onto a 小类 (or none:
another department's work, sent without a category for classification to decide) and each channel onto the
platform's endpoint: citizens' apps and web forms → the public door ``POST /api/v1/public/reports``
(anonymous; ``--door account``: ``POST /api/v1/my/reports`` with a citizen's login), calls →
the 12345 push ``POST /api/v1/intake/hotline`` (API key), Twitter → ``POST /api/v1/intake/social``, city
workers → ``POST /api/v1/cases`` (a grid worker's or an officer's login).

The platform runs as ``uvicorn chengguan.web.app:create_app`` (N worker processes, uvloop/httptools), with
processing left to workers (``CHENGGUAN_INLINE_JOBS=false``: the POST stores the report and queues it, as in
production) and the public door's rate limits switched off. The floor is a bare FastAPI app under the very
same uvicorn settings: one table, one INSERT of the same JSON body, a durable commit (the server's
``synchronous_commit`` is reported). Both are measured in the same run:

1. the replay: every request through its channel's endpoint, ``--concurrency`` clients back to back →
   reports/s sustained and the answers by status (e.g. 422 for points outside both cities);
2. the citizen POST at a fixed offered load (``--rate`` req/s for ``--seconds``, open loop: latency from the
   scheduled send time) → p50/p99, and the same schedule against the floor;
3. the most the citizen POST and the floor sustain (closed loop, ``--concurrency`` clients) → the share; then
   both at half of what the citizen POST sustains;
4. one worker (``outbox.run_pending``, as ``chengguan worker``) processes the queued reports for a while →
   reports processed per second and what became of them.

Usage: ``python bench/intake_replay.py`` (every request) or ``--quick`` (a sample; under a minute).
``CHENGGUAN_BENCH_DATABASE_URL`` names the server (default: local postgres). The last line printed is JSON.
Without a reachable PostgreSQL + PostGIS, or without the shared data, it says so in one line and exits with
status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import glob
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import argon2  # noqa: E402
import yaml  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from _common import (  # noqa: E402
    LoadResult,
    closed_loop,
    http_request,
    open_loop,
    percentile,
    require_server,
    throwaway_pg,
    uvicorn_server,
)

DATA = ROOT.parent / "shared" / "data"
BOSTON = DATA / "boston311_2015" / "raw"
LA = DATA / "la311"
MAPPINGS = Path(__file__).resolve().parent / "data"
PASSWORD = "bench-replay-2026"
CITIZENS_PER_CITY = 8
STAFF_CHANNELS = ("grid_worker", "officer_patrol")
FLOOR_PATH = "/floor/reports"
DOORS = {  # the citizen's POST: the public door (anonymous, /h5) or the logged-in citizen's own
    "public": "/api/v1/public/reports",
    "account": "/api/v1/my/reports",
}
T = TypeVar("T")
PATHS = {
    "grid_worker": "/api/v1/cases",
    "officer_patrol": "/api/v1/cases",
    "hotline_12345": "/api/v1/intake/hotline",
    "social_media": "/api/v1/intake/social",
}


# ---- data ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    city: str  # bos | la
    ref: str  # the 311 request number
    type: str
    source: str  # the 311 channel as recorded
    lon: float | None
    lat: float | None
    district: str  # neighbourhood / council district as recorded ("" when none)
    opened: str  # local time as recorded (parsed only for the requests that send it)
    address: str | None


@dataclass
class City:
    config: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.config["city"]["code"])

    def channel(self, row: Row) -> str | None:
        channel = self.config["channels"].get(row.source)
        return str(channel) if channel else None

    def district_of(self, row: Row) -> str:
        label = self.config["district_aliases"].get(row.district, row.district)
        return "" if label in self.config["not_districts"] else label

    def kind(self, row: Row) -> dict[str, Any]:
        return self.config["types"].get(row.type) or {}

    def opened(self, row: Row) -> datetime:
        zone = ZoneInfo(self.config["city"]["timezone"])
        for fmt in ("%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(row.opened.strip(), fmt).replace(tzinfo=zone)
            except ValueError:
                continue
        raise ValueError(f"unreadable time {row.opened!r}")


def _float(value: str) -> float | None:
    try:
        out = float(value)
    except ValueError:
        return None
    return out if out != 0 else None


def _order(ref: str) -> int:
    """Both cities number requests in the order they were opened: replay in that order."""
    digits = "".join(ch for ch in ref if ch.isdigit())
    return int(digits) if digits else 0


def _read(city: City, paths: list[str], columns: dict[str, str]) -> None:
    """Rows of the CSV files at ``paths``; ``columns`` maps Row fields onto the files' (case-blind) headers."""
    for path in paths:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader)]
            at = {name: header.index(col) if col in header else None for name, col in columns.items()}

            def get(r: list[str], name: str, at: dict[str, int | None] = at) -> str:
                i = at[name]
                return r[i] if i is not None and i < len(r) else ""

            for r in reader:
                city.rows.append(
                    Row(
                        city=city.code,
                        ref=get(r, "ref"),
                        type=get(r, "type"),
                        source=get(r, "source"),
                        lon=_float(get(r, "lon")),
                        lat=_float(get(r, "lat")),
                        district=get(r, "district").strip(),
                        opened=get(r, "opened"),
                        address=get(r, "address").strip()[:200] or None,
                    )
                )
    city.rows.sort(key=lambda row: _order(row.ref))


def load_boston(city: City) -> None:
    columns = {"ref": "case_enquiry_id", "type": "type", "source": "source", "lon": "longitude"}
    columns |= {"lat": "latitude", "district": "neighborhood", "opened": "open_dt", "address": "location_street_name"}
    _read(city, sorted(glob.glob(str(BOSTON / "*.csv"))), columns)


def load_la(city: City) -> None:
    columns = {"ref": "srnumber", "type": "requesttype", "source": "requestsource", "lon": "longitude"}
    columns |= {"lat": "latitude", "district": "cd", "opened": "createddate", "address": "address"}
    _read(city, sorted(glob.glob(str(LA / "*.csv"))), columns)


def load_cities() -> list[City]:
    missing = [p for p in (BOSTON, LA) if not p.is_dir()]
    if missing:
        print(
            f"错误：找不到共享数据目录 {missing[0]}（应与代码仓库同级的 shared/data/，见 shared/data/README.md）。",
            file=sys.stderr,
        )
        raise SystemExit(2)
    cities = []
    for name, loader in (("boston311.yaml", load_boston), ("la311.yaml", load_la)):
        city = City(config=yaml.safe_load((MAPPINGS / name).read_text(encoding="utf-8")))
        loader(city)
        cities.append(city)
    return cities


# ---- the jurisdictions -----------------------------------------------------------------------------------------


@dataclass
class Callers:
    """Who sends each city's requests: citizens' and staff's tokens, the system clients' keys."""

    citizens: list[str] = field(default_factory=list)
    staff: dict[str, str] = field(default_factory=dict)  # channel -> token
    keys: dict[str, str] = field(default_factory=dict)  # channel -> API key


def set_up(session: Session, city: City, *, grid_size_m: float, thin: int = 1) -> tuple[Callers, dict[str, Any]]:
    """The city as a jurisdiction (districts derived from every ``thin``-th located request), its catalog,
    the accounts and system clients that send its requests."""
    from shapely.geometry import Point
    from shapely.prepared import prep as prepared

    from chengguan.cases.channels import Channel
    from chengguan.catalog import service as catalog
    from chengguan.geo.derive import DistrictSpec, create_jurisdiction, derive_areas
    from chengguan.identity import service as identity
    from chengguan.identity.roles import Role
    from chengguan.intake import clients

    conf = city.config["city"]
    t0 = time.perf_counter()
    points = [(r.lon, r.lat, city.district_of(r)) for r in city.rows if r.lon is not None and r.lat is not None]
    labelled = [(lon, lat, label) for lon, lat, label in points if lon is not None and lat is not None]
    areas = derive_areas(labelled[::thin])
    name_format = city.config.get("district_name", "{label}")
    areas.sort(key=lambda a: (len(a.label), a.label))  # 1, 2, … 15 for council districts; names alphabetically
    specs = [
        DistrictSpec(area=a, name=name_format.format(label=a.label), case_prefix=f"{conf['case_prefix']}{k:02d}")
        for k, a in enumerate(areas, 1)
    ]
    made = create_jurisdiction(
        session,
        code=conf["code"],
        name=conf["name"],
        admin_prefix=str(conf["admin_prefix"]),
        case_prefix=conf["case_prefix"],
        timezone=conf["timezone"],
        districts=specs,
        grid_size_m=grid_size_m,
    )
    catalog.seed_default_catalog(session, bureau=made.city)
    # Throwaway accounts get a cheap Argon2 hash: logging 20 of them in must not take seconds of setup.
    shared_hash = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    people = [(f"{city.code}_citizen{k:02d}", [Role.CITIZEN]) for k in range(CITIZENS_PER_CITY)]
    people += [(f"{city.code}_grid", [Role.GRID_WORKER]), (f"{city.code}_officer", [Role.OFFICER])]
    for username, roles in people:
        identity.create_user(
            session,
            bureau=made.city,
            username=username,
            password=PASSWORD,
            display_name=username,
            roles=roles,
            password_hash=shared_hash,
        )
    callers = Callers()
    for username, roles in people:
        token = identity.login(session, username=username, password=PASSWORD, ttl_hours=24).token
        if roles == [Role.CITIZEN]:
            callers.citizens.append(token)
        else:
            callers.staff["grid_worker" if roles == [Role.GRID_WORKER] else "officer_patrol"] = token
    for channel in (Channel.HOTLINE_12345, Channel.SOCIAL_MEDIA):
        issued = clients.create_client(
            session, code=f"{city.code}-{channel.value}".replace("_", "-"), name=f"{conf['name']} {channel.label}",
            channel=channel, bureau=made.city,
        )  # fmt: skip
        callers.keys[channel.value] = issued.key
    session.flush()
    located = [(lon, lat, label) for lon, lat, label in labelled if label]
    own = {a.label: prepared(a.geom) for a in areas}
    inside_own = sum(1 for lon, lat, label in located if label in own and own[label].covers(Point(lon, lat)))
    return callers, {
        f"{city.code}_districts": len(areas),
        f"{city.code}_grids": made.grids,
        f"{city.code}_boundary_points": len(located),
        f"{city.code}_points_in_own_district_share": inside_own / len(located) if located else 0.0,
        f"{city.code}_setup_s": time.perf_counter() - t0,
    }


# ---- requests --------------------------------------------------------------------------------------------------


def describe(city: City, row: Row, note: str = "") -> str:
    kind = city.kind(row)
    what = kind.get("text") or "市民诉求"
    return f"{what}（{city.config['city']['name']} 311 工单 {row.ref}：{row.type}{note}）"[:2000]


def citizen_request(city: City, row: Row, callers: Callers, n: int, door: str, note: str = "") -> tuple[bytes, bytes]:
    """A citizen's report of ``row`` through ``door``: anonymous at the public door (its rate limits are off;
    every description differs, so its same-text flood rule does not apply), else as one of the city's citizens."""
    body: dict[str, Any] = {"description": describe(city, row, note), "lon": row.lon, "lat": row.lat}
    if row.address:
        body["address"] = row.address
    if city.kind(row).get("category"):
        body["category_code"] = city.kind(row)["category"]
    headers = {}
    if door == "public":
        body["location_source"] = "gps"
    else:
        headers["Authorization"] = f"Bearer {callers.citizens[n % len(callers.citizens)]}"
    return http_request("POST", DOORS[door], _json(body), headers)


def request_for(city: City, row: Row, callers: Callers, n: int, door: str) -> tuple[str, tuple[bytes, bytes]] | str:
    """(channel, HTTP request) for one row through its channel's endpoint; or why it is not sent."""
    channel = city.channel(row)
    if channel is None:
        return "unknown_channel"
    category = city.kind(row).get("category")
    placed = row.lon is not None and row.lat is not None
    if channel in ("citizen", *STAFF_CHANNELS):
        if not placed:
            return "no_location"
        if channel == "citizen":
            return channel, citizen_request(city, row, callers, n, door)
        if category is None:
            return "staff_of_other_departments"  # a city worker's report of another department's work
        body: dict[str, Any] = {"description": describe(city, row), "lon": row.lon, "lat": row.lat}
        body |= {"address": row.address, "category_code": category}
        auth = {"Authorization": f"Bearer {callers.staff[channel]}"}
        return channel, http_request("POST", PATHS[channel], _json(body), auth)
    if not placed and not row.address:
        return "no_location"
    where: dict[str, Any] = {"lon": row.lon, "lat": row.lat} if placed else {}
    if category:
        where["category_code"] = category
    if channel == "hotline_12345":
        body = {
            "order_no": f"{city.code}-{row.ref}",
            "content": describe(city, row),
            "title": row.type[:100],
            "called_at": city.opened(row).isoformat(),
            "address": row.address,
            **where,
        }
    else:
        body = {
            "post_id": f"{city.code}-{row.ref}",
            "platform": "twitter",
            "url": f"https://311.example.org/{city.code}/{row.ref}",
            "author": f"{city.code}311",
            "text": describe(city, row),
            "posted_at": city.opened(row).isoformat(),
            "place": row.address,
            **where,
        }
    return channel, http_request("POST", PATHS[channel], _json(body), {"X-Api-Key": callers.keys[channel]})


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in body.items() if v is not None}, ensure_ascii=False).encode()


def sample(rows: list[T], n: int | None) -> list[T]:
    """``n`` of ``rows`` spread evenly over them (in order), or all."""
    if n is None or n >= len(rows):
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


# ---- the floor: bare FastAPI + one INSERT ----------------------------------------------------------------------

FLOOR_TABLE = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id bigserial PRIMARY KEY,
    description text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    address text,
    category_code text,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""


class FloorIn(BaseModel):
    description: str = Field(min_length=1, max_length=2000)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    address: str | None = Field(default=None, max_length=200)
    category_code: str | None = Field(default=None, max_length=16)


def floor_app() -> FastAPI:
    """The floor of this stack (``uvicorn intake_replay:floor_app --factory``): the citizen POST's body
    validated, one INSERT, a durable commit, the id back — nothing else."""
    from chengguan.db import make_engine

    engine = make_engine(os.environ["BENCH_FLOOR_DATABASE_URL"])  # the platform's pool settings
    app = FastAPI()
    insert = text(
        "INSERT INTO bench_floor (description, lon, lat, address, category_code) "
        "VALUES (:description, :lon, :lat, :address, :category_code) RETURNING id, received_at"
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(FLOOR_PATH, status_code=201)
    def report(body: FloorIn) -> dict[str, Any]:
        with engine.begin() as conn:
            row = conn.execute(insert, body.model_dump()).one()
        return {"id": row.id, "received_at": row.received_at.isoformat()}

    return app


# ---- processing: what becomes of the stored reports -------------------------------------------------------------


def process_for(factory: sessionmaker[Session], *, seconds: float) -> dict[str, Any]:
    """Process queued reports for ``seconds`` as one ``chengguan worker`` does (``outbox.run_pending`` in
    batches, oldest first: the replay's), in this process; reports processed per second and their outcomes."""
    from chengguan.cases import notifications  # noqa: F401 - registers the outbox handlers, as a worker does
    from chengguan.config import Settings
    from chengguan.intake import (
        classify,
        service,  # noqa: F401 - registers the report processing
    )
    from chengguan.intake.models import Report
    from chengguan.jobs import broker, outbox

    def processed() -> int:
        with factory() as s:
            return s.scalar(select(func.count()).where(Report.processed_at.is_not(None))) or 0

    broker.configure(Settings(broker_url=""))  # the in-process broker of the embedded default
    classify.classify("路边垃圾桶满溢")  # a worker loads the text model once, when it starts: not measured
    before = processed()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds and outbox.run_pending(factory, limit=20):
        pass
    elapsed = time.perf_counter() - t0
    done = processed() - before
    with factory() as s:
        outcomes = s.execute(
            select(Report.channel, Report.status, func.count())
            .where(Report.processed_at.is_not(None))
            .group_by(Report.channel, Report.status)
        ).all()
    return {
        "processed": done,
        "processed_per_s": done / elapsed,
        "processing_s": elapsed,
        "processed_outcomes": {f"{channel}:{status}": n for channel, status, n in outcomes},
    }


# ---- the run ---------------------------------------------------------------------------------------------------


def _latency(prefix: str, result: LoadResult) -> dict[str, float | int]:
    return {
        f"{prefix}_p50_ms": percentile(result.latencies_ms, 50),
        f"{prefix}_p99_ms": percentile(result.latencies_ms, 99),
        f"{prefix}_max_ms": max(result.latencies_ms, default=float("nan")),
        f"{prefix}_achieved_per_s": result.per_s,
        f"{prefix}_errors": result.sent - result.ok - result.timeouts,
        f"{prefix}_timeouts": result.timeouts,
    }


def _say(label: str, result: LoadResult) -> None:
    lat = result.latencies_ms
    print(
        f"{label}: {result.ok}/{result.sent} ok in {result.seconds:.1f} s = {result.per_s:.0f}/s; "
        f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms"
        + (f"; not 2xx: {dict(result.problems.most_common(6))}" if result.problems else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a sample of the replay, short loads (under a minute)")
    parser.add_argument("--replay", type=int, default=None, help="requests to replay (default: all; quick: 1,500)")
    parser.add_argument("--rate", type=float, default=500.0, help="offered load of the citizen POST, req/s")
    parser.add_argument("--seconds", type=float, default=None, help="how long the offered load runs (30; quick 5)")
    parser.add_argument("--saturate-seconds", type=float, default=None, help="closed-loop runs (20; quick 4)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients of the closed-loop runs")
    parser.add_argument("--max-conns", type=int, default=32, help="connections of the open-loop run at most")
    parser.add_argument("--server-workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes")
    parser.add_argument("--process-seconds", type=float, default=None, help="workers processing (60; quick 3)")
    parser.add_argument(
        "--door", choices=sorted(DOORS), default="public", help="the citizen POST: public (anonymous) or account"
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    replay_n = args.replay if args.replay is not None else (300 if args.quick else None)
    seconds = args.seconds or (4.0 if args.quick else 30.0)
    saturate = args.saturate_seconds or (3.0 if args.quick else 20.0)
    drain = 2.0 if args.quick else 10.0
    process_s = args.process_seconds or (3.0 if args.quick else 60.0)

    require_server()
    t_start = time.perf_counter()
    cities = load_cities()
    result: dict[str, Any] = {
        "database": "postgresql",
        "server_workers": args.server_workers,
        "rows_in_data": sum(len(c.rows) for c in cities),
        "load_data_s": time.perf_counter() - t_start,
    }
    print(f"read {result['rows_in_data']} requests in {result['load_data_s']:.1f} s", flush=True)

    from chengguan.db import make_engine
    from chengguan.migrate import upgrade

    with throwaway_pg(keep=args.keep) as url, tempfile.TemporaryDirectory() as data_dir:
        if args.keep:
            print(f"database kept: {url}", flush=True)
        engine = make_engine(url, pool_size=2)
        upgrade(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        callers: dict[str, Callers] = {}
        with factory() as s:
            for city in cities:
                callers[city.code], facts = set_up(
                    s, city, grid_size_m=3000.0 if args.quick else 1000.0, thin=2 if args.quick else 1
                )
                result.update(facts)
            s.execute(text(FLOOR_TABLE))
            s.commit()
            result["synchronous_commit"] = s.scalar(text("SHOW synchronous_commit"))
            result["fsync"] = s.scalar(text("SHOW fsync"))
        print(
            "jurisdictions: "
            + ", ".join(
                f"{c.code} {result[f'{c.code}_districts']} districts / {result[f'{c.code}_grids']} grids "
                f"({result[f'{c.code}_setup_s']:.1f} s)"
                for c in cities
            ),
            flush=True,
        )

        # what is replayed, through which endpoint
        skipped: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        replay: list[tuple[bytes, bytes]] = []
        for city in cities:
            rows = sample(city.rows, None if replay_n is None else replay_n * len(city.rows) // result["rows_in_data"])
            for n, row in enumerate(rows):
                made = request_for(city, row, callers[city.code], n, args.door)
                if isinstance(made, str):
                    skipped[made] += 1
                    continue
                by_channel[made[0]] += 1
                replay.append(made[1])
        # the citizen POST under load: rows as citizens' reports (marked as such in the text, so that none repeats
        # a replayed one), a distinct set per phase; the floor gets the same bodies
        warm = 100 if args.quick else 300
        sizes = {"warm": warm, "open": int(args.rate * seconds), "most": int(max(args.rate, 2500) * saturate)}
        sizes["half"] = sizes["open"] // 2
        placed = [(c, r) for c in cities for r in c.rows if r.lon is not None and r.lat is not None]
        placed = sample(placed, sum(sizes.values()))
        phases: dict[str, list[tuple[bytes, bytes]]] = {}
        floor_phases: dict[str, list[tuple[bytes, bytes]]] = {}
        start = 0
        for phase, size in sizes.items():
            chunk = placed[start : start + size]
            start += size
            phases[phase] = [
                citizen_request(city, row, callers[city.code], n, args.door, "；负载测试")
                for n, (city, row) in enumerate(chunk)
            ]
            floor_phases[phase] = [http_request("POST", FLOOR_PATH, body) for _, body in phases[phase]]
        citizen_path = DOORS[args.door]

        env = {
            "CHENGGUAN_DATABASE_URL": url,
            "CHENGGUAN_DATA_DIR": data_dir,
            "CHENGGUAN_INLINE_JOBS": "false",
            "CHENGGUAN_PUBLIC_MAX_WRITES": "0",
            "CHENGGUAN_PUBLIC_MAX_READS": "0",
            "CHENGGUAN_ENV": "dev",
            "BENCH_FLOOR_DATABASE_URL": url,
        }
        workers = args.server_workers
        with uvicorn_server("chengguan.web.app:create_app", env=env, workers=workers) as port:
            asyncio.run(closed_loop(port, iter(phases["warm"]), concurrency=4))  # warm-up
            replayed = asyncio.run(closed_loop(port, iter(replay), concurrency=args.concurrency))
            _say(f"replay through the channels' endpoints ({dict(by_channel)})", replayed)
            citizen = asyncio.run(
                open_loop(port, phases["open"], rate=args.rate, max_conns=args.max_conns, drain_s=drain)
            )
            _say(f"citizen POST at {args.rate:.0f} req/s offered", citizen)
            citizen_max = asyncio.run(
                closed_loop(port, iter(phases["most"]), concurrency=args.concurrency, seconds=saturate)
            )
            _say("citizen POST, most sustained", citizen_max)
            # and at half of what it sustains: the latency of a server that keeps up (same rate for the floor)
            half = max(1.0, round(citizen_max.per_s / 2))
            half_requests = phases["half"][: max(1, int(half * seconds))]
            citizen_half = asyncio.run(open_loop(port, half_requests, rate=half, max_conns=args.max_conns))
            _say(f"citizen POST at {half:.0f} req/s offered", citizen_half)
        with uvicorn_server("intake_replay:floor_app", env=env, workers=workers, app_dir=str(ROOT / "bench")) as port:
            asyncio.run(closed_loop(port, iter(floor_phases["warm"]), concurrency=4))
            floor = asyncio.run(
                open_loop(port, floor_phases["open"], rate=args.rate, max_conns=args.max_conns, drain_s=drain)
            )
            _say(f"floor POST at {args.rate:.0f} req/s offered", floor)
            floor_max = asyncio.run(
                closed_loop(port, iter(floor_phases["most"]), concurrency=args.concurrency, seconds=saturate)
            )
            _say("floor POST, most sustained", floor_max)
            floor_half = asyncio.run(
                open_loop(port, floor_phases["half"][: len(half_requests)], rate=half, max_conns=args.max_conns)
            )
            _say(f"floor POST at {half:.0f} req/s offered", floor_half)

        with factory() as s:
            from chengguan.intake.models import Report

            stored = dict(s.execute(select(Report.channel, func.count()).group_by(Report.channel)).all())
        processing = process_for(factory, seconds=process_s)
        print(
            f"processing: {processing['processed']} reports in {processing['processing_s']:.1f} s "
            f"= {processing['processed_per_s']:.0f}/s in one worker",
            flush=True,
        )
        engine.dispose()

    result.update(
        {
            "replay_requests": replayed.sent,
            "replay_stored": replayed.ok,
            "replay_per_s": replayed.per_s,
            "replay_p50_ms": percentile(replayed.latencies_ms, 50),
            "replay_p99_ms": percentile(replayed.latencies_ms, 99),
            "replay_by_channel": dict(by_channel),
            "replay_refused": dict(replayed.problems),
            "not_replayed": dict(skipped),
            "reports_in_db_by_channel": stored,
            **processing,
            "citizen_door": citizen_path,
            "citizen_post_repeated": citizen.statuses[200] + citizen_max.statuses[200] + citizen_half.statuses[200],
            "offered_per_s": args.rate,
            "offered_s": seconds,
            **_latency("citizen_post", citizen),
            **_latency("floor_post", floor),
            "half_load_offered_per_s": half,
            **_latency("citizen_post_half_load", citizen_half),
            **_latency("floor_post_half_load", floor_half),
            "citizen_post_max_per_s": citizen_max.per_s,
            "floor_post_max_per_s": floor_max.per_s,
            "citizen_share_of_floor": citizen_max.per_s / floor_max.per_s if floor_max.per_s else 0.0,
            "concurrency": args.concurrency,
            "total_s": time.perf_counter() - t_start,
        }
    )
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, ensure_ascii=False))


if __name__ == "__main__":
    main()
