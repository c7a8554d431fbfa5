"""Sessions, CSRF, cookies, bearer tokens and sign-in throttling, as browsers and scripts meet
them."""

from __future__ import annotations

import hashlib
import statistics
import time
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import text

from huiqi.credit_code import complete
from huiqi.service import auth

from .conftest import API, PASSWORD, PDF, Web, facts_of

SESSION = "huiqi_session"


def session_cookie(response: httpx.Response) -> SimpleCookie:
    """The huiqi_session Set-Cookie of a response, parsed (with its attributes)."""
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if SESSION in cookie:
            return cookie
    raise AssertionError(f"no {SESSION} cookie set: {response.headers}")


def set_cookie_header(response: httpx.Response) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION + "="))


def login(web: Web, client: httpx.Client | None = None, user: str = "alice") -> httpx.Response:
    return (client or web.client).post(
        f"{API}/auth/login", json={"username": user, "password": PASSWORD}
    )


def draft_facts(web: Web, costs: str) -> dict[str, object]:
    return {"facts": web.world.facts(staff_training={"costs_cny": costs})}


def audited_costs(web: Web) -> list[str]:
    """The training costs each change of the draft recorded, oldest first (read as rui)."""
    rows = web.client.get(
        f"{API}/audit",
        params={"object_type": "application", "object_id": str(web.world.draft_app)},
        headers=web.bearer("rui"),
    ).json()
    return [
        r["after"]["facts"]["staff_training"]["costs_cny"]
        for r in rows
        if r["action"] == "application.update"
    ]


# -- CSRF -------------------------------------------------------------------------------------


def test_a_cookie_session_cannot_change_anything_without_its_csrf_token(web: Web) -> None:
    login(web)
    url = f"{API}/applications/{web.world.draft_app}"
    refused = web.client.patch(url, json=draft_facts(web, "11111"))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "CSRF" in refused.json()["en"]
    assert audited_costs(web) == []  # nothing was changed


def test_a_cookie_session_with_a_wrong_csrf_token_is_refused(web: Web) -> None:
    csrf = web.login(web.client, "alice")
    url = f"{API}/applications/{web.world.draft_app}"
    for wrong in ("x", csrf[:-1], csrf + "x", csrf.upper() if csrf != csrf.upper() else "y"):
        response = web.client.patch(
            url, json=draft_facts(web, "22222"), headers={"X-CSRF-Token": wrong}
        )
        assert response.status_code == 403, wrong
    assert audited_costs(web) == []


def test_another_sessions_csrf_token_does_not_work_for_mine(web: Web) -> None:
    other = web.client_for()
    charlies = web.login(other, "charlie")
    web.login(web.client, "alice")
    response = web.client.patch(
        f"{API}/applications/{web.world.draft_app}",
        json=draft_facts(web, "33333"),
        headers={"X-CSRF-Token": charlies},
    )
    assert response.status_code == 403


def test_a_cookie_session_with_the_right_csrf_token_may_change_its_own_draft(web: Web) -> None:
    csrf = web.login(web.client, "alice")
    response = web.client.patch(
        f"{API}/applications/{web.world.draft_app}",
        json=draft_facts(web, "44444"),
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    assert audited_costs(web) == ["44444"]


def test_a_form_may_carry_the_csrf_token_as_a_field_instead_of_a_header(web: Web) -> None:
    csrf = web.login(web.client, "alice")
    url = f"{API}/applications/{web.world.draft_app}/attachments"
    file = {"file": ("a.pdf", PDF, "application/pdf")}
    assert web.client.post(url, files=file, data={"csrf_token": "wrong"}).status_code == 403
    assert web.client.post(url, files=file).status_code == 403
    accepted = web.client.post(url, files=file, data={"csrf_token": csrf})
    assert accepted.status_code == 201, accepted.text


def test_reading_with_a_cookie_session_needs_no_csrf_token(web: Web) -> None:
    login(web)
    assert web.client.get(f"{API}/applications/{web.world.draft_app}").status_code == 200


def test_signing_out_a_cookie_session_needs_its_csrf_token(web: Web) -> None:
    """Otherwise any site could sign the user out."""
    csrf = web.login(web.client, "alice")
    assert web.client.post(f"{API}/auth/logout").status_code == 403
    assert web.client.get(f"{API}/auth/me").status_code == 200  # still signed in
    assert web.client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204


def test_bearer_tokens_need_no_csrf_token(web: Web) -> None:
    response = web.client.patch(
        f"{API}/applications/{web.world.draft_app}",
        json=draft_facts(web, "55555"),
        headers=web.bearer("alice"),
    )
    assert response.status_code == 200, response.text
    assert audited_costs(web) == ["55555"]


def test_who_am_i_tells_a_cookie_session_its_csrf_token_and_a_bearer_client_none(web: Web) -> None:
    csrf = web.login(web.client, "alice")
    assert web.client.get(f"{API}/auth/me").json()["csrf_token"] == csrf
    fresh = web.client_for()
    me = fresh.get(f"{API}/auth/me", headers=web.bearer("alice")).json()
    assert me["username"] == "alice" and me["csrf_token"] is None


# -- session fixation and sign-out -------------------------------------------------------------


def test_a_session_cookie_planted_before_sign_in_is_replaced_and_never_signed_in(web: Web) -> None:
    planted = "attacker-chosen-session-value"
    web.client.cookies.set(SESSION, planted)
    assert web.client.get(f"{API}/auth/me").status_code == 401
    response = login(web)
    assert response.status_code == 200
    issued = session_cookie(response)[SESSION].value
    assert issued != planted and len(issued) >= 32
    attacker = web.client_for()
    attacker.cookies.set(SESSION, planted)
    assert attacker.get(f"{API}/auth/me").status_code == 401


def test_signing_in_again_issues_a_new_session_and_never_upgrades_the_old_one(web: Web) -> None:
    first = session_cookie(login(web, user="charlie"))[SESSION].value
    second = session_cookie(login(web, user="alice"))[SESSION].value
    assert first != second
    replay = web.client_for()
    replay.cookies.set(SESSION, first)
    me = replay.get(f"{API}/auth/me")
    assert me.status_code == 401 or me.json()["username"] == "charlie"


def test_sign_out_ends_the_session_on_the_server_so_a_replayed_cookie_gets_401(web: Web) -> None:
    response = login(web)
    cookie = session_cookie(response)[SESSION].value
    csrf = response.json()["csrf_token"]
    out = web.client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    cleared = session_cookie(out)[SESSION]
    assert cleared.value == "" or cleared["max-age"] == "0"
    replay = web.client_for()
    replay.cookies.set(SESSION, cookie)
    assert replay.get(f"{API}/auth/me").status_code == 401
    assert replay.get(f"{API}/applications").status_code == 401


def test_sessions_and_tokens_are_stored_only_as_hashes(web: Web) -> None:
    cookie = session_cookie(login(web))[SESSION].value
    secret = web.world.tokens["alice"]
    with web.svc.engine.connect() as conn:
        sessions = conn.execute(text("SELECT * FROM web_sessions")).all()
        tokens = conn.execute(text("SELECT * FROM api_tokens")).all()
    stored = repr(sessions) + repr(tokens)
    assert sessions and tokens
    assert cookie not in stored and secret not in stored


# -- cookie attributes ---------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_same_site_lax_and_not_secure_over_http(web: Web) -> None:
    response = login(web)
    cookie = session_cookie(response)[SESSION]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    assert "secure" not in set_cookie_header(response).lower().replace(" ", "").split(";")


def test_the_session_cookie_is_secure_when_served_over_https(web: Web) -> None:
    client = web.client_for(base_url="https://testserver")
    response = login(web, client)
    cookie = session_cookie(response)[SESSION]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax"
    assert client.get(f"{API}/auth/me").json()["username"] == "alice"


def test_every_response_tells_browsers_not_to_sniff_or_frame_it(web: Web) -> None:
    for response in (
        web.client.get(f"{API}/health"),
        web.client.get(f"{API}/applications"),
        web.client.get(f"{API}/applications/1", headers=web.bearer("alice")),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


# -- bearer tokens -------------------------------------------------------------------------------


def create_token(web: Web, user: str) -> tuple[int, str]:
    response = web.client.post(f"{API}/tokens", json={"name": "脚本"}, headers=web.bearer(user))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("hq_")
    return int(body["id"]), str(body["token"])


def test_a_new_token_acts_as_its_owner_until_revoked_then_gets_401(web: Web) -> None:
    token_id, secret = create_token(web, "alice")
    me = web.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["username"] == "alice"
    revoked = web.client.delete(f"{API}/tokens/{token_id}", headers=web.bearer("alice"))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    refused = web.client.get(f"{API}/applications", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_a_token_revoked_with_itself_stops_working_at_once(web: Web) -> None:
    token_id, secret = create_token(web, "alice")
    headers = {"Authorization": f"Bearer {secret}"}
    assert web.client.delete(f"{API}/tokens/{token_id}", headers=headers).status_code == 200
    assert web.client.get(f"{API}/auth/me", headers=headers).status_code == 401


def test_another_user_cannot_revoke_my_token_and_learns_nothing(web: Web) -> None:
    token_id, secret = create_token(web, "alice")
    for user in ("charlie", "rui", "shen"):
        response = web.client.delete(f"{API}/tokens/{token_id}", headers=web.bearer(user))
        assert response.status_code == 404, user
    missing = web.client.delete(f"{API}/tokens/999999", headers=web.bearer("charlie"))
    assert missing.status_code == 404
    assert (
        missing.json()["zh"]
        == web.client.delete(f"{API}/tokens/{token_id}", headers=web.bearer("charlie")).json()["zh"]
    )
    me = web.client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200  # still valid


def test_an_unknown_bearer_token_is_401_even_with_a_valid_session_cookie(web: Web) -> None:
    login(web)
    response = web.client.get(f"{API}/auth/me", headers={"Authorization": "Bearer hq_forged"})
    assert response.status_code == 401


# -- sign-in throttling and what a failure reveals -----------------------------------------------


def test_five_wrong_passwords_lock_that_address_out_for_that_user_only(web: Web) -> None:
    for _ in range(5):
        wrong = web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
        assert wrong.status_code == 401
    locked = login(web)
    assert locked.status_code == 429  # the right password too, from this address
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert SESSION not in locked.headers.get("set-cookie", "")
    assert login(web, user="charlie").status_code == 200  # others sign in as before
    elsewhere = web.client_for(client=("10.20.30.40", 50000))
    assert login(web, elsewhere).status_code == 200  # so an attacker cannot lock a clerk out
    assert login(web).status_code == 429  # … nor does her sign-in unlock the attacker's address
    web.clock.advance(minutes=16)
    assert login(web).status_code == 200  # the window has passed


def test_failures_from_many_addresses_slow_the_user_down_but_not_a_clean_address(
    web: Web,
) -> None:
    attackers = [web.client_for(client=(f"198.51.100.{n}", 40000)) for n in range(1, 6)]
    for attacker in attackers:
        wrong = attacker.post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
        assert wrong.status_code == 401
    again = attackers[0].post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
    assert again.status_code == 429
    assert "秒后再试" in again.json()["zh"]
    web.clock.advance(seconds=1)
    later = attackers[0].post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
    assert later.status_code == 401  # slowed down, not locked out
    assert login(web).status_code == 200  # the clerk's own desk never failed: not held


def test_four_wrong_passwords_still_let_the_right_one_in(web: Web) -> None:
    for _ in range(4):
        web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
    assert login(web).status_code == 200


def test_thirty_failures_from_one_address_lock_that_address_out_only(web: Web) -> None:
    for i in range(30):
        response = web.client.post(
            f"{API}/auth/login", json={"username": f"guess{i}", "password": "x"}
        )
        assert response.status_code == 401
    assert login(web, user="charlie").status_code == 429  # no failures of charlie's own
    elsewhere = web.client_for(client=("10.20.30.40", 50000))
    assert login(web, elsewhere, user="charlie").status_code == 200


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(web: Web) -> None:
    wrong = web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "nope"})
    unknown = web.client.post(
        f"{API}/auth/login", json={"username": "nobody-here", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")
    for _ in range(5):
        web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "nope"})
        web.client.post(f"{API}/auth/login", json={"username": "nobody-here", "password": "nope"})
    locked = web.client.post(f"{API}/auth/login", json={"username": "alice", "password": "x"})
    locked_unknown = web.client.post(
        f"{API}/auth/login", json={"username": "nobody-here", "password": "x"}
    )
    assert locked.status_code == locked_unknown.status_code == 429
    assert locked.json() == locked_unknown.json()


def test_a_wrong_password_and_an_unknown_user_take_about_as_long(web: Web) -> None:
    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            web.client.post(f"{API}/auth/login", json={"username": username, "password": "x"})
            times.append(time.perf_counter() - started)
        return min(times)

    known = statistics.fmean(fastest(u) for u in ("rui", "dai"))
    unknown = statistics.fmean(fastest(u) for u in ("nobody1", "nobody2"))
    assert unknown > 0.4 * known, (
        f"unknown user {unknown * 1000:.1f} ms, known {known * 1000:.1f} ms"
    )


# -- what another organisation learns -----------------------------------------------------------


def test_reading_another_organisations_application_is_a_404_like_a_missing_one(web: Web) -> None:
    for path in (
        f"/applications/{web.world.draft_app}",
        f"/applications/{web.world.draft_app}/attachments",
        f"/attachments/{web.world.attachment}",
    ):
        theirs = web.client.get(API + path, headers=web.bearer("charlie"))
        assert theirs.status_code == 404, path


@pytest.mark.parametrize(
    ("theirs", "missing"),
    [
        ("/applications/{w.draft_app}", "/applications/999999"),
        ("/attachments/{w.attachment}", "/attachments/999999"),
    ],
    ids=["application", "attachment"],
)
def test_reading_another_organisations_record_says_the_same_as_for_a_missing_one(
    web: Web, theirs: str, missing: str
) -> None:
    answers = [
        web.client.get(API + p.format(w=web.world), headers=web.bearer("charlie")).json()
        for p in (theirs, missing)
    ]
    assert answers[0]["zh"] == answers[1]["zh"] and answers[0]["en"] == answers[1]["en"]


def test_changing_another_organisations_application_answers_as_if_it_did_not_exist(
    web: Web,
) -> None:
    """A 403 for theirs beside a 404 for a missing one would tell which ids exist."""
    w = web.world
    for method, theirs, missing, kwargs in (
        ("PATCH", f"/applications/{w.draft_app}", "/applications/999999", {"json": {"facts": {}}}),
        ("POST", f"/applications/{w.draft_app}/submit", "/applications/999999/submit", {}),
        ("POST", f"/applications/{w.returned_app}/resubmit", "/applications/999999/resubmit", {}),
        (
            "POST",
            f"/applications/{w.draft_app}/attachments",
            "/applications/999999/attachments",
            {"files": {"file": ("a.pdf", PDF, "application/pdf")}},
        ),
    ):
        answers = [
            web.client.request(method, API + p, headers=web.bearer("charlie"), **kwargs)
            for p in (theirs, missing)
        ]
        assert answers[0].status_code == answers[1].status_code == 404, theirs


# -- password changes and disabled users end every session and token --------------------------


def test_after_a_password_change_an_old_session_and_token_are_refused_and_mint_nothing(
    web: Web,
) -> None:
    csrf = web.login(web.client, "alice")
    auth.set_password(web.svc, None, "alice", "a brand new password")
    assert web.client.get(f"{API}/auth/me").status_code == 401
    minted = web.client.post(f"{API}/tokens", json={"name": "新"}, headers=web.bearer("alice"))
    assert minted.status_code == 401
    by_cookie = web.client.post(
        f"{API}/tokens", json={"name": "新"}, headers={"X-CSRF-Token": csrf}
    )
    assert by_cookie.status_code == 401
    assert login(web).status_code == 401  # the old password is gone too


def test_a_disabled_user_is_signed_out_everywhere_at_once_and_enabling_restores_sign_in(
    web_any: Web,
) -> None:
    web = web_any
    web.login(web.client, "alice")
    admin = web.bearer("admin")
    disabled = web.client.post(f"{API}/users/alice/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False and disabled.json()["disabled_by"] == "admin"
    assert web.client.get(f"{API}/auth/me").status_code == 401  # the cookie session
    assert web.client.get(f"{API}/auth/me", headers=web.bearer("alice")).status_code == 401
    refused = login(web, web.client_for())
    wrong = web.client.post(f"{API}/auth/login", json={"username": "bob", "password": "nope"})
    assert refused.status_code == 401 and refused.json() == wrong.json()
    listed = {
        u["username"]: u["active"] for u in web.client.get(f"{API}/users", headers=admin).json()
    }
    assert listed["alice"] is False and listed["charlie"] is True

    assert web.client.post(f"{API}/users/alice/enable", headers=admin).status_code == 200
    assert login(web, web.client_for()).status_code == 200
    assert web.client.get(f"{API}/auth/me", headers=web.bearer("alice")).status_code == 401


def test_the_last_administrator_cannot_disable_itself(web: Web) -> None:
    response = web.client.post(f"{API}/users/admin/disable", headers=web.bearer("admin"))
    assert response.status_code == 409
    assert "最后一位" in response.json()["zh"]
    assert web.client.get(f"{API}/auth/me", headers=web.bearer("admin")).status_code == 200


def test_the_administrator_lists_a_users_tokens_but_never_their_secrets(web: Web) -> None:
    token_id, secret = create_token(web, "alice")
    response = web.client.get(f"{API}/users/alice/tokens", headers=web.bearer("admin"))
    assert response.status_code == 200
    listed = response.json()
    assert {t["name"] for t in listed} >= {"tests", "to be revoked", "脚本"}
    assert {"id", "name", "created_at", "revoked", "revoked_at"} == set(listed[0])
    for known in (secret, web.world.tokens["alice"]):
        assert known not in response.text
        assert hashlib.sha256(known.encode()).hexdigest() not in response.text
    assert any(t["id"] == token_id and not t["revoked"] for t in listed)


# -- what "no such organisation" tells an applicant ---------------------------------------------


def test_an_applicant_gets_the_same_answer_for_a_registered_and_an_unregistered_credit_code(
    web: Web,
) -> None:
    unregistered = complete("91431000MA4T99999")

    def draft(code: str) -> httpx.Response:
        body = {
            "org_code": code,
            "award_year": 2025,
            "clauses": ["7.1"],
            "facts": facts_of(code, "某公司", {"staff_training": {"costs_cny": "5000"}}),
        }
        response: httpx.Response = web.client.post(
            f"{API}/applications", json=body, headers=web.bearer("charlie")
        )
        return response

    theirs, nobodys = draft(web.world.org_a_code), draft(unregistered)
    assert theirs.status_code == nobodys.status_code == 404
    assert (theirs.json()["zh"], theirs.json()["en"]) == (
        nobodys.json()["zh"],
        nobodys.json()["en"],
    )
    assert unregistered not in nobodys.text
