"""Measure notification delivery (chengguan.notify): queued SMS notifications drained by the outbox runner.

1. outbox mode (the development default): each delivery locks its row, builds and signs the Aliyun request,
   records it in ``notify_outbox`` and marks the notification sent — against the same number of outbox jobs
   whose handler does nothing (the floor of the outbox runner: claim, savepoint, mark done), same run;
2. live mode against a local HTTP server answering like Aliyun's SendSms (``{"Code": "OK", "BizId": …}``):
   the same through the network — against the same signed requests POSTed by one keep-alive httpx client
   with nothing else around them (the floor of the HTTP round trip), same run.

Usage: ``python bench/notify.py`` (2,000 notifications) or ``--quick`` (300). SQLite in a temporary folder
(the embedded default); ``--database-url`` for another, empty database. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from chengguan.db import make_engine, make_session_factory
from chengguan.jobs import outbox
from chengguan.migrate import upgrade
from chengguan.notify import delivery, wiring  # noqa: F401 - registers the delivery handler
from chengguan.notify import service as notify
from chengguan.notify.ports import Channel, Message
from chengguan.notify.sms import AliyunSms

CODES = {"case.accepted": "SMS_2026002"}
outbox.handler("bench.noop")(lambda session, payload: None)


class _Aliyun(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"bench"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _queue(factory: sessionmaker[Session], n: int) -> None:
    with factory() as session:
        for i in range(n):
            notify.send(session, template="case.accepted", params={"no": f"XH-2026-{i:06d}"}, phone=f"138{i:08d}")
        session.commit()


def _drain(factory: sessionmaker[Session]) -> int:
    done = 0
    while ran := outbox.run_pending(factory, limit=200):
        done += ran
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    n = 300 if args.quick else 2000
    res: dict[str, float | int | str] = {"notifications": n}

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        res["database"] = engine.dialect.name
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Aliyun)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_port}/"
        sms = AliyunSms("bench-id", "bench-secret", "城管执法", CODES, endpoint=endpoint)
        try:
            # 1. outbox mode
            wiring.install(wiring.Registry(mode="outbox", sms=sms))
            _queue(factory, n)
            t = time.perf_counter()
            assert _drain(factory) == n
            res["outbox_deliveries_per_s"] = round(n / (time.perf_counter() - t), 1)
            # baseline: the outbox runner itself, the same number of jobs with a handler that does nothing
            with factory() as session:
                for _ in range(n):
                    outbox.enqueue(session, topic="bench.noop", payload={})
                session.commit()
            t = time.perf_counter()
            assert _drain(factory) == n
            res["baseline_noop_jobs_per_s"] = round(n / (time.perf_counter() - t), 1)

            # 2. live mode against the local provider
            wiring.install(wiring.Registry(mode="live", sms=sms))
            _queue(factory, n)
            t = time.perf_counter()
            assert _drain(factory) == n
            res["live_deliveries_per_s"] = round(n / (time.perf_counter() - t), 1)
            requests = [
                sms.prepare(Message(i, Channel.SMS, "case.accepted", {"no": f"XH-{i}"}, "s", "b", phone=f"138{i:08d}"))
                for i in range(n)
            ]
            t = time.perf_counter()
            with httpx.Client(trust_env=False) as client:
                for r in requests:
                    client.post(r.url, headers=dict(r.headers), content=r.body.encode()).raise_for_status()
            res["baseline_keepalive_posts_per_s"] = round(n / (time.perf_counter() - t), 1)
        finally:
            server.shutdown()
            server.server_close()
            wiring.install(None)
            engine.dispose()
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
