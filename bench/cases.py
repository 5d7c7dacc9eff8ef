"""Benchmark the case backbone on PostgreSQL.

1. transitions/s through the case services (history row and outbox row included): one transaction per
   transition as the API does it (``transition``; 1 and N concurrent sessions), and 批量 batches of 100 cases
   per transaction (``transition_many``) — each against a baseline of the same writes as hand-written SQL
   (UPDATE + INSERT history + INSERT outbox) in the same run;
2. p50/p99 of the filtered, keyset-paginated case-list query (``cases.queries.list_cases`` plus the
   presenter the API uses) at 1,000,000 cases — against a baseline of OFFSET pagination with a total count,
   which is what a naive list page does.

Usage: ``python bench/cases.py`` (1,000,000 cases) or ``python bench/cases.py --quick`` (100,000 cases,
under a minute). ``CHENGGUAN_BENCH_DATABASE_URL`` names the server (default: local postgres). The last line
printed is JSON with the figures. Without a reachable server that has PostGIS it says so in one line and exits
with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from _common import percentile, require_server, throwaway_pg
from chengguan import demo
from chengguan.cases import queries
from chengguan.cases import service as cases
from chengguan.cases.models import Case
from chengguan.cases.presenters import present_cases
from chengguan.cases.states import Action, CaseState
from chengguan.catalog.models import CategoryMinor
from chengguan.db import make_engine
from chengguan.geo.models import UnitGrid
from chengguan.identity import service as identity
from chengguan.identity.access import scope_of
from chengguan.identity.models import Bureau, User
from chengguan.migrate import upgrade
from chengguan.shared.clock import utcnow

TARGET = {
    Action.ACCEPT: CaseState.ACCEPTED,
    Action.FILE: CaseState.FILED,
    Action.DISPATCH: CaseState.DISPATCHED,
    Action.START: CaseState.PROCESSING,
    Action.FEEDBACK: CaseState.HANDLED,
    Action.VERIFY_PASS: CaseState.VERIFIED,
    Action.CLOSE: CaseState.CLOSED,
}
PATH = [
    (Action.ACCEPT, "dispatcher", {}),
    (Action.FILE, "shift_leader", {}),
    (Action.DISPATCH, "dispatcher", {"assignee": "officer1"}),
    (Action.START, "officer1", {}),
    (Action.FEEDBACK, "officer1", {"note": "已处置"}),
    (Action.VERIFY_PASS, "grid1", {}),
    (Action.CLOSE, "shift_leader", {}),
]
STATE_MIX = [  # share of a year of cases by state, a mature bureau's backlog
    (CaseState.CLOSED, 0.86),
    (CaseState.NOT_FILED, 0.03),
    (CaseState.VOIDED, 0.02),
    (CaseState.SUSPENDED, 0.01),
    (CaseState.REPORTED, 0.01),
    (CaseState.ACCEPTED, 0.01),
    (CaseState.FILED, 0.01),
    (CaseState.DISPATCHED, 0.015),
    (CaseState.PROCESSING, 0.015),
    (CaseState.HANDLED, 0.01),
    (CaseState.VERIFIED, 0.01),
]


def _report_many(factory: sessionmaker[Session], reporter_id: int, n: int, description: str) -> list[int]:
    with factory() as s:
        reporter = s.get_one(User, reporter_id)
        made = [
            cases.report_case(
                s,
                actor=reporter,
                report=cases.NewReport(
                    category_code="0501",
                    description=description,
                    lon=120.10 + (i % 50) * 0.001,  # 西湖区, around 文三路
                    lat=30.26 + (i % 40) * 0.0005,
                ),
            )
            for i in range(n)
        ]
        s.commit()
        return [c.id for c in made]


def _in_threads(workers: int, ids: list[int], walk: Callable[[list[int]], int]) -> tuple[int, float]:
    """Split ``ids`` over ``workers`` threads, each walking its own cases; returns (operations, seconds)."""
    shares = [ids[i::workers] for i in range(workers)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(walk, shares))
    return done, time.perf_counter() - started


def _in_processes(procs: int, ids: list[int], walk: Callable[[list[int]], int], engine: Engine) -> tuple[int, float]:
    """Like ``_in_threads`` but in forked processes (as ``uvicorn --workers N`` runs): no shared GIL."""
    shares = [ids[i::procs] for i in range(procs)]
    started = time.perf_counter()
    children: list[tuple[int, int]] = []
    for share in shares:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: its own connections, its share of the cases
            os.close(read_end)
            code = 0
            try:
                engine.dispose(close=False)
                os.write(write_end, str(walk(share)).encode())
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    done = 0
    for pid, read_end in children:
        answer = os.read(read_end, 64).decode()
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
        if status != 0 or not answer:
            raise RuntimeError(f"benchmark worker {pid} failed")
        done += int(answer)
    return done, time.perf_counter() - started


def bench_transitions(factory: sessionmaker[Session], n_cases: int, workers: int, processes: int) -> dict[str, float]:
    with factory() as s:
        users = {u.username: u.id for u in s.scalars(select(User))}

    def through_services(case_ids: list[int]) -> int:
        count = 0
        for action, actor_name, extra in PATH:
            for case_id in case_ids:
                with factory() as s:  # one transaction per transition, as one API request
                    case = s.get_one(Case, case_id)
                    actor = identity.get_user(s, user_id=users[actor_name])  # as the API's token lookup loads it
                    assert actor is not None
                    assignee = users[extra["assignee"]] if "assignee" in extra else None
                    cases.transition(
                        s, case=case, action=action, actor=actor, note=extra.get("note"), assignee_id=assignee
                    )
                    s.commit()
                    count += 1
        return count

    def raw_sql(case_ids: list[int]) -> int:
        """Baseline: the same rows written by hand-made SQL, no domain rules, no clocks."""
        count = 0
        for seq, (action, _actor, _extra) in enumerate(PATH, start=2):
            for case_id in case_ids:
                with factory() as s:
                    version = s.execute(
                        text("SELECT version FROM case_record WHERE id = :id"), {"id": case_id}
                    ).scalar_one()
                    s.execute(
                        text(
                            "UPDATE case_record SET state = :st, version = version + 1, updated_at = now() "
                            "WHERE id = :id AND version = :v"
                        ),
                        {"st": TARGET[action].value, "id": case_id, "v": version},
                    )
                    s.execute(
                        text(
                            "INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor_name, at, data) "
                            "VALUES (:id, :seq, :a, 'x', :st, '基线', now(), '{}')"
                        ),
                        {"id": case_id, "seq": seq, "a": action.value, "st": TARGET[action].value},
                    )
                    s.execute(
                        text(
                            "INSERT INTO outbox_message (topic, payload, created_at, available_at, attempts) "
                            "VALUES ('bench', '{}', now(), now(), 0)"
                        )
                    )
                    s.commit()
                    count += 1
        return count

    def batched_services(case_ids: list[int], per_txn: int = 100) -> int:
        """批量操作: one action on up to ``per_txn`` cases per transaction (cases.service.transition_many)."""
        count = 0
        for action, actor_name, extra in PATH:
            for i in range(0, len(case_ids), per_txn):
                with factory() as s:
                    chunk = list(s.scalars(select(Case).where(Case.id.in_(case_ids[i : i + per_txn]))))
                    actor = s.get_one(User, users[actor_name])
                    assignee = users[extra["assignee"]] if "assignee" in extra else None
                    cases.transition_many(
                        s, cases=chunk, action=action, actor=actor, note=extra.get("note"), assignee_id=assignee
                    )
                    s.commit()
                    count += len(chunk)
        return count

    def batched_raw_sql(case_ids: list[int], per_txn: int = 100) -> int:
        """Baseline for batches: the same rows by hand-made SQL, executemany per statement."""
        count = 0
        for seq, (action, _actor, _extra) in enumerate(PATH, start=2):
            for i in range(0, len(case_ids), per_txn):
                chunk = case_ids[i : i + per_txn]
                st = TARGET[action].value
                with factory() as s:
                    s.execute(
                        text(
                            "UPDATE case_record SET state = :st, version = version + 1, updated_at = now() "
                            "WHERE id = :id"
                        ),
                        [{"st": st, "id": cid} for cid in chunk],
                    )
                    s.execute(
                        text(
                            "INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor_name, at, data) "
                            "VALUES (:id, :seq, :a, 'x', :st, '基线', now(), '{}')"
                        ),
                        [{"id": cid, "seq": seq, "a": action.value, "st": st} for cid in chunk],
                    )
                    s.execute(
                        text(
                            "INSERT INTO outbox_message (topic, payload, created_at, available_at, attempts) "
                            "VALUES ('bench', '{}', now(), now(), 0)"
                        ),
                        [{} for _ in chunk],
                    )
                    s.commit()
                    count += len(chunk)
        return count

    def alternating(n_workers: int, n: int, rounds: int) -> tuple[float, float]:
        """Services and baseline in alternating rounds after a warm-up of each (prepared statements, caches),
        so that a slow moment of the machine weighs on both alike. Returns (services/s, baseline/s)."""
        _in_threads(1, _report_many(factory, users["grid1"], 5, "预热"), through_services)
        _in_threads(1, _report_many(factory, users["grid1"], 5, "预热基线"), raw_sql)
        totals = [0, 0.0, 0, 0.0]
        for _ in range(rounds):
            done, secs = _in_threads(
                n_workers, _report_many(factory, users["grid1"], n, "基准测试案件"), through_services
            )
            base, base_secs = _in_threads(n_workers, _report_many(factory, users["grid1"], n, "基线"), raw_sql)
            totals = [totals[0] + done, totals[1] + secs, totals[2] + base, totals[3] + base_secs]
        return totals[0] / totals[1], totals[2] / totals[3]

    out: dict[str, float] = {}
    n = n_cases * 2
    done, secs = _in_threads(1, _report_many(factory, users["grid1"], n, "批量"), batched_services)
    base, base_secs = _in_threads(1, _report_many(factory, users["grid1"], n, "批量基线"), batched_raw_sql)
    out["transitions_batched_per_s"] = done / secs
    out["baseline_raw_sql_batched_per_s"] = base / base_secs
    for label, n_workers in (("", workers), ("_1_thread", 1)):
        rate, base_rate = alternating(n_workers, n_cases if n_workers > 1 else max(20, n_cases // 2), rounds=3)
        out[f"transitions{label}_per_s"] = rate
        out[f"baseline_raw_sql{label}_per_s"] = base_rate
    out["transitions_1_thread_share_of_baseline"] = (
        out["transitions_1_thread_per_s"] / out["baseline_raw_sql_1_thread_per_s"]
    )
    engine = factory.kw["bind"]
    done, secs = _in_processes(
        processes, _report_many(factory, users["grid1"], n_cases, "多进程"), through_services, engine
    )
    base, base_secs = _in_processes(
        processes, _report_many(factory, users["grid1"], n_cases, "多进程基线"), raw_sql, engine
    )
    out[f"transitions_{processes}_processes_per_s"] = done / secs
    out[f"baseline_raw_sql_{processes}_processes_per_s"] = base / base_secs
    out["transition_workers"] = workers
    return out


def bulk_load(factory: sessionmaker[Session], total: int, seed: int = 7) -> float:
    """COPY ``total`` cases spread over a year into case_record (history rows are not needed to list)."""
    rng = random.Random(seed)
    with factory() as s:
        brigades = list(
            s.execute(select(Bureau.id, Bureau.case_prefix, Bureau.admin_code).where(Bureau.kind == "district"))
        )
        minors = list(s.scalars(select(CategoryMinor.id)))
        grids = list(
            s.execute(
                select(
                    UnitGrid.id, UnitGrid.district_id, UnitGrid.bureau_id, UnitGrid.centroid_lon, UnitGrid.centroid_lat
                )
            )
        )
        officer = s.scalar(select(User.id).where(User.username == "officer1"))
    states = [st for st, _ in STATE_MIX]
    weights = [w for _, w in STATE_MIX]
    counters: dict[int, int] = {}
    now = utcnow()
    started = time.perf_counter()
    cols = (
        "case_no, bureau_id, state, category_id, channel, description, address, lon, lat, district_id, grid_id, "
        "assignee_id, step, step_started_at, step_deadline, rework_count, overdue_steps, history_len, reported_at, "
        "updated_at, "
        "closed_at, version"
    )
    engine = factory.kw["bind"]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY case_record ({cols}) FROM STDIN") as copy:
            for _ in range(total):
                grid_id, district_id, bureau_id, lon, lat = grids[rng.randrange(len(grids))]
                reported = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
                state = rng.choices(states, weights)[0]
                counters[bureau_id] = counters.get(bureau_id, 0) + 1
                prefix = next(p for b, p, _ in brigades if b == bureau_id)
                terminal = state in (CaseState.CLOSED, CaseState.NOT_FILED, CaseState.VOIDED)
                copy.write_row(
                    (
                        f"{prefix}-B{reported.year}-{counters[bureau_id]:07d}",
                        bureau_id,
                        state.value,
                        rng.choice(minors),
                        "grid_worker",
                        "批量导入的历史案件",
                        None,
                        lon + rng.uniform(-0.002, 0.002),
                        lat + rng.uniform(-0.002, 0.002),
                        district_id,
                        grid_id,
                        officer if state in (CaseState.DISPATCHED, CaseState.PROCESSING) else None,
                        None if terminal or state is CaseState.SUSPENDED else "handle",
                        None if terminal else reported,
                        None if terminal else reported + timedelta(hours=rng.uniform(1, 72)),
                        0,
                        0,
                        0,
                        reported,
                        reported,
                        reported + timedelta(hours=6) if terminal else None,
                        1,
                    )
                )
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE case_record"))
        conn.commit()
    return time.perf_counter() - started


def query_mix(session: Session) -> list[queries.CaseFilters]:
    minors = list(session.scalars(select(CategoryMinor.code).limit(40)))
    grids = list(session.scalars(select(UnitGrid.code).limit(200)))
    now = utcnow()
    return [
        queries.CaseFilters(),
        queries.CaseFilters(states=(CaseState.REPORTED,)),
        queries.CaseFilters(states=(CaseState.DISPATCHED, CaseState.PROCESSING)),
        queries.CaseFilters(overdue=True),
        queries.CaseFilters(category="05"),
        queries.CaseFilters(category=random.choice(minors)),
        queries.CaseFilters(category=random.choice(minors), states=(CaseState.CLOSED,)),
        queries.CaseFilters(district="330106"),
        queries.CaseFilters(district="330102", states=(CaseState.HANDLED,)),
        queries.CaseFilters(grid=random.choice(grids)),
        queries.CaseFilters(reported_from=now - timedelta(days=7)),
        queries.CaseFilters(
            reported_from=now - timedelta(days=200), reported_to=now - timedelta(days=190), category="01"
        ),
    ]


def bench_list(factory: sessionmaker[Session], rounds: int) -> dict[str, float]:
    keyset: list[float] = []
    offset: list[float] = []
    with factory() as s:
        viewers = [
            s.scalars(select(User).where(User.username == u)).one() for u in ("dispatcher", "officer1", "officer2")
        ]
        mix = query_mix(s)
        for _ in range(rounds):
            for viewer in viewers:
                vis = scope_of(s, viewer)
                for f in mix:
                    t0 = time.perf_counter()
                    page = queries.list_cases(s, scope=vis, filters=f, limit=50)
                    present_cases(s, page.items, viewer=viewer)
                    if page.next_cursor:  # and the next page, as "下一页" does
                        page = queries.list_cases(s, scope=vis, filters=f, limit=50, cursor=page.next_cursor)
                        present_cases(s, page.items, viewer=viewer)
                    keyset.append((time.perf_counter() - t0) * 1000 / (2 if page.items else 1))
                    # Baseline: page 20 by OFFSET plus a total count (a naive list page).
                    t0 = time.perf_counter()
                    stmt = queries._filtered(s, vis, f)
                    if stmt is not None:
                        s.scalar(select(func.count()).select_from(stmt.subquery()))
                        rows = s.scalars(
                            stmt.order_by(Case.reported_at.desc(), Case.id.desc()).offset(1000).limit(50)
                        ).all()
                        present_cases(s, rows, viewer=viewer)
                    offset.append((time.perf_counter() - t0) * 1000)
                s.expunge_all()
    return {
        "list_p50_ms": percentile(keyset, 50),
        "list_p99_ms": percentile(keyset, 99),
        "baseline_offset_count_p50_ms": percentile(offset, 50),
        "baseline_offset_count_p99_ms": percentile(offset, 99),
        "list_queries_measured": len(keyset),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 cases, fewer transitions (under a minute)")
    parser.add_argument("--cases", type=int, default=None, help="cases to bulk-load for the list benchmark")
    parser.add_argument("--transition-cases", type=int, default=None)
    parser.add_argument("--workers", type=int, default=8, help="concurrent sessions (threads) for transitions")
    parser.add_argument("--processes", type=int, default=4, help="forked processes for transitions")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    total = args.cases or (100_000 if args.quick else 1_000_000)
    n_trans = args.transition_cases or (80 if args.quick else 400)
    rounds = 3 if args.quick else 10
    require_server()
    with throwaway_pg(keep=args.keep) as url:
        engine = make_engine(url, pool_size=args.workers + 2)
        upgrade(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory() as s:
            demo.seed_city(s, grid_size_m=500.0)
            s.commit()
        result: dict[str, float | int | str] = {"database": "postgresql"}
        result.update(bench_transitions(factory, n_trans, args.workers, args.processes))
        print(
            f"transitions: {result['transitions_per_s']:.0f}/s with {args.workers} sessions "
            f"(raw SQL baseline {result['baseline_raw_sql_per_s']:.0f}/s); one session "
            f"{result['transitions_1_thread_per_s']:.0f}/s "
            f"(baseline {result['baseline_raw_sql_1_thread_per_s']:.0f}/s); batches of 100 per transaction "
            f"{result['transitions_batched_per_s']:.0f}/s (baseline {result['baseline_raw_sql_batched_per_s']:.0f}/s); "
            f"{args.processes} processes {result[f'transitions_{args.processes}_processes_per_s']:.0f}/s "
            f"(baseline {result[f'baseline_raw_sql_{args.processes}_processes_per_s']:.0f}/s)",
            flush=True,
        )
        load_s = bulk_load(factory, total)
        with factory() as s:
            result["cases_in_db"] = s.scalar(select(func.count()).select_from(Case)) or 0
        result["bulk_load_s"] = load_s
        print(f"loaded {result['cases_in_db']} cases in {load_s:.1f} s", flush=True)
        result.update(bench_list(factory, rounds))
        print(
            f"list: p50 {result['list_p50_ms']:.1f} ms, p99 {result['list_p99_ms']:.1f} ms "
            f"(OFFSET+count baseline p50 {result['baseline_offset_count_p50_ms']:.1f} ms, "
            f"p99 {result['baseline_offset_count_p99_ms']:.1f} ms)",
            flush=True,
        )
        engine.dispose()
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
