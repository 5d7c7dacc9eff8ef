"""Shared helpers for benchmarks: a throwaway PostgreSQL database and percentile maths."""

from __future__ import annotations

import os
import secrets
import statistics
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = os.environ.get("CHENGGUAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")


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
