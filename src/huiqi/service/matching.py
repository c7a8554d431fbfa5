"""Proactive matching (免申即享, 政策找企业): who appears eligible on official data alone.

For an award year, every registered organisation is evaluated on what the records hold
without any declaration: its register entry (kind, tax-filing county or zone, platform
filing and connection), the official figures imported for the year, the award ledger and
other policies' awards. Being registered with a credit code and a tax-filing county or zone
is taken as clause 1's local registration, tax and legal-person conditions; being in the
customs statistics needs a customs figure. The result lists, per organisation, the clauses
it appears eligible for and how much, marking what it has not applied for; letters (Chinese
and English) and a CSV for SMS tools tell those who have not.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.contents.cells import csv_row
from huiqi.db.tables import Application, Organisation
from huiqi.engine import Evaluation, check_year, evaluate
from huiqi.errors import InputError, Problem
from huiqi.facts import parse_facts
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import AppState
from huiqi.money import format_yuan
from huiqi.policy import PolicyPackage
from huiqi.policy.model import AmountKind
from huiqi.service.actors import Actor, require
from huiqi.service.errors import Invalid
from huiqi.service.official import PRESUMED, SOURCE_LABELS, official_values, substitute
from huiqi.service.records import facts_document, listed_dishonest
from huiqi.service.uow import Services

OWED = (AmountKind.FIXED, AmountKind.COMPUTED, AmountKind.EXTERNAL)
ISSUER = ("郴州市商务局", "Chenzhou Municipal Bureau of Commerce")


@dataclass(frozen=True)
class Match:
    clause_id: str
    zh: str
    en: str
    kind: str
    amount_fen: int | None
    applied: bool

    def amount_text(self, lang: str = "zh") -> str:
        if self.amount_fen is None:
            return "金额经评审核定" if lang == "zh" else "amount set by review"
        if self.kind == AmountKind.CEILING:
            if lang == "zh":
                return f"最高不超过{format_yuan(self.amount_fen)}（经评审核定）"
            return f"up to {format_yuan(self.amount_fen, 'en')} (set by review)"
        return (
            f"预计{format_yuan(self.amount_fen)}"
            if lang == "zh"
            else f"about {format_yuan(self.amount_fen, 'en')}"
        )


@dataclass(frozen=True)
class Candidate:
    org_id: int
    credit_code: str
    name: str
    division: str
    kind: str
    applied: bool
    application_ids: tuple[int, ...]
    sources: tuple[str, ...]
    matches: tuple[Match, ...]

    @property
    def expected_fen(self) -> int:
        """What the clauses owe as of right (fixed, computed, external); ceilings not counted."""
        return sum(m.amount_fen or 0 for m in self.matches if m.kind in OWED)

    @property
    def not_applied(self) -> tuple[Match, ...]:
        return tuple(m for m in self.matches if not m.applied)


@dataclass(frozen=True)
class Excluded:
    credit_code: str
    name: str
    zh: str
    en: str


@dataclass(frozen=True)
class MatchReport:
    award_year: int
    document_no: str
    policy_title: str
    policy_version: str
    policy_sha256: str
    evaluated: int
    candidates: tuple[Candidate, ...]
    excluded: tuple[Excluded, ...]

    @property
    def to_notify(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.not_applied)

    def as_dict(self) -> dict[str, Any]:
        return {
            "award_year": self.award_year,
            "policy": {
                "document_no": self.document_no,
                "version": self.policy_version,
                "sha256": self.policy_sha256,
            },
            "evaluated": self.evaluated,
            "candidates": [
                {
                    "credit_code": c.credit_code,
                    "name": c.name,
                    "division": c.division,
                    "applied": c.applied,
                    "application_ids": list(c.application_ids),
                    "sources": list(c.sources),
                    "expected_fen": c.expected_fen,
                    "matches": [m.__dict__ for m in c.matches],
                }
                for c in self.candidates
            ],
            "excluded": [e.__dict__ for e in self.excluded],
        }


def organisation_facts(s: Session, org: Organisation, year: int) -> tuple[dict[str, Any], set[str]]:
    """The facts of an organisation-year on the records alone, and the official sources used."""
    figures = official_values(s, org.id, year)
    blank = Application(facts={"applicant": dict.fromkeys(PRESUMED, True)}, award_year=year)
    document = facts_document(s, blank, org)
    document["applicant"]["in_customs_cbec_statistics"] = any(
        f.source == "customs" for f in figures.values()
    )
    return substitute(document, figures), {f.source for f in figures.values()}


def _applications(s: Session, year: int) -> dict[int, list[Application]]:
    out: dict[int, list[Application]] = {}
    for app in s.scalars(
        select(Application)
        .where(Application.award_year == year, Application.state != AppState.DRAFT)
        .order_by(Application.id)
    ):
        out.setdefault(app.org_id, []).append(app)
    return out


def _evaluate(package: PolicyPackage, document: dict[str, Any], year: int) -> Evaluation | None:
    try:
        return evaluate(package, parse_facts(document), year)
    except InputError:
        return None


def match(svc: Services, actor: Actor, *, year: int) -> MatchReport:
    """Evaluate every registered organisation on official data for ``year``."""
    require(actor, Role.COMMERCE_REVIEWER, Role.PLAN_DRAFTER, Role.AUDITOR)
    try:
        check_year(svc.package, year)
    except InputError as exc:
        raise Invalid(
            "奖补年度有误",
            "bad award year",
            [Problem("year", year, p.zh, p.en) for p in exc.problems],
        ) from None
    today = svc.clock().date()
    package = svc.package
    candidates: list[Candidate] = []
    excluded: list[Excluded] = []
    with svc.reading() as s:
        orgs = list(s.scalars(select(Organisation).order_by(Organisation.id)))
        applied = _applications(s, year)
        for org in orgs:
            listing = listed_dishonest(s, org.id, today)
            if listing is not None:
                excluded.append(
                    Excluded(
                        org.credit_code,
                        org.name,
                        f"列入严重失信名单（{listing.source}），不予匹配",
                        f"on a serious-dishonesty list ({listing.source}); not matched",
                    )
                )
                continue
            document, sources = organisation_facts(s, org, year)
            result = _evaluate(package, document, year)
            if result is None:
                excluded.append(
                    Excluded(
                        org.credit_code,
                        org.name,
                        "官方数据不完整或有误，无法测算",
                        "official data incomplete or invalid; not evaluated",
                    )
                )
                continue
            apps = applied.get(org.id, [])
            clauses_applied = {c for a in apps for c in a.clauses}
            matches = tuple(
                Match(
                    c.clause_id,
                    c.title["zh"],
                    c.title["en"],
                    c.kind.value,
                    c.amount_fen,
                    c.clause_id in clauses_applied,
                )
                for c in result.clauses
                if c.eligible and (c.amount_fen is None or c.amount_fen > 0)
            )
            if matches:
                candidates.append(
                    Candidate(
                        org.id,
                        org.credit_code,
                        org.name,
                        org.division,
                        org.kind.value,
                        bool(apps),
                        tuple(a.id for a in apps),
                        tuple(sorted(sources)),
                        matches,
                    )
                )
    return MatchReport(
        award_year=year,
        document_no=package.policy.document_no,
        policy_title=package.policy.title.zh,
        policy_version=package.version,
        policy_sha256=package.sha256,
        evaluated=len(orgs),
        candidates=tuple(candidates),
        excluded=tuple(excluded),
    )


# -- letters and SMS --------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    credit_code: str
    name: str
    zh: str
    en: str


def _sources(candidate: Candidate, lang: str) -> str:
    names = [SOURCE_LABELS.get(s, (s, s))[0 if lang == "zh" else 1] for s in candidate.sources]
    if lang == "zh":
        return "、".join(names) or "有关部门"
    return ", ".join(names) or "the authorities"


def citation(report: MatchReport, clause_ids: list[str]) -> str:
    ids = "、".join(clause_ids)
    return (
        f"依据 / Basis: {report.document_no} 第{ids}条 / clauses {', '.join(clause_ids)}; "
        f"policy package {report.policy_version} sha256 {report.policy_sha256}"
    )


def letter(report: MatchReport, candidate: Candidate, on: date) -> Letter:
    """A notification letter for the clauses the organisation has not applied for."""
    todo = candidate.not_applied
    zh_lines = [
        f"{candidate.name}：",
        "",
        f"　　根据{_sources(candidate, 'zh')}提供的{report.award_year}年度数据，经惠企平台"
        f"按《{report.policy_title}》（{report.document_no}）自动比对（免申即享），"
        "贵单位可能符合以下扶持条件，且尚未申报：",
    ]
    en_lines = [
        f"To {candidate.name} (unified social credit code {candidate.credit_code}):",
        "",
        f"From the {report.award_year} figures of {_sources(candidate, 'en')}, the huiqi "
        f"platform's automatic check against {report.document_no} (proactive matching) "
        "finds that you may qualify for the following support, which you have not applied for:",
    ]
    for number, m in enumerate(todo, start=1):
        zh_lines.append(f"　　{number}. 第{m.clause_id}条 {m.zh}：{m.amount_text('zh')}")
        en_lines.append(f"  {number}. Clause {m.clause_id} {m.en}: {m.amount_text('en')}")
    owed = sum(m.amount_fen or 0 for m in todo if m.kind in OWED)
    if owed:
        zh_lines.append(f"　　以上按规定金额测算合计约{format_yuan(owed)}。")
        en_lines.append(
            f"The fixed and computed amounts above add up to {format_yuan(owed, 'en')}."
        )
    zh_lines += [
        "",
        "　　以上为依据官方数据的初步测算，最终以审核、公示和批准结果为准。"
        "请登录惠企平台提交申报（统一社会信用代码："
        f"{candidate.credit_code}），如有疑问请联系{ISSUER[0]}。",
        "",
        f"{ISSUER[0]}",
        f"{on.year}年{on.month}月{on.day}日",
        "",
        citation(report, [m.clause_id for m in todo]),
    ]
    en_lines += [
        "",
        "This is a first estimate from official data; the amounts are decided by review, "
        "public notice and approval. Please apply on the huiqi platform, or contact the "
        f"{ISSUER[1]} with any question.",
        "",
        ISSUER[1],
        on.isoformat(),
        "",
        citation(report, [m.clause_id for m in todo]),
    ]
    return Letter(
        candidate.credit_code,
        candidate.name,
        "\n".join(zh_lines) + "\n",
        "\n".join(en_lines) + "\n",
    )


def letters(report: MatchReport, on: date) -> list[Letter]:
    return [letter(report, c, on) for c in report.to_notify]


SMS_HEADER = ("单位名称", "统一社会信用代码", "手机号码", "短信内容")


def sms_text(report: MatchReport, candidate: Candidate) -> str:
    todo = candidate.not_applied
    ids = "、".join(m.clause_id for m in todo)
    owed = sum(m.amount_fen or 0 for m in todo if m.kind in OWED)
    amount = f"，按规定测算约{format_yuan(owed)}" if owed else ""
    return (
        f"【{ISSUER[0]}】{candidate.name}：据{report.award_year}年度官方数据，贵单位可能符合"
        f"{report.document_no}第{ids}条扶持条件{amount}，尚未申报。请登录惠企平台申报，"
        "以审核结果为准。"
    )


def sms_csv(report: MatchReport) -> bytes:
    """UTF-8 (with BOM, so spreadsheet programs read the Chinese) CSV: name, credit code, phone
    (not held by the records: left empty), message; formula-like text written as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SMS_HEADER)
    for candidate in report.to_notify:
        row = [candidate.name, candidate.credit_code, "", sms_text(report, candidate)]
        writer.writerow(csv_row(row))  # a name like "=HYPERLINK(…)" stays text
    return ("\ufeff" + out.getvalue()).encode("utf-8")
