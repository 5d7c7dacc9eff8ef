"""The case API as the bureau's people use it, including every way to get it wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.personas import SHANGHAI_POINT, XIHU_POINT, xihu_spot

PROBLEM = "application/problem+json"


def new_case(c: TestClient, **kw: object) -> dict:  # type: ignore[type-arg]
    """A report entered by staff (grid worker, 12345 desk, officer) through the staff endpoint, at a spot of
    its own (reports of the same problem at the same spot would be merged into one case)."""
    lon, lat = xihu_spot()
    body = {"category_code": "0501", "description": "早餐摊占用人行道经营", "lon": lon, "lat": lat}
    body.update(kw)
    r = c.post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def citizen_report(c: TestClient, **kw: object) -> dict:  # type: ignore[type-arg]
    """A citizen's own report: answered with its tracking code and, once processed, its case's public view."""
    lon, lat = xihu_spot()
    body = {"category_code": "0501", "description": "早餐摊占用人行道经营", "lon": lon, "lat": lat}
    body.update(kw)
    r = c.post("/api/v1/my/reports", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def staff_view(c: TestClient, case_no: str) -> dict:  # type: ignore[type-arg]
    r = c.get(f"/api/v1/cases/{case_no}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def act(c: TestClient, case: dict, action: str, **kw: object) -> dict:  # type: ignore[type-arg]
    r = c.post(
        f"/api/v1/cases/{case['case_no']}/transitions", json={"action": action, "version": case["version"], **kw}
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def assert_problem(r, status: int, code: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["type"].endswith("/" + code) and body["status"] == status
    assert body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def test_a_day_of_one_case_through_the_api(login: Callable[[str], TestClient]) -> None:
    citizen, dispatcher, leader = login("citizen1"), login("dispatcher"), login("shift_leader")
    officer, grid = login("officer1"), login("grid1")
    mine = citizen_report(citizen, contact_phone="13900001111")
    assert mine["status"] == "accepted" and mine["case_no"].startswith("XH-")  # processed right after commit
    assert mine["case"]["status"] == "已提交" and len(mine["tracking_code"]) == 10
    case = staff_view(dispatcher, mine["case_no"])
    assert case["state"] == "reported" and case["channel"] == "citizen"
    case = act(dispatcher, case, "accept")
    case = act(leader, case, "file")
    officer_id = officer.get("/api/v1/me").json()["id"]
    candidates = dispatcher.get(f"/api/v1/cases/{case['case_no']}/candidates").json()
    assert officer_id in [o["id"] for o in candidates]
    case = act(dispatcher, case, "dispatch", assignee_id=officer_id)
    tasks = officer.get("/api/v1/cases", params={"mine": True}).json()["items"]
    assert case["case_no"] in [c["case_no"] for c in tasks]
    case = act(officer, case, "start")
    case = act(officer, case, "feedback", note="已劝离摊贩，现场恢复")
    case = act(grid, case, "verify_pass")
    case = act(leader, case, "close", public_reply="摊贩已劝离，人行道已恢复通行。")
    assert case["state"] == "closed" and case["state_label"] == "已结案"
    assert [h["action"] for h in case["history"]] == [
        "report",
        "accept",
        "file",
        "dispatch",
        "start",
        "feedback",
        "verify_pass",
        "close",
    ]
    mine = citizen.get(f"/api/v1/my/reports/{mine['tracking_code']}").json()["case"]
    assert mine["status"] == "已办结" and mine["result"] == "摊贩已劝离，人行道已恢复通行。"
    assert [t["title"] for t in mine["timeline"]][-1] == "已办结"


def test_list_filters_and_keyset_pages(login: Callable[[str], TestClient]) -> None:
    dispatcher = login("dispatcher")
    made = [new_case(dispatcher, description=f"第{i}起") for i in range(5)]
    act(dispatcher, made[0], "accept")
    page1 = dispatcher.get("/api/v1/cases", params={"limit": 2, "with_total": True, "state": "reported"}).json()
    assert page1["total"] >= 4 and len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = dispatcher.get("/api/v1/cases", params={"limit": 2, "state": "reported", "cursor": page1["next_cursor"]})
    nos1 = {c["case_no"] for c in page1["items"]}
    nos2 = {c["case_no"] for c in page2.json()["items"]}
    assert nos1.isdisjoint(nos2)
    accepted = dispatcher.get("/api/v1/cases", params={"state": "accepted", "district": "330106"}).json()["items"]
    assert made[0]["case_no"] in [c["case_no"] for c in accepted]
    assert all(c["state"] == "accepted" and c["district_code"] == "330106" for c in accepted)
    by_major = dispatcher.get("/api/v1/cases", params={"category": "05"}).json()["items"]
    assert by_major and all(c["category_code"].startswith("05") for c in by_major)
    nothing = dispatcher.get("/api/v1/cases", params={"category": "0101", "state": "reported"}).json()["items"]
    assert all(c["category_code"] == "0101" for c in nothing)
    grid = made[1]["grid_code"]
    in_grid = dispatcher.get("/api/v1/cases", params={"grid": grid}).json()["items"]
    assert in_grid and all(c["grid_code"] == grid for c in in_grid)


def test_citizens_see_only_their_own_reports_in_the_public_view(login: Callable[[str], TestClient]) -> None:
    dispatcher, citizen = login("dispatcher"), login("citizen1")
    hotline = new_case(dispatcher, reporter_name="王先生", reporter_phone="13812345678")
    own = citizen_report(citizen)
    listed = {c["case_no"] for c in citizen.get("/api/v1/my/reports").json()["items"]}
    assert own["case_no"] in listed and hotline["case_no"] not in listed
    assert hotline["case_no"] not in {c["case_no"] for c in citizen.get("/api/v1/my/reports").json()["items"]}
    r = citizen.get("/api/v1/my/reports/ABCDEFGHJK")
    assert_problem(r, 404, "not-found")  # not "forbidden": existence is not revealed
    assert_problem(citizen.get("/api/v1/cases"), 403, "forbidden")  # the staff record is for staff
    assert_problem(citizen.get(f"/api/v1/cases/{own['case_no']}"), 403, "forbidden")
    assert dispatcher.get(f"/api/v1/cases/{hotline['case_no']}").json()["reporter_phone"] == "13812345678"


def test_a_brigade_officer_sees_only_its_district(login: Callable[[str], TestClient]) -> None:
    dispatcher = login("dispatcher")
    xihu = new_case(dispatcher)
    shangcheng = new_case(dispatcher, lon=120.2130, lat=30.2450)
    officer = login("officer1")  # 西湖区大队
    assert officer.get(f"/api/v1/cases/{xihu['case_no']}").status_code == 200
    assert_problem(officer.get(f"/api/v1/cases/{shangcheng['case_no']}"), 404, "not-found")


def test_bad_input_gets_problem_json_and_writes_nothing(login: Callable[[str], TestClient]) -> None:
    dispatcher = login("dispatcher")
    before = dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"]
    r = dispatcher.post("/api/v1/cases", content=b"{not json", headers={"content-type": "application/json"})
    assert assert_problem(r, 400, "invalid-json")["detail"] == "请求体不是合法的 JSON"
    r = dispatcher.post("/api/v1/cases", json={"category_code": "0501", "description": "x", "lon": "东经", "lat": 30})
    body = assert_problem(r, 422, "validation-error")
    assert "lon" in body["detail"]
    r = dispatcher.post(
        "/api/v1/cases", json={"category_code": "9999", "description": "x", "lon": 120.13, "lat": 30.27}
    )
    assert_problem(r, 422, "unknown-category")
    r = dispatcher.post(
        "/api/v1/cases",
        json={"category_code": "0501", "description": "x", "lon": SHANGHAI_POINT[0], "lat": SHANGHAI_POINT[1]},
    )
    assert_problem(r, 422, "outside-area")
    r = dispatcher.post(
        "/api/v1/cases", json={"category_code": "0501", "description": "x", "lon": 120.1, "lat": 30.2, "x": 1}
    )
    assert_problem(r, 422, "validation-error")
    assert dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"] == before
    assert_problem(dispatcher.get("/api/v1/cases", params={"cursor": "garbage!!"}), 422, "validation-error")
    assert_problem(dispatcher.get("/api/v1/cases", params={"limit": 100000}), 422, "validation-error")


def test_illegal_and_stale_transitions_are_409(login: Callable[[str], TestClient]) -> None:
    dispatcher, leader = login("dispatcher"), login("shift_leader")
    case = new_case(dispatcher)
    r = leader.post(
        f"/api/v1/cases/{case['case_no']}/transitions", json={"action": "close", "version": case["version"]}
    )
    body = assert_problem(r, 409, "transition-refused")
    assert body["reason"] == "illegal_from_state"
    accepted = act(dispatcher, case, "accept")
    r = dispatcher.post(
        f"/api/v1/cases/{case['case_no']}/transitions", json={"action": "file", "version": accepted["version"]}
    )
    assert assert_problem(r, 409, "transition-refused")["reason"] == "role_not_allowed"
    r = dispatcher.post(
        f"/api/v1/cases/{case['case_no']}/transitions",
        json={"action": "void", "version": case["version"], "note": "重复"},
    )
    assert assert_problem(r, 409, "stale-update")["current_version"] == case["version"] + 1
    r = dispatcher.post(f"/api/v1/cases/{case['case_no']}/transitions", json={"action": "fly", "version": 1})
    assert_problem(r, 422, "validation-error")
    history = dispatcher.get(f"/api/v1/cases/{case['case_no']}").json()["history"]
    assert [h["action"] for h in history] == ["report", "accept"]


def test_login_failures_and_logout(client: TestClient, login: Callable[[str], TestClient]) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "dispatcher", "password": "wrong-password"})
    assert_problem(r, 401, "unauthenticated")
    assert_problem(client.get("/api/v1/me"), 401, "unauthenticated")
    c = login("dispatcher")
    assert c.get("/api/v1/me").json()["roles"] == ["dispatcher"]
    assert c.post("/api/v1/auth/logout").status_code == 204
    assert_problem(c.get("/api/v1/me"), 401, "unauthenticated")


def test_reporter_is_told_the_outcome(login: Callable[[str], TestClient], app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from chengguan.notify.models import Notification

    citizen, dispatcher, leader = login("citizen1"), login("dispatcher"), login("shift_leader")
    case = staff_view(dispatcher, citizen_report(citizen)["case_no"])
    case = act(dispatcher, case, "accept")
    act(leader, case, "reject", note="不属于城管职责，已转交市场监管部门")
    with app.state.session_factory() as s:
        bodies = list(s.scalars(select(Notification.body).where(Notification.ref == case["case_no"])))
    assert any("已收到" in b for b in bodies) and any("不予立案" in b for b in bodies)


def test_openapi_document_lists_the_case_routes(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert {"/api/v1/cases", "/api/v1/cases/{case_no}", "/api/v1/cases/{case_no}/transitions"} <= set(doc["paths"])


def test_staff_can_follow_what_they_reported_in_another_district(login: Callable[[str], TestClient]) -> None:
    grid = login("grid1")  # 西湖区大队
    elsewhere = new_case(grid, lon=120.2130, lat=30.2450)  # 钱江新城: routed to 上城区大队
    assert elsewhere["case_no"].startswith("SC-")
    assert grid.get(f"/api/v1/cases/{elsewhere['case_no']}").status_code == 200
    assert_problem(login("officer1").get(f"/api/v1/cases/{elsewhere['case_no']}"), 404, "not-found")


def test_a_failing_side_effect_after_commit_does_not_fail_the_request(
    login: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chengguan.jobs import outbox

    def broken(*_a: object, **_kw: object) -> int:
        raise RuntimeError("SMS gateway down")

    dispatcher = login("dispatcher")
    monkeypatch.setattr(outbox, "run_pending", broken)
    made = new_case(dispatcher)  # 201: the write was committed before the side effects ran
    assert staff_view(dispatcher, made["case_no"])["state"] == "reported"


def test_channel_and_reporter_come_from_the_caller_not_the_body(login: Callable[[str], TestClient]) -> None:
    citizen, grid, dispatcher = login("citizen1"), login("grid1"), login("dispatcher")
    body = {"category_code": "0501", "description": "摆摊", "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    for forged in ({"channel": "hotline_12345"}, {"channel": "camera"}, {"reporter_name": "市长"}):
        assert_problem(citizen.post("/api/v1/my/reports", json={**body, **forged}), 422, "validation-error")
    own = citizen_report(citizen)
    seen = staff_view(dispatcher, own["case_no"])
    assert seen["channel"] == "citizen" and seen["reporter_name"] == "孙丽"
    r = grid.post("/api/v1/cases", json={**body, "reporter_name": "别人"})
    assert_problem(r, 422, "validation-error")  # only the hotline desk records a caller's name
    by_grid = new_case(grid)
    assert by_grid["channel"] == "grid_worker" and by_grid["reporter_name"] == "赵敏"
    call = new_case(dispatcher, reporter_name="王先生", reporter_phone="13700001111")
    assert call["channel"] == "hotline_12345" and call["reporter_name"] == "王先生"


def test_reporter_contact_is_for_the_desk_and_the_assignee_only(login: Callable[[str], TestClient]) -> None:
    dispatcher, leader, officer = login("dispatcher"), login("shift_leader"), login("officer1")
    call = new_case(dispatcher, reporter_name="王先生", reporter_phone="13700001111")
    no = call["case_no"]
    for name in ("auditor1", "liaison1", "legal1", "grid1", "officer1", "squad1", "admin"):
        seen = staff_view(login(name), no)
        assert seen["reporter_phone"] == "137****1111" and seen["reporter_name"] == "王**", name
    assert staff_view(leader, no)["reporter_phone"] == "13700001111"
    case = act(dispatcher, call, "accept")
    case = act(leader, case, "file")
    officer_id = officer.get("/api/v1/me").json()["id"]
    act(dispatcher, case, "dispatch", assignee_id=officer_id)
    assert staff_view(officer, no)["reporter_phone"] == "13700001111"  # the assignee calls back


def test_the_reporters_view_hides_staff_names_notes_and_grids(login: Callable[[str], TestClient]) -> None:
    citizen, dispatcher, leader = login("citizen1"), login("dispatcher"), login("shift_leader")
    own = citizen_report(citizen)
    case = staff_view(dispatcher, own["case_no"])
    act(
        dispatcher,
        case,
        "void",
        note="重复上报；联系人王芳 13812345678",
        public_reply="该问题已合并到此前的反映中处理。",
    )
    r = citizen.get(f"/api/v1/my/reports/{own['tracking_code']}")
    text, mine = r.text, r.json()["case"]
    assert r.status_code == 200 and mine["status"] == "已作废"
    assert mine["result"] == "该问题已合并到此前的反映中处理。"
    for secret in ("13812345678", "王芳", "重复上报", case["grid_code"], "dispatcher", "actor"):
        assert secret not in text, secret
    assert set(mine) >= {"case_no", "status", "timeline", "result"}
    assert "history" not in text and "reporter_phone" not in text
    r = dispatcher.post(
        f"/api/v1/cases/{case['case_no']}/transitions",
        json={"action": "accept", "version": 1, "public_reply": "x"},
    )
    assert r.status_code in (409, 422)
    assert leader  # the shift leader saw nothing else to do here


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "0001-01-01T00:00:00"}, "from"),
        ({"to": "9999-12-31T23:59:59"}, "to"),
        ({"cursor": "OTk5OS0xMi0zMVQyMzo1OTo1OSswODowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "cursor"),
        ({"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHwx"}, "naive cursor"),
    ],
)
def test_out_of_range_list_parameters_are_422_and_the_connection_stays_usable(
    login: Callable[[str], TestClient], params: dict[str, str], where: str
) -> None:
    dispatcher = login("dispatcher")
    assert_problem(dispatcher.get("/api/v1/cases", params=params), 422, "validation-error")
    assert dispatcher.get("/api/v1/cases", params={"limit": 1}).status_code == 200, where


def test_out_of_range_transition_input_is_422(login: Callable[[str], TestClient]) -> None:
    dispatcher, leader, officer = login("dispatcher"), login("shift_leader"), login("officer1")
    case = act(leader, act(dispatcher, new_case(dispatcher), "accept"), "file")
    url = f"/api/v1/cases/{case['case_no']}/transitions"
    r = dispatcher.post(url, json={"action": "dispatch", "version": case["version"], "assignee_id": 2**63})
    assert_problem(r, 422, "validation-error")
    r = dispatcher.post(url, json={"action": "dispatch", "version": 2**40, "assignee_id": 1})
    assert_problem(r, 422, "validation-error")
    officer_id = officer.get("/api/v1/me").json()["id"]
    case = act(dispatcher, case, "dispatch", assignee_id=officer_id)
    r = officer.post(
        url, json={"action": "request_extension", "version": case["version"], "extension": "9999999工作日", "note": "x"}
    )
    assert_problem(r, 422, "validation-error")
    assert staff_view(dispatcher, case["case_no"])["extension_pending"] is None


@pytest.mark.parametrize("bad", ["摆摊\x00", "摆摊\u202e反向", "\x1b[31m红字"])
def test_control_characters_never_reach_a_case(login: Callable[[str], TestClient], bad: str) -> None:
    dispatcher = login("dispatcher")
    before = dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"]
    body = {"category_code": "0501", "description": bad, "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    assert_problem(dispatcher.post("/api/v1/cases", json=body), 422, "validation-error")
    case = new_case(dispatcher)
    r = dispatcher.post(
        f"/api/v1/cases/{case['case_no']}/transitions", json={"action": "void", "version": 1, "note": bad}
    )
    assert_problem(r, 422, "validation-error")
    assert dispatcher.get("/api/v1/cases", params={"with_total": True}).json()["total"] == before + 1
