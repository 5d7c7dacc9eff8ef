"""An app on the demo city database, rolled back after each test, and logged-in clients per persona."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from chengguan.config import Settings
from chengguan.web.app import create_app

PASSWORD = "chengguan2026"


@pytest.fixture
def app(city_db: Session) -> FastAPI:
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    return create_app(Settings(env="test", inline_jobs=True), session_factory=factory)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def login(app: FastAPI) -> Callable[[str], TestClient]:
    """``login("dispatcher")`` → a client that sends that user's bearer token."""

    def _login(username: str) -> TestClient:
        c = TestClient(app, raise_server_exceptions=False)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        c.cookies.clear()
        return c

    return _login
