"""The login throttle on a real database: windows, lock expiry, clean-up, and concurrent failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import transaction
from chengguan.identity import throttle
from chengguan.identity.models import LoginThrottle
from chengguan.shared.clock import utcnow

POLICY = throttle.ThrottlePolicy(
    secret="test-secret", max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=10)
)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(throttle, "utcnow", c)
    return c


def fail(db: Session, name: str = "wang", address: str = "192.0.2.1") -> None:
    throttle.record_failure(db, policy=POLICY, username=name, address=address)


def locked(db: Session, name: str = "wang", address: str = "192.0.2.1") -> str | None:
    try:
        throttle.check(db, policy=POLICY, username=name, address=address)
    except throttle.LoginThrottled as exc:
        return exc.code
    return None


def test_the_lock_runs_out_and_the_count_starts_again(db: Session, clock: Clock) -> None:
    for _ in range(3):
        assert locked(db) is None
        fail(db)
    assert locked(db) == "login-locked"
    clock.advance(minutes=9, seconds=59)
    assert locked(db) == "login-locked"
    clock.advance(seconds=2)
    assert locked(db) is None
    fail(db)  # a fresh count after the lock: one more mistake does not lock again
    assert locked(db) is None


def test_failures_older_than_the_window_do_not_count(db: Session, clock: Clock) -> None:
    fail(db)
    fail(db)
    clock.advance(minutes=15, seconds=1)
    fail(db)
    fail(db)
    assert locked(db) is None
    fail(db)
    assert locked(db) == "login-locked"


def test_retry_after_counts_down(db: Session, clock: Clock) -> None:
    for _ in range(3):
        fail(db)
    with pytest.raises(throttle.AccountLocked) as first:
        throttle.check(db, policy=POLICY, username="wang", address=None)
    assert first.value.retry_after == 600 and "10 分钟" in first.value.detail
    clock.advance(minutes=7, seconds=30)
    with pytest.raises(throttle.AccountLocked) as later:
        throttle.check(db, policy=POLICY, username="wang", address=None)
    assert later.value.retry_after == 150 and "3 分钟" in later.value.detail


def test_names_are_compared_as_typed_less_surrounding_spaces(db: Session, clock: Clock) -> None:
    for _ in range(3):
        fail(db, name=" wang ")
    assert locked(db, name="wang") == "login-locked"
    assert locked(db, name="Wang", address="192.0.2.99") is None


def test_rows_nobody_failed_on_for_a_while_are_removed(db: Session, clock: Clock) -> None:
    fail(db, name="old", address="192.0.2.50")
    clock.advance(minutes=16)
    fail(db, name="new", address="192.0.2.51")
    keys = set(db.scalars(select(LoginThrottle.key_digest)))
    assert keys == {throttle.account_key(POLICY, "new"), throttle.address_key(POLICY, "192.0.2.51")}


def test_clearing_an_account_reports_whether_it_was_locked(db: Session, clock: Clock) -> None:
    assert throttle.clear_account(db, policy=POLICY, username="wang") is False
    for _ in range(3):
        fail(db)
    assert throttle.clear_account(db, policy=POLICY, username="wang") is True
    assert locked(db) is None


def test_addresses_are_counted_by_network() -> None:
    assert throttle.network_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle.network_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle.network_of("192.0.2.7") == "192.0.2.7"
    assert throttle.network_of(None) == "unknown"
    a, b = throttle.address_key(POLICY, "2001:db8::1"), throttle.address_key(POLICY, "2001:db8::ffff")
    assert a == b != throttle.address_key(POLICY, "2001:db8:0:1::1")
    other_secret = throttle.ThrottlePolicy(secret="another")
    assert throttle.account_key(POLICY, "wang") != throttle.account_key(other_secret, "wang")


@pytest.fixture
def committed(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    yield session_factory
    with transaction(session_factory) as s:
        s.execute(delete(LoginThrottle))


@pytest.mark.postgres_only
def test_concurrent_failures_are_all_counted(committed: sessionmaker[Session]) -> None:
    """Twelve wrong passwords at the same moment, each in its own transaction: none is lost."""
    policy = throttle.ThrottlePolicy(secret="race", max_failures=100, address_max_failures=100)
    start = threading.Barrier(12)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            start.wait()
            with transaction(committed) as s:
                throttle.record_failure(s, policy=policy, username="target", address=f"192.0.2.{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with committed() as s:
        row = s.scalars(
            select(LoginThrottle).where(LoginThrottle.key_digest == throttle.account_key(policy, "target"))
        ).one()
        assert row.failures == 12
