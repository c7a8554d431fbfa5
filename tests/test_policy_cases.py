"""Runs every policy package's own test cases (``<package>/tests/*.yaml``).

The cases are data in the policy's terms; this file only feeds them to the
engine and compares. A failure names the file and the case.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from huiqi.engine import evaluate
from huiqi.engine.render import explain_clause
from huiqi.errors import InputError
from huiqi.facts import parse_facts
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package
from huiqi.policy.cases import Case, load_cases, yuan

from .conftest import FIXTURES

PACKAGES = [DEFAULT_POLICY, *sorted(p.parent for p in FIXTURES.glob("*/policy.yaml"))]
CASES = [case for root in PACKAGES for case in load_cases(root)]


@cache
def package(root: Path) -> PolicyPackage:
    return load_package(root)


def test_every_package_has_cases() -> None:
    for root in PACKAGES:
        assert load_cases(root), f"{root} has no test cases"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.package_root.name}:{c.id}" for c in CASES])
def test_policy_case(case: Case) -> None:
    pkg = package(case.package_root).with_switches(case.switches)
    if case.error is not None:
        with pytest.raises(InputError) as raised:
            evaluate(pkg, parse_facts(case.facts), case.year)
        text = " ".join(p.zh + " " + p.en + " " + p.path for p in raised.value.problems)
        assert case.error in text
        return
    result = evaluate(pkg, parse_facts(case.facts), case.year).clause(case.clause)
    expect = case.expect
    if "eligible" in expect:
        assert result.eligible is expect["eligible"], "\n".join(explain_clause(result))
    if "amount" in expect:
        wanted = None if expect["amount"] is None else yuan(expect["amount"])
        assert result.amount_fen == wanted, "\n".join(explain_clause(result))
    if "tier" in expect:
        assert result.tier == expect["tier"]
    if "kind" in expect:
        assert result.kind.value == expect["kind"]
    for subject, amount in expect.get("items", {}).items():
        item = next(i for i in result.items if i.subject == str(subject))
        if amount is False:
            assert not item.eligible
        else:
            assert item.amount_fen == yuan(amount), "\n".join(explain_clause(result))
    for lang, key in (("zh", "explains"), ("en", "explains_en")):
        text = "\n".join(explain_clause(result, lang))
        for fragment in expect.get(key, []):
            assert fragment in text, f"{fragment!r} not in:\n{text}"
