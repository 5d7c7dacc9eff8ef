"""System channels over HTTP: the key decides the channel, pushes are idempotent, devices and the desk's
12345 import; every refusal is problem+json with a zh-CN reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.demo import demo_api_key
from chengguan.intake import clients
from chengguan.intake.models import Report
from chengguan.intake.states import ReportStatus
from tests.personas import SHANGHAI_POINT, xihu_spot

HOTLINE = {"X-Api-Key": demo_api_key("hz-12345")}
SOCIAL = {"X-Api-Key": demo_api_key("hz-social")}
IOT = {"X-Api-Key": demo_api_key("hz-iot")}
VIDEO = {"X-Api-Key": demo_api_key("hz-video")}


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def order(no: str = "GD20261123001", **kw: object) -> dict[str, object]:
    lon, lat = xihu_spot()
    body: dict[str, object] = {
        "order_no": no,
        "content": "市民反映文三路人行道有流动摊贩占道",
        "called_at": ago(30),
        "caller_name": "王先生",
        "caller_phone": "13700002222",
        "lon": lon,
        "lat": lat,
        "category_code": "0501",
    }
    body.update(kw)
    return body


def test_a_pushed_work_order_is_stored_once_and_answered_with_its_tracking_code(
    client: TestClient, city_db: Session
) -> None:
    first = client.post("/api/v1/intake/hotline", json=order(), headers=HOTLINE)
    assert first.status_code == 201, first.text
    ack = first.json()
    assert ack["external_id"] == "GD20261123001" and ack["replay"] is False and len(ack["tracking_code"]) == 10
    again = client.post("/api/v1/intake/hotline", json=order(content="同一工单再推一次"), headers=HOTLINE)
    assert again.status_code == 200 and again.json()["replay"] is True
    assert again.json()["tracking_code"] == ack["tracking_code"]
    reports = city_db.scalars(select(Report).where(Report.external_id == "GD20261123001")).all()
    assert len(reports) == 1 and reports[0].channel == "hotline_12345"
    assert reports[0].status != ReportStatus.RECEIVED  # processed after the commit (in-process by default)


def test_the_key_decides_who_may_push_and_a_body_cannot_name_its_channel(
    client: TestClient, login: Callable[[str], TestClient], city_db: Session
) -> None:
    missing = client.post("/api/v1/intake/hotline", json=order())
    assert missing.status_code == 401 and missing.headers["content-type"].startswith("application/problem+json")
    assert "X-Api-Key" in missing.json()["detail"]
    wrong = client.post("/api/v1/intake/hotline", json=order(), headers={"X-Api-Key": "cgk_" + "x" * 43})
    assert wrong.status_code == 401
    other = client.post("/api/v1/intake/hotline", json=order(), headers=SOCIAL)
    assert other.status_code == 403 and "仅限12345热线" in other.json()["detail"]
    person = login("dispatcher").post("/api/v1/intake/hotline", json=order())
    assert person.status_code == 403 and "不能用登录账号调用" in person.json()["detail"]
    forged = client.post("/api/v1/intake/hotline", json=order(channel="citizen"), headers=HOTLINE)
    assert forged.status_code == 422

    clients.revoke_client(city_db, code="hz-12345")
    city_db.flush()
    revoked = client.post("/api/v1/intake/hotline", json=order(no="GD2"), headers=HOTLINE)
    assert revoked.status_code == 401 and "已停用" in revoked.json()["detail"]


def test_pushed_fields_are_checked_one_by_one(client: TestClient) -> None:
    r = client.post(
        "/api/v1/intake/hotline",
        json=order(no="../etc", called_at="2099-01-01T00:00:00", lat=None, caller_phone="abc"),
        headers=HOTLINE,
    )
    assert r.status_code == 422
    where = {e["location"] for e in r.json()["errors"]}
    assert {"body.order_no", "body.called_at", "body.lat", "body.caller_phone"} <= where
    outside = client.post(
        "/api/v1/intake/hotline", json=order(lon=SHANGHAI_POINT[0], lat=SHANGHAI_POINT[1]), headers=HOTLINE
    )
    assert outside.status_code == 422 and "不在本平台服务的辖区内" in outside.json()["detail"]


def test_a_social_post_without_a_category_is_classified(client: TestClient, city_db: Session) -> None:
    lon, lat = xihu_spot()
    post = {
        "post_id": "weibo-4937",
        "platform": "weibo",
        "url": "https://weibo.com/123/4937",
        "author": "西湖边的猫",
        "text": "文三路上又有人摆摊卖水果，人行道都堵死了，城管管管吧",
        "posted_at": ago(10),
        "lon": lon,
        "lat": lat,
    }
    r = client.post("/api/v1/intake/social", json=post, headers=SOCIAL)
    assert r.status_code == 201, r.text
    report = city_db.scalar(select(Report).where(Report.external_id == "weibo-4937"))
    assert report is not None and report.channel == "social_media" and report.claimed_category is None
    assert report.payload["platform"] == "weibo" and report.reporter_name == "西湖边的猫"
    assert report.status != ReportStatus.RECEIVED and report.classification is not None  # classify ran
    assert client.post("/api/v1/intake/social", json=post, headers=SOCIAL).status_code == 200


def test_sensor_readings_report_only_a_sustained_breach(client: TestClient) -> None:
    def readings(*values: tuple[float, float]) -> dict[str, object]:
        return {"readings": [{"metric": "fill_pct", "value": v, "at": ago(m)} for m, v in values]}

    # XH-BIN-001: fill_pct above 90, no minimum duration → the first reading above raises
    r = client.post("/api/v1/intake/devices/XH-BIN-001/readings", json=readings((30, 50), (20, 95)), headers=IOT)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["readings"], out["within_limits"], out["pending"]) == (2, 1, 0)
    assert [(a["metric"], a["outcome"]) for a in out["alerts"]] == [("fill_pct", "opened")]
    more = client.post("/api/v1/intake/devices/XH-BIN-001/readings", json=readings((10, 97), (5, 99)), headers=IOT)
    alerts = more.json()["alerts"]
    assert [a["outcome"] for a in alerts] == ["merged", "merged"] and alerts[-1]["repeats"] == 2
    assert alerts[-1]["tracking_code"] == out["alerts"][0]["tracking_code"]
    replay = client.post("/api/v1/intake/devices/XH-BIN-001/readings", json=readings((10, 97)), headers=IOT)
    assert replay.json()["replayed"] == 1 and replay.json()["alerts"] == []

    assert (
        client.post("/api/v1/intake/devices/XH-BIN-001/readings", json=readings((1, 99)), headers=VIDEO).status_code
        == 403
    )
    unknown = client.post("/api/v1/intake/devices/NOPE-1/readings", json=readings((1, 99)), headers=IOT)
    assert unknown.status_code == 404
    bad = client.post(
        "/api/v1/intake/devices/XH-BIN-001/readings",
        json={"readings": [{"metric": "Fill%", "value": 1e12, "at": ago(1)}]},
        headers=IOT,
    )
    assert bad.status_code == 422 and len(bad.json()["errors"]) == 2


def test_a_camera_frame_follows_the_documented_contract(client: TestClient) -> None:
    frame = {
        "event_id": "cam-ev-001",
        "frame_at": ago(2),
        "detections": [
            {"class": "street_vending", "score": 0.93, "bbox": [0.12, 0.40, 0.35, 0.88]},
            {"class": "motor_parking", "score": 0.71, "bbox": [0.5, 0.5, 0.9, 0.95]},
        ],
        "snapshot_sha256": "0f" * 32,
        "detector": "yolo-street-v3",
    }
    r = client.post("/api/v1/intake/cameras/XH-CAM-001/events", json=frame, headers=VIDEO)
    assert r.status_code == 200, r.text
    assert sorted((a["metric"], a["outcome"]) for a in r.json()["alerts"]) == [
        ("motor_parking", "opened"),
        ("street_vending", "opened"),
    ]
    again = client.post("/api/v1/intake/cameras/XH-CAM-001/events", json=frame, headers=VIDEO)
    assert {a["outcome"] for a in again.json()["alerts"]} == {"replayed"}
    bad = dict(frame, detections=[{"class": "ufo", "score": 1.5, "bbox": [0.5, 0.5, 0.4, 0.9]}])
    refused = client.post("/api/v1/intake/cameras/XH-CAM-001/events", json=bad, headers=VIDEO)
    assert refused.status_code == 422
    messages = " ".join(e["message"] for e in refused.json()["errors"])
    assert "x_min < x_max" in messages
    assert client.post("/api/v1/intake/cameras/XH-CAM-001/events", json=frame, headers=IOT).status_code == 403


def test_the_desk_imports_an_export_and_gets_a_report_per_bad_row(
    login: Callable[[str], TestClient], city_db: Session
) -> None:
    rows = ["工单编号,来电时间,诉求内容,经度,纬度"]
    for i in range(3):
        lon, lat = xihu_spot()
        rows.append(f"IMP{i},{(datetime.now(UTC) - timedelta(hours=2)):%Y-%m-%d %H:%M:%S},店外经营 {i},{lon},{lat}")
    rows.append("IMP9,不是时间,店外经营,120.13,30.27")
    data = ("\n".join(rows) + "\n").encode()
    desk = login("dispatcher")
    r = desk.post("/api/v1/intake/hotline/imports", data={"client": "hz-12345"}, files={"file": ("工单.csv", data)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows"], out["stored"], out["invalid_rows"]) == (4, 3, 1)
    assert out["errors"] == [
        {"row": 5, "column": "来电时间", "message": "来电时间：无法识别的时间，应如 2026-03-01 08:30:00"}
    ]
    again = desk.post("/api/v1/intake/hotline/imports", data={"client": "hz-12345"}, files={"file": ("a.csv", data)})
    assert (again.json()["stored"], again.json()["replayed"]) == (0, 3)
    strict = desk.post(
        "/api/v1/intake/hotline/imports",
        data={"client": "hz-12345", "strict": "true"},
        files={"file": ("b.csv", data.replace(b"IMP", b"NEW"))},
    )
    assert strict.status_code == 422 and strict.json()["type"].endswith("import-refused")
    assert city_db.scalar(select(Report.id).where(Report.external_id == "NEW0")) is None
    assert (
        login("citizen1")
        .post("/api/v1/intake/hotline/imports", data={"client": "hz-12345"}, files={"file": ("c.csv", data)})
        .status_code
        == 403
    )
    social = desk.post("/api/v1/intake/hotline/imports", data={"client": "hz-social"}, files={"file": ("d.csv", data)})
    assert social.status_code == 422 and "不是 12345 热线渠道" in social.json()["detail"]
