"""Shared helpers for benchmarks: a check of the server, a throwaway PostgreSQL database, percentile maths."""

from __future__ import annotations

import os
import secrets
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

DEFAULT_ADMIN_URL = os.environ.get("CHENGGUAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
REQUIRED_EXTENSION = "postgis"  # the first migration runs CREATE EXTENSION postgis
URL_HINT = "设置 CHENGGUAN_BENCH_DATABASE_URL 指向"


def server_problem(admin_url: str = DEFAULT_ADMIN_URL) -> str | None:
    """What keeps the benchmarks from running on ``admin_url``'s server, in one readable line; None: nothing."""
    try:
        url = make_url(admin_url)
    except ArgumentError:
        return f"数据库 URL 无法解析（{admin_url!r}）：请{URL_HINT} postgresql+psycopg://用户@主机/数据库。"
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() != "postgresql":
        backend = url.get_backend_name()
        return f"基准测试需要 PostgreSQL + PostGIS，不能用 {backend}（{shown}）：请{URL_HINT} PostgreSQL 服务器。"
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            major = int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000
            available = conn.scalar(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = :name"), {"name": REQUIRED_EXTENSION}
            )
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split()).rstrip("?. ")  # libpq's message, on one line
        if "FATAL" in reason:  # the server answered and refused: user, password or database
            return (
                f"PostgreSQL 拒绝登录（{shown}）：{reason}。"
                f"请检查 URL 中的用户、密码和数据库，或{URL_HINT}可用的服务器。"
            )
        advice = f"请启动 PostgreSQL（make system-deps），或{URL_HINT}可用的服务器。"
        return f"无法连接 PostgreSQL（{shown}）：{reason}。{advice}"
    finally:
        eng.dispose()
    if not available:
        return (
            f"PostgreSQL {major} 服务器（{shown}）没有安装 PostGIS。"
            f"请安装：apt-get install -y postgresql-{major}-postgis-3（或 make system-deps），"
            f"或{URL_HINT}装有 PostGIS 的服务器。"
        )
    return None


def require_server(admin_url: str = DEFAULT_ADMIN_URL) -> None:
    """Exit with status 2 and one line on stderr when the server cannot run the benchmarks."""
    problem = server_problem(admin_url)
    if problem:
        print(f"错误：{problem}", file=sys.stderr)
        raise SystemExit(2)


@contextmanager
def throwaway_pg(admin_url: str = DEFAULT_ADMIN_URL, keep: bool = False) -> Iterator[str]:
    """Create ``chengguan_bench_<hex>`` next to ``admin_url``'s database, yield its URL, drop it after."""
    admin = make_url(admin_url)
    name = f"chengguan_bench_{secrets.token_hex(4)}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]
