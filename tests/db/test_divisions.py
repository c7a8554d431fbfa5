"""The paying divisions are the policy package's fixed list (税收申报缴纳地财政分级负责).

An organisation's division and a budget's division are one of the package's names, or refused
with a bilingual problem naming the field, the value and the names allowed, and nothing is
written. Reports total by division in the list's order. Each package has its own list.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from huiqi.db.tables import Budget, Organisation
from huiqi.documents.report import load_report
from huiqi.facts.model import ApplicantKind
from huiqi.fulfilment.roles import Role
from huiqi.policy import PolicyPackage, load_package
from huiqi.service import divisions, imports, orgs, plans
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Invalid
from huiqi.service.uow import Services

from ..conftest import FIXTURES
from .conftest import ORG_A, Cast, Clock

NEW_ORG = "91431000MA4T3C6F8E"

#: Names outside Chenzhou's list: near spellings, the English name, another package's name.
OUTSIDE = ["北湖", "北湖区 x", "Beihu District", "郴州市", "示例东区", "长沙市岳麓区"]


def _check_refusal(refused: Invalid, value: str, names: list[str]) -> None:
    [problem] = [p for p in refused.problems if p.path == "division"]
    assert problem.value == value
    assert value in problem.zh and value in problem.en
    for name in names:  # the names allowed, in both languages' messages
        assert name in problem.zh and name in problem.en


@pytest.mark.parametrize("value", OUTSIDE)
def test_an_organisation_outside_the_list_is_refused_and_not_written(
    svc: Services, cast: Cast, value: str
) -> None:
    with svc.reading() as s:
        before = s.scalar(select(func.count()).select_from(Organisation))
    with pytest.raises(Invalid) as refused:
        orgs.add_org(
            svc, cast.admin, code=NEW_ORG, name="郴州丙公司", kind="cbec_enterprise", division=value
        )
    _check_refusal(refused.value, value, svc.package.division_names)
    with svc.reading() as s:
        assert s.scalar(select(func.count()).select_from(Organisation)) == before


@pytest.mark.parametrize("value", OUTSIDE)
def test_a_budget_outside_the_list_is_refused_and_not_written(
    svc: Services, cast: Cast, value: str
) -> None:
    with pytest.raises(Invalid) as refused:
        plans.set_budget(svc, cast.fang, division=value, year=2024, amount_fen=100)
    _check_refusal(refused.value, value, svc.package.division_names)
    with svc.reading() as s:
        assert s.scalars(select(Budget)).all() == []


def test_every_name_in_the_list_takes_a_budget_and_the_report_totals_in_the_lists_order(
    svc: Services, cast: Cast
) -> None:
    names = svc.package.division_names
    assert len(names) == len(set(names)) > 1
    # recorded in reverse order, each with a different figure
    for i, name in enumerate(reversed(names)):
        plans.set_budget(svc, cast.fang, division=name, year=2024, amount_fen=(i + 1) * 100)
    report = load_report(svc, cast.fang, 2024)
    assert [b.key for b in report.by_division] == names
    assert {b.key: b.budget_fen for b in report.by_division} == {
        name: (len(names) - i) * 100 for i, name in enumerate(names)
    }


def test_a_name_is_kept_without_its_surrounding_spaces(svc: Services, cast: Cast) -> None:
    view = orgs.add_org(
        svc, cast.admin, code=NEW_ORG, name="郴州丙公司", kind="park", division=" 郴州经开区 "
    )
    assert view.division == "郴州经开区"


def test_free_text_from_before_the_list_is_kept_and_listed(svc: Services, cast: Cast) -> None:
    with svc.transaction() as s:  # a row written before the package named its divisions
        s.add(
            Organisation(
                credit_code=NEW_ORG,
                name="旧数据公司",
                kind=ApplicantKind.CBEC_ENTERPRISE,
                division="北湖",
                platform_filed=False,
                platform_connected=False,
                created_at=svc.clock(),
            )
        )
    with svc.reading() as s:
        assert divisions.unknown_in_use(s, svc.package) == {"北湖": [f"organisation {NEW_ORG}"]}


@pytest.fixture
def mini_admin(engine: Engine, clock: Clock) -> tuple[Services, Actor]:
    svc = Services(engine=engine, package=load_package(FIXTURES / "mini_policy"), clock=clock)
    orgs.add_user(svc, None, username="admin", display_name="管理员", roles=[Role.ADMIN])
    with svc.reading() as s:
        admin = load_actor(s, "admin")
    orgs.add_user(svc, admin, username="fang", display_name="方", roles=[Role.FINANCE_REVIEWER])
    return svc, admin


def test_another_package_has_its_own_list(
    mini_admin: tuple[Services, Actor], chenzhou: PolicyPackage
) -> None:
    svc, admin = mini_admin
    assert svc.package.division_names == ["示例市本级", "示例东区", "示例西区"]
    assert not set(svc.package.division_names) & set(chenzhou.division_names)
    with pytest.raises(Invalid) as refused:
        orgs.add_org(svc, admin, code=NEW_ORG, name="甲", kind="cbec_enterprise", division="北湖区")
    _check_refusal(refused.value, "北湖区", svc.package.division_names)
    with svc.reading() as s:
        fang = load_actor(s, "fang")
    with pytest.raises(Invalid):
        plans.set_budget(svc, fang, division="北湖区", year=2025, amount_fen=1)
    view = orgs.add_org(
        svc, admin, code=NEW_ORG, name="甲", kind="cbec_enterprise", division="示例东区"
    )
    assert view.division == "示例东区"
    plans.set_budget(svc, fang, division="示例西区", year=2025, amount_fen=1)


PLATFORM_HEADER = ["统一社会信用代码", "年度", "税收申报缴纳地", "是否备案", "是否对接"]


@pytest.mark.parametrize(
    ("division", "refused"),
    [
        ("北湖区", None),  # the one company A is registered with
        ("苏仙区", "与该单位登记的税收申报缴纳地“北湖区”不一致"),
        ("北湖", "不在本政策的县市区（园区）名单中"),
    ],
)
def test_an_imported_tax_filing_division_is_checked_against_the_list_and_the_organisation(
    svc: Services, cast: Cast, division: str, refused: str | None
) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [PLATFORM_HEADER, [ORG_A, 2022, division, "是", "是"]]
    )
    report = imports.import_file(
        svc,
        cast.rui,
        data=out.getvalue().encode(),
        file_name="f.csv",
        kind="platform",
        dry_run=True,
    )
    if refused is None:
        assert report.ok and [a.row for a in report.accepted] == [2]
    else:
        [issue] = report.rejected
        assert (issue.row, issue.column, issue.value) == (2, "税收申报缴纳地", division)
        assert refused in issue.zh and "tax-filing division" in issue.en
