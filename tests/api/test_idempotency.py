"""Idempotency-Key: a retried POST gets the first answer and changes nothing; a reused key for another body is
refused; keys belong to their caller; a server error is not remembered."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengguan.cases.models import Case
from tests.personas import xihu_spot


def _body() -> dict[str, object]:
    lon, lat = xihu_spot()
    return {"category_code": "0202", "description": "电线杆上贴满小广告", "lon": lon, "lat": lat}


def _cases(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Case)) or 0


def test_a_retry_gets_the_first_answer_and_changes_nothing(
    login: Callable[[str], TestClient], city_db: Session
) -> None:
    grid = login("grid1")
    body = _body()
    first = grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "a1b2-retry"})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    before = _cases(city_db)
    again = grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "a1b2-retry"})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["case_no"] == first.json()["case_no"]
    assert again.headers["content-type"].startswith("application/json")
    assert _cases(city_db) == before


def test_the_same_key_for_another_body_is_refused(login: Callable[[str], TestClient], city_db: Session) -> None:
    grid = login("grid1")
    assert grid.post("/api/v1/cases", json=_body(), headers={"Idempotency-Key": "k-1"}).status_code == 201
    before = _cases(city_db)
    r = grid.post("/api/v1/cases", json=_body(), headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 422 and r.json()["type"].endswith("/idempotency-key-reused")
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _cases(city_db) == before


def test_keys_belong_to_their_caller(login: Callable[[str], TestClient], city_db: Session) -> None:
    body = _body()
    mine = login("grid1").post("/api/v1/cases", json=body, headers={"Idempotency-Key": "shared-key"})
    lon, lat = xihu_spot()
    theirs = login("dispatcher").post(
        "/api/v1/cases", json={**body, "lon": lon, "lat": lat}, headers={"Idempotency-Key": "shared-key"}
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["case_no"] != theirs.json()["case_no"] and "idempotent-replayed" not in theirs.headers


def test_a_server_error_is_not_remembered(
    login: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch, city_db: Session
) -> None:
    from chengguan.intake import service as intake

    grid = login("grid1")
    body = _body()
    real = intake.submit

    def broken(*a: object, **kw: object) -> object:
        raise RuntimeError("database went away")

    monkeypatch.setattr(intake, "submit", broken)
    assert grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "after-500"}).status_code == 500
    monkeypatch.setattr(intake, "submit", real)
    retry = grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "after-500"})
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers


def test_a_retry_while_the_first_runs_is_told_to_wait(login: Callable[[str], TestClient], city_db: Session) -> None:
    from chengguan.http.models import IdempotencyRecord

    grid = login("grid1")
    body = _body()
    assert grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "slow"}).status_code == 201
    row = city_db.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == "slow")).one()
    row.status_code = None  # as if the first request were still running
    city_db.flush()
    r = grid.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "slow"})
    assert r.status_code == 409 and r.headers["retry-after"] == "1"


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x01key"])
def test_malformed_keys_are_refused(login: Callable[[str], TestClient], key: str) -> None:
    r = login("grid1").post("/api/v1/cases", json=_body(), headers={"Idempotency-Key": key})
    assert r.status_code == 400 and r.json()["type"].endswith("/bad-idempotency-key")
