"""Existing Open311 clients work unchanged: the ``georeport`` library (a published GeoReport v2 client, used
as is) and a plain form POST — the way 311 apps send requests — against a real uvicorn server over HTTP, in
JSON and in XML."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
import uvicorn
from georeport import GeoReport  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chengguan.cases.channels import Channel
from chengguan.config import Settings
from chengguan.db import make_engine, make_session_factory, transaction
from chengguan.identity.models import Bureau, User
from chengguan.intake import clients
from chengguan.web.app import create_app
from tests.api.test_open311 import KEY, _case
from tests.conftest import _copy_of
from tests.personas import xihu_spot


@dataclass(frozen=True)
class Served:
    url: str  # the Open311 root, as a city publishes it
    factory: sessionmaker[Session]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``chengguan``'s app on a database of its own (a copy of the demo city, really committed to) with an
    Open311 application registered, served by uvicorn on a free local port."""
    with _copy_of(tmp_path_factory, "city") as db_url:
        engine = make_engine(db_url)
        factory = make_session_factory(engine)
        with transaction(factory) as s:
            city = s.scalars(select(Bureau).where(Bureau.code == "hz")).one()
            clients.create_client(s, code="ssp-app", name="随手拍 App", channel=Channel.OPEN311, bureau=city, key=KEY)
        settings = Settings(env="test", inline_jobs=True, data_dir=tmp_path_factory.mktemp("open311-served"))
        app = create_app(settings, session_factory=factory)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not srv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        try:
            yield Served(url=f"http://127.0.0.1:{port}/open311/v2", factory=factory)
        finally:
            srv.should_exit = True
            thread.join(timeout=10)
            sock.close()
            engine.dispose()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_library_works_unchanged(served: Served, fmt: str) -> None:
    server = served.url
    geo = GeoReport(server, api_key=KEY, output_format=fmt)
    services = geo.get_service_list()
    assert len(services) == 40
    stalls = next(s for s in services if s["service_code"] == "0501")
    assert stalls["service_name"] == "占道经营" and str(stalls["metadata"]).lower() == "true"

    definition = geo.get_service_definition("0501")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes] == ["STALLS", "GOODS", "BLOCKS_TRAFFIC"]

    # POST as 311 apps send it: a form with the api_key, the attributes and WGS84 coordinates
    lon, lat = xihu_spot()
    posted = requests.post(
        f"{server}/requests.{fmt}",
        data={
            "api_key": KEY,
            "service_code": "0501",
            "lat": str(lat),
            "long": str(lon),
            "description": "路口有流动摊贩占道经营",
            "attribute[BLOCKS_TRAFFIC]": "yes",
            "attribute[GOODS][]": ["fruit", "vegetable"],
        },
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    if fmt == "json":
        case_no = posted.json()[0]["service_request_id"]
    else:
        case_no = posted.text.split("<service_request_id>")[1].split("<")[0]

    one = geo.get_service_request(case_no)
    assert one["service_request_id"] == case_no and one["status"] == "open" and one["service_code"] == "0501"
    assert float(one["lat"]) == pytest.approx(lat) and float(one["long"]) == pytest.approx(lon)
    with transaction(served.factory) as s:
        people = {u.username: u for u in s.scalars(select(User))}
        older = _case(s, people, code="0202", at=datetime.now(UTC) - timedelta(days=2))
    listed = geo.get_service_requests(service_request_id=f"{case_no},{older.case_no}")
    assert [r["service_request_id"] for r in listed] == [case_no, older.case_no]
    recent = geo.get_service_requests(service_code="0501", status="open")
    recent = recent if isinstance(recent, list) else [recent]  # xmltodict: one element is not a list
    assert case_no in {r["service_request_id"] for r in recent}
    # a jurisdiction other than the client's own city (a district brigade of it)
    district = GeoReport(server, jurisdiction="hz-xh", output_format=fmt)
    assert len(district.get_service_list()) == 40
    with pytest.raises(requests.HTTPError) as refused:
        GeoReport(server, jurisdiction="nowhere", output_format=fmt).get_service_list()
    assert refused.value.response is not None and refused.value.response.status_code == 404
