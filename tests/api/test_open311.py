"""Open311 GeoReport v2 at /open311/v2/: each method against the spec's own examples (element names, defaults,
errors as an array of {code, description}), on the demo city, in JSON and in XML."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chengguan.cases import service as cases
from chengguan.cases.channels import Channel
from chengguan.cases.models import Case
from chengguan.cases.states import Action
from chengguan.catalog import service as catalog
from chengguan.config import Settings
from chengguan.identity.models import Bureau, User
from chengguan.intake import clients
from chengguan.intake import service as intake
from chengguan.intake.models import IntakeClient, Report
from chengguan.intake.states import ReportStatus
from chengguan.media.models import MediaObject, ReportMedia
from chengguan.open311 import definitions
from chengguan.open311.api import router as open311_router
from chengguan.web.app import create_app
from tests import media_samples as samples
from tests.api.test_route_roles import PERSONA
from tests.personas import SHANGHAI_POINT, xihu_spot

KEY = "open311-test-app-key-7f3a9c"
V2 = "/open311/v2"
# The spec's fields of a service request, in its order (GET requests).
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture
def app(city_db: Session, tmp_path: Path) -> FastAPI:
    """The API tests' app, with uploaded media stored under the test's own folder."""
    factory = sessionmaker(bind=city_db.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)
    return create_app(Settings(env="test", inline_jobs=True, data_dir=tmp_path), session_factory=factory)


@pytest.fixture
def city(city_db: Session) -> Bureau:
    return city_db.scalars(select(Bureau).where(Bureau.code == "hz")).one()


@pytest.fixture
def app_client(city_db: Session, city: Bureau) -> IntakeClient:
    """A citizen app (随手拍) registered with the city's command centre as an Open311 system client of intake;
    only its key's SHA-256 is stored."""
    return clients.create_client(
        city_db, code="ssp-app", name="随手拍 App", channel=Channel.OPEN311, bureau=city, key=KEY
    ).client


def xml(r: Any) -> ET.Element:
    assert r.headers["content-type"] == "text/xml; charset=utf-8", r.headers["content-type"]
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(r.content)


def errors(r: Any, status: int, fmt: str = "json") -> list[str]:
    """The spec's error array: every entry has the HTTP status as its code; returns the descriptions."""
    assert r.status_code == status, r.text
    if fmt == "xml":
        root = xml(r)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"] * len(root)
        pairs = [(int(e.findtext("code") or 0), e.findtext("description") or "") for e in root]
    else:
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        pairs = [(e["code"], e["description"]) for e in r.json()]
    assert pairs and all(code == status for code, _ in pairs)
    return [d for _, d in pairs]


def post(client: TestClient, fmt: str = "json", **fields: Any) -> Any:
    data: dict[str, Any] = {"api_key": KEY, **fields}
    return client.post(f"{V2}/requests.{fmt}", data=data)


def report_count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Report)) or 0)


# ---- discovery, services, service definitions -------------------------------------------------------------


def test_discovery_names_this_endpoint_in_both_formats(client: TestClient) -> None:
    body = client.get(f"{V2}/discovery.json").json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2" and endpoint["type"] == "test"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml(client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2"


def test_services_are_the_catalog_minors_grouped_by_major(client: TestClient, city_db: Session, city: Bureau) -> None:
    rows = client.get(f"{V2}/services.json").json()
    minors = [m for major in catalog.list_catalog(city_db, bureau_id=city.id) for m in major.minors]
    assert [r["service_code"] for r in rows] == [m.code for m in minors] and len(rows) == 40
    stalls = next(r for r in rows if r["service_code"] == "0501")
    assert list(stalls) == ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    assert stalls["service_name"] == "占道经营" and stalls["group"] == "街面秩序"
    assert stalls["metadata"] is True and stalls["type"] == "realtime" and stalls["keywords"] == "摆摊, 占道, 地摊"
    ads = next(r for r in rows if r["service_code"] == "0202")
    assert ads["metadata"] is False  # nothing to ask: no service definition needed
    root = xml(client.get(f"{V2}/services.xml"))
    assert root.tag == "services" and len(root.findall("service")) == 40
    first = root.find("service")
    assert first is not None
    assert [c.tag for c in first] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    xml_stalls = next(s for s in root if s.findtext("service_code") == "0501")
    assert xml_stalls.findtext("metadata") == "true" and xml_stalls.findtext("group") == "街面秩序"


def test_service_definition_lists_the_attributes_from_the_data_file(client: TestClient) -> None:
    body = client.get(f"{V2}/services/0501.json").json()
    assert body["service_code"] == "0501"
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in body["attributes"]] == [
        ("STALLS", "number", False, 1),
        ("GOODS", "multivaluelist", False, 2),
        ("BLOCKS_TRAFFIC", "singlevaluelist", True, 3),
    ]
    blocks = body["attributes"][2]
    assert blocks["variable"] is True and blocks["description"] == "是否影响通行"
    assert blocks["values"] == [{"key": "yes", "name": "影响通行"}, {"key": "no", "name": "不影响通行"}]
    assert "values" not in body["attributes"][0]
    gas = client.get(f"{V2}/services/0404.json").json()["attributes"][0]
    assert gas["code"] == "GAS_NOTICE" and gas["variable"] is False  # an instruction, not a question
    root = xml(client.get(f"{V2}/services/0501.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "0501"
    attribute = root.findall("attributes/attribute")[2]
    assert [c.tag for c in attribute] == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert [(v.findtext("key"), v.findtext("name")) for v in attribute.findall("values/value")] == [
        ("yes", "影响通行"),
        ("no", "不影响通行"),
    ]
    # every datatype of the spec is used by some shipped service
    used = {q.attribute.datatype for s in definitions.load().services.values() for q in s.questions}
    assert used == set(definitions.DATATYPES)


def test_unknown_services_formats_and_paths_get_the_spec_errors(client: TestClient) -> None:
    assert "service_code 不存在：9999" in errors(client.get(f"{V2}/services/9999.json"), 404)[0]
    assert errors(client.get(f"{V2}/services/9999.xml"), 404, "xml")
    assert "只提供 .json 和 .xml" in errors(client.get(f"{V2}/services.html"), 404)[0]
    assert errors(client.get(f"{V2}/nothing.xml"), 404, "xml")
    r = client.delete(f"{V2}/requests.json")
    assert errors(r, 405) and r.headers["allow"] == "GET, POST"
    assert "jurisdiction_id 不存在" in errors(client.get(f"{V2}/services.json?jurisdiction_id=nowhere"), 404)[0]
    assert "api_key 无效" in errors(client.get(f"{V2}/services.json?api_key=wrong"), 403)[0]


# ---- POST requests ----------------------------------------------------------------------------------------


def test_a_located_request_is_answered_with_its_case_number(
    client: TestClient, city_db: Session, app_client: IntakeClient
) -> None:
    lon, lat = xihu_spot()
    r = post(
        client,
        service_code="0501",
        lat=f"{lat}",
        long=f"{lon}",
        description="人行道上有三个水果摊，行人只能走机动车道",
        first_name="小明",
        last_name="王",
        phone="139-0000-1111",
        email="wang@example.cn",
        device_id="iPhone-ABC",
        account_id="u-42",
        media_url="https://img.example.cn/p/1.jpg",
        **{"attribute[BLOCKS_TRAFFIC]": "yes", "attribute[STALLS]": "3", "attribute[GOODS][]": ["fruit", "snack"]},
    )
    assert r.status_code == 201, r.text
    [answer] = r.json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert answer["account_id"] == "u-42" and answer["service_notice"].startswith("已立单")
    case = city_db.scalars(select(Case).where(Case.case_no == answer["service_request_id"])).one()
    report = city_db.scalars(select(Report).where(Report.case_id == case.id)).one()
    assert (report.channel, report.client_id, report.trusted) == ("open311", app_client.id, False)
    assert (report.reporter_name, report.reporter_phone, report.anonymous) == ("王小明", "13900001111", False)
    assert report.payload["open311"]["attributes"] == {
        "BLOCKS_TRAFFIC": "yes",
        "STALLS": 3.0,
        "GOODS": ["fruit", "snack"],
    }
    assert report.payload["open311"]["email"] == "wang@example.cn"
    said = "摊位数量：3；经营品类（可多选）：水果、小吃熟食；是否影响通行：影响通行"
    assert case.description == f"人行道上有三个水果摊，行人只能走机动车道（{said}）"
    assert case.channel == "open311"
    assert (case.lon, case.lat) == (pytest.approx(lon), pytest.approx(lat))
    # XML: the same answer under the spec's element names
    lon2, lat2 = xihu_spot()
    r = post(client, "xml", service_code="0202", lat=f"{lat2}", long=f"{lon2}")
    assert r.status_code == 201
    request = xml(r).find("request")
    assert request is not None and [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    assert request.findtext("account_id") == ""  # an empty element


def test_a_request_without_a_place_gets_a_token_until_the_desk_decides(
    client: TestClient, city_db: Session, app_client: IntakeClient, people: dict[str, User]
) -> None:
    r = post(client, service_code="0202", address_string="某某路口电线杆上", description="电线杆上贴满小广告")
    assert r.status_code == 201, r.text
    [answer] = r.json()
    assert list(answer) == ["token", "service_notice", "account_id"]
    token = answer["token"]
    report = city_db.scalars(select(Report).where(Report.tracking_code == token)).one()
    assert report.status == ReportStatus.TRIAGE and report.anonymous
    assert client.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": None, "token": token}]
    intake.decide(
        city_db,
        report=report,
        decision=intake.TriageDecision(status=ReportStatus.ACCEPTED, category_code="0202", lon=120.13, lat=30.275),
        actor=people["dispatcher"],
    )
    case_no = city_db.scalar(select(Case.case_no).where(Case.id == report.case_id))
    assert client.get(f"{V2}/tokens/{token}.json").json() == [{"service_request_id": case_no, "token": token}]
    root = xml(client.get(f"{V2}/tokens/{token}.xml"))
    assert [(c.tag, c.text) for c in root.find("request") or []] == [("service_request_id", case_no), ("token", token)]
    assert "token 不存在" in errors(client.get(f"{V2}/tokens/ZZZZZZZZZZ.json"), 404)[0]


def test_a_rejected_report_is_a_closed_request_with_the_reason(
    client: TestClient, city_db: Session, app_client: IntakeClient, people: dict[str, User]
) -> None:
    [answer] = post(client, service_code="0202", address_string="不知道在哪里").json()
    report = city_db.scalars(select(Report).where(Report.tracking_code == answer["token"])).one()
    intake.decide(
        city_db,
        report=report,
        decision=intake.TriageDecision(status=ReportStatus.REJECTED, note="无法确定位置，请补充具体地点后重新反映"),
        actor=people["dispatcher"],
    )
    city_db.flush()
    [resolved] = client.get(f"{V2}/tokens/{report.tracking_code}.json").json()
    assert resolved["service_request_id"] == report.tracking_code
    [request] = client.get(f"{V2}/requests/{report.tracking_code}.json").json()
    assert request["status"] == "closed" and request["status_notes"] == "无法确定位置，请补充具体地点后重新反映"


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"api_key": ""}, 403, "缺少 api_key"),
        ({"api_key": "not-a-key"}, 403, "api_key 无效"),
        ({"service_code": None}, 400, "缺少 service_code"),
        ({"service_code": "9999"}, 404, "service_code 不存在"),
        ({"attribute[BLOCKS_TRAFFIC]": None}, 400, "缺少必填属性：attribute[BLOCKS_TRAFFIC]（是否影响通行）"),
        ({"attribute[BLOCKS_TRAFFIC]": "maybe"}, 400, "没有取值「maybe」"),
        ({"attribute[STALLS]": "many"}, 400, "应为数字"),
        ({"attribute[STALLS]": "1000"}, 400, "不能大于 500"),
        ({"attribute[COLOUR]": "red"}, 400, "该服务没有属性 attribute[COLOUR]"),
        ({"attribute[GOODS][]": ["fruit", "fruit"]}, 400, "取值重复"),
        ({"attribute[BLOCKS_TRAFFIC": "yes"}, 400, "无法识别的属性参数"),
        ({"lat": str(SHANGHAI_POINT[1]), "long": str(SHANGHAI_POINT[0])}, 400, "不在本平台服务的辖区内"),
        ({"long": None}, 400, "lat 和 long 必须同时提供"),
        ({"lat": None, "long": None}, 400, "缺少位置"),
        ({"lat": None, "long": None, "address_id": "545483"}, 400, "无法识别 address_id"),
        ({"lat": "91"}, 400, "参数 lat 超出范围"),
        ({"lat": "nan"}, 400, "参数 lat 超出范围"),
        ({"lat": "北纬30度"}, 400, "参数 lat 应为数字"),
        ({"phone": "call me"}, 400, "phone 格式不正确"),
        ({"email": "nobody"}, 400, "email 格式不正确"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url 应为 http 或 https 地址"),
        ({"description": "x" * 2001}, 400, "不能超过 2000 个字符"),
        ({"description": "摆摊\x00"}, 400, "控制字符"),
        ({"jurisdiction_id": "hz-nowhere"}, 404, "jurisdiction_id 不存在"),
    ],
)
def test_bad_posts_are_refused_with_the_reason_and_store_nothing(
    client: TestClient,
    city_db: Session,
    app_client: IntakeClient,
    fields: dict[str, Any],
    status: int,
    words: str,
) -> None:
    lon, lat = xihu_spot()
    data: dict[str, Any] = {
        "api_key": KEY,
        "service_code": "0501",
        "lat": str(lat),
        "long": str(lon),
        "attribute[BLOCKS_TRAFFIC]": "no",
    }
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    before = report_count(city_db)
    for fmt in ("json", "xml"):
        r = client.post(f"{V2}/requests.{fmt}", data=data)
        [description] = errors(r, status, fmt)
        assert words in description, description
    assert report_count(city_db) == before


def test_a_post_that_is_not_a_form_is_refused(client: TestClient, app_client: IntakeClient) -> None:
    r = client.post(f"{V2}/requests.json", json={"api_key": KEY, "service_code": "0501"})
    assert "请以表单提交" in errors(r, 400)[0]
    r = client.post(f"{V2}/requests.json", data={"api_key": KEY, "service_code": ["0501", "0502"]})
    assert "只能出现一次" in errors(r, 400)[0]
    r = client.post(f"{V2}/requests.json", data={"api_key": KEY, "service_code": "0202", "media": "photo.jpg"})
    assert "media 应为上传的文件" in errors(r, 400)[0]


def test_a_photo_uploaded_with_the_request_goes_through_the_media_service(
    client: TestClient, city_db: Session, app_client: IntakeClient
) -> None:
    photo = samples.jpeg_with_gps(samples.SMALL_JPEG)  # a real photo with a phone's EXIF GPS
    lon, lat = xihu_spot()
    fields = {"api_key": KEY, "service_code": "0202", "lat": str(lat), "long": str(lon), "description": "小广告"}
    r = client.post(f"{V2}/requests.json", data=fields, files={"media": ("p.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    [answer] = r.json()
    case = city_db.scalars(select(Case).where(Case.case_no == answer["service_request_id"])).one()
    report = city_db.scalars(select(Report).where(Report.case_id == case.id)).one()
    [attached] = city_db.scalars(select(ReportMedia).where(ReportMedia.report_id == report.id)).all()
    obj = city_db.scalars(select(MediaObject).where(MediaObject.sha256 == attached.sha256)).one()
    assert (obj.kind, obj.mime, obj.gps_lon is not None) == ("image", "image/jpeg", True)
    # the request's media_url is a signed link to the public copy (no EXIF, no GPS) on this server
    [row] = client.get(f"{V2}/requests/{case.case_no}.json").json()
    url = urlsplit(row["media_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "testserver", f"/api/v1/media/{obj.sha256}")
    fetched = client.get(f"{url.path}?{url.query}")
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(fetched.content)) as im:
        assert not im.getexif() and b"Exif\x00\x00" not in fetched.content


def test_a_phone_sized_photo_above_the_body_limit_is_taken(
    client: TestClient, city_db: Session, app_client: IntakeClient
) -> None:
    """Phone photos are several MB: the Open311 POST may carry up to the media limits, not the 1 MiB edge limit."""
    import numpy as np

    noise = np.random.default_rng(7).integers(0, 256, size=(1400, 1400, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="JPEG", quality=95)
    photo = buf.getvalue()
    assert len(photo) > 1024 * 1024
    lon, lat = xihu_spot()
    fields = {"api_key": KEY, "service_code": "0202", "lat": str(lat), "long": str(lon), "description": "小广告"}
    r = client.post(f"{V2}/requests.json", data=fields, files={"media": ("big.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xff\xd8\xff\xe0 not really a jpeg", "不是有效的"),
        (samples.png_bomb(), "像素数过大"),
    ],
)
def test_forged_or_oversized_media_are_refused_and_nothing_is_stored(
    client: TestClient, city_db: Session, app_client: IntakeClient, data: bytes, words: str
) -> None:
    lon, lat = xihu_spot()
    fields = {"api_key": KEY, "service_code": "0202", "lat": str(lat), "long": str(lon)}
    before = (report_count(city_db), city_db.scalar(select(func.count()).select_from(MediaObject)))
    for fmt in ("json", "xml"):
        r = client.post(f"{V2}/requests.{fmt}", data=fields, files={"media": ("p.jpg", data, "image/jpeg")})
        [description] = errors(r, 400, fmt)
        assert words in description, description
    assert (report_count(city_db), city_db.scalar(select(func.count()).select_from(MediaObject))) == before


def test_only_an_open311_application_key_may_post(client: TestClient, city_db: Session, city: Bureau) -> None:
    """A key of another system channel (the 12345 platform's) is not an Open311 application's: 403."""
    hotline = clients.create_client(
        city_db, code="t-12345", name="12345 平台", channel=Channel.HOTLINE_12345, bureau=city
    )
    lon, lat = xihu_spot()
    r = client.post(
        f"{V2}/requests.json",
        data={"api_key": hotline.key, "service_code": "0202", "lat": str(lat), "long": str(lon)},
    )
    assert "不能用于 Open311" in errors(r, 403)[0]
    hotline.client.is_active = False
    city_db.flush()
    assert "api_key 无效" in errors(client.get(f"{V2}/services.json", params={"api_key": hotline.key}), 403)[0]


def test_a_key_from_another_city_cannot_name_this_jurisdiction(
    client: TestClient, city_db: Session, app_client: IntakeClient
) -> None:
    xihu = city_db.scalars(select(Bureau).where(Bureau.code == "hz-xh")).one()
    app_client.bureau_id = xihu.id  # a district's app: its own bureau or the city above it, nothing else
    city_db.flush()
    lon, lat = xihu_spot()
    ok = post(client, service_code="0202", lat=str(lat), long=str(lon), jurisdiction_id="hz")
    assert ok.status_code == 201, ok.text
    r = post(client, service_code="0202", lat=str(lat), long=str(lon), jurisdiction_id="hz-sc")
    assert "与 api_key 所属单位不符" in errors(r, 400)[0]


# ---- GET requests -----------------------------------------------------------------------------------------


def _case(db: Session, people: dict[str, User], *, code: str, at: datetime) -> Case:
    lon, lat = xihu_spot()
    report = intake.submit(
        db,
        incoming=intake.Incoming(
            channel=Channel.CITIZEN,
            text="同一地点反复出现的问题",
            lon=lon,
            lat=lat,
            claimed_category=code,
            reporter_id=people["citizen1"].id,
            reporter_name="市民张三",
            reporter_phone="13911112222",
        ),
        at=at,
    )
    done = intake.process(db, report_id=report.id, at=at)
    assert done is not None and done.case_id is not None
    return db.get_one(Case, done.case_id)


def test_requests_filter_by_the_spec_parameters(client: TestClient, city_db: Session, people: dict[str, User]) -> None:
    t0 = datetime(2031, 3, 2, 1, 0, tzinfo=UTC)
    a = _case(city_db, people, code="0501", at=t0)
    b = _case(city_db, people, code="0202", at=t0 + timedelta(days=1))
    c = _case(city_db, people, code="0501", at=t0 + timedelta(days=2))
    cases.transition(
        city_db,
        case=c,
        action=Action.VOID,
        actor=people["dispatcher"],
        note="重复",
        public_reply="经核实为重复反映，已合并处理。",
        at=t0 + timedelta(days=3),
    )

    def ids(**params: str) -> list[str]:
        r = client.get(
            f"{V2}/requests.json",
            params={"start_date": "2031-03-01T00:00:00Z", "end_date": "2031-03-31T00:00:00+08:00", **params},
        )
        assert r.status_code == 200, r.text
        return [row["service_request_id"] for row in r.json()]

    assert ids() == [c.case_no, b.case_no, a.case_no]  # newest first
    assert ids(service_code="0501") == [c.case_no, a.case_no]
    assert ids(service_code="0202,0501", status="open") == [b.case_no, a.case_no]
    assert ids(status="closed") == [c.case_no]
    assert ids(start_date="2031-03-02T09:30:00+08:00") == [c.case_no, b.case_no]
    assert ids(page_size="2") == [c.case_no, b.case_no] and ids(page_size="2", page="2") == [a.case_no]
    # service_request_id overrides every other parameter (the spec), dates included
    r = client.get(
        f"{V2}/requests.json", params={"service_request_id": f"{a.case_no},{c.case_no},XX-1999-1", "status": "open"}
    )
    assert [row["service_request_id"] for row in r.json()] == [c.case_no, a.case_no]
    [closed] = client.get(f"{V2}/requests/{c.case_no}.json").json()
    assert list(closed) == REQUEST_FIELDS
    assert closed["status"] == "closed" and closed["status_notes"] == "经核实为重复反映，已合并处理。"
    assert closed["requested_datetime"] == "2031-03-04T09:00:00+08:00"
    assert closed["service_name"] == "占道经营" and closed["agency_responsible"] == "西湖区城管执法大队"
    [open_] = client.get(f"{V2}/requests/{a.case_no}.json").json()
    assert open_["status"] == "open" and open_["status_notes"] == "已提交"
    assert open_["service_notice"] == "由区城管执法中队负责处置，处置时限 2工作时"


def test_the_default_window_is_the_last_90_days(client: TestClient, city_db: Session, people: dict[str, User]) -> None:
    now = datetime.now(UTC)
    recent = _case(city_db, people, code="0202", at=now - timedelta(days=1))
    old = _case(city_db, people, code="0202", at=now - timedelta(days=91))
    listed = {row["service_request_id"] for row in client.get(f"{V2}/requests.json").json()}
    assert recent.case_no in listed and old.case_no not in listed
    start = (now - timedelta(days=92)).isoformat()
    listed = {
        row["service_request_id"] for row in client.get(f"{V2}/requests.json", params={"start_date": start}).json()
    }
    assert old.case_no in listed


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "2031-01-01T00:00:00Z", "end_date": "2031-06-01T00:00:00Z"}, "不能超过 90 天"),
        ({"start_date": "2031-02-01T00:00:00Z", "end_date": "2031-01-01T00:00:00Z"}, "不能早于"),
        ({"start_date": "2031-01-01"}, "缺少时区"),
        ({"start_date": "yesterday"}, "带时区的日期时间"),
        ({"start_date": "1900-01-01T00:00:00Z"}, "超出允许范围"),
        ({"status": "pending"}, "只能是 open、closed"),
        ({"page_size": "1001"}, "1 至 1000"),
        ({"page_size": "201", "extensions": "true"}, "1 至 200"),  # each request's timeline is read
        ({"page": "0"}, "1 至 100000"),
        ({"service_code": "05;01"}, "取值不合法"),
        ({"service_request_id": "a" * 40}, "取值不合法"),
        ({"extensions": "yes"}, "true 或 false"),
    ],
)
def test_malformed_queries_get_400(client: TestClient, params: dict[str, str], words: str) -> None:
    for fmt in ("json", "xml"):
        [description] = errors(client.get(f"{V2}/requests.{fmt}", params=params), 400, fmt)
        assert words in description, description


def test_requests_show_only_the_public_view_and_notes_on_request(
    client: TestClient, city_db: Session, people: dict[str, User]
) -> None:
    case = _case(city_db, people, code="0501", at=datetime.now(UTC) - timedelta(hours=1))
    cases.transition(
        city_db, case=case, action=Action.ACCEPT, actor=people["dispatcher"], note="内部备注：联系了网格员"
    )
    r = client.get(f"{V2}/requests/{case.case_no}.json")
    assert "13911112222" not in r.text and "张三" not in r.text and "内部备注" not in r.text
    assert people["dispatcher"].display_name not in r.text
    assert "notes" not in r.json()[0]
    [row] = client.get(f"{V2}/requests/{case.case_no}.json", params={"extensions": "true"}).json()
    assert [(n["type"], n["summary"]) for n in row["notes"]] == [("activity", "已提交"), ("activity", "已受理")]
    assert "内部备注" not in str(row["notes"]) and row["status_notes"] == "已受理"
    root = xml(client.get(f"{V2}/requests/{case.case_no}.xml", params={"extensions": "true"}))
    request = root.find("request")
    assert root.tag == "service_requests" and request is not None
    assert [c.tag for c in request] == [*REQUEST_FIELDS, "notes"]
    assert [n.findtext("summary") for n in request.findall("notes/note")] == ["已提交", "已受理"]
    assert request.findtext("lat") == str(case.lat) and request.findtext("address_id") == ""
    assert "service_request_id 不存在" in errors(client.get(f"{V2}/requests/XH-2031-999999.json"), 404)[0]


def test_a_district_jurisdiction_lists_only_its_own_requests(
    client: TestClient, city_db: Session, people: dict[str, User]
) -> None:
    case = _case(city_db, people, code="0202", at=datetime.now(UTC) - timedelta(hours=1))
    here = client.get(f"{V2}/requests.json", params={"jurisdiction_id": "hz-xh", "service_request_id": case.case_no})
    there = client.get(f"{V2}/requests.json", params={"jurisdiction_id": "hz-sc", "service_request_id": case.case_no})
    assert [r["service_request_id"] for r in here.json()] == [case.case_no] and there.json() == []
    assert len(client.get(f"{V2}/services.json", params={"jurisdiction_id": "hz-xh"}).json()) == 40


def test_get_routes_are_public_and_post_is_not_a_staff_route(login: Callable[[str], TestClient]) -> None:
    """No login on any Open311 route: a bearer token neither helps nor hurts; the key is what counts."""
    citizen = login("citizen1")
    assert citizen.get(f"{V2}/services.json").status_code == 200
    assert "缺少 api_key" in errors(citizen.post(f"{V2}/requests.json", data={"service_code": "0501"}), 403)[0]


# ---- every route, every caller; an existing client library against a real server ---------------------------


def test_every_open311_route_answers_every_caller_alike(
    app: FastAPI, login: Callable[[str], TestClient], city_db: Session, people: dict[str, User]
) -> None:
    """Open311 is outside the staff API (its contract is the spec): no route asks for a login, and a login
    changes no answer — anonymous callers and every role get the same status and body; only an api_key may post."""
    case = _case(city_db, people, code="0501", at=datetime.now(UTC) - timedelta(hours=1))
    token = city_db.scalars(select(Report.tracking_code).where(Report.case_id == case.id)).one()
    values = {"fmt": "json", "service_code": "0501", "service_request_id": case.case_no, "token": token}
    callers = {"anonymous": TestClient(app, raise_server_exceptions=False)}
    callers.update({role.value: login(name) for role, name in PERSONA.items()})
    routes = [(m, r.path) for r in open311_router.routes if isinstance(r, APIRoute) for m in sorted(r.methods or ())]
    assert {p for _, p in routes} >= {f"{V2}/requests.{{fmt}}", f"{V2}/tokens/{{token}}.{{fmt}}"}
    for method, path in routes:
        url = path.replace("{rest:path}", "nothing.json").format(**values)
        answers = {
            name: c.request(method, url, data={"service_code": "0501"} if method == "POST" else None)
            for name, c in callers.items()
        }
        seen = {(r.status_code, r.content) for r in answers.values()}
        assert len(seen) == 1, (method, path, {n: r.status_code for n, r in answers.items()})
        [(status, _)] = seen
        if method == "POST" and path.endswith("requests.{fmt}"):
            assert status == 403 and "缺少 api_key" in answers["anonymous"].text
        elif method == "GET" and "{rest:path}" not in path:
            assert status == 200, (path, answers["anonymous"].text)
        else:
            assert status in (404, 405), (method, path, status)
