"""E2E fixtures: a real ``chengguan serve`` on a fresh SQLite data dir, driven by the system Chromium.

The server is started once per session: ``chengguan migrate`` and ``chengguan seed-demo --cases 80`` run as
subprocesses first (the same commands an operator runs), then ``chengguan serve`` on a free port, polled
on /healthz until it answers. Playwright uses /usr/bin/chromium; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

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
    ctx.set_default_timeout(15_000)
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
    page.wait_for_url("**/console")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
