"""Benchmark the 12345 bulk importer on PostgreSQL with the real Boston 311 2015 export.

The 158 per-type CSV files of ``../shared/data/boston311_2015/raw/`` (121,145 real service requests) are
joined into one export, as a 311/12345 platform would hand it over, and imported through a column mapping
(``CASE_ENQUIRY_ID=external_id, OPEN_DT=called_at, TYPE=content, Location=address, LATITUDE=lat,
LONGITUDE=lon``, Boston local time) for a hotline client of a Boston jurisdiction: one bureau whose district
is the convex hull of the data's points. Measured in the same run:

1. **import** — ``intake.imports.import_orders`` of the whole file in one transaction, commit included:
   read, validate every row, locate every point (one spatial join), store each report with its processing
   queued in the outbox (one message per chunk, fanned out into one per report when a worker runs it);
   reports/s;
2. **baseline** — the floor of the same work without the platform: ``csv`` parses the same bytes and a bare
   ``executemany`` INSERT (SQLAlchemy's batched multi-row VALUES) writes the same rows' values into a plain
   table with no index but its primary key, one commit; rows/s;
3. **re-import** — the same file again: every order recognised, nothing stored; orders/s;
4. **processing** — the outbox turning imported reports into cases, triage or forwards after the import
   (``outbox.run_pending``: the chunk's fan-out, then per report classification, duplicate search, case
   opening), on a sample, after the
   classifier has been trained once (a worker does that once per process); reports/s.

Usage: ``python bench/hotline_import.py`` (all 121,145 rows, processing sample 3,000) or ``--quick`` (20,000
rows, sample 200; under a minute). ``CHENGGUAN_BENCH_DATABASE_URL`` names the server (default: local
postgres). The last line printed is JSON. Without a reachable PostGIS server it says so and exits with 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shapely.geometry import MultiPoint, MultiPolygon
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text, func, select
from sqlalchemy.orm import sessionmaker

from _common import require_server, throwaway_pg
from chengguan.cases.channels import Channel
from chengguan.db import make_engine
from chengguan.geo.models import District
from chengguan.geo.store import set_geometry
from chengguan.identity import service as identity
from chengguan.intake import classify, clients, imports
from chengguan.intake import service as _handlers  # noqa: F401 - registers intake.report in the outbox
from chengguan.intake.models import Report
from chengguan.jobs import outbox
from chengguan.jobs.models import OutboxMessage
from chengguan.migrate import upgrade

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "boston311_2015" / "raw"
MAPPING = "CASE_ENQUIRY_ID=external_id,OPEN_DT=called_at,TYPE=content,Location=address,LATITUDE=lat,LONGITUDE=lon"
TIMEZONE = "America/New_York"
AT = datetime(2016, 1, 18, tzinfo=UTC)  # when the export was taken


def boston_export(limit: int | None) -> tuple[bytes, list[tuple[float, float]]]:
    """The raw per-type files as one CSV export (rows in file order), and every row's point."""
    files = sorted(RAW.glob("*.csv"))
    if not files:
        print(f"错误：找不到 Boston 311 数据：{RAW}", file=sys.stderr)
        raise SystemExit(2)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    points: list[tuple[float, float]] = []
    header: list[str] | None = None
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            head = next(reader)
            if header is None:
                header = head
                writer.writerow(head)
                lat_i, lon_i = head.index("LATITUDE"), head.index("LONGITUDE")
            for row in reader:
                writer.writerow(row)
                points.append((float(row[lon_i]), float(row[lat_i])))
                if limit is not None and len(points) >= limit:
                    return out.getvalue().encode(), points
    return out.getvalue().encode(), points


def bench_baseline(engine: object, data: bytes) -> tuple[float, int]:
    """csv + a bare executemany INSERT of the same rows' values, one commit."""
    meta = MetaData()
    bare = Table(
        "bare_order",
        meta,
        Column("id", Integer, primary_key=True),
        Column("external_id", String(64)),
        Column("called_at", DateTime(timezone=True)),
        Column("content", Text),
        Column("address", String(200)),
        Column("lon", Float),
        Column("lat", Float),
    )
    meta.create_all(engine)  # type: ignore[arg-type]
    started = time.perf_counter()
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    head = next(reader)
    idx = [head.index(c) for c in ("CASE_ENQUIRY_ID", "OPEN_DT", "TYPE", "Location", "LONGITUDE", "LATITUDE")]
    rows = [
        {
            "external_id": r[idx[0]],
            "called_at": datetime.strptime(r[idx[1]], "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC),
            "content": r[idx[2]],
            "address": r[idx[3]] or None,
            "lon": float(r[idx[4]]),
            "lat": float(r[idx[5]]),
        }
        for r in reader
    ]
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(bare.insert(), rows)
    return time.perf_counter() - started, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 rows, processing sample 200 (under a minute)")
    parser.add_argument("--rows", type=int, default=None, help="import only the first N rows")
    parser.add_argument("--process", type=int, default=None, help="reports to process through the outbox")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    limit = args.rows or (20_000 if args.quick else None)
    sample = args.process if args.process is not None else (200 if args.quick else 3_000)
    require_server()
    data, points = boston_export(limit)
    print(f"Boston 311 2015: {len(points)} rows, {len(data) / 1e6:.1f} MB", flush=True)
    with throwaway_pg(keep=args.keep) as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as s:
            boston = identity.create_bureau(
                s, code="bos", name="Boston", kind="city", admin_code="990100", case_prefix="BOS"
            )
            hull = MultiPoint(points).convex_hull.buffer(0.005)
            district = District(code="bos", name="Boston", city_code="990100", bureau_id=boston.id, source="derived")
            set_geometry(district, MultiPolygon([hull]))
            s.add(district)
            s.flush()
            client = clients.create_client(
                s, code="bos-311", name="Boston 311", channel=Channel.HOTLINE_12345, bureau=boston
            ).client
            s.commit()
        mapping = imports.parse_map(MAPPING, timezone=TIMEZONE)
        result: dict[str, float | int | str] = {"database": "postgresql", "rows": len(points)}

        base_s, base_n = bench_baseline(engine, data)
        result["baseline_executemany_s"] = base_s
        result["baseline_executemany_rows_per_s"] = base_n / base_s

        started = time.perf_counter()
        with factory() as s:
            got = imports.import_orders(s, client=s.get_one(type(client), client.id), data=data, mapping=mapping, at=AT)
            s.commit()
        took = time.perf_counter() - started
        result["import_s"] = took
        result["import_reports_per_s"] = got.stored / took
        result["import_stored"] = got.stored
        result["import_invalid_rows"] = got.invalid_rows
        for phase, seconds in got.timings.items():
            result[f"import_{phase}_s"] = seconds
        result["import_vs_baseline_pct"] = 100.0 * base_s / took
        print(
            f"import: {got.stored} reports in {took:.2f} s = {got.stored / took:,.0f} reports/s "
            f"({', '.join(f'{k} {v:.2f} s' for k, v in got.timings.items())}; {got.invalid_rows} bad rows); "
            f"baseline csv + executemany {base_n / base_s:,.0f} rows/s",
            flush=True,
        )
        if got.errors:
            print(f"  first bad row: {got.errors[0].location()}: {got.errors[0].message}", flush=True)

        started = time.perf_counter()
        with factory() as s:
            again = imports.import_orders(
                s, client=s.get_one(type(client), client.id), data=data, mapping=mapping, at=AT
            )
            s.commit()
        took = time.perf_counter() - started
        assert again.stored == 0 and again.replayed == got.stored, (again.stored, again.replayed)
        result["reimport_orders_per_s"] = again.replayed / took
        print(f"re-import: {again.replayed} orders recognised, 0 stored, {again.replayed / took:,.0f} orders/s")

        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Report)) == got.stored
            chunks = list(s.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == imports.CHUNK_TOPIC)))
            assert sum(c["count"] for c in chunks) == got.stored  # every stored report's processing is queued
            result["import_outbox_rows"] = s.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        classify.classify("warm-up: the classifier trains once per process, at first use")
        started = time.perf_counter()
        processed = 0
        while processed < sample:  # a chunk message's fan-out counts as a message run, not as a report
            if not outbox.run_pending(factory, limit=min(200, sample - processed)):
                break
            with factory() as s:
                processed = s.scalar(select(func.count()).where(Report.processed_at.is_not(None))) or 0
        took = time.perf_counter() - started
        result["processed"] = processed
        result["processing_reports_per_s"] = processed / took if took else 0.0
        with factory() as s:
            stmt = select(Report.status, func.count()).where(Report.processed_at.is_not(None)).group_by(Report.status)
            outcomes: dict[str, int] = dict(list(s.execute(stmt)))  # type: ignore[arg-type]
        print(
            f"processing: {processed} reports in {took:.1f} s = {processed / took:,.0f} reports/s "
            f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))})",
            flush=True,
        )
        engine.dispose()
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
