"""Shared helpers for benchmarks: a check of the server, a throwaway PostgreSQL database, percentile maths."""

from __future__ import annotations

import os
import secrets
import statistics
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


# ---- a real server, and load against it (bench/intake_replay.py) ---------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def uvicorn_server(
    app: str, *, env: dict[str, str], workers: int = 1, app_dir: str | None = None, timeout_s: float = 60.0
) -> Iterator[int]:
    """Run ``uvicorn --factory APP`` in a child process (uvloop, httptools, no access log) and yield its port
    once it answers; stop it after. Every benchmark server is started with exactly these settings."""
    import subprocess
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    cmd += ["--timeout-keep-alive", "75"]  # the load generator's idle connections stay usable between bursts
    cmd += ["--log-level", "warning"]
    if app_dir:
        cmd += ["--app-dir", app_dir]
    proc = subprocess.Popen(cmd, env={**os.environ, **env})
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server {app} exited with status {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server {app} did not answer within {timeout_s:.0f} s") from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_request(method: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """An HTTP/1.1 request as (head, body) bytes for ``open_loop`` / ``closed_loop`` (keep-alive, JSON body)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


class _Conn:
    """One keep-alive HTTP/1.1 connection: a few microseconds of client work per request, so that the load
    generator, which shares the machine with the server, takes as little of it as possible."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader, self.writer = reader, writer

    async def call(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


@dataclass
class LoadResult:
    sent: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)  # problem "type" of 4xx/5xx answers
    examples: dict[int, str] = field(default_factory=dict)  # a body of each non-2xx status
    timeouts: int = 0

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def note(self, status: int, body: bytes) -> None:
        self.statuses[status] += 1
        if status == 0:  # no answer: given up (timeout) or the connection failed
            self.problems[f"no answer: {body[:40].decode('utf-8', 'replace')}"] += 1
            return
        if status >= 300:
            self.examples.setdefault(status, body[:300].decode("utf-8", "replace"))
            try:
                import json

                kind = str(json.loads(body).get("type", "")).rsplit("/", 1)[-1]
            except (ValueError, AttributeError):
                kind = "?"
            self.problems[f"{status} {kind}"] += 1


async def _connect(port: int) -> _Conn:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return _Conn(reader, writer)


async def _one(port: int, idle: list[_Conn], request: tuple[bytes, bytes]) -> tuple[int, bytes]:
    import asyncio

    conn = idle.pop() if idle else await _connect(port)
    try:
        status, body = await conn.call(*request)
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        return 0, repr(exc).encode()
    idle.append(conn)
    return status, body


async def open_loop(
    port: int, requests: list[tuple[bytes, bytes]], *, rate: float, max_conns: int, drain_s: float = 10.0
) -> LoadResult:
    """Send ``requests`` on a fixed schedule (``rate`` per second, open loop: a slow answer does not delay the
    next send). Latency runs from each request's *scheduled* time, so time spent waiting for a free connection
    or behind a slow server counts (no coordinated omission). Requests still unanswered ``drain_s`` after the
    last send are given up (``timeouts``; their latency so far is counted, a lower bound)."""
    import asyncio

    loop = asyncio.get_running_loop()
    result = LoadResult()
    idle: list[_Conn] = []
    slots = asyncio.Semaphore(max_conns)

    async def send(request: tuple[bytes, bytes], at: float) -> None:
        async with slots:
            status, body = await _one(port, idle, request)
        result.latencies_ms.append((loop.time() - at) * 1000)
        result.note(status, body)

    started = loop.time() + 0.05
    tasks = []
    for i, request in enumerate(requests):
        at = started + i / rate
        if (delay := at - loop.time()) > 0:
            await asyncio.sleep(delay)
        tasks.append((at, asyncio.create_task(send(request, at))))
    _, pending = await asyncio.wait([t for _, t in tasks], timeout=drain_s) if tasks else (set(), set())
    for at, task in tasks:  # still unanswered after the drain: a timeout, its latency so far a lower bound
        if task in pending:
            task.cancel()
            result.latencies_ms.append((loop.time() - at) * 1000)
            result.note(0, b"timeout")
            result.timeouts += 1
    await asyncio.gather(*pending, return_exceptions=True)
    result.sent = len(requests)
    result.seconds = loop.time() - started  # until the last answer, or the end of the drain
    for conn in idle:
        conn.close()
    return result


async def closed_loop(
    port: int, requests: Iterator[tuple[bytes, bytes]], *, concurrency: int, seconds: float | None = None
) -> LoadResult:
    """``concurrency`` clients, each sending its next request as soon as the last is answered, until
    ``requests`` run out or ``seconds`` have passed: the most the server sustains (reports/s)."""
    import asyncio

    loop = asyncio.get_running_loop()
    result = LoadResult()
    started = loop.time()
    stop = started + seconds if seconds else float("inf")

    async def client() -> None:
        idle: list[_Conn] = []
        for request in requests:  # one shared iterator: each request is sent once
            t0 = loop.time()
            status, body = await _one(port, idle, request)
            result.latencies_ms.append((loop.time() - t0) * 1000)
            result.note(status, body)
            result.sent += 1
            if loop.time() >= stop:
                break
        for conn in idle:
            conn.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = loop.time() - started
    return result
