"""Static checks of a loaded policy package: references, quotes, units and tiers.

Each check yields ``(file, clause, field, zh, en)``. The loader refuses a
package with any of them, so what runs is always what the reviewer can read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from huiqi.facts.model import ApplicantKind
from huiqi.facts.paths import ITEM_LISTS, fact_info, is_date, is_number
from huiqi.policy.model import (
    AmountKind,
    Cap,
    Clause,
    Condition,
    FactRef,
    Parameter,
    PolicyPackage,
    Switched,
    Tier,
    Unit,
)

Found = tuple[str, str | None, str, str, str]

_UNIT_OF_FACT = {
    "cny": Unit.CNY,
    "usd": Unit.USD,
    "m2": Unit.M2,
    "years": Unit.YEARS,
    "count": Unit.COUNT,
}


def normalise(text: str) -> str:
    """Whitespace-free text, so a quote matches across the source's line breaks."""
    return re.sub(r"\s+", "", text)


def _check_divisions(package: PolicyPackage) -> Iterator[Found]:
    """The paying finances: each id, code and name (Chinese, English) names one entry, and a
    name is stored as written, so it has no surrounding spaces."""
    seen: dict[tuple[str, str], int] = {}
    for i, division in enumerate(package.policy.divisions):
        for key in ("id", "code", "zh", "en"):
            value = getattr(division, key)
            if value is None:
                continue
            if value != value.strip():
                yield (
                    "policy.yaml",
                    None,
                    f"divisions[{i}].{key}",
                    f"县市区名称“{value}”前后有空格",
                    f"division {key} {value!r} has surrounding spaces",
                )
            first = seen.setdefault((key, value), i)
            if first != i:
                yield (
                    "policy.yaml",
                    None,
                    f"divisions[{i}].{key}",
                    f"县市区 {key}“{value}”与第 {first + 1} 项重复",
                    f"division {key} {value!r} repeats entry {first + 1}",
                )


def check_package(package: PolicyPackage) -> Iterator[Found]:
    source = normalise(package.source_text)
    policy = package.policy
    for where, quote in (
        ("scope.text", policy.scope.text),
        ("overlap.quote", policy.overlap.quote),
        ("validity.quote", policy.validity.quote),
    ):
        if normalise(quote) not in source:
            yield (
                "policy.yaml",
                None,
                where,
                "引文不在政策原文中",
                "quoted text not found in the source",
            )
    if policy.funding is not None and normalise(policy.funding.quote) not in source:
        yield (
            "policy.yaml",
            None,
            "funding.quote",
            "引文不在政策原文中",
            "quoted text not found in the source",
        )
    yield from _check_divisions(package)
    known_kinds = {k.value for k in ApplicantKind}
    for kind in policy.applicant_kinds:
        if kind not in known_kinds:
            yield (
                "policy.yaml",
                None,
                f"applicant_kinds.{kind}",
                f"输入格式中没有主体类型 {kind}（可选：{sorted(known_kinds)}）",
                f"the facts schema has no applicant kind {kind}: {sorted(known_kinds)}",
            )
    if policy.validity.first_award_year > policy.validity.last_award_year:
        yield (
            "policy.yaml",
            None,
            "validity",
            "首个奖补年度晚于最后一个",
            "first award year is after the last",
        )
    scope = _ClauseChecker(package, None, "policy.yaml", normalise(policy.scope.text))
    for i, cond in enumerate(policy.scope.conditions):
        yield from scope.condition(cond, f"scope.conditions.{i}")
    for name, param in package.parameters.items():
        yield from _parameter(param, "parameters/*.yaml", None, f"parameters.{name}", source)
    for clause in package.clauses.values():
        yield from _ClauseChecker(package, clause, f"clauses/{clause.id}.yaml", source).all()


def _parameter(
    param: Parameter, file: str, clause: str | None, field: str, text: str
) -> Iterator[Found]:
    if param.quote is not None and normalise(param.quote) not in text:
        yield (
            file,
            clause,
            f"{field}.quote",
            "引文不在条款原文中",
            "quote not found in the clause text",
        )
    for when, value in param.values.items():
        if value < 0:
            yield (
                file,
                clause,
                f"{field}.values.{when}",
                "参数值不能为负",
                "a value cannot be negative",
            )
        if param.unit is Unit.RATE and value > 1:
            yield (
                file,
                clause,
                f"{field}.values.{when}",
                "比例应在0到1之间（0.3即30%）",
                "a rate is between 0 and 1 (0.3 is 30%)",
            )
        if param.unit is Unit.CNY and value != value.quantize(Decimal("0.01")):
            yield (
                file,
                clause,
                f"{field}.values.{when}",
                "金额最多两位小数",
                "money has at most 2 decimals",
            )


class _ClauseChecker:
    def __init__(self, package: PolicyPackage, clause: Clause | None, file: str, text: str) -> None:
        self.package = package
        self.clause = clause
        self.file = file
        self.text = text
        self.cid = clause.id if clause else None
        self.item_list = clause.for_each if clause else None
        self.used: set[str] = set()

    def found(self, field: str, zh: str, en: str) -> Found:
        return (self.file, self.cid, field, zh, en)

    def all(self) -> Iterator[Found]:
        clause = self.clause
        assert clause is not None
        source = normalise(self.package.source_text)
        if normalise(clause.text) not in source:
            yield self.found(
                "text", "条款原文与政策原文不一致", "clause text does not occur in the source"
            )
        self.text = normalise(clause.text)
        if normalise(clause.applicants_quote) not in source:
            yield self.found(
                "applicants_quote",
                "申报主体的引文不在政策原文中",
                "the quote grounding the applicant kinds is not in the source",
            )
        for kind in clause.applicants:
            if kind not in self.package.policy.applicant_kinds:
                yield self.found(
                    "applicants", f"未知主体类型 {kind}", f"unknown applicant kind {kind}"
                )
        if clause.for_each is not None and clause.for_each not in ITEM_LISTS:
            yield self.found(
                "for_each",
                f"不能逐项评估 {clause.for_each}",
                f"cannot evaluate {clause.for_each} item by item; one of {ITEM_LISTS}",
            )
            return
        if clause.subject != "applicant":
            yield from self.path(clause.subject, "subject")
        for i, cond in enumerate(clause.where):
            yield from self.condition(cond, f"where.{i}")
        for i, cond in enumerate(clause.conditions):
            yield from self.condition(cond, f"conditions.{i}")
        if clause.tiers is not None:
            for i, tier in enumerate(clause.tiers):
                for j, cond in enumerate(tier.conditions):
                    yield from self.condition(cond, f"tiers.{i}.conditions.{j}")
                yield from self.amount(tier, f"tiers.{i}.amount")
            yield from check_tiers(clause, self.found, self.package)
        elif clause.amount is not None:
            yield from self.amount(clause, "amount")
        for i, cap in enumerate(clause.caps):
            yield from self.cap(cap, f"caps.{i}")
        for name, param in clause.parameters.items():
            yield from _parameter(param, self.file, self.cid, f"parameters.{name}", self.text)
            if name not in self.used:
                yield self.found(
                    f"parameters.{name}", "参数未被任何规则使用", "parameter is not used"
                )

    def param(self, name: str, field: str, units: tuple[Unit, ...]) -> Iterator[Found]:
        clause_params = self.clause.parameters if self.clause else {}
        param = clause_params.get(name) or self.package.parameters.get(name)
        if param is None:
            yield self.found(field, f"参数 {name} 不存在", f"parameter {name} is not defined")
            return
        self.used.add(name)
        if param.unit not in units:
            yield self.found(
                field,
                f"参数 {name} 的单位 {param.unit.value} 不适用",
                f"parameter {name} has unit {param.unit.value}, expected one of "
                f"{[u.value for u in units]}",
            )

    def switch(self, value: Switched, field: str) -> Iterator[Found]:
        spec = self.package.policy.switches.get(value.switch)
        if spec is None:
            yield self.found(
                field, f"开关 {value.switch} 不存在", f"switch {value.switch} is not defined"
            )
        elif set(value.cases) != set(spec.options):
            yield self.found(
                field,
                f"开关 {value.switch} 的取值应为 {sorted(spec.options)}",
                f"switch {value.switch} needs exactly the cases {sorted(spec.options)}",
            )

    def path(self, path: str, field: str) -> Iterator[Found]:
        try:
            fact_info(path, self.item_list)
        except KeyError as exc:
            yield self.found(
                field, f"事实字段不存在：{exc.args[0]}", f"no such fact: {exc.args[0]}"
            )

    def fact_paths(self, fact: FactRef, field: str) -> Iterator[str]:
        if isinstance(fact, Switched):
            for value in fact.cases.values():
                yield from self.fact_paths(value, field)
        elif isinstance(fact, list):
            yield from fact
        else:
            yield fact

    def condition(self, cond: Condition, field: str) -> Iterator[Found]:
        if cond.any is not None:
            for i, sub in enumerate(cond.any):
                yield from self.condition(sub, f"{field}.any.{i}")
            return
        assert cond.fact is not None and cond.quote is not None
        if normalise(cond.quote) not in self.text:
            yield self.found(
                f"{field}.quote", "引文不在条款原文中", "quote not found in the clause text"
            )
        if isinstance(cond.fact, Switched):
            yield from self.switch(cond.fact, f"{field}.fact")
        if isinstance(cond.for_kinds, Switched):
            yield from self.switch(cond.for_kinds, f"{field}.for_kinds")
            kinds_lists = list(cond.for_kinds.cases.values())
        else:
            kinds_lists = [cond.for_kinds] if cond.for_kinds is not None else []
        for kinds in kinds_lists:
            for kind in [] if kinds == "all" else kinds:
                if kind not in self.package.policy.applicant_kinds:
                    yield self.found(
                        f"{field}.for_kinds",
                        f"未知主体类型 {kind}",
                        f"unknown applicant kind {kind}",
                    )
        for path in self.fact_paths(cond.fact, field):
            problems = list(self.path(path, f"{field}.fact"))
            yield from problems
            if problems:
                continue
            info = fact_info(path, self.item_list)
            if cond.word is not None:
                if not is_number(info):
                    yield self.found(
                        f"{field}.fact",
                        f"{path} 不是数值，不能比较",
                        f"{path} is not a number and cannot be compared",
                    )
                elif cond.threshold is not None:
                    unit = _UNIT_OF_FACT.get(info.unit or "")
                    yield from self.param(
                        cond.threshold, f"{field}.threshold", (unit,) if unit else tuple(Unit)
                    )
            if cond.in_award_year and not is_date(info):
                yield self.found(f"{field}.fact", f"{path} 不是日期", f"{path} is not a date")
            if cond.in_ is not None and info.enum is not None:
                allowed = {m.value for m in info.enum}
                for value in cond.in_:
                    if value not in allowed:
                        yield self.found(
                            f"{field}.in",
                            f"{value} 不是 {path} 的可选值",
                            f"{value} is not a value of {path}: {sorted(allowed)}",
                        )
            if cond.is_ is not None and info.value_type is not bool:
                yield self.found(
                    f"{field}.fact", f"{path} 不是是/否字段", f"{path} is not a yes/no fact"
                )

    def amount(self, holder: Clause | Tier, field: str) -> Iterator[Found]:
        amount = holder.amount
        assert amount is not None
        if amount.fixed is not None:
            yield from self.param(amount.fixed, f"{field}.fixed", (Unit.CNY,))
        if amount.ceiling is not None:
            yield from self.param(amount.ceiling, f"{field}.ceiling", (Unit.CNY,))
        if amount.external is not None:
            yield from self.path(amount.external, f"{field}.external")
        for i, part in enumerate(amount.computed or []):
            where = f"{field}.computed.{i}"
            for rate in part.rate or []:
                if isinstance(rate, str):
                    yield from self.param(rate, f"{where}.rate", (Unit.RATE,))
                else:
                    yield from self.param(rate.param, f"{where}.rate", (Unit.RATE,))
                    yield from self.path(rate.at, f"{where}.rate.at")
            for path in part.of or []:
                yield from self.path(path, f"{where}.of")
            if part.unit_price is not None:
                yield from self.param(part.unit_price, f"{where}.unit_price", (Unit.CNY,))
            if part.quantity is not None:
                yield from self.path(part.quantity, f"{where}.quantity")
            if part.days is not None:
                yield from self.path(part.days.from_, f"{where}.days.from")
                yield from self.path(part.days.to, f"{where}.days.to")
                if isinstance(part.days.basis, Switched):
                    yield from self.switch(part.days.basis, f"{where}.days.basis")

    def cap(self, cap: Cap, field: str) -> Iterator[Found]:
        if normalise(cap.quote) not in self.text:
            yield self.found(
                f"{field}.quote", "引文不在条款原文中", "quote not found in the clause text"
            )
        if cap.param is not None:
            yield from self.param(cap.param, f"{field}.param", (Unit.CNY,))
        if cap.fact is not None:
            yield from self.path(cap.fact, f"{field}.fact")
        if self.clause is not None and self.clause.kind is AmountKind.DISCRETIONARY:
            yield self.found(
                field, "酌定类条款不设系统上限", "a discretionary clause takes no caps"
            )


def _bounds(tier: Tier) -> dict[str, tuple[str, bool]]:
    """A tier's lower bounds by fact: parameter name (or '0') and whether it is strict."""
    bounds = {}
    for cond in tier.conditions:
        if cond.word is not None and cond.fact is not None:
            key = repr(cond.fact)
            bounds[key] = (cond.threshold or "0", not cond.word.inclusive)
    return bounds


def check_tiers(
    clause: Clause, found: Any, package: PolicyPackage | None = None
) -> Iterator[Found]:
    """Tiers must bound the same facts, rise strictly in every bound and pay strictly more.

    Values are compared as in force on the latest date any of them takes effect; a
    parameter that does not exist is reported elsewhere and skipped here.
    """
    assert clause.tiers is not None
    shared = package.parameters if package is not None else {}

    def spec(name: str) -> Parameter | None:
        return clause.parameters.get(name) or shared.get(name)

    dates = [d for t in clause.tiers for n in _tier_params(t) if (p := spec(n)) for d in p.values]
    on = max(dates) if dates else None

    def value(name: str) -> Decimal | None:
        if name == "0":
            return Decimal(0)
        param = spec(name)
        if param is None or on is None:
            return None
        return (
            param.values[max(d for d in param.values if d <= on)]
            if any(d <= on for d in param.values)
            else None
        )

    previous: Tier | None = None
    for i, tier in enumerate(clause.tiers):
        field = f"tiers.{i}"
        for cond in tier.conditions:
            if cond.word is not None and not cond.word.lower_bound:
                yield found(
                    field,
                    "档次条件应为下限（以上、达到、超过等）",
                    "tier conditions are lower bounds (以上, 达到, 超过 …)",
                )
        if previous is not None:
            yield from _compare_tiers(previous, tier, field, value, found)
        previous = tier


def _tier_params(tier: Tier) -> list[str]:
    names = [c.threshold for c in tier.conditions if c.threshold]
    return names + [n for n in (tier.amount.fixed, tier.amount.ceiling) if n]


def _compare_tiers(
    low_tier: Tier, high_tier: Tier, field: str, value: Any, found: Any
) -> Iterator[Found]:
    low, high = _bounds(low_tier), _bounds(high_tier)
    if set(low) != set(high):
        yield found(
            field,
            "各档次应对同样的事实设下限，否则档次之间存在空档",
            "tiers must bound the same facts, or a band falls between them (gap)",
        )
    else:
        steps = []
        for key, (name, strict) in high.items():
            before, after = value(low[key][0]), value(name)
            if before is None or after is None:
                continue
            if after < before:
                yield found(
                    field,
                    "档次顺序错误：门槛低于前一档",
                    "tiers out of order: a threshold is below the previous tier's",
                )
            steps.append(after > before or (after == before and strict and not low[key][1]))
        if steps and not any(steps):
            yield found(
                field,
                "档次重叠：门槛与前一档相同",
                "tiers overlap: no threshold rises above the previous tier's",
            )
    before_amount, after_amount = _tier_amount(low_tier, value), _tier_amount(high_tier, value)
    if before_amount is not None and after_amount is not None and after_amount <= before_amount:
        yield found(
            f"{field}.amount",
            "高档次的金额应高于低档次",
            "a higher tier must pay more than the one below",
        )


def _tier_amount(tier: Tier, value: Any) -> Decimal | None:
    name = tier.amount.fixed or tier.amount.ceiling
    result: Decimal | None = value(name) if name is not None else None
    return result
