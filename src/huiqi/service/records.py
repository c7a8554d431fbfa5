"""Reading what the engine needs from the records: facts, the ledger, other awards, listings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    Application,
    DishonestyListing,
    LedgerEntry,
    Organisation,
    OtherPolicyAward,
)
from huiqi.engine import Evaluation, evaluate
from huiqi.errors import InputError
from huiqi.facts import Facts, parse_facts
from huiqi.money import fen_to_yuan
from huiqi.policy import PolicyPackage
from huiqi.service.errors import Invalid

# The statements read on every submission, built once (building a statement costs more than
# running it from SQLAlchemy's compiled cache); the organisation is a bound parameter.
_LEDGER = (
    select(LedgerEntry).where(LedgerEntry.org_id == bindparam("org_id")).order_by(LedgerEntry.id)
)
_OTHER_AWARDS = select(OtherPolicyAward).where(OtherPolicyAward.org_id == bindparam("org_id"))
_LISTINGS = select(DishonestyListing).where(DishonestyListing.org_id == bindparam("org_id"))


def facts_document(session: Session, app: Application, org: Organisation) -> dict[str, Any]:
    """The application's declared facts, with the organisation's master data and the records'
    ledger and other-policy awards in place of anything the applicant declared for them."""
    data = dict(app.facts)
    applicant = dict(data.get("applicant") or {})
    applicant.update(
        credit_code=org.credit_code,
        name=org.name,
        kind=org.kind.value,
        tax_filing_division=org.division,
        platform_filed=org.platform_filed,
        platform_connected=org.platform_connected,
    )
    data["applicant"] = applicant
    data["award_year"] = app.award_year
    data["earlier_awards"] = [
        {
            "clause": e.clause_id,
            "subject_id": e.subject_id,
            "award_year": e.award_year,
            "amount_cny": _yuan(e.amount_fen),
        }
        for e in ledger_of(session, org.id)
    ]
    # Other policies' awards: those the bureau recorded, and those the applicant declared
    # that the records do not already hold (an honest declaration is never ignored).
    recorded = [
        {
            "policy": o.policy,
            "clause": o.clause_id,
            "subject_id": o.subject_id,
            "award_year": o.award_year,
            "amount_cny": _yuan(o.amount_fen),
        }
        for o in session.scalars(_OTHER_AWARDS, {"org_id": org.id})
    ]
    keys = {(o["policy"], o["clause"], o["subject_id"], o["award_year"]) for o in recorded}
    declared = [
        o
        for o in data.get("other_policy_awards") or []
        if (o.get("policy"), str(o.get("clause")), o.get("subject_id"), o.get("award_year"))
        not in keys
    ]
    data["other_policy_awards"] = recorded + declared
    return data


def _yuan(fen: int) -> str:
    return str(fen_to_yuan(fen))


def ledger_of(session: Session, org_id: int) -> list[LedgerEntry]:
    """The organisation's ledger, netted per (clause, subject, year): recoveries reduce awards."""
    rows = session.scalars(_LEDGER, {"org_id": org_id}).all()
    net: dict[tuple[str, str, int], int] = {}
    for row in rows:
        key = (row.clause_id, row.subject_id, row.award_year)
        net[key] = net.get(key, 0) + row.amount_fen
    return [
        LedgerEntry(org_id=org_id, clause_id=c, subject_id=s, award_year=y, amount_fen=fen)
        for (c, s, y), fen in net.items()
        if fen > 0
    ]


def evaluate_application(
    session: Session, package: PolicyPackage, app: Application, org: Organisation
) -> tuple[Facts, Evaluation]:
    """Run the engine on the application as the records stand now."""
    _, facts, evaluation = evaluate_document(package, facts_document(session, app, org))
    return facts, evaluation


def evaluate_document(
    package: PolicyPackage, document: dict[str, Any]
) -> tuple[dict[str, Any], Facts, Evaluation]:
    """Run the engine on a whole facts document (what :func:`facts_document` gives, or what an
    application stored of it); the document is returned too, to be kept for replay."""
    try:
        facts = parse_facts(document)
        return document, facts, evaluate(package, facts, int(document["award_year"]))
    except InputError as exc:
        raise Invalid("申报事实有误", "the declared facts are not valid", exc.problems) from None


def listed_dishonest(session: Session, org_id: int, on: date) -> DishonestyListing | None:
    """The serious-dishonesty listing in force for the organisation on ``on``, if any."""
    for listing in session.scalars(_LISTINGS, {"org_id": org_id}):
        if listing.listed_on <= on and (listing.removed_on is None or on < listing.removed_on):
            return listing
    return None


def decimal_text(value: Decimal) -> str:
    return format(value, "f")
