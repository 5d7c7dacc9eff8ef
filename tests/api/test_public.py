"""The citizens' public door (/api/v1/public) and the H5 pages over it: anonymous reports with a tracking code,
the public timeline, rating at closing, place checks, plain-word categories, and the abuse controls (rate
limits with Retry-After, size limits, a flood of the same text answered with the earlier tracking code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chengguan.config import Settings
from chengguan.intake.models import Report
from chengguan.media.storage import LocalStorage
from chengguan.web.app import create_app
from tests.media_samples import SMALL_JPEG
from tests.personas import SHANGHAI_POINT, XIAOSHAN_POINT, xihu_spot

API = "/api/v1/public"
CLOSING: list[tuple[str, str, dict[str, Any]]] = [  # a citizen's case in 西湖区 walked to 已结案 by its staff
    ("accept", "dispatcher", {}),
    ("file", "shift_leader", {}),
    ("dispatch", "dispatcher", {"assignee": "officer1"}),
    ("start", "officer1", {}),
    ("feedback", "officer1", {"note": "已清理完毕"}),
    ("verify_pass", "dispatcher", {}),
    ("close", "shift_leader", {"public_reply": "摊位已清理，人行道已恢复通行"}),
]


def _report(description: str = "人行道上有人摆摊卖水果，行人只能走机动车道", **extra: Any) -> dict[str, Any]:
    lon, lat = xihu_spot()
    return {"description": description, "category_code": "0501", "lon": lon, "lat": lat, **extra}


def _count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Report)) or 0)


@pytest.fixture
def limited(city_db: Session) -> Callable[..., TestClient]:
    """A client of an app with its own public-door limits."""

    def _make(**settings: Any) -> TestClient:
        factory = sessionmaker(
            bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        app = create_app(Settings(env="test", inline_jobs=True, **settings), session_factory=factory)
        return TestClient(app, raise_server_exceptions=False)

    return _make


def test_an_anonymous_report_gets_a_tracking_code_and_a_plain_timeline(client: TestClient, city_db: Session) -> None:
    r = client.post(f"{API}/reports", json=_report(address="西湖区文三路 100 号附近"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["repeated"] is False and len(out["tracking_code"]) == 10
    assert out["place"]["district"] == "西湖区" and out["place"]["street"]
    assert out["track_path"] == f"/h5/track/{out['tracking_code']}"
    report = city_db.scalar(select(Report).where(Report.tracking_code == out["tracking_code"]))
    assert report is not None and report.anonymous and report.reporter_id is None and report.channel == "citizen"
    t = client.get(f"{API}/reports/{out['tracking_code']}")
    assert t.status_code == 200, t.text
    track = t.json()
    assert track["status"] == "accepted" and track["case"] is not None  # processed right after the commit
    assert track["progress"] == "已提交" and "等待受理" in track["progress_text"]
    assert track["case"]["timeline"] and track["can_rate"] is False and track["rating"] is None
    # tracking codes are read case-insensitively; unknown ones are 404 in zh-CN
    assert client.get(f"{API}/reports/{out['tracking_code'].lower()}").status_code == 200
    missing = client.get(f"{API}/reports/ZZZZZZZZZZ")
    assert missing.status_code == 404 and "跟踪编号" in missing.json()["detail"]


def test_the_same_text_again_from_the_same_address_gets_the_earlier_code(client: TestClient, city_db: Session) -> None:
    first = client.post(f"{API}/reports", json=_report("小区门口的垃圾三天没人清理了"))
    assert first.status_code == 201
    before = _count(city_db)
    again = client.post(f"{API}/reports", json=_report("小区门口的垃圾三天没人清理了 "))  # other pin, spaces
    assert again.status_code == 200, again.text
    assert again.json()["repeated"] is True and again.json()["tracking_code"] == first.json()["tracking_code"]
    assert _count(city_db) == before
    other = client.post(f"{API}/reports", json=_report("另一件事：井盖丢了"))
    assert other.status_code == 201 and other.json()["tracking_code"] != first.json()["tracking_code"]


def test_a_report_outside_the_jurisdiction_is_refused_with_the_reason(client: TestClient, city_db: Session) -> None:
    before = _count(city_db)
    lon, lat = SHANGHAI_POINT
    r = client.post(f"{API}/reports", json=_report(lon=lon, lat=lat))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/outside-area") and "不在本平台服务的辖区内" in r.json()["detail"]
    assert _count(city_db) == before
    check = client.get(f"{API}/place", params={"lon": lon, "lat": lat})
    assert check.status_code == 200 and check.json()["inside"] is False and "辖区" in check.json()["reason"]


def test_the_pin_and_the_typed_address_are_reconciled(client: TestClient) -> None:
    lon, lat = xihu_spot()
    near = client.get(f"{API}/place", params={"lon": lon, "lat": lat, "address": "西湖区文三路 100 号"})
    assert near.status_code == 200, near.text
    body = near.json()
    assert body["inside"] and body["place"]["district"] == "西湖区" and body["disagrees"] is False
    far = client.get(f"{API}/place", params={"lon": lon, "lat": lat, "address": "萧山区某小区门口"}).json()
    assert far["disagrees"] is True and far["address_place"] == "萧山区" and far["distance_m"] > 3000
    assert "公里" in far["note"]
    # sent anyway: kept, and a person checks the place before it becomes a case
    r = client.post(f"{API}/reports", json=_report(address="萧山区某小区门口", place_confirmed=True))
    assert r.status_code == 201, r.text
    track = client.get(f"{API}/reports/{r.json()['tracking_code']}").json()
    assert track["status"] == "triage" and track["case"] is None and track["progress"] == "核实中"
    # GCJ-02 from a Chinese map app is converted to WGS84 before it is placed
    gcj = client.get(f"{API}/place", params={"lon": XIAOSHAN_POINT[0] + 0.0045, "lat": XIAOSHAN_POINT[1] - 0.0025})
    assert gcj.json()["inside"] is True


def test_places_and_categories_in_plain_words(client: TestClient) -> None:
    r = client.get(f"{API}/places", params={"q": "西湖区西溪街道"})
    assert r.status_code == 200, r.text
    top = r.json()[0]
    assert top["full_name"] == "西湖区西溪街道" and top["level"] == "street" and top["level_label"] == "街道/乡镇"
    assert client.get(f"{API}/places", params={"q": "Main Street 1"}).json() == []
    cats = client.get(f"{API}/categories")
    assert cats.status_code == 200
    majors = {m["code"]: m for m in cats.json()}
    assert majors["01"]["words"] == "垃圾与卫生" and majors["01"]["icon"] == "trash"
    minor = {m["code"]: m for m in majors["05"]["minors"]}["0506"]
    assert minor == {"code": "0506", "words": "汽车乱停", "name": "机动车乱停放"}


def test_every_field_and_the_body_are_bounded(client: TestClient) -> None:
    assert client.post(f"{API}/reports", json=_report("很" * 2001)).status_code == 422
    r = client.post(f"{API}/reports", json=_report(media=["0" * 64] * 10))
    assert r.status_code == 422 and any(e["location"] == "body.media" for e in r.json()["errors"])
    r = client.post(f"{API}/reports", json={"description": "有垃圾"})
    assert r.status_code == 422 and "地图上选点" in r.text
    r = client.post(f"{API}/reports", json=_report(contact_phone="call me"))
    assert r.status_code == 422
    r = client.post(f"{API}/reports", json=_report(category_code="9999"))
    assert r.status_code in (404, 422), r.text  # a category that does not exist is refused at once
    big = client.post(
        f"{API}/reports",
        content=b'{"description": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413
    assert client.get(f"{API}/places", params={"q": "路" * 201}).status_code == 422


def test_rate_limits_per_client_address_answer_429_with_retry_after(limited: Callable[..., TestClient]) -> None:
    c = limited(public_max_writes=2, public_max_reads=3, public_rate_window_seconds=600)
    codes = [c.post(f"{API}/reports", json=_report(f"第 {i} 件：路灯不亮")).status_code for i in range(3)]
    assert codes == [201, 201, 429]
    refused = c.post(f"{API}/reports", json=_report("第 4 件"))
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 600 and "过于频繁" in refused.json()["detail"]
    reads = [c.get(f"{API}/categories").status_code for _ in range(4)]
    assert reads == [200, 200, 200, 429]
    # 0 switches a limit off (benchmarks)
    free = limited(public_max_writes=0, public_max_reads=0)
    assert all(free.get(f"{API}/categories").status_code == 200 for _ in range(5))


def _walk_to_closed(login: Callable[[str], TestClient], case_no: str) -> None:
    version = login("dispatcher").get(f"/api/v1/cases/{case_no}").json()["version"]
    officer = login("officer1").get("/api/v1/me").json()["id"]
    for action, who, extra in CLOSING:
        body: dict[str, Any] = {"action": action, "version": version, "note": extra.get("note")}
        if "assignee" in extra:
            body["assignee_id"] = officer
        if "public_reply" in extra:
            body["public_reply"] = extra["public_reply"]
        r = login(who).post(f"/api/v1/cases/{case_no}/transitions", json=body)
        assert r.status_code == 200, (action, r.text)
        version = r.json()["version"]


def test_the_reporter_rates_once_after_closing(client: TestClient, login: Callable[[str], TestClient]) -> None:
    code = client.post(f"{API}/reports", json=_report("店门口占道摆摊卖水果")).json()["tracking_code"]
    early = client.post(f"{API}/reports/{code}/rating", json={"score": 5})
    assert early.status_code == 409 and "办结后才能评价" in early.json()["detail"]
    case_no = client.get(f"{API}/reports/{code}").json()["case_no"]
    _walk_to_closed(login, case_no)
    track = client.get(f"{API}/reports/{code}").json()
    assert track["progress"] == "已办结" and track["finished"] and track["can_rate"]
    assert any(e["text"] == "摊位已清理，人行道已恢复通行" for e in track["case"]["timeline"])
    assert "已清理完毕" not in str(track) and "officer1" not in str(track)  # staff notes and names stay inside
    assert client.post(f"{API}/reports/{code}/rating", json={"score": 6}).status_code == 422
    r = client.post(f"{API}/reports/{code}/rating", json={"score": 4, "comment": "处理很快"})
    assert r.status_code == 200, r.text
    assert r.json()["rating"] == 4 and r.json()["rating_comment"] == "处理很快" and r.json()["can_rate"] is False
    again = client.post(f"{API}/reports/{code}/rating", json={"score": 1})
    assert again.status_code == 409 and "评价过" in again.json()["detail"]


def test_a_logged_in_citizen_reports_as_themselves(login: Callable[[str], TestClient]) -> None:
    citizen = login("citizen1")
    r = citizen.post(f"{API}/reports", json=_report("楼下垃圾桶满了没人清", category_code="0108"))
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]
    mine = citizen.get("/api/v1/my/reports").json()["items"]
    assert code in [m["tracking_code"] for m in mine]
    # staff who use the public door are members of the public there: nothing is linked to their account
    staff = login("officer1")
    r = staff.post(f"{API}/reports", json=_report("路边有人烧垃圾", category_code="0107"))
    assert r.status_code == 201
    assert r.json()["tracking_code"] not in [
        m["tracking_code"] for m in staff.get("/api/v1/my/reports").json()["items"]
    ]


def test_a_photo_uploaded_anonymously_goes_with_the_report(
    app: FastAPI, client: TestClient, tmp_path: Path, city_db: Session
) -> None:
    app.state.media_storage = LocalStorage(tmp_path / "media")
    up = client.post("/api/v1/media", files={"file": ("photo.jpg", SMALL_JPEG.read_bytes(), "image/jpeg")})
    assert up.status_code == 201, up.text
    sha = up.json()["sha256"]
    r = client.post(f"{API}/reports", json=_report("人行道上堆满了建筑垃圾", category_code="0504", media=[sha]))
    assert r.status_code == 201, r.text
    track = client.get(f"{API}/reports/{r.json()['tracking_code']}").json()
    assert [p["sha256"] for p in track["photos"]] == [sha]
    photo = track["photos"][0]
    assert photo["original_url"] is None and "sig=" in photo["thumbnail_url"]
    assert client.get(photo["thumbnail_url"]).status_code == 200
    # someone else's upload cannot be named
    r = client.post(f"{API}/reports", json=_report("别人的照片", media=["a" * 64]))
    assert r.status_code == 422


def test_the_h5_pages_need_no_login(client: TestClient) -> None:
    page = client.get("/h5")
    assert page.status_code == 200
    html = page.text
    assert 'capture="environment"' in html and 'accept="image/*,video/*"' in html
    assert 'data-testid="use-location"' in html and "/static/app/h5.js" in html and "<script>" not in html
    assert "城管执法指挥平台" not in html  # the citizens' own page, not the console
    assert client.get("/h5/track").status_code == 200
    assert client.get("/h5/track/ABCDEFGH23").status_code == 200
    r = client.get("/h5/track", params={"code": "abcdefgh23"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/h5/track/ABCDEFGH23"
    bad = client.get("/h5/track/<script>", follow_redirects=False)
    assert bad.status_code in (303, 404)
    for asset in ("h5.js", "h5.css", "h5-icons.svg"):
        assert client.get(f"/static/app/{asset}").status_code == 200
