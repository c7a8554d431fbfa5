"""Fact builders and hypothesis strategies shared by the boundary and property tests.

Everything here is built from the facts schema (``huiqi.facts.model``) and the
bundled policy package, so a new clause, threshold or section is picked up
without editing this file. Money is always ``Decimal`` with two places.
"""

from __future__ import annotations

import types
import typing
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from huiqi import credit_code
from huiqi.engine.context import param_value
from huiqi.facts.model import (
    ApplicantKind,
    EventKind,
    Facts,
    Recognition,
    StoreKind,
)
from huiqi.facts.paths import fact_info
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package
from huiqi.policy.model import (
    Cap,
    CapPer,
    CapPeriod,
    Clause,
    Condition,
    FactRef,
    Parameter,
    Switched,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@cache
def package() -> PolicyPackage:
    """The bundled package, loaded once per process (hypothesis dislikes function fixtures)."""
    return load_package(DEFAULT_POLICY)


def award_years() -> range:
    validity = package().policy.validity
    return range(validity.first_award_year, validity.last_award_year + 1)


def cents(value: Decimal | int | str) -> Decimal:
    """A money/area/years value with exactly two places (refuses anything finer)."""
    exact = Decimal(value)
    shown = exact.quantize(CENT)
    if shown != exact:
        raise ValueError(f"{value} has more than two decimals")
    return shown


def fen(yuan: Decimal | int) -> int:
    """Yuan to integer fen; the inputs here always have at most two decimals."""
    value = Decimal(yuan) * 100
    assert value == value.to_integral_value(), yuan
    return int(value)


# --- the schema, read generically ----------------------------------------------------------


def unwrap(annotation: Any) -> Any:
    """Strip ``Optional``/``Annotated``/``list`` to the underlying type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation


def section_model(name: str) -> type[BaseModel]:
    """The model of a top-level facts section or list element (``park`` → ``Park``)."""
    model = unwrap(Facts.model_fields[name].annotation)
    assert isinstance(model, type) and issubclass(model, BaseModel), name
    return model


def filler(model: type[BaseModel], year: int) -> dict[str, Any]:
    """The required fields of ``model`` with plain valid values (ids, dates in the year …)."""
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            continue
        kind = unwrap(field.annotation)
        if name == "id":
            data[name] = "B1"
        elif isinstance(kind, type) and issubclass(kind, StrEnum):
            data[name] = next(iter(kind)).value
        elif kind is Decimal:
            data[name] = Decimal("1000.00")
        elif kind is bool:
            data[name] = True
        elif kind is int:
            data[name] = 1
        elif kind is date:
            data[name] = date(year, 3, 1)
        elif kind is str:
            data[name] = "x"
        else:  # pragma: no cover - a new field type the builders should learn
            raise NotImplementedError(f"{model.__name__}.{name}: {kind}")
    return data


def resolve(pkg: PolicyPackage, fact: FactRef) -> list[str]:
    """The fact paths a condition reads, with switches at their current (default) values."""
    if isinstance(fact, Switched):
        return resolve(pkg, fact.cases[pkg.switch(fact.switch)])
    return [fact] if isinstance(fact, str) else list(fact)


def clause_param(pkg: PolicyPackage, clause: Clause | None, name: str) -> Parameter:
    if clause is not None and name in clause.parameters:
        return clause.parameters[name]
    return pkg.parameters[name]


def value_on(pkg: PolicyPackage, clause: Clause | None, name: str, year: int) -> Decimal | None:
    """A parameter's value in force on 31 December of the award year."""
    return param_value(clause_param(pkg, clause, name), date(year, 12, 31))


def applicant(kind: str, code: str | None = None) -> dict[str, Any]:
    """An applicant of ``kind`` that passes clause 1's scope flags."""
    return {
        "credit_code": code or CODES[kind],
        "name": f"郴州测试{kind}",
        "kind": kind,
        "registered_locally": True,
        "tax_paying_locally": True,
        "independent_legal_person": True,
        "in_customs_cbec_statistics": True,
        "tax_filing_division": "北湖区",
        "platform_filed": True,
        "platform_connected": True,
        "platform_enterprise": True,
    }


#: One valid unified social credit code per kind (check characters computed, GB 32100-2015).
CODES = {
    kind.value: credit_code.complete(f"91431000MA4T{i:05d}")
    for i, kind in enumerate(ApplicantKind, start=1)
}


def base_facts(kind: str, year: int) -> dict[str, Any]:
    """An applicant-year that passes scope; a CBEC enterprise has some CBEC export."""
    return {
        "award_year": year,
        "applicant": applicant(kind),
        "trade": {"export_usd": Decimal("150000.00"), "import_usd": ZERO},
    }


def set_fact(data: dict[str, Any], path: str, value: Any, year: int) -> None:
    """Put ``value`` at a ``section.field`` path, filling the section's required fields."""
    section, field = path.split(".", 1)
    assert "." not in field, path
    if section not in data or data[section] is None:
        data[section] = filler(section_model(section), year)
    data[section][field] = value


def item_passing_where(clause: Clause, year: int) -> dict[str, Any]:
    """One element of the clause's ``for_each`` list that its ``where`` filter keeps."""
    assert clause.for_each is not None
    item = filler(section_model(clause.for_each), year)
    for cond in clause.where:
        assert isinstance(cond.fact, str) and cond.fact.startswith("item."), cond
        name = cond.fact.removeprefix("item.")
        if cond.in_ is not None:
            item[name] = cond.in_[0]
        elif cond.is_ is not None:
            item[name] = cond.is_
        elif cond.given:
            item[name] = "REF-1"
        elif cond.in_award_year:
            item[name] = date(year, 6, 1)
        else:  # pragma: no cover - a numeric 'where' would need its own boundary value
            raise NotImplementedError(f"{clause.id}: where {cond}")
    return item


def _passing(cond: Condition, clause: Clause, year: int, current: Any) -> Any:
    """A value that passes a non-numeric condition (None: leave the fact as it is)."""
    if cond.in_ is not None:
        return cond.in_[0]
    if cond.is_ is not None:
        return cond.is_
    if cond.given:
        if current not in (None, ""):
            return None
        assert isinstance(cond.fact, str)
        numeric = fact_info(cond.fact, clause.for_each).value_type is Decimal
        return Decimal("1000.00") if numeric else "REF-1"
    if cond.in_award_year:
        return date(year, 6, 1)
    return None


def satisfy_gates(data: dict[str, Any], clause: Clause) -> None:
    """Make scope's and the clause's flag, choice, date and 'given' conditions hold,
    leaving numbers alone.

    ``for_each`` clauses get an item their ``where`` keeps when none is there.
    Used to aim random facts at one clause so its numeric rules are exercised.
    """
    year = data["award_year"]
    conds = [*package().policy.scope.conditions, *clause.conditions]
    for tier in clause.tiers or []:
        conds += tier.conditions
    if clause.for_each is not None:
        items = data.setdefault(clause.for_each, [])
        if not items:
            items.append({**item_passing_where(clause, year), "id": "M1"})
    for cond in conds:
        if cond.any is not None:
            cond = cond.any[0]
        if not isinstance(cond.fact, str) or cond.word is not None:
            continue
        section, field = cond.fact.split(".", 1)
        if section == "item":
            for element in data[clause.for_each or ""]:
                value = _passing(cond, clause, year, element.get(field))
                if value is not None:
                    element[field] = value
        else:
            value = _passing(cond, clause, year, (data.get(section) or {}).get(field))
            if value is not None:
                set_fact(data, cond.fact, value, year)


# --- thresholds the strategies cluster at ----------------------------------------------------


def word_conditions(conds: list[Condition]) -> list[Condition]:
    found: list[Condition] = []
    for cond in conds:
        if cond.any is not None:
            found += word_conditions(cond.any)
        elif cond.word is not None:
            found.append(cond)
    return found


def _edges(value: Decimal, step: Decimal) -> set[Decimal]:
    return {v for v in (value - step, value, value + step) if v >= 0}


@cache
def edges() -> dict[str, tuple[Decimal, ...]]:
    """Per unit, every threshold (and cap/rate break-even) of the package, ±one step.

    ``usd``, ``m2``, ``years``, ``count`` come from the word thresholds; ``cny`` adds
    the base at which a computed clause's rate reaches its cap (7.1: 200,000 / 30%).
    """
    pkg = package()
    found: dict[str, set[Decimal]] = {}
    for clause in pkg.clauses.values():
        conds = list(clause.conditions)
        for tier in clause.tiers or []:
            conds += tier.conditions
        for cond in word_conditions(conds):
            if cond.threshold is None:
                continue
            spec = clause_param(pkg, clause, cond.threshold)
            step = Decimal(1) if spec.unit.value == "count" else CENT
            for value in spec.values.values():
                found.setdefault(spec.unit.value, set()).update(_edges(value, step))
        if (
            clause.amount is not None
            and clause.amount.computed
            and len(clause.amount.computed) == 1
        ):
            part = clause.amount.computed[0]
            rates = [r for r in part.rate or [] if isinstance(r, str)]
            for cap in clause.caps:
                if cap.param is None or len(rates) != 1 or len(part.rate or []) != 1:
                    continue
                limit = clause_param(pkg, clause, cap.param).values
                share = clause_param(pkg, clause, rates[0]).values
                for c in limit.values():
                    for r in share.values():
                        found.setdefault("cny", set()).update(_edges((c / r).quantize(CENT), CENT))
    return {unit: tuple(sorted(values)) for unit, values in found.items()}


# --- hypothesis strategies -----------------------------------------------------------------


@cache
def money(max_yuan: int) -> st.SearchStrategy[Decimal]:
    """A Decimal amount with exactly two places in [0, max_yuan], spread over magnitudes.

    (Plain ``st.integers`` favours small numbers; money is drawn digit-count first, so
    millions are as likely as single yuan.)
    """
    top = max_yuan * 100
    ranges = [
        st.integers(10 ** (d - 1) if d > 1 else 0, min(10**d - 1, top))
        for d in range(1, len(str(top)) + 1)
    ]
    return st.one_of(ranges).map(lambda n: (Decimal(n) / 100).quantize(CENT))


@cache
def clustered(unit: str, max_value: int) -> st.SearchStrategy[Decimal]:
    """Half the time a threshold ±0.01, half the time anything in range."""
    near = edges().get(unit, ())
    anywhere = money(max_value)
    if not near:
        return anywhere
    return st.one_of(st.sampled_from(near), anywhere)


@cache
def counts(max_value: int) -> st.SearchStrategy[int]:
    near = [int(v) for v in edges().get("count", ())]
    return st.one_of(st.sampled_from(near), st.integers(0, max_value))


#: Mostly true, sometimes false or unknown: most random applicants pass scope.
mostly_true = st.sampled_from([True] * 18 + [False, None])


@cache
def dates_around(year: int) -> st.SearchStrategy[date]:
    """A date, usually inside the award year, sometimes the year before or after."""
    inside = st.dates(date(year, 1, 1), date(year, 12, 31))
    return st.one_of(inside, inside, st.dates(date(year - 1, 1, 1), date(year + 1, 12, 31)))


@cache
def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_KINDS = st.sampled_from([k.value for k in ApplicantKind])
_CODE_BODY = st.text(credit_code.ALPHABET, min_size=17, max_size=17)
_FLAG = st.sampled_from([True] * 8 + [False])
_CURRENCY = st.sampled_from(["usd", "usd", "usd", "cny", "none"])
_RECOGNITION = st.sampled_from([r.value for r in Recognition])
_STORE_KIND = st.sampled_from([k.value for k in StoreKind])
_EVENT_KIND = st.sampled_from([k.value for k in EventKind])
_APPROVAL = st.sampled_from([None, "", "郴跨综办〔2023〕7号"])


@st.composite
def applicant_data(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    chosen = kind or draw(_KINDS)
    first17 = draw(_CODE_BODY)
    data = applicant(chosen, credit_code.complete(first17))
    for flag in (
        "registered_locally",
        "tax_paying_locally",
        "independent_legal_person",
        "in_customs_cbec_statistics",
        "platform_filed",
        "platform_connected",
        "platform_enterprise",
    ):
        data[flag] = draw(mostly_true)
    return data


@st.composite
def trade_data(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for flow in ("export", "import"):
        how = draw(_CURRENCY)
        if how == "usd":
            data[f"{flow}_usd"] = draw(clustered("usd", 150_000_000))
        elif how == "cny":
            data[f"{flow}_cny"] = draw(money(700_000_000))
    return data


@st.composite
def park_data(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "recognised_by": draw(_RECOGNITION),
        "demonstration_base": draw(st.booleans()),
        "new_cbec_tenants": draw(maybe(counts(40))),
        "new_tenants_cbec_total_usd": draw(maybe(clustered("usd", 80_000_000))),
        "cbec_total_usd": draw(maybe(clustered("usd", 150_000_000))),
    }


@st.composite
def tenancy_data(draw: st.DrawFn, year: int) -> dict[str, Any]:
    return {
        "park_recognised": draw(st.booleans()),
        "moved_in_date": draw(maybe(dates_around(year))),
        "leased_area_m2": draw(maybe(clustered("m2", 5_000))),
        "first_year_rent_cny": draw(maybe(clustered("cny", 2_000_000))),
    }


@st.composite
def platform_construction_data(draw: st.DrawFn) -> dict[str, Any]:
    names = ("hardware_cny", "software_cny", "development_cny", "infrastructure_cny")
    return {name: draw(st.one_of(st.just(ZERO), money(5_000_000))) for name in names}


@st.composite
def public_service_platform_data(draw: st.DrawFn, year: int) -> dict[str, Any]:
    return {
        "entered_date": draw(maybe(dates_around(year))),
        "customs_certified": draw(_FLAG),
        "cbec_total_usd": draw(maybe(clustered("usd", 150_000_000))),
    }


@st.composite
def store_data(draw: st.DrawFn, year: int, index: int) -> dict[str, Any]:
    return {
        "id": f"S{index}",
        "kind": draw(_STORE_KIND),
        "located_locally": draw(_FLAG),
        "opened_date": draw(maybe(dates_around(year))),
        "area_m2": draw(maybe(clustered("m2", 3_000))),
    }


@st.composite
def warehouse_data(draw: st.DrawFn, index: int) -> dict[str, Any]:
    return {
        "id": f"W{index}",
        "area_m2": draw(maybe(clustered("m2", 5_000))),
        "rent_cny": draw(maybe(clustered("cny", 3_000_000))),
    }


@st.composite
def event_data(draw: st.DrawFn, year: int, index: int) -> dict[str, Any]:
    return {
        "id": f"E{index}",
        "kind": draw(_EVENT_KIND),
        "office_approval_ref": draw(_APPROVAL),
        "participants": draw(maybe(counts(500))),
        "held_date": draw(maybe(dates_around(year))),
    }


@st.composite
def loan_data(draw: st.DrawFn, year: int, index: int) -> dict[str, Any]:
    # Drawn on or after the first LPR the package knows (a rate must be in force on the
    # drawdown date; earlier drawdowns are test_properties' known-gap case).
    first_rate = min(package().parameters["lpr_1y"].values)
    drawdown = draw(st.dates(max(date(year - 1, 1, 1), first_rate), date(year, 12, 31)))
    repaid = draw(maybe(st.dates(drawdown, drawdown + timedelta(days=720))))
    return {
        "id": f"L{index}",
        "cross_border_financial_product": draw(_FLAG),
        "principal_cny": draw(money(200_000_000)),
        "drawdown_date": drawdown,
        "repaid_date": repaid,
        "interest_paid_cny": draw(money(10_000_000)),
    }


@st.composite
def talent_data(draw: st.DrawFn, index: int) -> dict[str, Any]:
    return {
        "id": f"T{index}",
        "contract_years": draw(maybe(clustered("years", 10))),
        "annual_salary_cny": draw(maybe(clustered("cny", 2_000_000))),
        "linyi_reward_cny": draw(maybe(money(500_000))),
    }


def item_list(draw: st.DrawFn, make: Any) -> list[dict[str, Any]]:
    """0–4 elements with unique ids (the index is part of the id)."""
    size = draw(st.integers(0, 4))
    return [draw(make(i)) for i in range(size)]


@cache
def _applicant(kind: str | None) -> st.SearchStrategy[dict[str, Any]]:
    return applicant_data(kind)


@cache
def _trade() -> st.SearchStrategy[dict[str, Any]]:
    return trade_data()


@cache
def _stores(year: int, index: int) -> st.SearchStrategy[dict[str, Any]]:
    return store_data(year, index)


@cache
def _warehouses(index: int) -> st.SearchStrategy[dict[str, Any]]:
    return warehouse_data(index)


@cache
def _events(year: int, index: int) -> st.SearchStrategy[dict[str, Any]]:
    return event_data(year, index)


@cache
def _loans(year: int, index: int) -> st.SearchStrategy[dict[str, Any]]:
    return loan_data(year, index)


@cache
def _talents(index: int) -> st.SearchStrategy[dict[str, Any]]:
    return talent_data(index)


@cache
def _ledger(year: int, other_policy: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(ledger_entry(year, other_policy), max_size=3 if not other_policy else 2)


#: Subjects an award can name besides the applicant itself.
SUBJECT_IDS = ("S0", "S1", "W0", "E0", "L0", "T0", "DC1", "TB1")
_SUBJECTS = st.sampled_from(SUBJECT_IDS)
_CLAUSE_IDS = st.sampled_from(sorted(package().clauses))
_OTHER_POLICY = st.sampled_from(["郴办发〔2019〕5号", "郴政发〔2020〕12号"])


@st.composite
def ledger_entry(draw: st.DrawFn, year: int, other_policy: bool) -> dict[str, Any]:
    entry = {
        "clause": draw(_CLAUSE_IDS),
        "subject_id": draw(maybe(_SUBJECTS)),
        "award_year": draw(st.integers(award_years().start, year)),
        "amount_cny": draw(money(2_000_000)),
    }
    if other_policy:
        entry["policy"] = draw(_OTHER_POLICY)
    return entry


@cache
def _sections(y: int) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies of the optional sections for award year ``y``."""
    return {
        "park": park_data(),
        "tenancy": tenancy_data(y),
        "platform_construction": platform_construction_data(),
        "public_service_platform": public_service_platform_data(y),
        "supervision_centre": st.fixed_dictionaries(
            {"investment_cny": clustered("cny", 5_000_000)}
        ),
        "marketplaces": st.fixed_dictionaries(
            {
                "promotion_fees_cny": clustered("cny", 1_500_000),
                "new_store_annual_fees_cny": money(500_000),
            }
        ),
        "belt_and_road": st.fixed_dictionaries(
            {
                "site_opened": st.booleans(),
                "destination_turnover_usd": maybe(clustered("usd", 20_000_000)),
            }
        ),
        "distribution_centre": st.fixed_dictionaries(
            {"id": st.just("DC1"), "main_builder": st.booleans()}
        ),
        "overseas_warehouse_pilot": st.fixed_dictionaries({"listed_by": _RECOGNITION}),
        "logistics": st.fixed_dictionaries({"domestic_orders": maybe(counts(2_000_000))}),
        "international_express": st.fixed_dictionaries(
            {"general_trade_reward_cny": maybe(clustered("cny", 3_000_000))}
        ),
        "staff_training": st.fixed_dictionaries({"costs_cny": clustered("cny", 1_500_000)}),
        "talent_base": st.fixed_dictionaries(
            {
                "id": st.just("TB1"),
                "recognised": st.booleans(),
                "construction_cny": money(3_000_000),
                "operating_cny": clustered("cny", 3_000_000),
            }
        ),
    }


@st.composite
def facts_data(draw: st.DrawFn, kind: str | None = None, year: int | None = None) -> dict[str, Any]:
    """A whole random applicant-year as plain data (validate with ``Facts.model_validate``)."""
    award_year = year or draw(st.sampled_from(list(award_years())))
    data: dict[str, Any] = {
        "award_year": award_year,
        "applicant": draw(_applicant(kind)),
        "trade": draw(_trade()),
    }
    y = award_year
    for name, strategy in _sections(y).items():
        if draw(st.booleans()):
            data[name] = draw(strategy)
    data["stores"] = item_list(draw, lambda i: _stores(y, i))
    data["warehouses"] = item_list(draw, _warehouses)
    data["events"] = item_list(draw, lambda i: _events(y, i))
    data["loans"] = item_list(draw, lambda i: _loans(y, i))
    data["talents"] = item_list(draw, _talents)
    data["earlier_awards"] = draw(_ledger(y, False))
    data["other_policy_awards"] = draw(_ledger(y, True))
    return data


def facts(kind: str | None = None, year: int | None = None) -> st.SearchStrategy[Facts]:
    """A strategy for whole ``Facts``: random kind, sections, lists, ledger and award year."""
    return facts_data(kind, year).map(Facts.model_validate)


@st.composite
def aimed_facts(draw: st.DrawFn) -> Facts:
    """Whole random ``Facts``, usually aimed at one random clause: an applicant of a kind it
    covers, with its flag/choice/date gates holding, so its amounts and caps are exercised."""
    clause = package().clauses[draw(_CLAUSE_IDS)]
    data = draw(facts_data(draw(_kinds_of(clause.id))))
    if draw(_AIM):
        satisfy_gates(data, clause)
    return Facts.model_validate(data)


_AIM = st.sampled_from([True] * 4 + [False])


@cache
def _kinds_of(clause_id: str) -> st.SearchStrategy[str]:
    return st.sampled_from(package().clauses[clause_id].applicants)


@st.composite
def aimed_at(draw: st.DrawFn, clause_id: str, *sections: str) -> Facts:
    """Random ``Facts`` for one clause: a kind it covers, its gates holding, the named
    sections present (drawn as usual)."""
    clause = package().clauses[clause_id]
    data = draw(facts_data(draw(_kinds_of(clause_id))))
    for name in sections:
        if data.get(name) is None:
            data[name] = draw(_sections(data["award_year"])[name])
    satisfy_gates(data, clause)
    return Facts.model_validate(data)


# --- earlier awards inside a cap's period ------------------------------------------------------


def counted_caps(clause: Clause) -> list[Cap]:
    """The clause's caps that count what earlier awards used (a parameter, not 'each')."""
    return [c for c in clause.caps if c.param is not None and c.period is not CapPeriod.EACH]


#: Clauses with a cap that counts earlier awards (this year's, or the policy's whole life).
COUNTED_CAPS = tuple(sorted(cid for cid, c in package().clauses.items() if counted_caps(c)))


@st.composite
def with_earlier_awards(draw: st.DrawFn, clause_id: str) -> Facts:
    """Random ``Facts`` aimed at a clause with a counted cap, and a ledger that exercises it.

    The clause's own earlier awards are replaced by some inside each cap's scope (the same
    subject; this award year for a yearly cap, any year up to it for the policy's life) using
    none, part, all or more of the cap, and some just outside it (another year for a yearly
    cap, another subject for a cap per item) that must not count. Other policies' awards are
    left out, so the cap is the only thing the ledger changes.
    """
    clause = package().clauses[clause_id]
    data = draw(facts_data(draw(_kinds_of(clause_id))))
    satisfy_gates(data, clause)
    year = data["award_year"]
    code = data["applicant"]["credit_code"]
    ledger = [a for a in data["earlier_awards"] if a["clause"] != clause_id]
    for cap in counted_caps(clause):
        assert cap.param is not None
        limit = fen(value_on(package(), clause, cap.param, year) or 0)
        if cap.per is CapPer.ITEM and clause.for_each is not None:
            subjects = [str(item["id"]) for item in data[clause.for_each]]
        else:
            subjects = [code]
        first = award_years().start
        for subject in subjects:
            used = draw(
                st.one_of(
                    st.sampled_from([limit, limit - 1, limit + 100, limit // 2]),
                    st.integers(0, limit + 1000),
                ),
                label="used",
            )
            parts = draw(st.integers(1, 3), label="parts")
            for k in range(parts):
                share = used // parts + (used % parts if k == 0 else 0)
                if share <= 0:
                    continue
                in_scope = year if cap.period is CapPeriod.YEAR else None
                ledger.append(
                    {
                        "clause": clause_id,
                        "subject_id": None if subject == code else subject,
                        "award_year": in_scope or draw(st.integers(first, year), label="year"),
                        "amount_cny": (Decimal(share) / 100).quantize(CENT),
                    }
                )
        if draw(st.booleans(), label="outside the scope"):
            outside: dict[str, Any] = {"clause": clause_id, "amount_cny": Decimal("99999.00")}
            if cap.period is CapPeriod.YEAR and year > first:
                outside |= {"subject_id": subjects[0], "award_year": year - 1}
            elif cap.per is CapPer.ITEM and clause.for_each is not None:
                outside |= {"subject_id": "NOT-AN-ITEM", "award_year": year}
            else:
                continue
            if outside["subject_id"] == code:
                outside["subject_id"] = None
            ledger.append(outside)
    data["earlier_awards"] = ledger
    data["other_policy_awards"] = []
    return Facts.model_validate(data)


@st.composite
def capped_facts(draw: st.DrawFn) -> Facts:
    """``with_earlier_awards`` for a random clause with a counted cap."""
    facts: Facts = draw(with_earlier_awards(draw(st.sampled_from(COUNTED_CAPS))))
    return facts
