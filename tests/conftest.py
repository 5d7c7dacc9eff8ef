"""Database fixtures shared by every suite.

The suite runs twice in CI: on SQLite (default) and on PostgreSQL + PostGIS when
``CHENGGUAN_TEST_DATABASE_URL`` points at a server (e.g. ``postgresql+psycopg://postgres@127.0.0.1/postgres``).
On PostgreSQL a throwaway database ``chengguan_test_<random>`` is created, migrated with Alembic and
dropped at the end; the URL's own database is only used to create and drop it.

Each test gets a ``db`` session inside an outer transaction that is rolled back afterwards; the code under
test may ``commit()`` (that releases a SAVEPOINT only).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import make_engine
from chengguan.identity.models import User
from chengguan.migrate import upgrade

PG_URL = os.environ.get("CHENGGUAN_TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On SQLite, PostgreSQL-only tests are deselected (reported), not skipped; on PostgreSQL, e2e is."""
    drop_marker = "e2e" if IS_PG else "postgres_only"
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker(drop_marker) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _create_pg_database() -> tuple[str, str]:
    admin_url = make_url(PG_URL)
    name = f"chengguan_test_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, admin_url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    assert name.startswith("chengguan_test_"), "refusing to drop a database the tests did not create"
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def _throwaway_database(tmp_path_factory: pytest.TempPathFactory, label: str) -> Iterator[str]:
    if IS_PG:
        name, url = _create_pg_database()
        try:
            yield url
        finally:
            _drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _throwaway_database(tmp_path_factory, "db") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An empty, migrated database."""
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def city_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A second database holding the demo city (bureaus, boundaries, grids, catalog, calendar, users), no cases."""
    from chengguan import demo

    with _throwaway_database(tmp_path_factory, "city") as url:
        eng = make_engine(url)
        upgrade(eng)
        with Session(eng) as session:
            demo.seed_city(session, grid_size_m=CITY_GRID_M)
            session.commit()
        yield eng
        eng.dispose()


CITY_GRID_M = 1500.0


def _rollback_session(eng: Engine) -> Iterator[Session]:
    conn = eng.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def city_db(city_engine: Engine) -> Iterator[Session]:
    """A session on the demo city, rolled back after the test."""
    yield from _rollback_session(city_engine)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    yield from _rollback_session(engine)


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Real, committing sessions (for concurrency tests); clean up what you commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def people(city_db: Session) -> dict[str, User]:
    """The demo users by username: dispatcher 王芳, shift_leader 陈建国, officer1 李明 (西湖), grid1 赵敏 ..."""
    return {u.username: u for u in city_db.scalars(select(User))}
