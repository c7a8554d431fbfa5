"""The paying divisions (税收申报缴纳地财政分级负责): the policy package's fixed list.

An organisation's division, a budget's division and a plan item's division name one entry of
``package.policy.divisions`` by its Chinese name. A package that declares no list accepts any
non-blank name. Rows written before the list existed keep their text: :func:`unknown_in_use`
lists the names outside it, so the administrator can see (and correct) them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import Budget, Organisation
from huiqi.errors import Problem
from huiqi.fulfilment.roles import Role
from huiqi.policy import PolicyPackage
from huiqi.service.actors import Actor, require
from huiqi.service.uow import Services


def problem(package: PolicyPackage, value: str, field: str = "division") -> Problem | None:
    """Why ``value`` is not one of the package's paying divisions (None: it is)."""
    names = package.division_names
    if not value.strip():
        return Problem(
            field,
            value,
            "须填写税收申报缴纳地（县市区或园区）",
            "the tax-filing county or zone is needed",
        )
    if names and value not in names:
        return Problem(
            field,
            value,
            f"税收申报缴纳地“{value}”不在本政策的县市区（园区）名单中，可选：{'、'.join(names)}",
            f"tax-filing division {value!r} is not in this policy's list: {', '.join(names)}",
        )
    return None


def unknown_in_use(s: Session, package: PolicyPackage) -> dict[str, list[str]]:
    """Divisions held by organisations and budgets that are not in the package's list
    (free text from before the list): ``{name: ["organisation 91…", "budget 2024", …]}``."""
    names = set(package.division_names)
    if not names:
        return {}
    found: dict[str, list[str]] = {}
    for code, division in s.execute(
        select(Organisation.credit_code, Organisation.division).order_by(Organisation.id)
    ):
        if division not in names:
            found.setdefault(division, []).append(f"organisation {code}")
    for division, year in s.execute(
        select(Budget.division, Budget.award_year).order_by(Budget.division, Budget.award_year)
    ):
        if division not in names:
            found.setdefault(division, []).append(f"budget {year}")
    return found


def outside_the_list(svc: Services, actor: Actor) -> dict[str, list[str]]:
    """:func:`unknown_in_use` for the administrator and the bureaus' staff."""
    require(actor, Role.ADMIN, Role.COMMERCE_REVIEWER, Role.FINANCE_REVIEWER)
    with svc.reading() as s:
        return unknown_in_use(s, svc.package)
