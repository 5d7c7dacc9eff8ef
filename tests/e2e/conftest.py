"""E2E fixtures: a real ``chengguan serve`` on a fresh SQLite data dir, driven by the system Chromium.

The server is started once per session: ``chengguan migrate`` and ``chengguan seed-demo --cases 80`` run as
subprocesses first (the same commands an operator runs), then ``chengguan serve`` on a free port, polled
on /healthz until it answers. Playwright uses /usr/bin/chromium; no browser is ever downloaded.

Tests share that server and run in any order (and, under pytest-xdist, all on one worker: ``tests/conftest.py``
groups them). The seeded cases are there to be looked at; a test that needs a case in a given state to act on
makes its own with ``new_case`` (through the JSON API, as a client would), so it never depends on what another
test left behind or on the hour the demo was seeded.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.personas import xihu_spot

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "chengguan2026"
TIMEOUT_MS = 15_000  # actions and assertions alike: a loaded CI machine may take seconds to render a page

expect.set_options(timeout=TIMEOUT_MS)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("chengguan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chengguan.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHENGGUAN_")}
    env.update(
        CHENGGUAN_DATA_DIR=str(data_dir),
        CHENGGUAN_ENV="dev",
        CHENGGUAN_TILE_URL="",  # offline: boundaries on a plain background
        CHENGGUAN_NODE_MODULES_DIR=str(REPO_ROOT / "node_modules"),
    )
    return env


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert (REPO_ROOT / "node_modules" / "leaflet" / "dist" / "leaflet.js").exists(), "run `npm ci` first"
    workdir = tmp_path_factory.mktemp("e2e")
    env = _server_env(workdir / "data")
    for args in (["migrate"], ["seed-demo", "--cases", "80"]):
        done = subprocess.run([*_cli(), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"chengguan {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    port = _free_port()
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen(
        [*_cli(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "server exited:\n" + (workdir / "serve.log").read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is required for the e2e suite"
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    # Nothing may be fetched from outside the app: every library is served locally.
    ctx.route(lambda url: not url.startswith(base_url), lambda route: route.abort())
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/console(/my)?$"))  # staff land on the case list, citizens on 我的上报


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# ---- cases made through the JSON API ------------------------------------------------------------------------

# A reported case reaches each later state by these steps: (state after the step, action, who takes it, extra).
# grid1 reports in 西湖区, so the case belongs to the 西湖 brigade, where officer1 works.
WALK: list[tuple[str, str, str, dict[str, Any]]] = [
    ("accepted", "accept", "dispatcher", {}),
    ("filed", "file", "shift_leader", {}),
    ("dispatched", "dispatch", "dispatcher", {"assignee": "officer1"}),
    ("processing", "start", "officer1", {}),
    ("handled", "feedback", "officer1", {"note": "已清理完毕，恢复通行"}),
    ("verified", "verify_pass", "grid1", {}),
    ("closed", "close", "shift_leader", {}),
]
WALKABLE_STATES = ("reported", *(state for state, *_ in WALK))


class Api:
    """The server's JSON API as each demo user sees it (``POST /api/v1/auth/login`` → bearer token)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._clients: dict[str, httpx.Client] = {}

    def as_user(self, username: str) -> httpx.Client:
        if username not in self._clients:
            client = httpx.Client(base_url=self.base_url + "/api/v1", timeout=30)
            r = client.post("/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            client.cookies.clear()
            self._clients[username] = client
        return self._clients[username]

    def user_id(self, username: str) -> int:
        return int(self.as_user(username).get("/me").json()["id"])

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture(scope="session")
def api(base_url: str) -> Iterator[Api]:
    a = Api(base_url)
    yield a
    a.close()


_numbers = count(1)


@pytest.fixture
def new_case(api: Api) -> Callable[[str], str]:
    """``new_case("filed")`` → the number of a fresh case reported by the desk (a dispatcher: not a trusted
    reporter, so it starts in 待受理), walked to that state; nobody else touches it."""

    def _new_case(state: str) -> str:
        assert state in WALKABLE_STATES, f"cannot make a case in state {state!r}"
        n = next(_numbers)
        lon, lat = xihu_spot()  # a spot of its own: reports of one problem at one spot merge into one case
        r = api.as_user("dispatcher").post(
            "/cases",
            json={
                "category_code": "0508",  # 露天烧烤: not among the demo's categories, so nothing to merge with
                "description": f"人行道上露天烧烤，油烟扰民（端到端测试 {n}）",
                "address": "西湖区文三路 100 号附近",
                "lon": lon,
                "lat": lat,
            },
        )
        assert r.status_code == 201, r.text
        case = r.json()
        for target, action, username, extra in WALK:
            if case["state"] == state:
                break
            body: dict[str, Any] = {"action": action, "version": case["version"], "note": extra.get("note")}
            if "assignee" in extra:
                body["assignee_id"] = api.user_id(extra["assignee"])
            r = api.as_user(username).post(f"/cases/{case['case_no']}/transitions", json=body)
            assert r.status_code == 200, f"{action}: {r.text}"
            case = r.json()
            assert case["state"] == target, case
        assert case["state"] == state, case
        return str(case["case_no"])

    return _new_case
