"""The console in a real Chromium: login, list, filters, detail, transitions, map, report, roles."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests import media_samples as samples
from tests.e2e.conftest import Api, login
from tests.personas import xihu_spot

pytestmark = pytest.mark.e2e

ROWS = "#case-table tbody tr[data-case-no]"


def _total(page: Page) -> int:
    return int(page.locator("[data-testid=result-total]").inner_text())


def _open_from_the_list(page: Page, case_no: str, state: str) -> None:
    """Find the case in the list filtered by its state (newest first) and open it from there."""
    page.goto(f"/console?state={state}")
    row = page.locator(f'{ROWS}[data-case-no="{case_no}"]')
    expect(row).to_have_count(1)
    row.locator("a").click()
    page.wait_for_url(f"**/console/cases/{case_no}")


def test_wrong_password_shows_readable_message(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("[data-testid=login-error]")).to_have_text("用户名或密码错误")
    assert "/login" in page.url
    expect(page.locator("input[name=username]")).to_have_value("dispatcher")


def test_console_pages_redirect_to_login_and_back(page: Page) -> None:
    page.goto("/console/map")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "chengguan2026")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/map")
    # the map has fetched its points: logging out under a fetch in flight would turn its 401 into a login redirect
    expect(page.locator("[data-testid=map-status]")).to_contain_text("个案件点位")
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    page.goto("/console")
    page.wait_for_url(re.compile(r"/login\?next=/console"))


def test_dispatcher_sees_cases_and_state_chart(page: Page, screenshot_dir: Path) -> None:
    login(page, "dispatcher")
    expect(page.locator("[data-testid=current-user]")).to_be_visible()
    assert page.locator(ROWS).count() == 30  # one full page of the ~80 demo cases
    assert _total(page) >= 80
    expect(page.locator("#state-chart canvas")).to_have_count(1)
    box = page.locator("#state-chart canvas").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    # every row carries a coloured state badge and a readable report time
    first = page.locator(ROWS).first
    expect(first.locator(".badge")).to_have_class(re.compile(r"badge-\w+"))
    expect(first.locator("td").nth(5)).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    page.wait_for_timeout(600)  # let the chart's entry animation finish before the screenshot
    page.screenshot(path=str(screenshot_dir / "console.png"), full_page=True)


def test_filter_by_state_narrows_the_table(page: Page, new_case: Callable[[str], str]) -> None:
    waiting = new_case("reported")  # the newest case, so it is on the first page of 待受理
    login(page, "dispatcher")
    everything = _total(page)
    page.locator("label.chip", has_text="已结案").click()  # a change submits the form through HTMX
    expect(page.locator("[data-testid=result-total]")).not_to_have_text(str(everything))
    closed = _total(page)
    assert 0 < closed < everything
    states = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states and set(states) == {"closed"}
    assert "state=closed" in page.url  # the filtered list is bookmarkable
    # a second state widens the result again, still only those two states
    page.locator("label.chip", has_text="待受理").click()
    expect(page.locator("[data-testid=result-total]")).not_to_have_text(str(closed))
    states = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert set(states) <= {"closed", "reported"} and "reported" in states
    expect(page.locator(f'{ROWS}[data-case-no="{waiting}"]')).to_have_count(1)


def test_keyset_next_page(page: Page) -> None:
    login(page, "dispatcher")
    first_page = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.caseNo)")
    page.click("[data-testid=next-page]")
    expect(page.locator(ROWS).first).not_to_have_attribute("data-case-no", first_page[0])
    second_page = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.caseNo)")
    assert len(second_page) == 30
    assert not set(first_page) & set(second_page)


def test_case_detail_shows_fields_map_and_history(page: Page, new_case: Callable[[str], str]) -> None:
    case_no = new_case("closed")
    login(page, "dispatcher")
    _open_from_the_list(page, case_no, "closed")
    expect(page.locator("[data-testid=case-no]")).to_have_text(case_no)
    expect(page.locator("[data-testid=case-state]")).to_contain_text("已结案")
    history = page.locator("[data-testid=history] li")
    expect(history).to_have_count(8)  # 上报, 受理, 立案, 派遣, 签收, 反馈, 核查, 结案
    expect(history.last).to_contain_text("上报")
    expect(history.first).to_contain_text("结案")
    expect(page.locator("#case-map .leaflet-interactive").first).to_be_attached()
    expect(page.locator("#actions-panel")).to_contain_text("没有可办理的操作")


def test_accept_a_reported_case_through_the_ui(page: Page, new_case: Callable[[str], str]) -> None:
    case_no = new_case("reported")
    login(page, "dispatcher")
    _open_from_the_list(page, case_no, "reported")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待受理")
    before = page.locator("[data-testid=history] li").count()
    page.locator("form[data-action=accept] textarea[name=note]").fill("来电核实，情况属实")
    page.click("[data-testid=action-accept]")
    expect(page.locator("[data-testid=flash]")).to_contain_text("「受理」已办理")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待立案")
    history = page.locator("[data-testid=history] li")
    expect(history).to_have_count(before + 1)
    newest = history.first
    expect(newest).to_contain_text("受理")
    expect(newest).to_contain_text("来电核实，情况属实")
    expect(newest.locator(".badge").first).to_have_text("待受理")
    expect(newest.locator(".badge").last).to_have_text("待立案")
    # the list agrees
    page.goto("/console?state=accepted")
    expect(page.locator(f'{ROWS}[data-case-no="{case_no}"]')).to_have_count(1)


def test_stale_page_shows_the_conflict_in_chinese(page: Page, new_case: Callable[[str], str]) -> None:
    case_no = new_case("reported")
    login(page, "dispatcher")
    page.goto(f"/console/cases/{case_no}")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待受理")
    other = page.context.new_page()
    other.goto(f"/console/cases/{case_no}")
    other.click("[data-testid=action-accept]")
    expect(other.locator("[data-testid=case-state]")).to_contain_text("待立案")
    other.close()
    page.click("[data-testid=action-accept]")  # this page still holds the old version
    error = page.locator("[data-testid=action-error]")
    expect(error).to_be_visible()
    expect(error).to_have_text(re.compile(r"[\u4e00-\u9fff]"))
    expect(error).not_to_contain_text("HTTP")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待受理")  # nothing re-rendered


def test_dispatch_needs_an_officer_and_then_succeeds(page: Page, new_case: Callable[[str], str]) -> None:
    case_no = new_case("filed")
    login(page, "dispatcher")
    page.goto(f"/console/cases/{case_no}")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待派遣")
    form = page.locator("form[data-action=dispatch]")
    page.click("[data-testid=action-dispatch]")
    expect(page.locator("[data-testid=action-error]")).to_have_text("派遣必须选择处置人员")
    select = form.locator("select[name=assignee_id]")
    expect(select.locator("option")).not_to_have_count(1)
    officer = select.locator("option").nth(1)
    name = officer.inner_text().split("（")[0]
    select.select_option(index=1)
    page.click("[data-testid=action-dispatch]")
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待签收")
    expect(page.locator(".fields")).to_contain_text(name)


def test_map_draws_districts_and_case_points(page: Page, screenshot_dir: Path) -> None:
    login(page, "dispatcher")
    page.goto("/console/map")
    the_map = page.locator("[data-testid=case-map]")
    expect(the_map).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    assert int(the_map.get_attribute("data-districts") or 0) >= 13
    assert page.locator("#case-map-full .leaflet-overlay-pane path").count() >= 13
    expect(page.locator("#case-map-full canvas")).to_have_count(1)  # case points share one canvas
    expect(page.locator("[data-testid=map-status]")).to_contain_text("个案件点位")
    expect(page.locator(".leaflet-tile")).to_have_count(0)  # offline: no tile layer configured
    page.screenshot(path=str(screenshot_dir / "map.png"), full_page=True)
    # the filters apply to the points
    total = int(the_map.get_attribute("data-points") or 0)
    page.locator("label.chip", has_text="待受理").click()
    page.wait_for_url(re.compile(r"state=reported"))
    expect(page.locator("[data-testid=case-map]")).to_have_attribute("data-points", re.compile(r"^\d+$"))
    assert int(page.locator("[data-testid=case-map]").get_attribute("data-points") or 0) < total


def _fill_report(page: Page, lon: str, lat: str, description: str, category_code: str | None = None) -> None:
    page.goto("/console/report")
    category = page.locator("[data-testid=report-category]")
    expect(category).to_have_attribute("data-loaded", "1")
    if category_code:
        category.select_option(value=category_code)
    else:
        category.select_option(index=1)
    page.fill("textarea[name=description]", description)
    page.fill("input[name=address]", "西湖区文三路 100 号附近")
    page.fill("[data-testid=report-lon]", lon)
    page.fill("[data-testid=report-lat]", lat)


def test_report_form_creates_a_case_and_shows_problems(page: Page) -> None:
    login(page, "grid1")
    page.goto("/console/report")
    # clicking the map fills the coordinates
    page.locator("#report-map").click(position={"x": 300, "y": 230})
    expect(page.locator("[data-testid=report-lon]")).to_have_value(re.compile(r"^1[12]\d\.\d{6}$"))
    expect(page.locator("[data-testid=report-lat]")).to_have_value(re.compile(r"^[23]\d\.\d{6}$"))
    # outside the area: the problem detail is shown, nothing is created
    _fill_report(page, "116.397", "39.909", "天安门附近有占道经营")
    page.click("[data-testid=report-submit]")
    expect(page.locator("[data-testid=report-error]")).to_contain_text("不在本单位辖区内")
    assert page.url.endswith("/console/report")
    # inside the grid worker's own district (西湖区): the case is opened and its page shown
    _fill_report(page, "120.1300", "30.2600", "店外堆放杂物占用人行道")
    page.click("[data-testid=report-submit]")
    page.wait_for_url(re.compile(r"/console/cases/[^/]+$"))
    expect(page.locator("[data-testid=flash]")).to_contain_text("上报成功")
    # a grid worker is trusted: the system accepts the case at once, and its history says why
    expect(page.locator("[data-testid=case-state]")).to_contain_text("待立案")
    expect(page.locator("body")).to_contain_text("网格员上报，免予核实")
    expect(page.locator(".fields")).to_contain_text("店外堆放杂物占用人行道")
    expect(page.locator(".fields")).to_contain_text("网格员上报")


def test_report_into_another_brigade_is_routed_there_and_stays_visible_to_the_reporter(page: Page) -> None:
    login(page, "grid1")  # 西湖区; the point is in 拱墅区, so the case goes to that brigade
    _fill_report(page, "120.1551", "30.2741", "武林广场附近共享单车乱停放")
    page.click("[data-testid=report-submit]")
    page.wait_for_url(re.compile(r"/console/cases/GS-[^/]+$"))  # 拱墅区大队's numbering
    expect(page.locator("[data-testid=case-no]")).to_contain_text("GS-")


def test_citizen_sees_only_their_own_reports_as_a_public_timeline(page: Page) -> None:
    login(page, "citizen1")
    assert page.url.endswith("/console/my")
    expect(page.locator("nav a[href='/console/report']")).to_be_visible()
    expect(page.locator("a[href='/console/map']")).to_have_count(0)  # the map is the staff's
    lon, lat = xihu_spot()  # a spot of its own and a category no demo case has: a new case, not a merge
    _fill_report(page, str(lon), str(lat), "小区门口夜间露天烧烤扰民", category_code="0508")
    page.click("[data-testid=report-submit]")
    page.wait_for_url(re.compile(r"/console/cases/[^/]+$"))
    mine = page.locator("[data-testid=case-no]").inner_text()
    expect(page.locator("[data-testid=public-status]")).to_have_text("已提交")
    expect(page.locator("[data-testid=public-timeline]")).to_contain_text("已提交")
    expect(page.locator("#actions-panel")).to_have_count(0)  # no staff record, no actions, no staff names

    page.goto("/console")
    page.wait_for_url("**/console/my")
    visible = set(
        page.locator("[data-testid=my-reports] tr[data-case-no]").evaluate_all(
            "rows => rows.map(r => r.dataset.caseNo)"
        )
    ) - {""}
    assert mine in visible
    staff_api = page.request.get("/api/v1/cases?limit=200")
    assert staff_api.status == 403  # the staff record is not for citizens
    mine_api = {c["case_no"] for c in page.request.get("/api/v1/my/reports?limit=100").json()["items"]}
    assert visible <= mine_api

    staff = page.context.browser.new_context(base_url=page.url.split("/console")[0])  # type: ignore[union-attr]
    try:
        staff_page = staff.new_page()
        login(staff_page, "dispatcher")
        everything = staff_page.request.get("/api/v1/cases?limit=200").json()["items"]
    finally:
        staff.close()
    foreign = [c["case_no"] for c in everything if c["case_no"] not in mine_api]
    assert foreign
    page.goto(f"/console/cases/{foreign[0]}")
    expect(page.locator("[data-testid=error-page]")).to_contain_text("404")


def test_a_cases_photos_and_videos_show_on_its_detail_and_the_reporters_timeline(
    page: Page, api: Api, screenshot_dir: Path
) -> None:
    citizen, dispatcher = api.as_user("citizen1"), api.as_user("dispatcher")

    def upload(client: httpx.Client, data: bytes, name: str, mime: str) -> str:
        r = client.post("/media", files={"file": (name, data, mime)})
        assert r.status_code == 201, r.text
        return str(r.json()["sha256"])

    photo = upload(citizen, samples.jpeg_with_gps(), "photo.jpg", "image/jpeg")
    clip = upload(citizen, samples.video("mp4"), "clip.mp4", "video/mp4")
    lon, lat = xihu_spot()
    r = citizen.post(
        "/my/reports",
        json={
            "description": "人行道上露天烧烤，油烟扰民（端到端测试 照片）",
            "category_code": "0508",
            "lon": lon,
            "lat": lat,
            "media": [photo, clip],
        },
    )
    assert r.status_code == 201, r.text
    case_no = r.json()["case_no"]
    result = upload(dispatcher, samples.CROSSWALK_JPEG.read_bytes(), "result.jpg", "image/jpeg")
    r = dispatcher.post(f"/cases/{case_no}/media", json={"media": [result], "role": "result"})
    assert r.status_code == 200, r.text

    loaded = "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    all_loaded = "sel => [...document.querySelectorAll(sel + ' img')].every(i => i.complete && i.naturalWidth > 0)"
    login(page, "dispatcher")
    page.goto(f"/console/cases/{case_no}")
    items = page.locator("[data-testid=case-media] li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("上报照片")
    expect(items.nth(1).locator("video")).to_have_count(1)
    expect(items.nth(2)).to_contain_text("处置结果")
    expect(page.locator("[data-testid=media-original]")).to_have_count(3)  # staff: the evidence too
    page.wait_for_function(all_loaded, arg="[data-testid=case-media]")
    assert page.locator("[data-testid=case-media] img").evaluate_all(loaded) == [True, True]
    page.locator("#media-panel").screenshot(path=str(screenshot_dir / "case_media.png"))

    page.context.clear_cookies()
    login(page, "citizen1")
    page.goto(f"/console/cases/{case_no}")
    expect(page.locator("[data-testid=my-media] li")).to_have_count(2)
    expect(page.locator("[data-testid=result-media] li")).to_have_count(1)
    expect(page.locator("[data-testid=media-original]")).to_have_count(0)  # reporters get public copies only
    src = page.locator("[data-testid=result-media] img").get_attribute("src") or ""
    assert "sig=" in src and "exp=" in src  # signed, expiring links
    page.wait_for_function(all_loaded, arg="[data-testid=result-media]")
    page.wait_for_function(all_loaded, arg="[data-testid=my-media]")
    assert page.locator("[data-testid=my-media] img").evaluate_all(loaded) == [True]
