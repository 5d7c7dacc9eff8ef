"""Photos and videos through the API: upload (staff, citizens, anonymous), refusals as zh-CN problem+json,
a report's photos on its case, result photos on the reporter's timeline, and who may fetch which copy."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from chengguan.config import Settings
from chengguan.media.storage import sha256_hex
from chengguan.web.app import create_app
from tests import media_samples as samples
from tests.api.test_cases_api import act, assert_problem, citizen_report, new_case, staff_view
from tests.personas import xihu_spot

JPEG = samples.jpeg_with_gps()  # a real street photo with a phone's EXIF GPS (西湖区) and time taken
SHANGCHENG = {"lon": 120.2130, "lat": 30.2450}


@pytest.fixture
def app(city_db: Session, tmp_path: Path) -> FastAPI:
    """The API tests' app, with its media stored under the test's own folder."""
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    settings = Settings(env="test", inline_jobs=True, data_dir=tmp_path, media_max_image_bytes=3 * 1024 * 1024)
    return create_app(settings, session_factory=factory)


def upload(c: TestClient, data: bytes, name: str = "photo.jpg", declared: str = "image/jpeg") -> dict:  # type: ignore[type-arg]
    r = c.post("/api/v1/media", files={"file": (name, data, declared)})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def fetch(c: TestClient, url: str, **headers: str):  # type: ignore[no-untyped-def]
    return c.get(url, headers=headers)


def no_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as im:
        return not im.getexif() and "exif" not in im.info and b"Exif\x00\x00" not in data


# ---- upload ---------------------------------------------------------------------------------------------


def test_a_citizen_uploads_a_photo_and_gets_its_address_kind_and_signed_links(
    login: Callable[[str], TestClient], client: TestClient
) -> None:
    out = upload(login("citizen1"), JPEG)
    assert out["sha256"] == sha256_hex(JPEG) and out["kind"] == "image" and out["mime"] == "image/jpeg"
    assert out["lon"] == pytest.approx(samples.WEST_LAKE[0], abs=1e-6)  # told to its uploader only
    assert out["original_url"] is None  # citizens never get originals
    thumb = fetch(client, out["thumbnail_url"])  # signed: works without a login
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert max(im.size) == 320
    public = fetch(client, out["url"])
    assert public.status_code == 200 and no_exif(public.content)
    assert public.content != JPEG and b"TestPhone" not in public.content


def test_anonymous_uploads_are_accepted(client: TestClient) -> None:
    out = upload(client, samples.SMALL_JPEG.read_bytes())
    assert out["kind"] == "image" and "sig=" in out["thumbnail_url"]


def test_the_type_is_judged_from_the_bytes(login: Callable[[str], TestClient]) -> None:
    c = login("grid1")
    png = samples.PLATE_PNG_NAMED_JPG.read_bytes()  # a PNG named .jpg and declared image/jpeg
    assert upload(c, png, "plate.jpg", "image/jpeg")["kind"] == "image"
    body = assert_problem(
        c.post("/api/v1/media", files={"file": ("photo.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")}),
        415,
        "media-type-refused",
    )
    assert "JPEG" in body["detail"] and "按内容判断" in body["detail"]
    pdf = b"%PDF-1.4\n" + b"0" * 2000
    assert_problem(c.post("/api/v1/media", files={"file": ("x.png", pdf, "image/png")}), 415, "media-type-refused")
    forged = JPEG[:4096] + b"\x00" * 4096  # a JPEG header over nothing
    body = assert_problem(
        c.post("/api/v1/media", files={"file": ("forged.jpg", forged, "image/jpeg")}), 422, "media-unreadable"
    )
    assert "JPEG" in body["detail"]


def test_decompression_bombs_and_oversized_files_are_refused(login: Callable[[str], TestClient]) -> None:
    c = login("citizen1")
    bomb = samples.png_bomb(20_000)  # 400 megapixels in a few tens of kilobytes
    body = assert_problem(c.post("/api/v1/media", files={"file": ("b.png", bomb, "image/png")}), 413, "media-too-large")
    assert "像素" in body["detail"]
    big = samples.STREET_JPEG.read_bytes() * 9  # over the 3 MB image limit of this app, under the video one
    assert len(big) > 3 * 1024 * 1024
    body = assert_problem(
        c.post("/api/v1/media", files={"file": ("big.jpg", big, "image/jpeg")}), 413, "media-too-large"
    )
    assert "JPEG 图片不能超过 3 MB" in body["detail"]
    huge = b"\xff\xd8\xff" + b"\x00" * (51 * 1024 * 1024)  # beyond every media limit: refused before parsing
    assert_problem(c.post("/api/v1/media", files={"file": ("huge.jpg", huge, "image/jpeg")}), 413, "too-large")


def test_a_video_is_accepted_with_a_poster_and_plays_in_ranges(login: Callable[[str], TestClient]) -> None:
    c = login("citizen1")
    out = upload(c, samples.video("mov"), "clip.mov", "video/quicktime")
    assert out["kind"] == "video" and out["mime"] == "video/mp4" and out["duration_s"] > 1
    full = fetch(c, out["url"])
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    assert b"+30.2750+120.1300" not in full.content  # the location tag stays in the original only
    part = fetch(c, out["url"], Range="bytes=100-1099")
    assert part.status_code == 206 and part.content == full.content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(full.content)}"
    assert fetch(c, out["url"], Range=f"bytes={len(full.content) + 10}-").status_code == 416
    assert fetch(c, out["thumbnail_url"]).headers["content-type"] == "image/jpeg"


# ---- reports and cases ------------------------------------------------------------------------------------


def test_a_reports_photos_become_the_cases_and_staff_see_the_evidence(
    login: Callable[[str], TestClient], client: TestClient
) -> None:
    citizen, dispatcher = login("citizen1"), login("dispatcher")
    photo = upload(citizen, JPEG)
    video = upload(citizen, samples.video("mp4"), "clip.mp4", "video/mp4")
    mine = citizen_report(citizen, media=[photo["sha256"], video["sha256"]])
    assert [m["sha256"] for m in mine["media"]] == [photo["sha256"], video["sha256"]]
    assert all(m["original_url"] is None and m["lon"] is None for m in mine["media"])  # public copies only
    gallery = dispatcher.get(f"/api/v1/cases/{mine['case_no']}/media").json()
    assert [(m["sha256"], m["role"], m["role_label"]) for m in gallery["items"]] == [
        (photo["sha256"], "report", "上报照片"),
        (video["sha256"], "report", "上报照片"),
    ]
    assert gallery["can_add"] is True
    shown = gallery["items"][0]
    assert shown["lat"] == pytest.approx(samples.WEST_LAKE[1], abs=1e-6) and shown["taken_at"].startswith("2026-11-20")
    original = dispatcher.get(shown["original_url"])
    assert original.status_code == 200 and original.content == JPEG  # the evidence, EXIF and all
    assert "attachment" in original.headers["content-disposition"]
    assert dispatcher.get(shown["thumbnail_url"]).status_code == 200  # staff links need the login, not a signature
    # the original is evidence: not for the citizen who sent it, nor for anyone without a login
    assert_problem(citizen.get(shown["original_url"]), 404, "not-found")
    assert client.get(shown["original_url"]).status_code == 401
    assert_problem(client.get(shown["url"]), 404, "not-found")  # an unsigned public link without a login


def test_staff_of_another_district_cannot_fetch_a_cases_photos(login: Callable[[str], TestClient]) -> None:
    dispatcher, officer = login("dispatcher"), login("officer1")  # officer1: 西湖区大队
    photo = upload(dispatcher, JPEG)
    case = new_case(dispatcher, media=[photo["sha256"]], **SHANGCHENG)
    url = f"/api/v1/media/{photo['sha256']}/original"
    assert dispatcher.get(url).status_code == 200
    assert_problem(officer.get(url), 404, "not-found")
    assert_problem(officer.get(f"/api/v1/cases/{case['case_no']}/media"), 404, "not-found")
    xihu = new_case(dispatcher, media=[photo["sha256"]])  # the same photo on a case officer1 may read
    assert officer.get(url).status_code == 200
    assert [m["sha256"] for m in officer.get(f"/api/v1/cases/{xihu['case_no']}/media").json()["items"]] == [
        photo["sha256"]
    ]


def test_only_what_you_uploaded_can_be_attached(login: Callable[[str], TestClient]) -> None:
    citizen, grid = login("citizen1"), login("grid1")
    theirs = upload(grid, JPEG)
    lon, lat = xihu_spot()
    r = citizen.post(
        "/api/v1/my/reports",
        json={"category_code": "0501", "description": "占道经营", "lon": lon, "lat": lat, "media": [theirs["sha256"]]},
    )
    body = assert_problem(r, 422, "validation-error")
    assert "不是您上传的" in body["detail"]
    assert citizen.get("/api/v1/my/reports").json()["items"] == []  # nothing half-stored
    r = citizen.post(
        "/api/v1/my/reports",
        json={"category_code": "0501", "description": "占道经营", "lon": lon, "lat": lat, "media": ["ab" * 40]},
    )
    assert r.status_code == 422  # not a SHA-256


def test_result_photos_reach_the_reporters_timeline_evidence_does_not(
    login: Callable[[str], TestClient], client: TestClient
) -> None:
    citizen, dispatcher = login("citizen1"), login("dispatcher")
    mine = citizen_report(citizen)
    case = staff_view(dispatcher, mine["case_no"])
    case = act(dispatcher, case, "accept")
    result, evidence = upload(dispatcher, samples.CROSSWALK_JPEG.read_bytes()), upload(dispatcher, JPEG)
    url = f"/api/v1/cases/{case['case_no']}/media"
    r = dispatcher.post(url, json={"media": [result["sha256"]], "role": "result", "note": "已清理"})
    assert r.status_code == 200, r.text
    r = dispatcher.post(url, json={"media": [evidence["sha256"]], "role": "evidence"})
    assert [m["role"] for m in r.json()["items"]] == ["result", "evidence"]
    assert_problem(citizen.post(url, json={"media": [result["sha256"]]}), 403, "forbidden")
    assert_problem(dispatcher.post(url, json={"media": [result["sha256"]], "role": "report"}), 422, "validation-error")
    mine = citizen.get(f"/api/v1/my/reports/{mine['tracking_code']}").json()
    photos = mine["case"]["photos"]
    assert [p["sha256"] for p in photos] == [result["sha256"]]  # the evidence stays with staff
    signed = photos[0]["url"]
    assert photos[0]["original_url"] is None and photos[0]["lon"] is None
    public = client.get(signed)  # the timeline's links work without a login ...
    assert public.status_code == 200 and no_exif(public.content)
    query = parse_qs(urlsplit(signed).query)
    path = urlsplit(signed).path
    tampered = f"{path}?exp={query['exp'][0]}&sig={'0' * 32}"
    assert_problem(client.get(tampered), 404, "not-found")  # ... only as signed
    expired = f"{path}?exp=1000&sig={query['sig'][0]}"
    assert_problem(client.get(expired), 404, "not-found")
    thumb_with_public_sig = f"{path}/thumb?exp={query['exp'][0]}&sig={query['sig'][0]}"
    assert_problem(client.get(thumb_with_public_sig), 404, "not-found")


def test_uploads_are_documented(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    post = doc["paths"]["/api/v1/media"]["post"]
    assert {"413", "415", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "image/jpeg" in doc["paths"]["/api/v1/media/{sha256}"]["get"]["responses"]["200"]["content"]
