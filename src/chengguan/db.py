"""Declarative base, column types that work on PostgreSQL/PostGIS and SQLite, engine and session factories.

No engine is created at import time. Services receive a ``Session`` and only ``flush()``; the caller
(a request, a CLI command, a job) owns the transaction and commits.

Geometry: on PostgreSQL a real PostGIS ``geometry(…, 4326)`` column (GiST-indexed, queried with
``ST_Contains``); on SQLite the same column holds WKT text and spatial predicates run in Shapely after
a bounding-box prefilter on plain numeric columns. Both store WGS84 (EPSG:4326) longitude/latitude.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from geoalchemy2 import Geometry as PostGISGeometry
from geoalchemy2.shape import from_shape, to_shape
from shapely import wkt as shapely_wkt
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.elements import BindParameter, TextClause
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
JSONType = JSON().with_variant(JSONB(), "postgresql")
# Execution option of connections that only read (see ``read_only_factory``).
READ_ONLY = "chengguan_read_only"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes everywhere. ``timestamptz`` on PostgreSQL; naive-UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use shared.clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Geometry(TypeDecorator[BaseGeometry]):
    """A Shapely geometry in WGS84. PostGIS geometry on PostgreSQL, WKT text on SQLite."""

    impl = String
    cache_ok = True

    def __init__(self, geometry_type: str = "GEOMETRY") -> None:
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # geoalchemy2 probes TypeDecorators with dialect=None while creating tables
        if dialect is not None and dialect.name == "postgresql":
            return dialect.type_descriptor(
                PostGISGeometry(geometry_type=self.geometry_type, srid=4326, spatial_index=False)
            )
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return from_shape(value, srid=4326)
        return value.wkt

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return to_shape(value)
        return shapely_wkt.loads(value)


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN, so SAVEPOINTs work (SQLAlchemy's documented recipe).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers begin IMMEDIATE, taking the write lock up front: concurrent writers queue on busy_timeout
            # instead of failing with a lock-upgrade deadlock. Readers (``read_only_factory``) begin DEFERRED and,
            # with WAL, never wait for a writer. The embedded default serves one site; PostgreSQL scales.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


# ---- rows written with the next flush, without the unit of work ---------------------------------------------
#
# Append-only rows that nothing reads back in the same transaction (history, outbox) do not need ORM identity:
# ``insert_with_flush`` queues them, and they are written right after the session's next flush — after the
# rows they refer to — as one multi-row INSERT per table. A commit with nothing else to flush writes them too;
# a rollback drops them with everything else.

_PENDING = "chengguan.pending_inserts"
RowFactory = Callable[[], dict[str, Any]]


def insert_with_flush(session: Session, model: type[Base], row: RowFactory) -> None:
    """Queue one row of ``model``'s table; ``row()`` is called when it is written (new parents have ids then)."""
    txn = session.get_nested_transaction() or session.get_transaction()
    table = model.__table__
    assert isinstance(table, Table)
    session.info.setdefault(_PENDING, []).append((txn, table, row))


def _write_pending(session: Session) -> None:
    pending: list[tuple[Any, Table, RowFactory]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for _txn, table, row in pending:
        by_table.setdefault(table, []).append(row())
    conn = session.connection()
    groups = [(table, sorted(rows[0]), rows) for table, rows in by_table.items()]
    uniform = all(sorted(r) == cols for _t, cols, rows in groups for r in rows)
    if conn.dialect.name == "postgresql" and len(groups) > 1 and uniform and sum(len(g[2]) for g in groups) <= 64:
        # One round trip for all tables: data-modifying CTEs run once each, whether or not the query reads them.
        stmt = _cte_insert(tuple((t, tuple(cols), len(rows)) for t, cols, rows in groups))
        params = {
            f"p{g}_{r}_{c}": row[c]
            for g, (_t, cols, rows) in enumerate(groups)
            for r, row in enumerate(rows)
            for c in cols
        }
        conn.execute(stmt, params)
        return
    for table, _cols, rows in groups:
        conn.execute(table.insert(), rows)


@lru_cache(maxsize=64)
def _cte_insert(shape: tuple[tuple[Table, tuple[str, ...], int], ...]) -> TextClause:
    """``WITH pending_0 AS (INSERT …), … SELECT 1`` for a shape of (table, columns, rows), compiled once.

    Written as typed text: SQLAlchemy does not cache the compilation of DML inside CTEs, and compiling it on
    every flush would cost more than the round trip it saves. Column types still process every value.
    """
    ctes: list[str] = []
    binds: list[BindParameter[Any]] = []
    for g, (table, cols, n) in enumerate(shape):
        rows = []
        for r in range(n):
            names = [f"p{g}_{r}_{c}" for c in cols]
            binds.extend(bindparam(name, type_=table.c[c].type) for name, c in zip(names, cols, strict=True))
            rows.append("(" + ", ".join(f":{name}" for name in names) + ")")
        columns = ", ".join(f'"{c}"' for c in cols)
        # names come from the metadata, values only ever as bound parameters
        ctes.append(f'pending_{g} AS (INSERT INTO "{table.name}" ({columns}) VALUES {", ".join(rows)})')  # noqa: S608
    return text("WITH " + ", ".join(ctes) + " SELECT 1").bindparams(*binds)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    _write_pending(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    session.flush()  # an ORM flush writes the queued rows after its own; a clean session does not flush
    _write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    """Rows queued inside the transaction (or savepoint) that rolled back are dropped with it."""

    def inside(txn: Any) -> bool:
        while txn is not None:
            if txn is previous_transaction:
                return True
            txn = txn.parent
        return False

    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [entry for entry in pending if not inside(entry[0])]


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def read_only_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for requests that only read: on SQLite they begin DEFERRED instead of taking the write lock.

    Anything else (PostgreSQL, or a factory bound to a connection as in tests) is returned as it is.
    """
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        return sessionmaker(bind=bind.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class WriteWatch:
    """Tells a per-process copy of some tables (a cache) about writes to them, for one shared rule: a session
    that wrote to the tables reads the database until it ends (``dirty``), and its commit calls ``on_commit``
    (the copy is dropped); a rollback forgets the writes. ORM objects and ORM-enabled bulk statements count."""

    def __init__(self, name: str, models: tuple[type[Base], ...], on_commit: Callable[[], None]) -> None:
        self.key = f"chengguan.writes.{name}"
        self.models = models
        self.tables = frozenset(m.__table__.name for m in models)  # type: ignore[attr-defined]
        self.on_commit = on_commit
        event.listen(Session, "before_flush", self._before_flush)
        event.listen(Session, "do_orm_execute", self._on_execute)
        event.listen(Session, "after_commit", self._after_commit)
        event.listen(Session, "after_rollback", self._after_rollback)

    def dirty(self, session: Session) -> bool:
        return bool(session.info.get(self.key))

    def _before_flush(self, session: Session, _ctx: Any, _instances: Any) -> None:
        if any(isinstance(obj, self.models) for obj in (*session.new, *session.dirty, *session.deleted)):
            session.info[self.key] = True

    def _on_execute(self, state: ORMExecuteState) -> None:
        mapper = state.bind_mapper
        writes = state.is_update or state.is_delete or state.is_insert
        if writes and mapper is not None and mapper.local_table.name in self.tables:  # type: ignore[attr-defined]
            state.session.info[self.key] = True

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(self.key, None):
            self.on_commit()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(self.key, None)
