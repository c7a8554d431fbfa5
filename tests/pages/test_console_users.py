"""The administrator's users page: every user listed, disable and enable with a plain form
(CSRF as every other form), refusals shown on the page; nobody else may open it."""

from __future__ import annotations

import re

from huiqi.service import auth, demo
from tests.pages.conftest import Site


def row(html: str, username: str) -> str:
    found = re.search(rf'<tr id="user-{re.escape(username)}">(.*?)</tr>', html, re.S)
    assert found is not None, username
    return found.group(1)


def test_the_administrator_sees_every_user_and_a_link_from_the_console(site: Site):
    admin = site.visitor("admin")
    assert 'href="/console/users"' in admin.get("/console").text
    page = admin.get("/console/users")
    assert page.status_code == 200
    for username in ("admin", "rui", "alice", "charlie"):
        assert "在用" in row(page.text, username)
    assert 'name="csrf_token"' in row(page.text, "alice")


def test_disabling_a_user_ends_its_session_at_once_and_enabling_lets_it_sign_in_again(
    site: Site,
):
    alice = site.visitor("alice")
    assert alice.get("/portal").status_code == 200
    admin = site.visitor("admin")

    done = admin.post("/console/users/alice/disable")
    assert done.status_code == 303 and done.headers["location"] == "/console/users?msg=done"
    page = admin.get("/console/users")
    assert "已停用" in row(page.text, "alice") and "启用" in row(page.text, "alice")
    assert alice.get("/portal").status_code == 303  # sent to sign in: the session is over

    assert admin.post("/console/users/alice/enable").status_code == 303
    assert "在用" in row(admin.get("/console/users").text, "alice")
    assert auth.login(site.svc, "alice", demo.DEMO_PASSWORD, "testclient").actor.username


def test_the_last_administrator_disabling_itself_is_refused_on_the_page(site: Site):
    page = site.visitor("admin").post("/console/users/admin/disable")
    assert page.status_code == 409
    assert "不能停用最后一位在用的管理员" in page.text
    assert site.visitor("admin").get("/console/users").status_code == 200


def test_a_disable_posted_without_the_csrf_token_changes_nothing(site: Site):
    admin = site.visitor("admin")
    admin.csrf = ""
    assert admin.post("/console/users/alice/disable").status_code == 403
    assert "在用" in row(site.visitor("admin").get("/console/users").text, "alice")


def test_only_the_administrator_may_open_the_users_page_or_disable_anyone(site: Site):
    for username in ("rui", "shen"):
        visitor = site.visitor(username)
        assert visitor.get("/console/users").status_code == 403
        assert visitor.post("/console/users/alice/disable").status_code == 403
    assert site.visitor("alice").get("/console/users").status_code == 403
    assert site.visitor().get("/console/users").status_code == 303  # sign in first
    assert "在用" in row(site.visitor("admin").get("/console/users").text, "alice")


def test_the_users_page_reads_in_english(site: Site):
    page = site.visitor("admin", lang="en").get("/console/users")
    assert page.status_code == 200
    assert "Disable" in page.text and "Active" in page.text and "停用" not in page.text
