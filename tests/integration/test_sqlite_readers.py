"""The embedded database: requests that only read never queue behind a writer (WAL + deferred BEGIN)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from chengguan.config import Settings
from chengguan.db import make_engine
from chengguan.identity import service as identity
from chengguan.identity.roles import Role
from chengguan.migrate import upgrade
from chengguan.web.app import create_app


def test_a_read_is_answered_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'chengguan.db'}")
    upgrade(engine)
    with Session(engine) as s:
        city = identity.create_bureau(s, code="t", name="测试中心", kind="city", admin_code="330100", case_prefix="T")
        identity.create_user(
            s, bureau=city, username="reader", password="chengguan2026", display_name="读者", roles=[Role.AUDITOR]
        )
        s.commit()
    engine.dispose()
    app = create_app(Settings(env="test", data_dir=data, inline_jobs=False))
    client = TestClient(app, raise_server_exceptions=False)
    token = client.post("/api/v1/auth/login", json={"username": "reader", "password": "chengguan2026"}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"

    writer = sqlite3.connect(data / "chengguan.db", timeout=0, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another request in the middle of a write
    writer.execute("UPDATE bureau SET name = name")
    answers: list[int] = []
    reader = threading.Thread(target=lambda: answers.append(client.get("/api/v1/me").status_code))
    try:
        reader.start()
        reader.join(timeout=10)  # a reader that began IMMEDIATE would wait out the 30 s busy timeout
        assert answers == [200]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        reader.join()
