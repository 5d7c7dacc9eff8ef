"""NATS JetStream behind the broker port: a durable stream, de-duplicated publishing, pulled work with acks.

nats-py is asyncio; the outbox runner and the consumers are synchronous, so one event loop runs in a daemon
thread per process and calls wait on it. The stream ``<PREFIX>`` holds the subjects ``<prefix>.>`` on disk
(file storage, survives a restart of the server); each consumer is durable (its position survives a restart
of the worker), acknowledges explicitly after its transaction committed, and a message that keeps failing
is redelivered with a delay up to ``MAX_DELIVER`` times and then left for a person (logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

log = logging.getLogger("chengguan.jobs")
T = TypeVar("T")
MAX_DELIVER = 8
ACK_WAIT_S = 30.0
DUPLICATE_WINDOW_S = 24 * 3600.0  # a re-published message id is recognised for a day


def stream_name(prefix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", prefix).upper()


class JetStreamClient:
    def __init__(self, url: str, *, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="jetstream", daemon=True)
        self._thread.start()
        self._nc = self._run(nats.connect(url, connect_timeout=5, max_reconnect_attempts=-1))
        self._js = self._nc.jetstream()
        self._run(self._ensure_stream())

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _ensure_stream(self) -> None:
        config = StreamConfig(
            name=stream_name(self.prefix),
            subjects=[f"{self.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
        )
        try:
            await self._js.stream_info(config.name)  # type: ignore[arg-type]
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(config)

    def publish(self, subject: str, payload: dict[str, Any], msg_id: str) -> None:
        """Store ``payload`` on ``<prefix>.<subject>`` durably; the same ``msg_id`` again is stored once."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._run(self._js.publish(f"{self.prefix}.{subject}", body, headers={"Nats-Msg-Id": msg_id}), timeout=10)

    def consume(
        self,
        subject: str,
        handle: Callable[[dict[str, Any]], None],
        *,
        durable: str,
        stop: threading.Event,
        batch: int = 32,
    ) -> int:
        """Pull and handle messages until ``stop`` is set; ack after ``handle`` returned. Returns how many."""
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S, max_deliver=MAX_DELIVER)
        sub = self._run(self._js.pull_subscribe(f"{self.prefix}.{subject}", durable=durable, config=config))
        done = 0
        while not stop.is_set():
            try:
                messages = self._run(sub.fetch(batch, timeout=1.0), timeout=10)
            except TimeoutError:  # nothing to fetch (NATS' own timeout, or asyncio's inside the client)
                continue
            for msg in messages:
                try:
                    handle(json.loads(msg.data))
                except Exception:
                    log.exception("consumer %s failed on %s; it will be redelivered", durable, msg.subject)
                    self._run(msg.nak(delay=5.0))
                    continue
                self._run(msg.ack())
                done += 1
        return done

    def pending(self, subject: str, durable: str) -> int:
        """Messages of the durable consumer not yet acknowledged (for tests and monitoring)."""
        info = self._run(self._js.consumer_info(stream_name(self.prefix), durable))
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    def delete_stream(self) -> None:
        self._run(self._js.delete_stream(stream_name(self.prefix)))

    def close(self) -> None:
        self._run(self._nc.drain())
        self._loop.call_soon_threadsafe(self._loop.stop)


_clients: dict[tuple[str, str], JetStreamClient] = {}
_lock = threading.Lock()


def shared_client(url: str, *, prefix: str) -> JetStreamClient:
    """One connection per process and stream."""
    with _lock:
        client = _clients.get((url, prefix))
        if client is None:
            client = _clients[(url, prefix)] = JetStreamClient(url, prefix=prefix)
        return client
