"""Browser fixtures: the real server on loopback, Debian's Chromium, people signed in, screenshots.

One server for the whole e2e session: the demo is loaded into a fresh SQLite file (with
today's date, so its 2025 plan is under public notice today), then ``uvicorn
huiqi.web.asgi:app`` serves it on a free loopback port until the session ends. The tests
share it, so each works on its own organisations and plans and never assumes another ran.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make system-deps``); Playwright
never downloads a browser here. A missing browser fails the tests with the reason — it is
never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import create_engine, select, update

from huiqi.config import Settings
from huiqi.db.tables import AllocationPlan
from huiqi.fulfilment.calendar import local_date, notice_end
from huiqi.service import demo
from huiqi.service.bootstrap import build_services
from huiqi.web.pages.common import LANG_COOKIE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
#: Where each run leaves its screenshots (gitignored; CI keeps the folder as an artifact).
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
#: How long a page may take to answer or an element to appear (ms).
TIMEOUT_MS = 15_000
PASSWORD = demo.DEMO_PASSWORD


@dataclass(frozen=True)
class Server:
    """The running service: its address, the demo's ids, and the day it believes is today."""

    url: str
    ids: dict[str, int]
    today: date
    log: Path
    database: str

    def let_a_month_pass_for_the_notice(self, plan_id: int) -> None:
        """Stand in for a month of waiting: the plan's notice, published just now through
        the browser, is moved back 30 days as if it had been published then (its end counted
        again by the official calendar). The server's clock is the real one and cannot move."""
        engine = create_engine(self.database)
        try:
            with engine.begin() as conn:
                row = conn.execute(
                    select(AllocationPlan.notice_published_at, AllocationPlan.notice_days).where(
                        AllocationPlan.id == plan_id
                    )
                ).one()
                earlier = row.notice_published_at.replace(tzinfo=UTC) - timedelta(days=30)
                conn.execute(
                    update(AllocationPlan)
                    .where(AllocationPlan.id == plan_id)
                    .values(
                        notice_published_at=earlier,
                        notice_start=local_date(earlier),
                        notice_end=notice_end(earlier, row.notice_days),
                    )
                )
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("e2e")
    database = f"sqlite:///{root / 'db.sqlite3'}"
    # The server's clock is the real one (UTC): the demo's "today" must be the same day.
    today = datetime.now(UTC).date()
    svc = build_services(Settings(database_url=database, data_dir=root))
    ids = demo.load(svc, today)
    svc.engine.dispose()  # the WAL is folded into the file before the server opens it

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HUIQI_DATABASE_URL": database,
        "HUIQI_DATA_DIR": str(root),
        "PYTHONUNBUFFERED": "1",
    }
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "huiqi.web.asgi:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=root,  # not the checkout: its .env (if any) must not change the settings
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"the server exited with {process.returncode} before answering:\n"
                    + log.read_text(errors="replace")[-4000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    "the server did not answer /api/v1/health within 30 s:\n"
                    + log.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.1)
        yield Server(url, ids, today, log, database)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        elsewhere = f" (one is on PATH at {found}, but the tests use {CHROMIUM})" if found else ""
        pytest.fail(
            f"Debian's Chromium is missing at {CHROMIUM}{elsewhere}"
            ": install it with `make system-deps` or `apt-get install -y chromium`."
            " The browser tests never download a browser and are never skipped.",
            pytrace=False,
        )
    try:
        launched = playwright_driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
    except Exception as exc:  # the driver's own error names what went wrong
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
    yield launched
    launched.close()


#: Every screenshot this run saved, listed again at the end of the run (see below).
SAVED: list[Path] = []


@dataclass
class Screenshots:
    """Full-page screenshots under ``artifacts/screenshots/``, named by what they show."""

    folder: Path

    def save(self, page: Page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        SAVED.append(path)
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="session")
def screenshots() -> Screenshots:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Screenshots(SCREENSHOTS)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The screenshots' paths, shown even when the tests' own output is captured."""
    if SAVED:
        terminalreporter.section("browser screenshots")
        for path in SAVED:
            terminalreporter.write_line(str(path))


@dataclass
class People:
    """Browsers for one test: a visitor, or someone signed in through the sign-in form."""

    browser: Browser
    server: Server
    contexts: list[BrowserContext] = field(default_factory=list)

    def browse(
        self, *, lang: str = "zh", width: int = 1280, height: int = 900, mobile: bool = False
    ) -> Page:
        """A fresh browser (its own cookies) whose own language is Chinese (zh-CN: the pages
        follow Accept-Language until the switch is used); ``lang`` sets the switch's cookie."""
        context = self.browser.new_context(
            base_url=self.server.url,
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            has_touch=mobile,
            device_scale_factor=1,
            locale="zh-CN",
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        if lang != "zh":
            context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": self.server.url}])
        self.contexts.append(context)
        return context.new_page()

    def sign_in(self, username: str, *, lang: str = "zh", page: Page | None = None) -> Page:
        """Sign in through the page's own form (a new browser unless ``page`` is given)."""
        page = page or self.browse(lang=lang)
        page.goto("/login")
        fill_sign_in(page, username)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def fill_sign_in(page: Page, username: str) -> None:
    """On the sign-in page: type the name and the demo password, and submit."""
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert "/login" not in page.url, f"{username} could not sign in: {page.url}"


@pytest.fixture
def people(browser: Browser, server: Server) -> Iterator[People]:
    crowd = People(browser, server)
    yield crowd
    crowd.close()
