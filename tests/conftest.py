"""Database fixtures shared by every suite.

The suite runs twice in CI: on SQLite (default) and on PostgreSQL + PostGIS when
``CHENGGUAN_TEST_DATABASE_URL`` points at a server (e.g. ``postgresql+psycopg://postgres@127.0.0.1/postgres``).
The URL's own database is only used to create and drop throwaway databases.

Databases are built once per run and copied (the run may be split over pytest-xdist workers):

- ``engine``: an empty, migrated database; ``city_engine``: the demo city on top of that.
- The first process that needs one builds a *template* under a file lock in the run's shared temporary
  folder (``tmp_path_factory.getbasetemp().parent`` on an xdist worker); every consumer then gets a copy:
  a copy of the file on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL.
- Every PostgreSQL database the run makes is called ``chengguan_test_<run>_...``, where ``<run>`` is a random id
  the controller hands to its workers. Consumers drop their copies at teardown; at the very end the controller
  (or the single process) drops what is left of that run's databases, templates included, and nothing else.

Each test gets a ``db`` session inside an outer transaction that is rolled back afterwards; the code under
test may ``commit()`` (that releases a SAVEPOINT only).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import make_engine
from chengguan.identity.models import User
from chengguan.migrate import upgrade

PG_URL = os.environ.get("CHENGGUAN_TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgresql")
DB_PREFIX = "chengguan_test_"
CITY_GRID_M = 1500.0

# The run's id, the same in the xdist controller and all its workers (set in pytest_configure).
RUN_ID = ""


def _run_prefix() -> str:
    assert RUN_ID, "pytest_configure has not set the run id"
    return f"{DB_PREFIX}{RUN_ID}_"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    global RUN_ID
    RUN_ID = config.workerinput["chengguan_run_id"] if _is_worker(config) else secrets.token_hex(4)  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the controller's run id to each worker."""
    node.workerinput["chengguan_run_id"] = RUN_ID


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On SQLite, PostgreSQL-only tests are deselected (reported), not skipped; on PostgreSQL, e2e is.

    e2e tests share one server per session, so under ``--dist loadgroup`` they all go to one xdist worker
    (this runs before xdist reads the ``xdist_group`` marks).
    """
    drop_marker = "e2e" if IS_PG else "postgres_only"
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker(drop_marker) else kept).append(item)
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("e2e"))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Node ids an xdist worker deselected (ours above, -k, -m): the controller reports them, see pytest_testnodedown.
_deselected_here: list[str] = []
_deselection_reported = False


def pytest_deselected(items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _deselected_here.extend(item.nodeid for item in items)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _is_worker(session.config):
        session.config.workeroutput["chengguan_deselected"] = _deselected_here  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _RemoteDeselected:
    """Stands in for an item a worker deselected (the terminal reporter and its plugins only count these)."""

    nodeid: str


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """pytest-xdist: workers deselect on their own and the controller would not count it; report it once here.

    Every worker collects the same tests, so the first worker that finishes speaks for all.
    """
    global _deselection_reported
    ids = getattr(node, "workeroutput", {}).get("chengguan_deselected")
    if ids and not _deselection_reported:
        _deselection_reported = True
        node.config.hook.pytest_deselected(items=[_RemoteDeselected(i) for i in ids])


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None]:
    """After every fixture is torn down (and, under xdist, every worker has finished), drop this run's leftovers."""
    result = yield
    if IS_PG and not _is_worker(session.config):
        _drop_run_databases()
    return result


# ---- PostgreSQL ---------------------------------------------------------------------------------------------


def _pg_admin() -> Engine:
    return create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _new_pg_name(label: str) -> str:
    return f"{_run_prefix()}{label}_{secrets.token_hex(3)}"


def _create_pg_database(name: str, template: str | None = None) -> str:
    """Create ``name`` (optionally as a copy of ``template``); return its URL."""
    assert name.startswith(_run_prefix())
    clause = f' TEMPLATE "{template}"' if template else ""
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    finally:
        admin.dispose()
    return _pg_url(name)


def _drop_pg_database(name: str) -> None:
    assert name.startswith(_run_prefix()), f"refusing to drop {name}: this run did not create it"
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _drop_run_databases() -> None:
    prefix = _run_prefix()
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            names = [n for n in conn.scalars(text("SELECT datname FROM pg_database")) if n.startswith(prefix)]
    finally:
        admin.dispose()
    for name in names:
        _drop_pg_database(name)


# ---- templates ----------------------------------------------------------------------------------------------


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's folder that every xdist worker sees (each worker's basetemp is a child of the controller's)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _migrated(eng: Engine) -> None:
    upgrade(eng)


def _demo_city(eng: Engine) -> None:
    from chengguan import demo

    upgrade(eng)
    with Session(eng) as session:
        demo.seed_city(session, grid_size_m=CITY_GRID_M)
        session.commit()


TEMPLATES: dict[str, Callable[[Engine], None]] = {"empty": _migrated, "city": _demo_city}


def _template(tmp_path_factory: pytest.TempPathFactory, kind: str) -> str:
    """Build the ``kind`` template once per run (whichever process comes first); return its file or database name."""
    shared = _shared_dir(tmp_path_factory)
    done = shared / f"template-{kind}.{'pg' if IS_PG else 'db'}"
    with FileLock(str(done) + ".lock"):
        if done.is_file():
            return done.read_text() if IS_PG else str(done)
        if IS_PG:
            name = f"{_run_prefix()}template_{kind}"
            eng = make_engine(_create_pg_database(name))
            try:
                TEMPLATES[kind](eng)
            finally:
                eng.dispose()
            # No one connects to a template (autovacuum neither), so CREATE DATABASE ... TEMPLATE never waits.
            admin = _pg_admin()
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            finally:
                admin.dispose()
            done.write_text(name)
            return name
        building = shared / f"template-{kind}.building.db"
        building.unlink(missing_ok=True)
        eng = make_engine(f"sqlite:///{building}")
        try:
            TEMPLATES[kind](eng)
        finally:
            eng.dispose()
        # One self-contained file: fold the write-ahead log in and leave WAL mode (make_engine turns it on again).
        with closing(sqlite3.connect(building)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
        building.rename(done)
        return str(done)


@contextmanager
def _copy_of(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Iterator[str]:
    """A database of one's own, copied from the run's ``kind`` template; dropped afterwards on PostgreSQL."""
    template = _template(tmp_path_factory, kind)
    if IS_PG:
        name = _new_pg_name(kind)
        url = _create_pg_database(name, template=template)
        try:
            yield url
        finally:
            _drop_pg_database(name)
    else:
        target = tmp_path_factory.mktemp(kind) / "test.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"


@contextmanager
def _throwaway_database(tmp_path_factory: pytest.TempPathFactory, label: str) -> Iterator[str]:
    """An empty database (no schema) of one's own."""
    if IS_PG:
        name = _new_pg_name(label)
        url = _create_pg_database(name)
        try:
            yield url
        finally:
            _drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / 'test.db'}"


# ---- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An empty, migrated database."""
    with _copy_of(tmp_path_factory, "empty") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


@pytest.fixture(scope="session")
def city_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A second database holding the demo city (bureaus, boundaries, grids, catalog, calendar, users), no cases."""
    with _copy_of(tmp_path_factory, "city") as url:
        eng = make_engine(url)
        yield eng
        eng.dispose()


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
