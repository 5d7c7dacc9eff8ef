"""The outbox runner: each message is claimed, run and committed in a transaction of its own, so a failing
message is rolled back alone, and several workers on PostgreSQL drain one queue side by side (claims with
``FOR UPDATE SKIP LOCKED``) without deadlocks, without running a message twice and without losing one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from chengguan.cases.models import Case
from chengguan.db import make_engine
from chengguan.intake import clients, imports
from chengguan.intake import service as intake  # noqa: F401 - registers intake.report
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.jobs import outbox
from chengguan.jobs.models import OutboxMessage
from tests.conftest import _copy_of

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
RAN: list[dict[str, Any]] = []


@outbox.handler("test.outbox.ok")
def _ok(session: Session, payload: dict[str, Any]) -> None:
    RAN.append(payload)
    outbox.enqueue(session, topic="test.outbox.follow-up", payload={"after": payload["n"]})


@outbox.handler("test.outbox.fails")
def _fails(session: Session, payload: dict[str, Any]) -> None:
    outbox.enqueue(session, topic="test.outbox.follow-up", payload={"after": payload["n"]})  # rolled back
    raise RuntimeError("the mail server said no")


def test_a_failing_message_is_rolled_back_alone_and_retried_later(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        for n, topic in enumerate(["test.outbox.ok", "test.outbox.fails", "test.outbox.ok", "test.outbox.unknown"]):
            outbox.enqueue(s, topic=topic, payload={"n": n})
        s.commit()
    try:
        RAN.clear()
        assert outbox.run_pending(factory, limit=10) == 2
        assert RAN == [{"n": 0}, {"n": 2}]
        with factory() as s:
            rows = {
                m.topic + str(m.payload.get("n", m.payload.get("after"))): m
                for m in s.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("test.outbox.%")))
            }
        assert rows["test.outbox.ok0"].done_at is not None and rows["test.outbox.ok2"].done_at is not None
        failed = rows["test.outbox.fails1"]
        assert (
            failed.done_at is None and failed.attempts == 1 and "the mail server said no" in (failed.last_error or "")
        )
        assert failed.available_at > datetime.now(UTC) + timedelta(seconds=5)  # backoff before the next try
        # the follow-ups of the two that ran are queued; the failing one's is gone with its rollback
        assert {k for k in rows if k.startswith("test.outbox.follow-up")} == {
            "test.outbox.follow-up0",
            "test.outbox.follow-up2",
        }
        unknown = rows["test.outbox.unknown3"]
        assert unknown.done_at is None and unknown.attempts == 0  # no handler here: left for a worker that has one
        assert outbox.run_pending(factory, limit=10) == 0  # nothing due: the failed one waits for its backoff
    finally:
        with factory() as s:
            s.execute(delete(OutboxMessage).where(OutboxMessage.topic.like("test.outbox.%")))
            s.commit()


@pytest.fixture(scope="module")
def city_engine_of_our_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A copy of the demo city for this module alone: the workers commit hundreds of cases into it."""
    with _copy_of(tmp_path_factory, "city") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


def _spots(n: int) -> list[tuple[float, float]]:
    """``n`` places about 400 m apart, in 西湖区 and 萧山区 by turns: distinct problems, each its own case, and
    cases of two brigades (two case-number counters) one after the other, so that two workers that each held
    everything they touched until the end of a batch would lock the two counters in opposite orders."""
    out = []
    for i in range(n):
        k = i // 2
        west, south = (120.0600, 30.2200) if i % 2 == 0 else (120.2500, 30.1500)
        out.append((west + 0.0040 * (k % 15), south + 0.0035 * (k // 15)))
    return out


@pytest.mark.postgres_only
def test_two_workers_drain_the_queue_in_parallel_without_deadlock_duplicate_or_loss(
    city_engine_of_our_own: Engine,
) -> None:
    factory = sessionmaker(bind=city_engine_of_our_own, expire_on_commit=False)
    rows = ["工单编号,来电时间,诉求内容,经度,纬度,小类编码"]
    rows += [
        f"W{i:04d},2026-11-23 09:00:00,人行道有流动摊贩 {i},{lon},{lat},0501"
        for i, (lon, lat) in enumerate(_spots(300))
    ]
    with factory() as s:
        client = clients.get_client(s, code="hz-12345")
        result = imports.import_orders(s, client=client, data=("\n".join(rows) + "\n").encode(), at=AT)
        s.commit()
    assert result.stored >= 250, result.errors[:3]  # a few spots may lie outside the city's districts

    start = threading.Barrier(2, timeout=30)
    ran = [0, 0]
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            start.wait()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                done = outbox.run_pending(factory, limit=7)  # an odd batch: the next one starts in the other brigade
                ran[i] += done
                if not done:
                    with factory() as s:
                        left = s.scalar(
                            select(func.count())
                            .select_from(OutboxMessage)
                            .where(OutboxMessage.topic.like("intake.%"), OutboxMessage.done_at.is_(None))
                        )
                    if not left:
                        return
                    time.sleep(0.05)  # the last messages are held by the other worker
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert ran[0] > 0 and ran[1] > 0  # both workers took part

    with factory() as s:
        messages = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic.like("intake.%"))))
        reports = list(s.scalars(select(Report).where(Report.client_id == client.id)))
        cases = list(s.scalars(select(Case)))
    assert len(reports) == result.stored
    # nothing lost: every message ran once and succeeded, none failed (a deadlock would be a failure here)
    assert all(m.done_at is not None and m.attempts == 1 and m.last_error is None for m in messages)
    per_report = [m.payload["report_id"] for m in messages if m.topic == "intake.report"]
    assert sorted(per_report) == sorted(r.id for r in reports)  # each report queued exactly once
    # no duplicates: each report processed once, into a case of its own, numbered without gaps or repeats
    assert all(r.status == ReportStatus.ACCEPTED and r.processed_at is not None for r in reports)
    assert len({r.case_id for r in reports}) == len(reports)
    opened = [c for c in cases if c.id in {r.case_id for r in reports}]
    for prefix in {c.case_no.rsplit("-", 1)[0] for c in opened}:
        numbers = sorted(int(c.case_no.rsplit("-", 1)[1]) for c in cases if c.case_no.startswith(prefix + "-"))
        assert numbers == list(range(1, len(numbers) + 1)), prefix
