"""Reporters hear of their case through the notify port after commit; staff read the deliveries in their scope.

The app runs in the default outbox mode: every request an adapter would make is recorded, nothing leaves.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from chengguan.identity import service as identity
from chengguan.identity.models import Bureau, User
from chengguan.identity.roles import Role
from tests.api.conftest import PASSWORD
from tests.api.test_cases_api import act, assert_problem, citizen_report, new_case, staff_view

CALLER = "13700001111"


def _deliveries(c: TestClient, **params: object) -> list[dict]:  # type: ignore[type-arg]
    r = c.get("/api/v1/notifications", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_hotline_caller_gets_each_status_change_by_sms_through_the_outbox(
    login: Callable[[str], TestClient],
) -> None:
    dispatcher, leader, admin = login("dispatcher"), login("shift_leader"), login("admin")
    case = new_case(dispatcher, reporter_name="王先生", reporter_phone=CALLER)
    case = act(dispatcher, staff_view(dispatcher, case["case_no"]), "accept")
    act(leader, case, "reject", note="不属于城管职责，已转交市场监管部门", public_reply="该问题由市场监管部门处理。")
    no = case["case_no"]

    sms = [d for d in _deliveries(dispatcher, channel="sms") if d["ref"] == no]
    assert [d["template"] for d in reversed(sms)] == ["case.reported", "case.accepted", "case.rejected"]
    # delivered right after the commit (outbox mode records instead of sending), once each
    assert all(d["state"] == "sent" and d["provider"] == "outbox" and d["attempts"] == 1 for d in sms)
    assert {d["recipient"] for d in sms} == {"137****1111"}  # the list shows no full number
    assert CALLER not in json.dumps(sms, ensure_ascii=False)

    records = admin.get("/api/v1/notifications/outbox", params={"limit": 200}).json()
    mine = [r for r in records if r["notification_id"] in {d["id"] for d in sms}]
    assert len(mine) == 3 and {r["provider"] for r in mine} == {"aliyun"}
    sent = dict(parse_qsl(mine[0]["body"]))
    assert sent["PhoneNumbers"] == CALLER and sent["Action"] == "SendSms" and sent["Signature"]
    assert json.loads(sent["TemplateParam"]) == {"no": no}


def test_a_citizen_with_an_account_reads_it_in_the_app_and_gets_no_sms(login: Callable[[str], TestClient]) -> None:
    citizen, dispatcher = login("citizen1"), login("dispatcher")
    made = citizen_report(citizen)
    no = made["case_no"]
    act(dispatcher, staff_view(dispatcher, no), "accept")
    inbox = citizen.get("/api/v1/me/notifications").json()
    assert [n["body"] for n in inbox if n["ref"] == no][:2] == [
        f"您反映的问题（{no}）已受理。",
        f"您反映的问题已收到，案件编号 {no}，我们将尽快处理。",
    ]
    channels = {d["channel"] for d in _deliveries(dispatcher) if d["ref"] == no}
    assert channels == {"app"}


def test_the_dispatched_officer_is_told_in_the_app(login: Callable[[str], TestClient], people: dict[str, User]) -> None:
    dispatcher, leader = login("dispatcher"), login("shift_leader")
    case = act(dispatcher, staff_view(dispatcher, new_case(dispatcher)["case_no"]), "accept")
    case = act(leader, case, "file")
    act(dispatcher, case, "dispatch", assignee_id=people["officer1"].id)
    told = [d for d in _deliveries(dispatcher) if d["ref"] == case["case_no"] and d["template"] == "task.dispatched"]
    assert [(d["channel"], d["recipient"]) for d in told] == [("app", f"用户 {people['officer1'].id}")]


def test_who_may_read_the_deliveries(login: Callable[[str], TestClient]) -> None:
    for name in ("officer1", "citizen1", "auditor1", "shift_leader"):
        assert_problem(login(name).get("/api/v1/notifications"), 403, "forbidden")
    assert_problem(login("dispatcher").get("/api/v1/notifications/outbox"), 403, "forbidden")
    assert login("admin").get("/api/v1/notifications/outbox").status_code == 200
    for bad in ({"limit": 0}, {"limit": 201}, {"state": "lost"}, {"channel": "fax"}):
        assert_problem(login("admin").get("/api/v1/notifications", params=bad), 422, "validation-error")


def test_a_brigade_desk_sees_its_own_brigade_only(login: Callable[[str], TestClient], city_db: Session) -> None:
    shangcheng = city_db.scalars(select(Bureau).where(Bureau.admin_code == "330102")).one()
    identity.create_user(
        city_db, bureau=shangcheng, username="sc_desk", password=PASSWORD, display_name="上城受理",
        roles=[Role.DISPATCHER],
    )  # fmt: skip
    city_db.commit()
    city_desk = login("dispatcher")
    xihu = new_case(city_desk, reporter_phone=CALLER)["case_no"]  # 西湖区
    assert xihu in {d["ref"] for d in _deliveries(city_desk)}  # the city centre sees its brigades
    sc_desk = login("sc_desk")
    assert xihu not in {d["ref"] for d in _deliveries(sc_desk)}
    sc_case = new_case(sc_desk, lon=120.2130, lat=30.2450, reporter_phone=CALLER)["case_no"]
    assert sc_case in {d["ref"] for d in _deliveries(sc_desk)}
