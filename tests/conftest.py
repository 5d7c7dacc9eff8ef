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

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import make_engine
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


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if IS_PG:
        name, url = _create_pg_database()
        try:
            yield url
        finally:
            _drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Real, committing sessions (for concurrency tests); clean up what you commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
