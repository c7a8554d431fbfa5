"""What one evaluation reads: facts by path, parameters by date, switches, the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

from huiqi.engine.explain import Node, qty, text
from huiqi.errors import MISSING, InputError, Problem
from huiqi.facts.model import EarlierAward, Facts, OtherPolicyAward
from huiqi.facts.paths import fact_info
from huiqi.policy.model import Clause, FactRef, Parameter, PolicyPackage, Switched

#: The parameters of an award year are those in force on its last day.
Value = Fraction | bool | str | date | None


def param_value(param: Parameter, on: date) -> Decimal | None:
    """The value in force on ``on``: the last one dated on or before it (None: none yet, or
    the parameter has ended)."""
    if param.ends is not None and param.ends <= on:
        return None
    best: date | None = None
    for when in param.values:
        if when <= on and (best is None or when > best):
            best = when
    return None if best is None else param.values[best]


class NoValueError(InputError):
    """A dated parameter with no value on the date asked: none yet (an LPR before 2019-08-20)
    or none any more (``ended``: the date a ``null`` value ended it)."""

    def __init__(
        self, name: str, when: date, label: dict[str, str], ended: date | None = None
    ) -> None:
        zh, en = (
            (f"参数 {name} 在 {when} 尚无生效值", f"parameter {name} has no value on {when}")
            if ended is None
            else (f"参数 {name} 自 {ended} 起停止适用", f"parameter {name} ended on {ended}")
        )
        super().__init__([Problem(f"parameter {name}", MISSING, zh, en)])
        self.name, self.when, self.label, self.ended = name, when, label, ended


@lru_cache(maxsize=1024)
def exact_param(value: Decimal) -> Fraction:
    """A parameter's value as an exact Fraction. Parameters are few, so each is converted once;
    facts are never cached: every applicant's numbers are converted afresh."""
    return Fraction(value)


@cache
def _label(paths: tuple[str, ...], item_list: str | None) -> dict[str, str]:
    infos = [fact_info(p, item_list) for p in paths]
    return text("＋".join(i.zh for i in infos), " + ".join(i.en for i in infos))


@cache
def _steps(path: str) -> tuple[bool, tuple[str, ...]]:
    """A fact path as (read from the item?, attribute names): ``item.area_m2`` → (True,
    ("area_m2",)), ``trade.export_usd`` → (False, ("trade", "export_usd"))."""
    parts = tuple(path.split("."))
    return (True, parts[1:]) if parts[0] == "item" else (False, parts)


@cache
def _cny_path(usd_path: str, item_list: str | None) -> str | None:
    """The CNY fact a USD fact falls back to (``trade.export_usd`` → ``trade.export_cny``),
    or None when the path is not in USD or the facts have no such CNY field."""
    if not usd_path.endswith("_usd"):
        return None
    cny_path = usd_path[: -len("_usd")] + "_cny"
    try:
        fact_info(cny_path, item_list)
    except KeyError:
        return None
    return cny_path


@dataclass
class Context:
    package: PolicyPackage
    facts: Facts
    year: int
    clause: Clause | None = None
    switches_used: set[str] = field(default_factory=set)
    #: 31 December of the award year: the parameters of a year are those in force on that day.
    reference_date: date = field(init=False)

    def __post_init__(self) -> None:
        self.reference_date = date(self.year, 12, 31)

    @property
    def applicant_code(self) -> str:
        return self.facts.applicant.credit_code

    # -- parameters and switches -------------------------------------------------
    def param(self, name: str, on: date | None = None) -> Decimal:
        spec = self.param_spec(name)
        when = on or self.reference_date
        value = param_value(spec, when)
        if value is None:
            raise NoValueError(name, when, spec.label.both, spec.ended_on(when))
        return value

    def param_spec(self, name: str) -> Parameter:
        if self.clause is not None and name in self.clause.parameters:
            return self.clause.parameters[name]
        return self.package.parameters[name]

    def switch(self, value: Switched) -> Any:
        self.switches_used.add(value.switch)
        return value.cases[self.package.switch(value.switch)]

    def switch_named(self, name: str) -> str:
        self.switches_used.add(name)
        return self.package.switch(name)

    # -- facts -------------------------------------------------------------------
    def raw(self, path: str, item: Any = None) -> Any:
        on_item, steps = _steps(path)
        obj: Any = item if on_item else self.facts
        for step in steps:
            if obj is None:
                return None
            obj = getattr(obj, step)
        return obj

    def number(self, path: str, item: Any = None) -> tuple[Fraction | None, list[Node]]:
        """A numeric fact as an exact Fraction; USD falls back to CNY at the year's rate."""
        value = self.raw(path, item)
        if value is not None:
            return Fraction(value), []
        cny_path = _cny_path(path, self.clause.for_each if self.clause else None)
        cny = None if cny_path is None else self.raw(cny_path, item)
        if cny is None:
            return None, []
        rate = self.param("usd_cny")
        usd = Fraction(cny) / exact_param(rate)
        note = Node(
            "fact.converted",
            {
                "cny": qty(cny, "cny"),
                "rate": qty(rate, "cny_per_usd"),
                "usd": qty(usd, "usd"),
                "year": self.year,
            },
        )
        return usd, [note]

    def total(self, fact: FactRef, item: Any = None) -> tuple[Fraction | None, list[Node]]:
        """A fact, a sum of facts (None only when every part is missing) or a switched one."""
        if isinstance(fact, Switched):
            return self.total(self.switch(fact), item)
        if isinstance(fact, str):
            return self.number(fact, item)
        values: list[Fraction] = []
        notes: list[Node] = []
        for path in fact:
            value, note = self.number(path, item)
            notes += note
            if value is not None:
                values.append(value)
        return (sum(values, Fraction(0)) if values else None), notes

    def label(self, fact: FactRef) -> dict[str, str]:
        if isinstance(fact, Switched):
            return self.label(fact.cases[self.package.switch(fact.switch)])
        paths = (fact,) if isinstance(fact, str) else tuple(fact)
        return _label(paths, self.clause.for_each if self.clause else None)

    def unit(self, fact: FactRef) -> str | None:
        if isinstance(fact, Switched):
            return self.unit(fact.cases[self.package.switch(fact.switch)])
        path = fact if isinstance(fact, str) else fact[0]
        return fact_info(path, self.clause.for_each if self.clause else None).unit

    # -- the ledger and other policies --------------------------------------------
    def earlier(self, clause_id: str, subject: str | None, same_year: bool) -> list[EarlierAward]:
        code = self.applicant_code
        return [
            award
            for award in self.facts.earlier_awards
            if award.clause == clause_id
            and (subject is None or (award.subject_id or code) == subject)
            and (not same_year or award.award_year == self.year)
        ]

    def other_awards(
        self, clause_id: str, subjects: set[str], any_year: bool
    ) -> list[OtherPolicyAward]:
        """Another policy's awards for these subjects of the clause: of the award year, or of
        any year for a one-time subject (``any_year``, interpretations E)."""
        code = self.applicant_code
        return [
            award
            for award in self.facts.other_policy_awards
            if award.clause == clause_id
            and (any_year or award.award_year == self.year)
            and (award.subject_id or code) in subjects
        ]
