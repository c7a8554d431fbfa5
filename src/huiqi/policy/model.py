"""Pydantic models of a policy package's files (validated on load, then frozen)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Spec):
    """A label in both languages."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    @cached_property
    def both(self) -> dict[str, str]:
        """``{"zh": …, "en": …}`` for explanations (computed once)."""
        return {"zh": self.zh, "en": self.en}


class AmountKind(StrEnum):
    """What an amount is (interpretations page, part B)."""

    FIXED = "fixed"
    COMPUTED = "computed"
    CEILING = "ceiling"
    DISCRETIONARY = "discretionary"
    EXTERNAL = "external"


class Word(StrEnum):
    """Comparison words, read as the Civil Code (art. 1259) reads them."""

    YISHANG = "以上"  # at least (includes the number)
    DADAO = "达到"  # reaches: at least
    HAN = "（含）"  # an explicit 'inclusive' that overrides 超过
    CHAOGUO = "超过"  # more than (excludes the number)
    POLING = "破零"  # breaks zero: more than 0
    YOU = "有"  # has some: more than 0
    YIXIA = "以下"  # at most (includes)
    BUMAN = "不满"  # less than (excludes)

    @property
    def inclusive(self) -> bool:
        return self in (Word.YISHANG, Word.DADAO, Word.HAN, Word.YIXIA)

    @property
    def lower_bound(self) -> bool:
        return self not in (Word.YIXIA, Word.BUMAN)

    @property
    def implicit_zero(self) -> bool:
        return self in (Word.POLING, Word.YOU)


class Unit(StrEnum):
    CNY = "cny"
    USD = "usd"
    COUNT = "count"
    M2 = "m2"
    YEARS = "years"
    RATE = "rate"  # a share: 0.30 is 30%
    CNY_PER_USD = "cny_per_usd"


class Switched(_Spec):
    """A value chosen by a named switch: ``{switch: name, cases: {option: value}}``."""

    switch: str
    cases: dict[str, Any]


#: A fact path (``trade.export_usd``, ``item.area_m2``), a list summed, or a switch of those.
FactRef = str | list[str] | Switched


class Condition(_Spec):
    """One requirement, with the words of the policy it implements."""

    fact: FactRef | None = None
    word: Word | None = None
    threshold: str | None = None  # a parameter name
    is_: bool | None = Field(default=None, alias="is")
    in_: list[str] | None = Field(default=None, alias="in")
    in_award_year: bool | None = None
    given: bool | None = None
    any: list[Condition] | None = None
    quote: str | None = None
    for_kinds: list[str] | Switched | None = None
    label: Text | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if self.any is not None:
            if self.fact is not None or self.word is not None:
                raise ValueError("'any' stands alone: no fact or word beside it")
            return self
        if self.fact is None:
            raise ValueError("a condition needs 'fact' (or 'any')")
        tests = [
            self.word is not None,
            self.is_ is not None,
            self.in_ is not None,
            bool(self.in_award_year),
            bool(self.given),
        ]
        if sum(tests) != 1:
            raise ValueError(
                "a condition needs exactly one of 'word', 'is', 'in', 'in_award_year', 'given'"
            )
        if self.word is not None and not self.word.implicit_zero and self.threshold is None:
            raise ValueError(f"'{self.word.value}' needs a 'threshold' parameter")
        if self.word is None and self.threshold is not None:
            raise ValueError("'threshold' goes with 'word'")
        if self.quote is None:
            raise ValueError("every condition quotes the policy words it implements ('quote')")
        return self


class OnDate(_Spec):
    """A dated parameter looked up on a fact's date: ``{param: lpr_1y, at: item.drawdown_date}``."""

    param: str
    at: str


class Days(_Spec):
    """Days of a period inside the award year, over a day basis (360 or 365)."""

    from_: str = Field(alias="from")
    to: str
    basis: int | Switched

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Component(_Spec):
    """One computed part: ``rate × Σof [× days/basis]`` or ``unit_price × quantity``."""

    label: Text | None = None
    rate: list[str | OnDate] | None = None
    of: list[str] | None = None
    days: Days | None = None
    unit_price: str | None = None
    quantity: str | None = None

    @model_validator(mode="after")
    def _rate_or_unit(self) -> Component:
        by_rate = self.rate is not None and self.of is not None
        by_unit = self.unit_price is not None and self.quantity is not None
        if by_rate == by_unit:
            raise ValueError(
                "a component is either 'rate' with 'of' or 'unit_price' with 'quantity'"
            )
        if self.days is not None and not by_rate:
            raise ValueError("'days' goes with 'rate'")
        return self


class Amount(_Spec):
    """Exactly one of: fixed, ceiling, computed, external, discretionary."""

    fixed: str | None = None
    ceiling: str | None = None
    computed: list[Component] | None = None
    external: str | None = None
    discretionary: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Amount:
        given = [
            f
            for f in ("fixed", "ceiling", "computed", "external", "discretionary")
            if getattr(self, f) not in (None, False)
        ]
        if len(given) != 1:
            raise ValueError(
                "an amount is exactly one of fixed, ceiling, computed, external, discretionary"
            )
        return self

    @property
    def kind(self) -> AmountKind:
        for kind in AmountKind:
            if getattr(self, kind.value) not in (None, False):
                return kind
        raise AssertionError("validated to have one kind")


class Tier(_Spec):
    id: str
    label: Text | None = None
    conditions: list[Condition] = Field(min_length=1)
    amount: Amount


class CapPer(StrEnum):
    ITEM = "item"  # each subject: the store, warehouse, loan, base … or the applicant itself
    APPLICANT = "applicant"  # the clause's total for the applicant


class CapPeriod(StrEnum):
    EACH = "each"  # this evaluation only
    YEAR = "year"  # this award year, earlier awards in the same year counted
    POLICY_LIFE = "policy_life"  # every award year, earlier awards counted


class Cap(_Spec):
    """A ceiling on the sum: a parameter, or a fact ('never more than the interest paid')."""

    param: str | None = None
    fact: str | None = None
    per: CapPer
    period: CapPeriod = CapPeriod.EACH
    quote: str

    @model_validator(mode="after")
    def _param_or_fact(self) -> Cap:
        if (self.param is None) == (self.fact is None):
            raise ValueError("a cap is either a 'param' or a 'fact'")
        if self.fact is not None and self.period is not CapPeriod.EACH:
            raise ValueError("a fact cap is per evaluation ('period: each')")
        return self


class Citation(_Spec):
    """Where a number or a reading comes from: a document, its article, and where to read it."""

    document: str = Field(min_length=1)
    article: str | None = Field(default=None, min_length=1)
    url: HttpUrl | None = None

    def __str__(self) -> str:
        return " ".join(p for p in (self.document, self.article, self.url and str(self.url)) if p)


class Parameter(_Spec):
    """A number of the policy with its unit, its words and its values by effective date.

    A value of ``null`` on a date ends the parameter there (as OpenFisca's ``value: null``):
    from that date the clauses that read it are not in force. It is kept as :attr:`ends`,
    so :attr:`values` holds numbers only; a value dated after the end is refused.
    """

    unit: Unit
    label: Text
    quote: str | None = None
    reference: Citation | None = None
    values: dict[date, Decimal] = Field(min_length=1)
    ends: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_ends(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            return data
        nulls = [when for when, value in data["values"].items() if value is None]
        if not nulls:
            return data
        if len(nulls) > 1 or data.get("ends") is not None:
            raise ValueError("a parameter ends once: one 'null' value")
        values = {when: v for when, v in data["values"].items() if v is not None}
        return {**data, "values": values, "ends": nulls[0]}

    @model_validator(mode="after")
    def _cited(self) -> Parameter:
        if self.quote is None and self.reference is None:
            raise ValueError("a parameter cites the policy ('quote') or its source ('reference')")
        if self.ends is not None and any(when >= self.ends for when in self.values):
            raise ValueError(f"a value dated on or after the end ({self.ends}, null) is refused")
        return self

    def ended_on(self, on: date) -> date | None:
        """The date the parameter ended, if it has ended by ``on``."""
        return self.ends if self.ends is not None and self.ends <= on else None


class Once(StrEnum):
    """How often a clause pays the same subject (一次性)."""

    NO = "no"  # every award year the conditions hold
    EVER = "ever"  # once over the policy's life (top-up or strict, by switch)
    YEAR = "year"  # once per award year


class Clause(_Spec):
    """One clause: the policy's words and the rule that implements them."""

    id: str
    title: Text
    text: str = Field(min_length=1)
    note: Text | None = None
    #: The kinds of applicant the clause is for, and the policy's words that ground them
    #: (in the clause, or clause 1's list where the clause itself is silent).
    applicants: list[str] = Field(min_length=1)
    applicants_quote: str = Field(min_length=1)
    for_each: str | None = None
    subject: str = "applicant"
    where: list[Condition] = []
    conditions: list[Condition] = []
    tiers: list[Tier] | None = None
    amount: Amount | None = None
    once: Once = Once.NO
    caps: list[Cap] = []
    needs_office_approval: bool = False
    overlap: bool = True
    parameters: dict[str, Parameter] = {}

    @model_validator(mode="after")
    def _tiers_or_amount(self) -> Clause:
        if (self.tiers is None) == (self.amount is None):
            raise ValueError("a clause has either 'tiers' or 'amount'")
        if self.tiers is not None:
            kinds = {t.amount.kind for t in self.tiers}
            if len(kinds) != 1:
                raise ValueError("all tiers of a clause have the same kind of amount")
        if self.where and self.for_each is None:
            raise ValueError("'where' filters the items of 'for_each'")
        return self

    @cached_property
    def one_time_subject(self) -> bool:
        """Is the clause's subject paid once (a store, a centre, a base, an enterprise's
        one-time award) rather than every year? For such a subject 从优不重复 counts another
        policy's award for it in any year, not only the award year (interpretations E)."""
        return self.once is Once.EVER or any(
            cap.per is CapPer.ITEM and cap.period is CapPeriod.POLICY_LIFE for cap in self.caps
        )

    @cached_property
    def kind(self) -> AmountKind:
        if self.tiers is not None:
            return self.tiers[0].amount.kind
        assert self.amount is not None
        return self.amount.kind


class Switch(_Spec):
    label: Text
    default: str
    options: dict[str, Text] = Field(min_length=2)
    reference: Citation

    @model_validator(mode="after")
    def _default_is_an_option(self) -> Switch:
        if self.default not in self.options:
            raise ValueError(f"default {self.default!r} is not one of {sorted(self.options)}")
        return self


class Validity(_Spec):
    issued: date
    expires: date
    first_award_year: int
    last_award_year: int
    quote: str


class Scope(_Spec):
    clause: str
    text: str
    conditions: list[Condition]


class Overlap(_Spec):
    quote: str


class Funding(_Spec):
    quote: str


class Division(_Spec):
    """A paying finance (税收申报缴纳地财政): the city's own budget, a county-level division or a
    zone. ``zh`` is the name organisations, budgets and plan items carry."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    #: The administrative division code (GB/T 2260) where one exists; zones have none.
    code: str | None = Field(default=None, pattern=r"^\d{6}$")
    zh: str = Field(min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=200)


class PolicyFile(_Spec):
    """``policy.yaml``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    document_no: str
    title: Text
    issuer: Text
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    source: str = "source.md"
    validity: Validity
    scope: Scope
    switches: dict[str, Switch] = {}
    overlap: Overlap
    funding: Funding | None = None
    #: The paying finances, in the order plans, budgets and reports list them. Empty: the
    #: package names none, and a division is any non-blank text.
    divisions: list[Division] = []
    #: Who approves discretionary amounts and events (the leading group's office).
    office: Text = Text(zh="领导小组办公室", en="the leading group's office")
    applicant_kinds: dict[str, Text] = Field(min_length=1)


class ParameterFile(_Spec):
    """``parameters/*.yaml``: shared dated series such as the LPR."""

    parameters: dict[str, Parameter] = Field(min_length=1)


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class PolicyPackage(_Spec):
    """A loaded, checked policy package."""

    root: str
    policy: PolicyFile
    clauses: dict[str, Clause]
    parameters: dict[str, Parameter]
    source_text: str
    sha256: Sha256
    switch_values: dict[str, str] = {}

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def division_names(self) -> list[str]:
        """The paying finances' names (``zh``), in the package's order."""
        return [d.zh for d in self.policy.divisions]

    def division(self, name: str) -> Division | None:
        return next((d for d in self.policy.divisions if d.zh == name), None)

    def division_order(self, name: str) -> tuple[int, str]:
        """Sort key: the package's order, then any name outside the list (old free text)."""
        names = self.division_names
        return (names.index(name), "") if name in names else (len(names), name)

    def switch(self, name: str) -> str:
        if name in self.switch_values:
            return self.switch_values[name]
        return self.policy.switches[name].default

    def with_switches(self, values: dict[str, str]) -> PolicyPackage:
        """The same package with some switches set (checked against their options)."""
        for name, value in values.items():
            if name not in self.policy.switches:
                raise KeyError(name)
            if value not in self.policy.switches[name].options:
                raise ValueError(f"{name}={value}")
        return self.model_copy(update={"switch_values": {**self.switch_values, **values}})
