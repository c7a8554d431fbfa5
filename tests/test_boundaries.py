"""Every threshold of the bundled package, tested one step below, at and one step above.

The cases are generated from the package itself: each condition with a comparison
word (in clause 1's scope, in a clause's conditions or in a tier) becomes three
cases, or two when one step below the threshold would be negative (破零, 有).
A threshold added to a clause file tomorrow is tested here the day it is written.

What a word means is written down here by hand, from the Civil Code art. 1259 as
the interpretations page (part A) reads it — not taken from the engine:
以上、达到、（含） include the number; 超过 does not; 破零 and 有 mean more than zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from huiqi.engine import clause_sort_key, evaluate
from huiqi.engine.context import param_value
from huiqi.engine.explain import Node
from huiqi.engine.render import tree
from huiqi.facts.model import Facts
from huiqi.facts.paths import fact_info
from huiqi.policy.model import Clause, Condition, Switched
from huiqi.yamlio import read_data

from . import factgen
from .factgen import CENT, package

#: below / at / above → does the condition hold?  (interpretations A, by hand)
EXPECTED: dict[str, dict[str, bool]] = {
    "以上": {"below": False, "at": True, "above": True},
    "达到": {"below": False, "at": True, "above": True},
    "（含）": {"below": False, "at": True, "above": True},
    "超过": {"below": False, "at": False, "above": True},
    "破零": {"below": False, "at": False, "above": True},
    "有": {"below": False, "at": False, "above": True},
    "以下": {"below": True, "at": True, "above": False},
    "不满": {"below": True, "at": False, "above": False},
}

#: What the rendered zh line must say the word means (a fragment of it).
MEANING_ZH = {
    "以上": "含本数",
    "达到": "大于等于",
    "（含）": "含本数",
    "超过": "不含本数",
    "破零": "大于零",
    "有": "大于零",
    "以下": "含本数",
    "不满": "不含本数",
}

#: The comparison the rendered line must show.
OPERATOR = {
    "以上": "≥",
    "达到": "≥",
    "（含）": "≥",
    "超过": ">",
    "破零": ">",
    "有": ">",
    "以下": "≤",
    "不满": "<",
}

#: Words with no threshold of their own: the number is 0.
IMPLICIT_ZERO = {"破零", "有"}

_UNIT_ZH = {"usd": "美元", "cny": "元", "m2": "平方米", "years": "年", "count": ""}
_WORD_AFTER_NUMBER = {"以上", "（含）", "以下"}

SCOPE = "1"  # clause 1, the scope every clause shares


@dataclass(frozen=True)
class Site:
    """One word-condition and where it sits in the package."""

    clause_id: str  # "1" for the scope
    tier: int | None  # 1-based tier number, or None for the clause's own conditions
    cond: Condition

    @property
    def clause(self) -> Clause | None:
        return None if self.clause_id == SCOPE else package().clauses[self.clause_id]

    @property
    def paths(self) -> list[str]:
        assert self.cond.fact is not None
        return factgen.resolve(package(), self.cond.fact)

    @property
    def item_list(self) -> str | None:
        return self.clause.for_each if self.clause else None

    @property
    def unit(self) -> str:
        info = fact_info(self.paths[0], self.item_list)
        return "count" if info.value_type is int else info.unit or "number"

    @property
    def step(self) -> Decimal:
        return Decimal(1) if self.unit == "count" else CENT

    def threshold(self, year: int) -> Decimal | None:
        """The threshold in force on 31 December of the award year (None: not yet in force)."""
        assert self.cond.word is not None
        if self.cond.threshold is None:
            return Decimal(0)
        return factgen.value_on(package(), self.clause, self.cond.threshold, year)

    def kind(self) -> str:
        """An applicant kind the clause (and the condition) applies to."""
        pkg = package()
        kinds = self.clause.applicants if self.clause else list(pkg.policy.applicant_kinds)
        allowed: Any = self.cond.for_kinds
        if isinstance(allowed, Switched):
            allowed = allowed.cases[pkg.switch(allowed.switch)]
        return next(k for k in kinds if allowed in (None, "all") or k in allowed)


def _word_sites() -> Iterator[Site]:
    pkg = package()
    for cond in factgen.word_conditions(pkg.policy.scope.conditions):
        yield Site(SCOPE, None, cond)
    for clause_id in sorted(pkg.clauses, key=clause_sort_key):
        clause = pkg.clauses[clause_id]
        for cond in factgen.word_conditions(clause.conditions):
            yield Site(clause_id, None, cond)
        for n, tier in enumerate(clause.tiers or [], start=1):
            for cond in factgen.word_conditions(tier.conditions):
                yield Site(clause_id, n, cond)


def _number_zh(value: Decimal) -> str:
    """30000000 → 3000万, 100000000 → 1亿, 100 → 100 (for readable case ids)."""
    if value >= 100_000_000 and value % 100_000_000 == 0:
        return f"{value // 100_000_000}亿"
    if value >= 10_000 and value % 10_000 == 0:
        return f"{value // 10_000}万"
    return f"{value.normalize():f}"


def _phrase(site: Site) -> str:
    word = site.cond.word
    assert word is not None
    field = "+".join(p.rsplit(".", 1)[-1] for p in site.paths)
    if word.value in IMPLICIT_ZERO:
        return f"{word.value}({field})"
    first_year = factgen.award_years().start
    shown = f"{_number_zh(site.threshold(first_year) or Decimal(0))}{_UNIT_ZH.get(site.unit, '')}"
    phrase = f"{shown}{word.value}" if word.value in _WORD_AFTER_NUMBER else f"{word.value}{shown}"
    return phrase if site.unit != "count" else f"{phrase}({field})"


@dataclass(frozen=True)
class Case:
    site: Site
    position: str  # below / at / above

    @property
    def id(self) -> str:
        where = "scope" if self.site.clause_id == SCOPE else self.site.clause_id
        tier = f"-tier{self.site.tier}" if self.site.tier else ""
        return f"{where}{tier}-{_phrase(self.site)}-{self.position}"

    def value(self, year: int) -> Decimal | None:
        """The fact's value for this case in ``year`` (None: not testable that year)."""
        threshold = self.site.threshold(year)
        if threshold is None:
            return None
        value = threshold + {"below": -1, "at": 0, "above": 1}[self.position] * self.site.step
        return value if value >= 0 else None


SITES = list(_word_sites())
CASES = [
    case
    for site in SITES
    for case in (Case(site, p) for p in ("below", "at", "above"))
    if any(case.value(y) is not None for y in factgen.award_years())
]


def _typed(site: Site, value: Decimal) -> Any:
    if site.unit == "count":
        assert value == value.to_integral_value(), f"{site}: a count threshold must be whole"
        return int(value)
    return factgen.cents(value)


def build_facts(case: Case, year: int, value: Decimal) -> Facts:
    """An applicant-year whose condition fact equals ``value`` (summed facts: the rest 0)."""
    site = case.site
    clause = site.clause
    data = factgen.base_facts(site.kind(), year)
    item: dict[str, Any] | None = None
    if (
        clause is not None
        and clause.for_each is not None
        and any(p.startswith("item.") for p in site.paths)
    ):
        item = factgen.item_passing_where(clause, year)
        data[clause.for_each] = [item]
    for i, path in enumerate(site.paths):
        shown = _typed(site, value) if i == 0 else _typed(site, Decimal(0))
        if path.startswith("item."):
            assert item is not None
            item[path.removeprefix("item.")] = shown
        else:
            factgen.set_fact(data, path, shown, year)
    return Facts.model_validate(data)


def _walk_own(node: Node) -> Iterator[Node]:
    """The clause's explanation without the shared scope summary beneath it."""
    yield node
    for child in node.children:
        if child.key != "scope.summary":
            yield from _walk_own(child)


def comparison_node(case: Case, facts: Facts, year: int) -> Node:
    evaluation = evaluate(package(), facts, year)
    if case.site.clause_id == SCOPE:
        nodes = list(evaluation.scope.walk())
    else:
        nodes = list(_walk_own(evaluation.clause(case.site.clause_id).explanation))
    found = [
        n for n in nodes if n.key == "cond.compare" and n.args["quote"] == case.site.cond.quote
    ]
    assert len(found) == 1, f"{case.id}: {len(found)} comparisons quote {case.site.cond.quote!r}"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_threshold_is_met_as_its_comparison_word_reads(case: Case) -> None:
    word = case.site.cond.word
    assert word is not None
    expected = EXPECTED[word.value][case.position]
    tested = 0
    for year in factgen.award_years():
        value = case.value(year)
        if value is None:
            continue
        tested += 1
        node = comparison_node(case, build_facts(case, year, value), year)
        # The node compares the fact we set against the threshold in force that year.
        assert Decimal(node.args["value"]["num"]) == value, (case.id, year, node.args)
        assert Decimal(node.args["threshold"]["num"]) == case.site.threshold(year)
        assert node.ok is expected, f"{case.id} in {year}: {value} gave {node.ok}"
        line = tree(node, "zh")[0]
        assert ("✓ " if expected else "✗ ") in line
        assert f"“{word.value}”" in line and MEANING_ZH[word.value] in line, line
        assert f"要求 {OPERATOR[word.value]}" in line, line
        assert case.site.cond.quote is not None and case.site.cond.quote in line, line
        if word.value in ("以上", "达到", "（含）", "以下"):
            assert "不含" not in line, line
    assert tested, f"{case.id}: no award year has this threshold in force"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def _raw_word_conditions(data: Any) -> list[dict[str, Any]]:
    """Word-conditions found by walking the YAML files themselves (not the loaded model)."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        if "word" in data and "fact" in data:
            found.append(data)
        for key, value in data.items():
            if key not in ("where", "parameters"):
                found += _raw_word_conditions(value)
    elif isinstance(data, list):
        for value in data:
            found += _raw_word_conditions(value)
    return found


def test_every_word_condition_gets_three_cases_or_two_when_below_is_negative() -> None:
    root = Path(package().root)
    raw = _raw_word_conditions(read_data(root / "policy.yaml")["scope"])
    for path in sorted((root / "clauses").glob("*.yaml")):
        raw += _raw_word_conditions(read_data(path))
    assert len(raw) == len(SITES)
    # 破零/有 compare with 0, so one step below would be negative; every other
    # threshold is positive in every award year (checked here), so it gets three.
    for site in SITES:
        if site.cond.threshold is not None:
            for year in factgen.award_years():
                threshold = site.threshold(year)
                assert threshold is None or threshold >= site.step, site
    expected = sum(2 if c["word"] in IMPLICIT_ZERO else 3 for c in raw)
    assert len(CASES) == expected
    assert len(CASES) >= 60


def test_parameters_are_read_as_in_force_on_31_december_of_the_award_year() -> None:
    # A threshold raised mid-year applies to that whole award year: the boundary
    # value is whatever is in force on 31 December (context.param_value).
    spec = package().clauses["4.3"].parameters["min_turnover"]
    changed = spec.model_copy(
        update={"values": {**spec.values, date(2023, 7, 1): Decimal(6_000_000)}}
    )
    assert param_value(changed, date(2022, 12, 31)) == Decimal(5_000_000)
    assert param_value(changed, date(2023, 12, 31)) == Decimal(6_000_000)
