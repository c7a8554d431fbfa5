"""Declared versus official: the authorities' figures beside what an applicant declared.

Official figures are stored per organisation, award year, source and fact path
(``trade.export_usd``, ``logistics.domestic_orders``, ``applicant.platform_filed`` …); a
breakdown by customs mode is stored as ``trade.export_usd[9610]`` and shown, never
substituted. :func:`compare` lists every official figure of an application's organisation
and year with the declared value and the difference, and what the engine gives on either
basis; :func:`evaluate_on` runs the engine on the declared facts or on the official ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import Application, OfficialFigure, Organisation
from huiqi.engine import Evaluation, evaluate
from huiqi.errors import InputError, Problem
from huiqi.facts import parse_facts
from huiqi.facts.paths import fact_info
from huiqi.policy import PolicyPackage
from huiqi.service.actors import Actor, require_org
from huiqi.service.errors import Invalid, NotFound
from huiqi.service.records import evaluate_application, facts_document
from huiqi.service.uow import Services

BASES = ("declared", "official")
SOURCE_LABELS = {
    "customs": ("海关", "customs"),
    "platform": ("线上综合服务平台", "online platform"),
    "logistics": ("物流企业", "logistics firm"),
}
#: What the register presumes of an organisation it holds, when nothing was declared: it was
#: registered with its credit code and tax-filing county or zone (clause 1's scope).
PRESUMED = ("registered_locally", "tax_paying_locally", "independent_legal_person")
_BREAKDOWN = re.compile(r"^(?P<path>[a-z_.]+)\[(?P<part>[^\]]+)\]$")


@dataclass(frozen=True)
class Figure:
    """One official figure as the engine reads it: the fact path, the value, where from."""

    path: str
    value: str
    source: str
    provenance: dict[str, Any]


def figures_of(s: Session, org_id: int, year: int) -> list[OfficialFigure]:
    return list(
        s.scalars(
            select(OfficialFigure)
            .where(OfficialFigure.org_id == org_id, OfficialFigure.award_year == year)
            .order_by(OfficialFigure.field, OfficialFigure.source)
        )
    )


def official_values(s: Session, org_id: int, year: int) -> dict[str, Figure]:
    """Fact path → figure; a path given by two sources takes the one recorded last."""
    rows = sorted(figures_of(s, org_id, year), key=lambda f: (f.recorded_at, f.id))
    out: dict[str, Figure] = {}
    for row in rows:
        if _BREAKDOWN.match(row.field):
            continue
        out[row.field] = Figure(row.field, row.value, row.source, dict(row.provenance))
    return out


def typed(path: str, text: str) -> Any:
    """A stored figure's text as the facts schema wants it at ``path``."""
    kind = fact_info(path).value_type
    if kind is bool:
        return text == "true"
    if kind is int:
        return int(text)
    return text  # exact decimal text: the schema reads it as a Decimal


def substitute(document: dict[str, Any], figures: dict[str, Figure]) -> dict[str, Any]:
    """A copy of a facts document with each official figure at its path.

    An official USD figure replaces a declared CNY one of the same flow (the facts take one
    currency per flow)."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in document.items()}
    for path, figure in figures.items():
        section, _dot, name = path.partition(".")
        if not name or "." in name:
            continue
        target = dict(data.get(section) or {})
        target[name] = typed(path, figure.value)
        if section == "trade" and name.endswith("_usd"):
            target.pop(name.removesuffix("_usd") + "_cny", None)
        data[section] = target
    return data


def _declared(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class FigureRow:
    """A fact with its declared and official values; ``difference`` is official − declared."""

    path: str
    zh: str
    en: str
    unit: str | None
    declared: str | None
    official: str
    difference: str | None
    differs: bool
    source: str
    provenance: dict[str, Any]
    breakdown: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ClauseOnBoth:
    clause_id: str
    zh: str
    en: str
    declared_eligible: bool
    declared_fen: int | None
    official_eligible: bool
    official_fen: int | None

    @property
    def differs(self) -> bool:
        return (self.declared_eligible, self.declared_fen) != (
            self.official_eligible,
            self.official_fen,
        )


@dataclass(frozen=True)
class Comparison:
    application_id: int
    org_code: str
    org_name: str
    award_year: int
    rows: list[FigureRow]
    clauses: list[ClauseOnBoth]

    @property
    def differing(self) -> list[FigureRow]:
        return [r for r in self.rows if r.differs]


def rows_for(declared: dict[str, Any], stored: list[OfficialFigure]) -> list[FigureRow]:
    """Each official figure beside the declared value at its path."""
    breakdowns: dict[str, list[tuple[str, str]]] = {}
    for row in stored:
        match = _BREAKDOWN.match(row.field)
        if match:
            breakdowns.setdefault(match["path"], []).append((match["part"], row.value))
    rows: list[FigureRow] = []
    for row in stored:
        if _BREAKDOWN.match(row.field):
            continue
        info = fact_info(row.field)
        declared_text = _text(_declared(declared, row.field))
        official_number, declared_number = _number(row.value), _number(declared_text)
        difference: str | None = None
        if info.value_type in (int, Decimal) and None not in (official_number, declared_number):
            assert official_number is not None and declared_number is not None
            difference = format(official_number - declared_number, "f")
            differs = official_number != declared_number
        else:
            differs = declared_text is not None and declared_text != row.value
        rows.append(
            FigureRow(
                path=row.field,
                zh=info.zh,
                en=info.en,
                unit=info.unit,
                declared=declared_text,
                official=row.value,
                difference=difference,
                differs=differs,
                source=row.source,
                provenance=dict(row.provenance),
                breakdown=tuple(sorted(breakdowns.get(row.field, []))),
            )
        )
    return rows


def _load(s: Session, app_id: int) -> tuple[Application, Organisation]:
    app = s.get(Application, app_id)
    if app is None:
        raise NotFound(f"申报 {app_id} 不存在", f"no application {app_id}")
    org = s.get(Organisation, app.org_id)
    assert org is not None
    return app, org


def _evaluate(package: PolicyPackage, document: dict[str, Any], year: int) -> Evaluation:
    try:
        return evaluate(package, parse_facts(document), year)
    except InputError as exc:
        raise Invalid(
            "以官方数据替换后的事实有误",
            "the facts with official figures are not valid",
            exc.problems,
        ) from None


def official_document(s: Session, app: Application, org: Organisation) -> dict[str, Any]:
    """The application's facts as the records hold them, official figures substituted."""
    return substitute(facts_document(s, app, org), official_values(s, org.id, app.award_year))


def evaluate_on(svc: Services, actor: Actor, app_id: int, basis: str = "official") -> Evaluation:
    """Run the engine on the application's declared facts or on the official figures."""
    if basis not in BASES:
        raise Invalid(
            "依据有误",
            "unknown basis",
            [Problem("basis", basis, "应为 declared 或 official", "declared or official")],
        )
    with svc.reading() as s:
        app, org = _load(s, app_id)
        require_org(actor, org.id)
        if basis == "declared":
            return evaluate_application(s, svc.package, app, org)[1]
        return _evaluate(svc.package, official_document(s, app, org), app.award_year)


def compare(svc: Services, actor: Actor, app_id: int) -> Comparison:
    """Official figures beside the declared ones, and the engine's amounts on both bases."""
    with svc.reading() as s:
        app, org = _load(s, app_id)
        require_org(actor, org.id)
        declared_doc = facts_document(s, app, org)
        stored = figures_of(s, org.id, app.award_year)
        rows = rows_for(app.facts, stored)
        on_declared = evaluate_application(s, svc.package, app, org)[1]
        on_official = _evaluate(
            svc.package,
            substitute(declared_doc, official_values(s, org.id, app.award_year)),
            app.award_year,
        )
        wanted = set(app.clauses)
        clauses = [
            ClauseOnBoth(
                c.clause_id,
                c.title["zh"],
                c.title["en"],
                c.eligible,
                c.amount_fen,
                on_official.clause(c.clause_id).eligible,
                on_official.clause(c.clause_id).amount_fen,
            )
            for c in on_declared.clauses
            if c.clause_id in wanted
        ]
        return Comparison(app.id, org.credit_code, org.name, app.award_year, rows, clauses)
