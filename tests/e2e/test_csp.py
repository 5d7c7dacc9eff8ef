"""The Content-Security-Policy in a real Chromium: every page works under it and nothing is refused.

A refused script or style shows up as a ``securitypolicyviolation`` event and a console error; both are
collected here on every page, and each page is checked to have done its job (map drawn, chart drawn,
Swagger UI rendered from the local assets)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


def _watch(page: Page) -> list[str]:
    console: list[str] = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda msg: console.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None,
    )
    return console


def _violations(page: Page, console: list[str]) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations || []")
    return found + console


def test_console_pages_work_under_the_policy(page: Page, new_case: Callable[[str], str]) -> None:
    console = _watch(page)
    login(page, "dispatcher")
    assert page.request.get("/console").headers["content-security-policy"].startswith("default-src 'self'")
    expect(page.locator("#state-chart canvas")).to_have_count(1)
    assert _violations(page, console) == []

    page.goto("/console/map")
    expect(page.locator("[data-testid=map-status]")).to_contain_text("个案件点位")
    assert _violations(page, console) == []
    expect(page.locator(".legend svg.swatch")).to_have_count(11)  # the state colours, without style=

    case_no = new_case("filed")
    page.goto(f"/console/cases/{case_no}")
    expect(page.locator("#case-map .leaflet-interactive").first).to_be_attached()
    assert _violations(page, console) == []

    page.goto("/console/report")
    expect(page.locator("#report-map .leaflet-interactive").first).to_be_attached()
    assert _violations(page, console) == []

    page.goto("/console")  # an HTMX swap of the table
    page.locator("#filters input[name=state]").first.check()
    expect(page.locator("#case-table")).to_be_visible()
    assert _violations(page, console) == []


def test_swagger_ui_renders_from_local_assets(page: Page, base_url: str) -> None:
    console = _watch(page)
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("城管执法平台")
    assert _violations(page, console) == []
    assert requested and [u for u in requested if not u.startswith((base_url + "/", "data:"))] == []
