"""A policy package, as one award year reads it, compiled into Polars expressions.

Everything the single-case engine reads through its ``Context`` — facts by path,
parameters in force on 31 December, switches, the USD rate, the LPR on a loan's
drawdown date — becomes an expression over columns, with the year's numbers as
literals. Numbers stay exact: a fact is an integer numerator over a known denominator
(hundredths for money, areas and years), thresholds and rates are ``Fraction`` s, and a
comparison or a rounding multiplies integers out instead of dividing. Where a product
could pass 2**62 for the largest value actually present, it is done in Int128.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from math import lcm
from typing import Any

import polars as pl

from huiqi.engine.context import param_value
from huiqi.errors import InputError, Problem
from huiqi.facts.paths import fact_info
from huiqi.policy.model import (
    Amount,
    Clause,
    Component,
    Condition,
    FactRef,
    OnDate,
    Parameter,
    PolicyPackage,
    Switched,
    Word,
)
from huiqi.simulate.schema import SCALE

SAFE = 2**62
ROW_KIND = "applicant.kind"


@dataclass(frozen=True)
class Exact:
    """An exact non-negative value ``num / den``; ``num`` is null when the fact is missing."""

    num: pl.Expr
    den: int
    bound: int  # the largest |num| the data can give

    def scaled(self, factor: int) -> Exact:
        return Exact(times(self.num, factor, self.bound), self.den * factor, self.bound * factor)


def times(expr: pl.Expr, factor: int, bound: int) -> pl.Expr:
    """``expr * factor``, widened to Int128 when ``bound * factor`` could overflow Int64."""
    if factor == 1:
        return expr
    if bound * abs(factor) >= SAFE:
        return expr.cast(pl.Int128) * pl.lit(factor, pl.Int128)
    return expr * factor


def round_half_up(num: pl.Expr, den: int, bound: int) -> pl.Expr:
    """Non-negative ``num / den`` to the nearest integer, halves up: ``(2n + d) // 2d``."""
    if den == 1:
        return num.cast(pl.Int64)
    return ((times(num, 2, bound) + den) // (2 * den)).cast(pl.Int64)


@dataclass
class YearRules:
    """One award year's view of a package: what ``Context`` gives the single-case engine."""

    package: PolicyPackage
    year: int
    #: The largest value of each numeric column (``section.field`` or ``list.field``).
    maxima: Mapping[str, int]
    clause: Clause | None = None
    #: Row-level columns read while compiling item expressions (gathered into item tables).
    row_paths: set[str] = field(default_factory=set)
    #: Sums and conversions of applicant-level facts, computed once and shared by clauses.
    shared: dict[str, pl.Expr] = field(default_factory=dict)

    @property
    def reference_date(self) -> date:
        return date(self.year, 12, 31)

    def spec(self, name: str) -> Parameter:
        if self.clause is not None and name in self.clause.parameters:
            return self.clause.parameters[name]
        return self.package.parameters[name]

    def param(self, name: str, on: date | None = None) -> Fraction | None:
        value = param_value(self.spec(name), on or self.reference_date)
        return None if value is None else Fraction(value)

    def need(self, name: str) -> Fraction:
        """A parameter the clause cannot do without (a threshold, a cap, the USD rate)."""
        value = self.param(name)
        if value is None:
            where = self.clause.id if self.clause else "policy"
            raise InputError(
                [
                    Problem(
                        f"{where}.{name}",
                        None,
                        f"参数 {name} 在 {self.reference_date} 尚无生效值",
                        f"parameter {name} has no value on {self.reference_date}",
                    )
                ]
            )
        return value

    def switch(self, value: Switched) -> Any:
        return value.cases[self.package.switch(value.switch)]

    # -- facts ----------------------------------------------------------------------
    def col(self, path: str) -> pl.Expr:
        if not path.startswith("item."):
            self.row_paths.add(path)
        return pl.col(path)

    def _max(self, path: str, fallback: int) -> int:
        key = path
        if path.startswith("item.") and self.clause is not None and self.clause.for_each:
            key = f"{self.clause.for_each}.{path.removeprefix('item.')}"
        return max(self.maxima.get(key, fallback), 1)

    def info_list(self) -> str | None:
        return self.clause.for_each if self.clause else None

    def number(self, path: str) -> Exact | None:
        """A numeric fact; a missing USD figure falls back to CNY at the year's rate."""
        info = fact_info(path, self.info_list())
        den = SCALE if info.value_type is not int else 1
        value = Exact(self.col(path), den, self._max(path, 10**15))
        if not path.endswith("_usd"):
            return value
        twin = path[: -len("_usd")] + "_cny"
        try:
            fact_info(twin, self.info_list())
        except KeyError:
            return value
        rate = self.need("usd_cny")
        # usd = cny / rate: both as numerators over 100 × rate.numerator
        cny = self.col(twin)
        cny_bound = self._max(twin, 10**15)
        num = pl.coalesce(
            times(value.num, rate.numerator, value.bound),
            times(cny, rate.denominator, cny_bound),
        )
        bound = max(value.bound * rate.numerator, cny_bound * rate.denominator)
        return Exact(num, SCALE * rate.numerator, bound)

    def total(self, fact: FactRef) -> Exact | None:
        """A fact, or a sum of facts that is missing only when every part is."""
        if isinstance(fact, Switched):
            return self.total(self.switch(fact))
        paths = [fact] if isinstance(fact, str) else list(fact)
        if len(paths) == 1 and not paths[0].endswith("_usd"):
            return self.number(paths[0])
        parts = [p for p in (self.number(path) for path in paths) if p is not None]
        if not parts:
            return None
        den = lcm(*(p.den for p in parts))
        scaled = [p.scaled(den // p.den) for p in parts]
        if len(scaled) == 1:
            value = scaled[0]
        else:
            present = pl.any_horizontal(p.num.is_not_null() for p in scaled)
            total = pl.sum_horizontal(p.num.fill_null(0) for p in scaled)
            value = Exact(pl.when(present).then(total), den, sum(p.bound for p in scaled))
        if any(p.startswith("item.") for p in paths):
            return value
        # an applicant-level sum or conversion: computed once, read by every clause using it
        name = "__total|" + "+".join(paths)
        self.shared[name] = value.num.alias(name)
        return Exact(self.col(name), value.den, value.bound)

    def raw_fen(self, path: str) -> tuple[pl.Expr, int]:
        """``yuan_to_fen(raw or 0)``: a money fact in fen, missing as 0."""
        info = fact_info(path, self.info_list())
        if info.value_type is int:
            return self.col(path).fill_null(0) * SCALE, self._max(path, 10**12) * SCALE
        return self.col(path).fill_null(0), self._max(path, 10**15)


# --- conditions ---------------------------------------------------------------------------

_COMPARE = {
    Word.YISHANG: "ge",
    Word.DADAO: "ge",
    Word.HAN: "ge",
    Word.CHAOGUO: "gt",
    Word.POLING: "gt",
    Word.YOU: "gt",
    Word.YIXIA: "le",
    Word.BUMAN: "lt",
}


def applies(rules: YearRules, cond: Condition) -> pl.Expr | None:
    """Rows a condition applies to (``for_kinds``); None: every row."""
    kinds: Any = cond.for_kinds
    if kinds is None:
        return None
    if isinstance(kinds, Switched):
        kinds = rules.switch(kinds)
    if kinds == "all":
        return None
    return rules.col(ROW_KIND).is_in(list(kinds))


def conditions(rules: YearRules, conds: list[Condition]) -> pl.Expr:
    """All of ``conds`` hold (those that do not apply to a row's kind are skipped)."""
    out: pl.Expr | None = None
    for cond in conds:
        test = condition(rules, cond)
        scope = applies(rules, cond)
        test = test if scope is None else (~scope | test)
        out = test if out is None else out & test
    return pl.lit(True) if out is None else out


def condition(rules: YearRules, cond: Condition) -> pl.Expr:
    """One condition as a Boolean; null (a missing fact) is "not met".

    Nulls are left to Kleene logic — ``null & x`` is never true, ``true | null`` is true —
    and the eligibility that combines them is filled with false once, at the end.
    """
    if cond.any is not None:
        return pl.any_horizontal(condition(rules, c) for c in cond.any)
    assert cond.fact is not None
    if cond.word is not None:
        return _compare(rules, cond)
    assert isinstance(cond.fact, str)
    value = rules.col(cond.fact)
    if cond.is_ is not None:
        return value if cond.is_ else ~value
    if cond.in_ is not None:
        return value.is_in(list(cond.in_))
    info = fact_info(cond.fact, rules.info_list())
    if cond.given:
        given = value.is_not_null()
        return given & (value != "").fill_null(True) if info.value_type is str else given
    assert cond.in_award_year
    first, last = date(rules.year, 1, 1), date(rules.year, 12, 31)
    return (value >= first) & (value <= last)


def _compare(rules: YearRules, cond: Condition) -> pl.Expr:
    assert cond.word is not None and cond.fact is not None
    value = rules.total(cond.fact)
    if value is None:
        return pl.lit(False)
    threshold = rules.need(cond.threshold) if cond.threshold is not None else Fraction(0)
    # num/den OP p/q  ⇔  num·q OP p·den  (den, q > 0)
    left = times(value.num, threshold.denominator, value.bound)
    right = threshold.numerator * value.den
    if value.bound * threshold.denominator >= SAFE or abs(right) >= SAFE:
        left, right_lit = left.cast(pl.Int128), pl.lit(right, pl.Int128)
    else:
        right_lit = pl.lit(right, pl.Int64)
    op = _COMPARE[cond.word]
    return {
        "ge": left >= right_lit,
        "gt": left > right_lit,
        "le": left <= right_lit,
        "lt": left < right_lit,
    }[op]


# --- raw amounts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A subject's amount before caps: fen (None: review sets it) and where no rate exists."""

    fen: pl.Expr | None
    no_value: pl.Expr | None  # a dated parameter had no value: the subject cannot be paid


def _fen_of_param(value: Fraction) -> int:
    scaled = value * SCALE
    return (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)


def raw_amount(rules: YearRules, amount: Amount) -> Raw:
    named = amount.fixed or amount.ceiling
    if named is not None:
        value = rules.param(named)
        if value is None:
            return Raw(pl.lit(None, pl.Int64), pl.lit(True))
        return Raw(pl.lit(_fen_of_param(value), pl.Int64), None)
    if amount.external is not None:
        fen, _ = rules.raw_fen(amount.external)
        return Raw(fen, None)
    if amount.discretionary:
        return Raw(None, None)
    assert amount.computed is not None
    parts = [_component(rules, part) for part in amount.computed]
    fens = [p.fen for p in parts if p.fen is not None]
    total = fens[0] if len(fens) == 1 else pl.sum_horizontal(fens)
    missing = [p.no_value for p in parts if p.no_value is not None]
    return Raw(total, pl.any_horizontal(missing) if missing else None)


def _component(rules: YearRules, part: Component) -> Raw:
    if part.unit_price is not None:
        assert part.quantity is not None
        price = rules.need(part.unit_price)
        info = fact_info(part.quantity, rules.info_list())
        den = 1 if info.value_type is int else SCALE
        qty = rules.col(part.quantity).fill_null(0)
        factor = price * SCALE / den  # fen = round(price · qty · 100)
        bound = rules._max(part.quantity, 10**12) * factor.numerator
        num = times(qty, factor.numerator, bound)
        return Raw(round_half_up(num, factor.denominator, bound), None)
    assert part.rate is not None and part.of is not None
    constant = Fraction(1)
    per_row: list[tuple[pl.Expr, int, int, pl.Expr]] = []  # numerator, den, bound, no-value
    for rate in part.rate:
        if isinstance(rate, OnDate):
            per_row.append(_on_date(rules, rate))
        else:
            constant *= rules.need(rate)
    bases = [rules.raw_fen(path) for path in part.of]
    base = bases[0][0] if len(bases) == 1 else pl.sum_horizontal(b for b, _ in bases)
    bound = sum(b for _, b in bases)
    num, den = times(base, constant.numerator, bound), constant.denominator
    bound *= constant.numerator
    no_value: pl.Expr | None = None
    for rate_num, rate_den, rate_bound, missing in per_row:
        num = _mul(num, rate_num, bound, rate_bound)
        bound *= rate_bound
        den *= rate_den
        no_value = missing if no_value is None else no_value | missing
    if part.days is not None:
        days, basis = _days(rules, part)
        num = _mul(num, days, bound, 366)
        bound *= 366
        den *= basis
    return Raw(round_half_up(num, den, bound), no_value)


def _mul(left: pl.Expr, right: pl.Expr, left_bound: int, right_bound: int) -> pl.Expr:
    if left_bound * right_bound * 2 >= SAFE:
        return left.cast(pl.Int128) * right.cast(pl.Int128)
    return left * right


def _on_date(rules: YearRules, rate: OnDate) -> tuple[pl.Expr, int, int, pl.Expr]:
    """A dated series looked up on each row's own date (the LPR on the drawdown date)."""
    spec = rules.spec(rate.param)
    if spec.ends is not None:
        raise InputError(
            [
                Problem(
                    f"parameter {rate.param}",
                    None,
                    f"参数 {rate.param} 已设停止日期；按日期取值的参数停止后，批量模拟暂不支持，"
                    "请逐件评估",
                    f"parameter {rate.param} has an end date; the columnar simulation does not "
                    "read a dated series that ends: evaluate case by case",
                )
            ]
        )
    series = sorted((d, Fraction(v)) for d, v in spec.values.items())
    den = lcm(*(v.denominator for _, v in series))
    on = rules.col(rate.at).fill_null(rules.reference_date)
    expr: Any = pl.when(on < series[0][0]).then(pl.lit(0, pl.Int64))
    for when, value in reversed(series):
        expr = expr.when(on >= when).then(pl.lit(int(value * den), pl.Int64))
    bound = max(max(int(v * den) for _, v in series), 1)
    return expr.otherwise(pl.lit(0, pl.Int64)), den, bound, (on < series[0][0])


def _days(rules: YearRules, part: Component) -> tuple[pl.Expr, int]:
    """Days of [from, to) inside the award year; an open end runs to the year's end."""
    assert part.days is not None
    start, end = date(rules.year, 1, 1), date(rules.year + 1, 1, 1)
    begin = rules.col(part.days.from_).fill_null(end).clip(start, end)
    finish = rules.col(part.days.to).fill_null(end).clip(start, end)
    count = (finish - begin).dt.total_days().clip(lower_bound=0).cast(pl.Int64)
    basis = part.days.basis
    return count, basis if isinstance(basis, int) else int(rules.switch(basis))
