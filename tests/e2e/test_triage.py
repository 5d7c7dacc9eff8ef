"""The triage queue (人工分拣) in a real Chromium: reports the text classifier was not sure about wait for the
desk, which sees the classifier's guesses and opens a case, forwards or rejects — and only the desk may."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api, login
from tests.personas import xihu_spot

pytestmark = pytest.mark.e2e

# Texts the shipped classifier reads with too little confidence to decide alone (tests/unit/test_classify.py
# holds the model to that at the default threshold).
VAGUE_LAMP = "马路上的路灯坏了好几天"
VAGUE_SHOP = "我家附近那家店的事情一直没人管"
VAGUE_ANY = "这里有个问题，请派人来看一下"


def _report(api: Api, text: str) -> str:
    """A citizen reports ``text`` without a category; waits until processing has decided; the tracking code."""
    lon, lat = xihu_spot()
    citizen = api.as_user("citizen1")
    r = citizen.post("/my/reports", json={"description": text, "lon": lon, "lat": lat})
    assert r.status_code == 201, r.text
    code = str(r.json()["tracking_code"])
    deadline = time.monotonic() + 120  # the server trains the classifier on its first report
    while True:
        mine = citizen.get(f"/my/reports/{code}").json()
        if mine["status"] != "received":
            break
        assert time.monotonic() < deadline, f"report {code} was not processed"
        time.sleep(0.5)
    assert mine["status"] == "triage", mine
    return code


def _status(api: Api, code: str) -> dict[str, Any]:
    r = api.as_user("citizen1").get(f"/my/reports/{code}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _open(page: Page, code: str) -> None:
    page.goto("/console/triage")
    row = page.locator(f'[data-testid=triage-queue] tr[data-tracking-code="{code}"]')
    expect(row).to_have_count(1)
    row.locator("[data-testid=triage-open]").click()
    page.wait_for_url(f"**/console/triage/{code}")
    expect(page.locator("[data-testid=triage-text]")).to_be_visible()


def test_desk_picks_the_category_from_the_guesses_and_opens_a_case(page: Page, api: Api, screenshot_dir: Path) -> None:
    code = _report(api, VAGUE_LAMP)
    login(page, "dispatcher")
    page.click("[data-testid=nav-triage]")
    page.wait_for_url("**/console/triage")
    row = page.locator(f'[data-testid=triage-queue] tr[data-tracking-code="{code}"]')
    expect(row).to_contain_text("置信度不足")
    list_guess = row.locator("[data-testid=triage-guess]").inner_text()
    _open(page, code)
    # the classifier's top guesses, with the words it read: the list showed the first of them
    expect(page.locator("[data-testid=triage-verdict]")).to_have_text("城管职责")
    guesses = page.locator("[data-testid=triage-categories] li")
    expect(guesses).to_have_count(3)
    top = str(guesses.first.locator("button").get_attribute("data-pick-category"))
    assert list_guess.startswith(top), (list_guess, top)
    expect(page.locator("[data-testid=triage-departments] li").first).to_contain_text("%")
    expect(page.locator("[data-testid=accept-lon]")).not_to_have_value("")  # the citizen's pin
    select = page.locator("[data-testid=accept-category]")
    expect(select).to_have_attribute("data-loaded", "1")
    expect(select).to_have_value(top)  # the top guess is preselected
    page.screenshot(path=str(screenshot_dir / "triage-detail.png"), full_page=True)

    # nothing chosen: the page says what is missing, nothing is sent
    page.select_option("[data-testid=accept-category]", "")
    page.click("[data-testid=accept-submit]")
    expect(page.locator("[data-testid=triage-error]")).to_have_text("立单必须选择问题类别（小类）")
    assert _status(api, code)["status"] == "triage"

    # the desk overrules the model: it takes the second guess
    second = guesses.nth(1).locator("button")
    chosen = str(second.get_attribute("data-pick-category"))
    second.click()
    expect(select).to_have_value(chosen)
    page.click("[data-testid=accept-submit]")
    page.wait_for_url("**/console/triage")
    expect(page.locator("[data-testid=flash]")).to_contain_text("已立单")
    expect(page.locator(f'[data-testid=triage-queue] tr[data-tracking-code="{code}"]')).to_have_count(0)

    done = _status(api, code)
    assert done["status"] == "accepted" and done["case_no"], done
    case = api.as_user("dispatcher").get(f"/cases/{done['case_no']}").json()
    assert case["category_code"] == chosen


def test_desk_forwards_to_another_department_with_a_reason(page: Page, api: Api) -> None:
    code = _report(api, VAGUE_SHOP)
    login(page, "shift_leader")
    _open(page, code)
    page.select_option("[data-testid=forward-department]", label="商务和文化旅游、市场监管部门")
    page.click("[data-testid=forward-submit]")
    expect(page.locator("[data-testid=triage-error]")).to_have_text("转交必须填写理由")
    page.fill("[data-testid=forward-note]", "反映的是商户经营纠纷，属市场监管职责")
    page.click("[data-testid=forward-submit]")
    page.wait_for_url("**/console/triage")
    expect(page.locator("[data-testid=flash]")).to_contain_text("已转其他部门")
    done = _status(api, code)
    assert done["status"] == "forwarded" and done["case_no"] is None, done
    # a second decision on the same report is refused, and the page shows the outcome instead of the forms
    page.goto(f"/console/triage/{code}")
    expect(page.locator("[data-testid=triage-done]")).to_contain_text("已转其他部门")
    expect(page.locator("[data-testid=triage-reason]")).to_have_text(
        "转交商务和文化旅游、市场监管部门：反映的是商户经营纠纷，属市场监管职责"
    )
    expect(page.locator("form.triage-form")).to_have_count(0)


def test_desk_rejects_with_a_reason_and_other_roles_have_no_queue(page: Page, api: Api) -> None:
    code = _report(api, VAGUE_ANY)
    login(page, "officer1")
    expect(page.locator("[data-testid=nav-triage]")).to_have_count(0)
    response = page.goto("/console/triage")
    assert response is not None and response.status == 403
    response = page.goto(f"/console/triage/{code}")
    assert response is not None and response.status == 403
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")

    login(page, "dispatcher")
    _open(page, code)
    page.click("[data-testid=reject-submit]")
    expect(page.locator("[data-testid=triage-error]")).to_have_text("不予受理必须填写理由")
    page.fill("[data-testid=reject-note]", "未说明具体问题和地点，无法核实")
    page.click("[data-testid=reject-submit]")
    page.wait_for_url("**/console/triage")
    expect(page.locator("[data-testid=flash]")).to_contain_text("未予受理")
    assert _status(api, code)["status"] == "rejected"
