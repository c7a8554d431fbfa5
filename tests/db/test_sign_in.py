"""Signing in on both databases: the lock-out per user and address, the slowdown per user,
password changes and disabled users ending every session and token, the last administrator,
and what a "no such organisation" answer tells someone outside the staff."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from huiqi.credit_code import complete
from huiqi.db.engine import make_engine
from huiqi.db.migrate import upgrade
from huiqi.db.tables import AuditEntry
from huiqi.fulfilment.roles import Role
from huiqi.policy import PolicyPackage
from huiqi.service import applications, auth, orgs, registry, users
from huiqi.service.actors import Actor, load_actor
from huiqi.service.auth import NotSignedIn, TooManyAttempts
from huiqi.service.errors import Conflict, NotFound
from huiqi.service.uow import Services

from .conftest import ORG_A, Cast, Clock
from .test_workflow import FACTS

PASSWORD = "correct horse battery"
WRONG = "not the password"
DESK = "10.0.0.1"  # the clerk's own address
ATTACKER = "203.0.113.9"


@pytest.fixture
def clerk(svc: Services, cast: Cast) -> Actor:
    """rui, the commerce reviewer, with a password."""
    auth.set_password(svc, cast.admin, "rui", PASSWORD)
    return cast.rui


def fail(svc: Services, username: str, address: str) -> type[Exception]:
    """One attempt with a wrong password; what it was refused with."""
    with pytest.raises((NotSignedIn, TooManyAttempts)) as refused:
        auth.login(svc, username, WRONG, address)
    return refused.type


# -- lock-out per user and address, slowdown per user ---------------------------------------


def test_five_wrong_passwords_from_one_address_do_not_lock_the_user_out_from_another(
    svc: Services, clerk: Actor
) -> None:
    assert [fail(svc, "rui", ATTACKER) for _ in range(6)] == [NotSignedIn] * 5 + [TooManyAttempts]
    signed = auth.login(svc, "rui", PASSWORD, DESK)
    assert signed.actor.username == "rui"


def test_the_right_password_from_a_locked_address_is_refused_until_the_window_passes(
    svc: Services, clerk: Actor, clock: Clock
) -> None:
    for _ in range(5):
        fail(svc, "rui", ATTACKER)
    with pytest.raises(TooManyAttempts):
        auth.login(svc, "rui", PASSWORD, ATTACKER)
    clock.advance(minutes=14)
    with pytest.raises(TooManyAttempts):
        auth.login(svc, "rui", PASSWORD, ATTACKER)
    clock.advance(minutes=1, seconds=1)
    assert auth.login(svc, "rui", PASSWORD, ATTACKER).actor.username == "rui"


def test_the_clerks_own_sign_in_does_not_lift_the_lock_on_the_attackers_address(
    svc: Services, clerk: Actor
) -> None:
    for _ in range(5):
        fail(svc, "rui", ATTACKER)
    auth.login(svc, "rui", PASSWORD, DESK)
    with pytest.raises(TooManyAttempts):
        auth.login(svc, "rui", PASSWORD, ATTACKER)


def test_failures_from_many_addresses_slow_the_user_down_but_never_a_clean_address(
    svc: Services, clerk: Actor, clock: Clock
) -> None:
    botnet = [f"198.51.100.{n}" for n in range(1, 8)]
    for address in botnet[:5]:  # five failures of rui's, one from each address
        assert fail(svc, "rui", address) is NotSignedIn
    assert auth.slowdown(5).total_seconds() == 1
    # An address that failed for rui must now wait before trying rui again …
    with pytest.raises(TooManyAttempts) as held:
        auth.login(svc, "rui", WRONG, botnet[0])
    assert "1 秒" in held.value.zh and "1 seconds" in held.value.en
    clock.advance(seconds=1)
    assert fail(svc, "rui", botnet[0]) is NotSignedIn  # its wait was over: the sixth failure
    # … and the wait grows with rui's failures: 2 s after the sixth.
    clock.advance(seconds=1)
    assert fail(svc, "rui", botnet[0]) is TooManyAttempts
    clock.advance(seconds=1)
    assert fail(svc, "rui", botnet[0]) is NotSignedIn
    # Addresses that never failed for rui are not held: a new one tries at once, and the
    # clerk at a clean desk signs in with the right password.
    assert fail(svc, "rui", botnet[6]) is NotSignedIn
    assert auth.login(svc, "rui", PASSWORD, DESK).actor.username == "rui"
    # Other users are not slowed down by rui's failures, even from the same addresses.
    with pytest.raises(NotSignedIn):
        auth.login(svc, "dai", WRONG, botnet[0])


def test_the_slowdown_grows_to_a_ceiling() -> None:
    waits = [auth.slowdown(n).total_seconds() for n in range(3, 16)]
    assert waits[:2] == [0, 0] and waits[2:6] == [1, 2, 4, 8]
    assert waits == sorted(waits) and waits[-1] == auth.SLOWDOWN_MAX.total_seconds()
    assert auth.slowdown(10_000) == auth.SLOWDOWN_MAX


def test_simultaneous_wrong_passwords_from_one_address_get_no_more_than_five_checks(
    svc: Services, clerk: Actor
) -> None:
    """Each attempt is counted before its (slow) hash is checked, one at a time per user."""
    outcomes = _at_once(*[lambda: auth.login(svc, "rui", WRONG, ATTACKER)] * 7)
    assert sorted(outcomes) == ["NotSignedIn"] * 5 + ["TooManyAttempts"] * 2


def test_the_password_is_checked_outside_any_write_transaction(
    tmp_path: Path, chenzhou: PolicyPackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: while Argon2 runs, another writer can take the database's write lock."""
    path = tmp_path / "huiqi.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    svc = Services(engine=engine, package=chenzhou)
    orgs.add_user(
        svc,
        None,
        username="admin",
        display_name="管理员",
        roles=[Role.ADMIN],
        password_hash=auth.hash_password(PASSWORD),
    )
    writable: list[bool] = []
    real = auth._hasher

    class Probe:
        def verify(self, stored: str, password: str) -> bool:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                writable.append(True)
            except sqlite3.OperationalError:
                writable.append(False)
            finally:
                other.close()
            return real.verify(stored, password)

    monkeypatch.setattr(auth, "_hasher", Probe())
    auth.login(svc, "admin", PASSWORD, DESK)
    with pytest.raises(NotSignedIn):
        auth.login(svc, "admin", WRONG, DESK)
    engine.dispose()
    assert writable == [True, True]


# -- a password change ends every session and token ------------------------------------------


def test_after_a_password_change_old_sessions_and_tokens_are_refused_and_mint_nothing(
    svc: Services, cast: Cast, clerk: Actor
) -> None:
    signed = auth.login(svc, "rui", PASSWORD, DESK)
    _, secret = auth.create_token(svc, signed.actor, "脚本")
    assert auth.session(svc, signed.token) is not None
    assert auth.token_actor(svc, secret) is not None

    auth.set_password(svc, cast.admin, "rui", "a brand new password")

    assert auth.session(svc, signed.token) is None
    assert auth.token_actor(svc, secret) is None  # so POST /tokens with it gets 401
    assert [t.revoked for t in auth.list_tokens(svc, cast.admin, "rui")] == [True]
    with pytest.raises(NotSignedIn):
        auth.login(svc, "rui", PASSWORD, DESK)
    assert auth.login(svc, "rui", "a brand new password", DESK).actor.username == "rui"
    with svc.reading() as s:
        recorded = s.scalars(
            select(AuditEntry.after)
            .where(AuditEntry.action == "user.set_password")
            .order_by(AuditEntry.seq)
        ).all()
    assert recorded[-1] == {"sessions_ended": 1, "tokens_revoked": 1}


# -- disabled users ---------------------------------------------------------------------------


def test_a_disabled_user_loses_sessions_tokens_and_sign_in_at_once_and_enabling_restores_sign_in(
    svc: Services, cast: Cast, clerk: Actor
) -> None:
    signed = auth.login(svc, "rui", PASSWORD, DESK)
    _, secret = auth.create_token(svc, signed.actor, "脚本")

    view = users.disable_user(svc, cast.admin, "rui")

    assert not view.active and view.disabled_by == "admin" and view.disabled_at
    assert auth.session(svc, signed.token) is None
    assert auth.token_actor(svc, secret) is None
    with pytest.raises(NotSignedIn) as refused:
        auth.login(svc, "rui", PASSWORD, DESK)
    assert refused.value.zh == "用户名或密码错误"  # the same as a wrong password
    with pytest.raises(NotFound):
        load_actor_of(svc, "rui")
    with pytest.raises(NotSignedIn):
        auth.create_token(svc, signed.actor, "又一个")  # a stale actor mints nothing

    enabled = users.enable_user(svc, cast.admin, "rui")
    assert enabled.active and enabled.disabled_at is None
    assert auth.login(svc, "rui", PASSWORD, DESK).actor.username == "rui"
    assert auth.token_actor(svc, secret) is None  # old tokens stay revoked
    with svc.reading() as s:
        actions = [
            e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.object_type == "user"))
        ]
    assert "user.disable" in actions and "user.enable" in actions


def load_actor_of(svc: Services, username: str) -> Actor:
    with svc.reading() as s:
        return load_actor(s, username)


def test_only_an_administrator_disables_or_enables_users(svc: Services, cast: Cast) -> None:
    for actor in (cast.rui, cast.shen, cast.alice):
        with pytest.raises(Exception) as refused:
            users.disable_user(svc, actor, "bob")
        assert getattr(refused.value, "status", None) == 403
    assert load_actor_of(svc, "bob").username == "bob"


def test_the_last_active_administrator_cannot_be_disabled(svc: Services, cast: Cast) -> None:
    with pytest.raises(Conflict):
        users.disable_user(svc, cast.admin, "admin")
    with pytest.raises(Conflict):
        users.disable_user(svc, None, "admin")  # not from the server's command line either
    orgs.add_user(svc, cast.admin, username="admin2", display_name="管理员二", roles=[Role.ADMIN])
    users.disable_user(svc, cast.admin, "admin2")
    with pytest.raises(Conflict):
        users.disable_user(svc, cast.admin, "admin")
    users.enable_user(svc, cast.admin, "admin2")
    admin2 = load_actor_of(svc, "admin2")
    users.disable_user(svc, admin2, "admin")
    admins = {u.username: u.active for u in users.list_users(svc, admin2) if "admin" in u.roles}
    assert admins == {"admin": False, "admin2": True}
    with pytest.raises(Conflict):
        users.disable_user(svc, admin2, "admin2")


def test_two_administrators_disabling_each_other_at_once_leave_one_active(
    svc: Services, cast: Cast
) -> None:
    orgs.add_user(svc, cast.admin, username="admin2", display_name="管理员二", roles=[Role.ADMIN])
    admin2 = load_actor_of(svc, "admin2")
    for _ in range(3):
        outcomes = _at_once(
            lambda: users.disable_user(svc, cast.admin, "admin2"),
            lambda: users.disable_user(svc, admin2, "admin"),
        )
        assert sorted(outcomes) == ["Conflict", "done"]
        with svc.reading() as s:
            active = [u for u in ("admin", "admin2") if _active(s, u)]
        assert len(active) == 1
        users.enable_user(svc, None, "admin" if active == ["admin2"] else "admin2")


def _at_once(*calls: Callable[[], object]) -> list[str]:
    """Run the calls in threads released together; "done" or the name of what each raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
            outcomes.append("done")
        except Exception as exc:  # reported, never hidden
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _active(s: Any, username: str) -> bool:
    from huiqi.db.tables import User

    return bool(s.scalar(select(User.active).where(User.username == username)))


# -- tokens as the administrator lists them ---------------------------------------------------


def test_the_token_list_names_every_token_of_the_user_but_never_a_secret(
    svc: Services, cast: Cast
) -> None:
    _, kept_secret = auth.create_token(svc, cast.alice, "记账脚本")
    dropped, dropped_secret = auth.create_token(svc, cast.alice, "旧脚本")
    auth.revoke_token(svc, cast.alice, dropped.id)
    auth.create_token(svc, cast.bob, "bob 的脚本")

    listed = auth.list_tokens(svc, cast.admin, "alice")

    assert [(t.name, t.revoked) for t in listed] == [("记账脚本", False), ("旧脚本", True)]
    assert listed[1].revoked_at is not None and listed[0].created_at.startswith("2023-03-01")
    shown = repr(listed)
    for secret in (kept_secret, dropped_secret):
        assert secret not in shown and auth._digest(secret) not in shown
    with pytest.raises(Exception) as refused:
        auth.list_tokens(svc, cast.alice, "alice")
    assert getattr(refused.value, "status", None) == 403


# -- what "no such organisation" tells someone outside the staff ----------------------------

UNREGISTERED = complete("91431000MA4T99999")


def _refusal(call: Any) -> tuple[int, str, str]:
    with pytest.raises(NotFound) as refused:
        call()
    return refused.value.status, refused.value.zh, refused.value.en


def test_an_applicant_learns_nothing_about_which_credit_codes_are_registered(
    svc: Services, cast: Cast
) -> None:
    charlie = cast.charlie  # of company B, asking about A (registered) and a code nobody has

    def draft(code: str) -> Any:
        facts = {**FACTS, "applicant": {**FACTS["applicant"], "credit_code": code}}
        return lambda: applications.create_draft(
            svc, charlie, org_code=code, year=2022, clauses=["7.1"], facts=facts
        )

    assert _refusal(draft(ORG_A)) == _refusal(draft(UNREGISTERED))
    for lookup in (registry.recognitions_of, registry.listings_of):
        registered = _refusal(partial(lookup, svc, charlie, ORG_A))
        unregistered = _refusal(partial(lookup, svc, charlie, UNREGISTERED))
        assert registered == unregistered, lookup.__name__
        assert UNREGISTERED not in unregistered[1] + unregistered[2]


def test_staff_are_told_that_a_credit_code_is_not_registered(svc: Services, cast: Cast) -> None:
    _, zh, en = _refusal(lambda: registry.listings_of(svc, cast.rui, UNREGISTERED))
    assert UNREGISTERED in zh and "未登记" in zh and UNREGISTERED in en
    on = date(2022, 6, 1)
    _, zh, _ = _refusal(lambda: registry.recognitions_of(svc, cast.rui, UNREGISTERED, on=on))
    assert "未登记" in zh
