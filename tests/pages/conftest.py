"""Page fixtures: the demo in a SQLite file, copied for each test, and visitors signed in as anyone.

The demo (two award years, work in every state, the 2025 plan under public notice) is loaded
once per test session into a template file; each test gets its own copy, so a test may
submit, upload or correct without any other test seeing it. A :class:`Visitor` is a browser
without JavaScript: a cookie jar, a language, and — once signed in — the session's CSRF token,
which :meth:`Visitor.post` adds to every form as the pages' own forms do.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from huiqi.config import Settings
from huiqi.db.engine import make_engine
from huiqi.policy import PolicyPackage
from huiqi.service import auth, demo
from huiqi.service.bootstrap import build_services
from huiqi.service.uow import Services
from huiqi.web.app import create_app
from huiqi.web.deps import SESSION_COOKIE
from huiqi.web.pages.common import LANG_COOKIE

#: The demo's "today" (a Monday): its 2025 plan is under public notice all week.
TODAY = date(2026, 3, 2)
#: Every request of a test happens at this instant.
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DemoTemplate:
    path: Path
    ids: dict[str, int]
    package: PolicyPackage


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    root = tmp_path_factory.mktemp("pages_demo")
    path = root / "demo.sqlite3"
    svc = build_services(Settings(database_url=f"sqlite:///{path}", data_dir=root / "data"))
    ids = demo.load(svc, TODAY)
    svc.engine.dispose()  # the last connection closes: the WAL is folded into the file
    return DemoTemplate(path, ids, svc.package)


@dataclass
class Visitor:
    """One browser: its cookies, and the CSRF token of its session once signed in."""

    client: TestClient
    csrf: str = ""

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.client.get(url, follow_redirects=False, **kwargs)
        return response

    def post(
        self, url: str, data: dict[str, Any] | list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Post a form as a page would: with the session's CSRF token, redirects not followed."""
        fields: list[tuple[str, str]] = (
            list(data.items()) if isinstance(data, dict) else [*(data or [])]
        )
        if self.csrf:
            fields.append(("csrf_token", self.csrf))
        response: httpx.Response = self.client.post(
            url, data=_pairs(fields), follow_redirects=False, **kwargs
        )
        return response


def _pairs(fields: list[tuple[str, Any]]) -> dict[str, Any]:
    """httpx takes repeated form fields as lists: ``[("a", 1), ("a", 2)]`` → ``{"a": [1, 2]}``."""
    data: dict[str, Any] = {}
    for name, value in fields:
        if name in data:
            data[name] = (
                [*data[name], value] if isinstance(data[name], list) else [data[name], value]
            )
        else:
            data[name] = value
    return data


@dataclass
class Site:
    """The demo served in-process; ``visitor()`` opens a new browser, signed in or not."""

    app: FastAPI
    svc: Services
    settings: Settings
    ids: dict[str, int]

    def visitor(self, username: str | None = None, lang: str = "zh") -> Visitor:
        client = TestClient(self.app)
        client.cookies.set(LANG_COOKIE, lang)
        if username is None:
            return Visitor(client)
        signed = auth.login(self.svc, username, demo.DEMO_PASSWORD, "testclient")
        client.cookies.set(SESSION_COOKIE, signed.token)
        return Visitor(client, signed.csrf_token)


@pytest.fixture
def site(demo_template: DemoTemplate, tmp_path: Path) -> Iterator[Site]:
    """A private copy of the demo for one test."""
    path = tmp_path / "demo.sqlite3"
    shutil.copyfile(demo_template.path, path)
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=tmp_path / "data")
    svc = Services(engine=make_engine(settings.database_url), package=demo_template.package)
    svc.clock = lambda: NOW
    yield Site(create_app(settings, svc), svc, settings, dict(demo_template.ids))
    svc.engine.dispose()
