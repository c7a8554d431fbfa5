"""What browsers, scanners and reverse proxies expect of the service (issue 17.2–17.4):
security headers on every answer, HSTS and Secure cookies when the deployment says HTTPS,
request ids, forwarded addresses believed only from trusted proxies, readiness, a favicon."""

from __future__ import annotations

import json
import logging
import logging.config
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from huiqi.config import Settings
from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.service.uow import Services
from huiqi.web.app import create_app
from huiqi.web.logs import JsonFormatter, RequestIdFilter, log_config, request_id

from .conftest import API, Web

TEMPLATES = Path(__file__).parents[2] / "src" / "huiqi" / "web" / "templates"
#: Pages and API answers of every kind: a page, an error page, JSON, a problem, a file.
PATHS = ["/", "/calculator", "/login", "/no-such-page", f"{API}/health", f"{API}/clauses",
         f"{API}/applications", "/static/huiqi.css", "/favicon.ico"]  # fmt: skip


def _app(web: Web, **settings: object) -> TestClient:
    changed = web.settings.model_copy(update=settings)
    return TestClient(create_app(changed, services=web.svc), client=("192.0.2.10", 40000))


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(web: Web, path: str) -> None:
    response = web.client.get(path)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # plain HTTP, HTTPS not declared
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_the_pages_need_no_inline_script_or_style_so_the_policy_holds() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template.name


def test_https_deployments_get_hsts_and_secure_cookies(web: Web) -> None:
    client = _app(web, https=True)
    page = client.get("/login")
    assert page.headers["strict-transport-security"].startswith("max-age=")
    cookies = page.headers.get_list("set-cookie")
    assert cookies and all("secure" in c.lower() for c in cookies), cookies
    plain = _app(web).get("/login")
    assert all("secure" not in c.lower() for c in plain.headers.get_list("set-cookie"))


def test_a_request_id_is_kept_when_well_formed_and_made_otherwise(web: Web) -> None:
    kept = web.client.get(f"{API}/health", headers={"X-Request-ID": "edge-7f3a9c01"})
    assert kept.headers["x-request-id"] == "edge-7f3a9c01"
    for bad in ("short", "a b c d e f g h", "x" * 65, "<script>alert(1)</script>"):
        made = web.client.get(f"{API}/health", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_log_lines_name_their_request_as_text_or_json() -> None:
    record = logging.LogRecord("huiqi", logging.INFO, __file__, 1, "申报 %s 已提交", (7,), None)
    token = request_id.set("edge-7f3a9c01")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "edge-7f3a9c01" and line["message"] == "申报 7 已提交"
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")
    config = log_config("json")
    logging.config.dictConfig(config)  # a valid configuration for uvicorn and huiqi
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["default"]
    with pytest.raises(ValueError):
        Settings(log_format="xml")


def test_forwarded_addresses_are_believed_only_from_a_trusted_proxy(web: Web) -> None:
    """The anonymous rate limit counts per client: behind a trusted proxy each forwarded
    client has its own count; a peer that is not trusted cannot pick its address."""
    facts = {**web.world.facts(), "award_year": 2025}
    trusted = _app(web, trusted_proxies="192.0.2.0/24", anonymous_evaluate_rate="1/minute")
    for client in ("203.0.113.9", "203.0.113.10"):
        answer = trusted.post(f"{API}/evaluate", json=facts, headers={"X-Forwarded-For": client})
        assert answer.status_code == 200, answer.text
    again = trusted.post(f"{API}/evaluate", json=facts, headers={"X-Forwarded-For": "203.0.113.9"})
    assert again.status_code == 429
    untrusted = _app(web, trusted_proxies="198.51.100.1", anonymous_evaluate_rate="1/minute")
    first = untrusted.post(
        f"{API}/evaluate", json=facts, headers={"X-Forwarded-For": "203.0.113.1"}
    )
    assert first.status_code == 200
    spoofed = untrusted.post(
        f"{API}/evaluate", json=facts, headers={"X-Forwarded-For": "203.0.113.2"}
    )
    assert spoofed.status_code == 429  # the same peer, whatever it claims
    with pytest.raises(ValueError):
        Settings(trusted_proxies="nginx.internal")


def test_readiness_says_whether_the_database_answers_and_is_migrated(
    web: Web, tmp_path: Path
) -> None:
    ready = web.client.get(f"{API}/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = make_engine(url)
    upgrade(old, "0009")
    behind = Services(engine=old, package=web.svc.package, clock=web.svc.clock)
    client = TestClient(create_app(Settings(database_url=url, data_dir=tmp_path), services=behind))
    answer = client.get(f"{API}/ready")
    assert answer.status_code == 503
    assert answer.json()["migration"] == "0009" and answer.json()["ready"] is False
    old.dispose()


def test_the_favicon_is_served_not_missing(web: Web) -> None:
    icon = web.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    assert 'rel="icon"' in web.client.get("/").text
