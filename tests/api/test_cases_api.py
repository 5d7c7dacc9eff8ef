"""The case API as the bureau's people use it, including every way to get it wrong."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.personas import SHANGHAI_POINT, XIHU_POINT

PROBLEM = "application/problem+json"


def new_case(c: TestClient, **kw: object) -> dict:  # type: ignore[type-arg]
    """A report entered by staff (grid worker, 12345 desk, officer) through the staff endpoint."""
    body = {"category_code": "0501", "description": "早餐摊占用人行道经营", "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
    body.update(kw)
    r = c.post("/api/v1/cases", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def citizen_report(c: TestClient, **kw: object) -> dict:  # type: ignore[type-arg]
    """A citizen's own report: answered with the public view (tracking number and timeline)."""
    body = {"category_code": "0501", "description": "早餐摊占用人行道经营", "lon": XIHU_POINT[0], "lat": XIHU_POINT[1]}
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
    assert mine["status"] == "已提交" and mine["case_no"].startswith("XH-")
    case = staff_view(dispatcher, mine["case_no"])
    assert case["state"] == "reported" and case["channel"] == "citizen"
    case = act(dispatcher, case, "accept")
    case = act(leader, case, "file")
    officer_id = officer.get("/api/v1/me").json()["id"]
    candidates = dispatcher.get(f"/api/v1/cases/{case['case_no']}/candidates").json()
    assert officer_id in [o["id"] for o in candidates]
    case = act(dispatcher, case, "dispatch", assignee_id=officer_id)
    mine = officer.get("/api/v1/cases", params={"mine": True}).json()["items"]
    assert case["case_no"] in [c["case_no"] for c in mine]
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
    mine = citizen.get(f"/api/v1/my/reports/{case['case_no']}").json()
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
    r = citizen.get(f"/api/v1/my/reports/{hotline['case_no']}")
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
    assert_problem(r, 422, "validation-error")
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
