"""The citizens' H5 page in a real Chromium at a phone's viewport (390×844, touch): report with the phone's
position, a pin and a photo → tracking code → timeline; staff close the case with a result photo → the
citizen sees it and rates. And a place outside the city is refused with the reason before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import TIMEOUT_MS, WALK, Api
from tests.media_samples import CROSSWALK_JPEG, SMALL_JPEG
from tests.personas import SHANGHAI_POINT, xihu_spot

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def _phone(browser: Browser, base_url: str, lon: float, lat: float) -> BrowserContext:
    ctx = browser.new_context(
        base_url=base_url,
        locale="zh-CN",
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 20},
        permissions=["geolocation"],
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.route(lambda url: not url.startswith(base_url), lambda route: route.abort())
    return ctx


@pytest.fixture
def phone_page(browser: Browser, base_url: str) -> Iterator[Page]:
    lon, lat = xihu_spot()
    ctx = _phone(browser, base_url, lon, lat)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _close(api: Api, case_no: str, result_sha: str) -> None:
    """Staff take the case to 已结案 through the JSON API; the officer attaches a result photo on the way."""
    case = api.as_user("dispatcher").get(f"/cases/{case_no}").json()
    for target, action, username, extra in WALK:
        body: dict[str, Any] = {"action": action, "version": case["version"], "note": extra.get("note")}
        if "assignee" in extra:
            body["assignee_id"] = api.user_id(extra["assignee"])
        if action == "close":
            body["public_reply"] = "烧烤摊已劝离，地面油污已清洗"
        if action == "feedback":
            r = api.as_user(username).post(f"/cases/{case_no}/media", json={"media": [result_sha], "role": "result"})
            assert r.status_code == 200, r.text
        r = api.as_user(username).post(f"/cases/{case_no}/transitions", json=body)
        assert r.status_code == 200, f"{action}: {r.text}"
        case = r.json()
        assert case["state"] == target


def test_a_citizen_reports_with_a_pin_and_a_photo_follows_it_and_rates_it(
    phone_page: Page, api: Api, screenshot_dir: Path
) -> None:
    page = phone_page
    page.goto("/h5")
    expect(page.locator("[data-testid=h5-map] .leaflet-map-pane")).to_have_count(1)
    # the map opens on the phone's position (permission already granted): pin set, place named
    expect(page.locator("[data-testid=place-info]")).to_contain_text("西湖区")
    page.click("[data-testid=use-location]")
    expect(page.locator("[data-testid=h5-map] .leaflet-marker-icon")).to_have_count(1)
    # a tap on the map moves the pin there
    before = page.locator("[data-testid=h5-map]").get_attribute("data-lon")
    box = page.locator("[data-testid=h5-map]").bounding_box()
    assert box is not None
    page.locator("[data-testid=h5-map]").click(position={"x": box["width"] / 2 + 40, "y": box["height"] / 2 + 30})
    expect(page.locator("[data-testid=h5-map]")).not_to_have_attribute("data-lon", before or "")
    expect(page.locator("[data-testid=place-info]")).to_contain_text("西湖区")
    # a photo from the camera, uploaded at once
    page.set_input_files("[data-testid=h5-media]", str(SMALL_JPEG))
    expect(page.locator("[data-testid=media-item] img")).to_have_count(1)
    # the category from pictures and plain words
    page.click("[data-testid=major-05]")
    page.click("[data-testid=minor-0508]")
    expect(page.locator("[data-testid=category-chosen]")).to_have_text("已选：占道与乱停 · 路边烧烤")
    page.fill("[data-testid=h5-description]", "小区门口晚上有人露天烧烤，油烟很大（H5 端到端测试）")
    page.fill("[data-testid=h5-address]", "西湖区文三路附近")
    page.screenshot(path=str(screenshot_dir / "h5-report.png"), full_page=True)
    page.click("[data-testid=h5-submit]")
    expect(page.locator("[data-testid=h5-done]")).to_be_visible()
    code = page.locator("[data-testid=tracking-code]").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{10}", code), code
    page.screenshot(path=str(screenshot_dir / "h5-done.png"))

    # the timeline in plain words, with the photo sent
    page.click("[data-testid=done-track]")
    page.wait_for_url(f"**/h5/track/{code}")
    expect(page.locator("[data-testid=t-progress]")).to_have_text("已提交")
    expect(page.locator("[data-testid=t-photos] img")).to_have_count(1)
    expect(page.locator("[data-testid=timeline] li").first).to_contain_text("收到反映")
    expect(page.locator("[data-testid=rate-card]")).to_be_hidden()

    # staff handle and close the case, with a photo of the result
    case_no = api.as_user("dispatcher").get(f"/public/reports/{code}").json()["case_no"]
    assert case_no
    officer = api.as_user("officer1")
    with CROSSWALK_JPEG.open("rb") as f:
        up = officer.post("/media", files={"file": ("result.jpg", f, "image/jpeg")})
    assert up.status_code == 201, up.text
    _close(api, case_no, up.json()["sha256"])

    page.reload()
    expect(page.locator("[data-testid=t-progress]")).to_have_text("已办结")
    expect(page.locator("[data-testid=timeline]")).to_contain_text("烧烤摊已劝离，地面油污已清洗")
    expect(page.locator("[data-testid=result-photos] img")).to_have_count(1)
    expect(page.locator("[data-testid=timeline]")).not_to_contain_text("已清理完毕")  # the officer's own note
    expect(page.locator("[data-testid=rate-card]")).to_be_visible()
    page.locator("label.star", has=page.locator("[data-testid=star-4]")).click()
    page.fill("[data-testid=rate-comment]", "处理及时，谢谢")
    page.click("[data-testid=rate-submit]")
    expect(page.locator("[data-testid=rated]")).to_contain_text("4 分（满意）：处理及时，谢谢")
    expect(page.locator("[data-testid=rate-card]")).to_be_hidden()
    page.screenshot(path=str(screenshot_dir / "h5-track-rated.png"), full_page=True)

    # the code is remembered on this phone
    page.goto("/h5/track")
    expect(page.locator("[data-testid=my-codes]")).to_contain_text(code)


def test_a_place_outside_the_city_is_refused_with_the_reason(browser: Browser, base_url: str) -> None:
    ctx = _phone(browser, base_url, *SHANGHAI_POINT)
    try:
        page = ctx.new_page()
        page.goto("/h5")
        page.click("[data-testid=use-location]")
        expect(page.locator("[data-testid=place-warn]")).to_contain_text("不在本平台服务的辖区内")
        page.fill("[data-testid=h5-description]", "上海的一个问题")
        page.click("[data-testid=h5-submit]")
        expect(page.locator("[data-testid=h5-error]")).to_contain_text("不在本平台服务的辖区内")
        expect(page.locator("[data-testid=h5-done]")).to_be_hidden()
    finally:
        ctx.close()
