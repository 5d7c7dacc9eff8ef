"""Reports through NATS JetStream: a worker killed in the middle of a replay loses nothing and does nothing twice.

Real NATS (JetStream, on 127.0.0.1:4222), real PostgreSQL, a real ``chengguan consume`` process killed with
SIGKILL and started again.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from chengguan.cases.channels import Channel
from chengguan.config import Settings
from chengguan.identity.models import User
from chengguan.intake import service as intake
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from chengguan.jobs import broker, jetstream, outbox
from tests.personas import xihu_spot

pytestmark = pytest.mark.postgres_only
NATS_URL = "nats://127.0.0.1:4222"
CATEGORIES = ("0501", "0504", "0202", "0101")  # different 小类 at one spot are different problems
N = len(CATEGORIES) * 30


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("chengguan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chengguan.cli"]


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"cgtest{secrets.token_hex(4)}"
    yield name
    client = jetstream.shared_client(NATS_URL, prefix=name)
    client.delete_stream()
    broker.configure(Settings(env="test"))  # back to in-process for the rest of the run


def _status_counts(factory: sessionmaker[Session], ids: list[int]) -> dict[str, int]:
    with factory() as s:
        rows = s.execute(select(Report.status, func.count()).where(Report.id.in_(ids)).group_by(Report.status)).all()
        return {status: count for status, count in rows}  # noqa: C416 - rows are Row objects


def test_a_consumer_killed_mid_replay_leaves_an_exact_count(city_engine: Engine, prefix: str) -> None:
    factory = sessionmaker(bind=city_engine, expire_on_commit=False)
    broker.configure(Settings(env="test", broker_url=NATS_URL, broker_prefix=prefix))
    with factory() as s:
        citizen = s.scalars(select(User).where(User.username == "citizen1")).one()
        spots = [xihu_spot() for _ in range(N // len(CATEGORIES))]
        reports = [
            intake.submit(
                s,
                incoming=intake.Incoming(
                    channel=Channel.CITIZEN,
                    text=f"重放测试 {i}",
                    lon=spot[0],
                    lat=spot[1],
                    claimed_category=category,
                    reporter_id=citizen.id,
                ),
            )
            for i, (spot, category) in enumerate((sp, c) for sp in spots for c in CATEGORIES)
        ]
        s.commit()
        ids = [r.id for r in reports]
    # the outbox hands every report to JetStream, twice over: the stream keeps each message id once
    while outbox.run_pending(factory, limit=500):
        pass
    client = jetstream.shared_client(NATS_URL, prefix=prefix)
    for report_id in ids[:10]:
        client.publish(intake.TOPIC, {"report_id": report_id}, f"report-{report_id}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("CHENGGUAN_")}
    env.update(
        CHENGGUAN_DATABASE_URL=city_engine.url.render_as_string(hide_password=False),
        CHENGGUAN_BROKER_URL=NATS_URL,
        CHENGGUAN_BROKER_PREFIX=prefix,
        CHENGGUAN_ENV="test",
    )
    command = [*_cli(), "consume", intake.TOPIC, "--durable", "replay"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while _status_counts(factory, ids).get(ReportStatus.ACCEPTED, 0) < N // 4:
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else "consumer exited"
            assert time.monotonic() < deadline, "the consumer made no progress"
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)  # in the middle of the replay, between any commit and its ack
        first.wait()
    midway = _status_counts(factory, ids)
    assert 0 < midway.get(ReportStatus.RECEIVED, 0) < N, midway

    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while _status_counts(factory, ids).get(ReportStatus.ACCEPTED, 0) < N:
            assert second.poll() is None, second.stderr.read().decode() if second.stderr else "consumer exited"
            assert time.monotonic() < deadline, _status_counts(factory, ids)
            time.sleep(0.1)
        while client.pending(intake.TOPIC, "replay"):  # everything delivered is acknowledged in the end
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    with factory() as s:
        rows = s.execute(select(Report.status, Report.case_id).where(Report.id.in_(ids))).all()
    assert [r.status for r in rows] == [ReportStatus.ACCEPTED.value] * N
    assert len({r.case_id for r in rows}) == N  # one case per report: nothing processed twice
