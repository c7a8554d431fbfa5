"""The records clauses depend on: recognitions, the office's pre-approvals, awards under
other policies, and serious-dishonesty listings.

Recognitions back what an applicant declares (a recognised park, a certified platform,
a pilot listing, a talent base 授牌); :func:`recognition_gaps` shows a reviewer every
declared claim with no recognition in force during the award year. Pre-approvals are
what events of 6.1 and 7.4 must reference (checked at submission); other-policy awards
feed 从优不重复; a listing keeps an organisation from applying and from plans.

Dates: a recognition is in force from ``valid_from`` to ``valid_to`` *inclusive* (有效期至);
a listing from ``listed_on`` until the day before ``removed_on`` (the day it is lifted).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    Application,
    DishonestyListing,
    Organisation,
    OtherPolicyAward,
    PreApproval,
    Recognition,
    RecognitionKind,
)
from huiqi.engine import check_year
from huiqi.errors import InputError, Problem
from huiqi.facts import Facts, parse_facts
from huiqi.facts.model import EventKind
from huiqi.facts.model import Recognition as Level
from huiqi.fulfilment.roles import Role
from huiqi.money import format_yuan
from huiqi.service import audit
from huiqi.service.actors import Actor, require, require_org, unknown_org
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.uow import Services

KIND_LABELS: dict[RecognitionKind, tuple[str, str]] = {
    RecognitionKind.PARK_PROVINCE: (
        "省商务部门认定的跨境电商产业园区",
        "park recognised by the province",
    ),
    RecognitionKind.PARK_CITY: ("市商务部门认定的跨境电商产业园区", "park recognised by the city"),
    RecognitionKind.DEMONSTRATION_BASE: (
        "省级电子商务示范基地",
        "provincial e-commerce demonstration base",
    ),
    RecognitionKind.CUSTOMS_CERTIFICATION: (
        "海关特殊监管区域或场所认证",
        "customs special supervision area or site certification",
    ),
    RecognitionKind.OVERSEAS_WAREHOUSE_PILOT: (
        "公共海外仓建设试点",
        "public overseas-warehouse pilot",
    ),
    RecognitionKind.TALENT_BASE: ("人才培养输出基地授牌", "talent-training base (授牌)"),
}
PARK_KINDS = (
    RecognitionKind.PARK_PROVINCE,
    RecognitionKind.PARK_CITY,
    RecognitionKind.DEMONSTRATION_BASE,
)


# -- small shared helpers ---------------------------------------------------------------


def text_field(problems: list[Problem], field: str, value: str | None, limit: int) -> str:
    """``value`` stripped; a problem naming ``field`` if it is empty or too long."""
    stripped = (value or "").strip()
    if not stripped:
        problems.append(Problem(field, value, "不能为空", "must not be empty"))
    elif len(stripped) > limit:
        problems.append(
            Problem(field, value, f"不能超过{limit}个字符", f"at most {limit} characters")
        )
    return stripped


def plain(view: Any) -> dict[str, Any]:
    """A view as an audit entry's JSON: its fields, dates as ISO text."""
    return {
        k: v.isoformat() if isinstance(v, date) else v for k, v in dataclasses.asdict(view).items()
    }


def org_by_code(s: Session, code: str, actor: Actor) -> Organisation:
    """The organisation with this credit code; "not found" worded for ``actor``
    (:func:`~huiqi.service.actors.unknown_org`)."""
    org = s.scalar(select(Organisation).where(Organisation.credit_code == code))
    if org is None:
        raise unknown_org(actor, code)
    return org


E = TypeVar("E", bound=StrEnum)


def _enum_value(problems: list[Problem], field: str, cls: type[E], value: object) -> E | None:
    try:
        return cls(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        problems.append(Problem(field, value, f"应为以下之一：{allowed}", f"one of: {allowed}"))
        return None


# -- recognitions -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecognitionView:
    id: int
    org_code: str
    org_name: str
    kind: str
    subject_id: str | None
    body: str
    document_no: str
    valid_from: date
    valid_to: date | None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    def describe(self) -> str:
        zh = KIND_LABELS[RecognitionKind(self.kind)][0]
        until = f"至{self.valid_to}" if self.valid_to else "起长期"
        return f"{self.org_name}：{zh}（{self.body}，{self.document_no}，{self.valid_from}{until}）"


def _recognition_view(rec: Recognition, org: Organisation) -> RecognitionView:
    return RecognitionView(
        rec.id,
        org.credit_code,
        org.name,
        rec.kind.value,
        rec.subject_id,
        rec.body,
        rec.document_no,
        rec.valid_from,
        rec.valid_to,
    )


def record_recognition(
    svc: Services,
    actor: Actor,
    org_code: str,
    kind: RecognitionKind | str,
    body: str,
    document_no: str,
    valid_from: date,
    valid_to: date | None = None,
    subject_id: str | None = None,
) -> RecognitionView:
    """The commerce bureau records a recognition, with the body, document number and dates."""
    require(actor, Role.COMMERCE_REVIEWER, Role.ADMIN)
    problems: list[Problem] = []
    kind_value = _enum_value(problems, "kind", RecognitionKind, kind)
    body = text_field(problems, "body", body, 100)
    document_no = text_field(problems, "document_no", document_no, 100)
    if valid_to is not None and valid_to < valid_from:
        problems.append(
            Problem(
                "valid_to",
                str(valid_to),
                f"有效期截止日早于起始日 {valid_from}",
                f"ends before it starts ({valid_from})",
            )
        )
    if subject_id is not None:
        subject_id = text_field(problems, "subject_id", subject_id, 64)
    if problems or kind_value is None:
        raise Invalid("认定信息有误", "bad recognition details", problems)
    with svc.transaction() as s:
        org = org_by_code(s, org_code, actor)
        duplicate = s.scalar(
            select(Recognition).where(
                Recognition.org_id == org.id,
                Recognition.kind == kind_value,
                Recognition.document_no == document_no,
            )
        )
        if duplicate is not None and duplicate.subject_id == subject_id:
            raise Conflict(
                f"该认定（{document_no}）已登记", f"this recognition ({document_no}) is recorded"
            )
        rec = Recognition(
            org_id=org.id,
            kind=kind_value,
            subject_id=subject_id,
            body=body,
            document_no=document_no,
            valid_from=valid_from,
            valid_to=valid_to,
            recorded_at=svc.clock(),
        )
        s.add(rec)
        s.flush()
        view = _recognition_view(rec, org)
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="recognition.record",
            object_type="recognition",
            object_id=rec.id,
            after=plain(view),
        )
        return view


def recognitions_of(
    svc: Services, actor: Actor, org_code: str, *, on: date | None = None
) -> list[RecognitionView]:
    """The organisation's recognitions in force on ``on`` (default: today)."""
    day = on or svc.clock().date()
    with svc.reading() as s:
        org = org_by_code(s, org_code, actor)
        if not actor.has(Role.ADMIN):
            require_org(actor, org.id)
        rows = s.scalars(
            select(Recognition).where(Recognition.org_id == org.id).order_by(Recognition.id)
        )
        return [v for v in (_recognition_view(r, org) for r in rows) if v.in_force(day)]


class GapStatus(StrEnum):
    MISSING = "missing"  # no recognition in force during the award year backs the claim
    UNVERIFIABLE = "unverifiable"  # the facts do not say whose recognition to look for


@dataclass(frozen=True)
class Finding:
    """A declared fact that claims a recognition the records do not (or cannot) show."""

    path: str
    value: str
    status: GapStatus
    zh: str
    en: str
    #: Recognitions in force that year that come close (another level, another subject …).
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Claim:
    path: str
    value: str
    kinds: tuple[RecognitionKind, ...]
    subject: str
    zh: str
    en: str


def _claims(facts: Facts) -> list[_Claim]:
    """Every declared fact that claims a recognition, with the kinds that would back it."""
    code = facts.applicant.credit_code
    claims: list[_Claim] = []
    park = facts.park
    if park is not None and park.recognised_by in (Level.PROVINCE, Level.CITY):
        kind = (
            RecognitionKind.PARK_PROVINCE
            if park.recognised_by is Level.PROVINCE
            else RecognitionKind.PARK_CITY
        )
        zh_level = "省级" if park.recognised_by is Level.PROVINCE else "市级"
        en_level = park.recognised_by.value
        claims.append(
            _Claim(
                "$.park.recognised_by",
                park.recognised_by.value,
                (kind,),
                code,
                f"申报称园区经{zh_level}商务部门认定",
                f"declares the park recognised by the {en_level} commerce department",
            )
        )
    if park is not None and park.demonstration_base:
        claims.append(
            _Claim(
                "$.park.demonstration_base",
                "true",
                (RecognitionKind.DEMONSTRATION_BASE,),
                code,
                "申报称为省级电子商务示范基地",
                "declares a provincial e-commerce demonstration base",
            )
        )
    platform = facts.public_service_platform
    if platform is not None and platform.customs_certified:
        claims.append(
            _Claim(
                "$.public_service_platform.customs_certified",
                "true",
                (RecognitionKind.CUSTOMS_CERTIFICATION,),
                code,
                "申报称通过海关特殊监管区域或场所认证",
                "declares a customs special supervision certification",
            )
        )
    pilot = facts.overseas_warehouse_pilot
    if pilot is not None and pilot.listed_by is not Level.NONE:
        claims.append(
            _Claim(
                "$.overseas_warehouse_pilot.listed_by",
                pilot.listed_by.value,
                (RecognitionKind.OVERSEAS_WAREHOUSE_PILOT,),
                code,
                "申报称列入公共海外仓建设试点",
                "declares a listing as a public overseas-warehouse pilot",
            )
        )
    base = facts.talent_base
    if base is not None and base.recognised:
        claims.append(
            _Claim(
                "$.talent_base.recognised",
                "true",
                (RecognitionKind.TALENT_BASE,),
                base.id,
                f"申报称人才培养输出基地 {base.id} 经市商务部门授牌",
                f"declares talent base {base.id} recognised (授牌) by the city",
            )
        )
    return claims


def recognition_gaps(svc: Services, actor: Actor, application_id: int) -> list[Finding]:
    """For a reviewer: declared claims of a recognition with none in force in the award year.

    A recognition backs a claim if it is of the claimed kind, belongs to the applicant,
    names the claimed subject (or no subject) and is in force on any day of the award
    year. ``tenancy.park_recognised`` cannot be checked: the facts do not name the park,
    so it is reported as *unverifiable* with the recognised parks of that year to check
    by hand — or as *missing* when no park at all was recognised that year.
    """
    require(actor, Role.COMMERCE_REVIEWER, Role.AUDITOR)
    with svc.reading() as s:
        app = s.get(Application, application_id)
        if app is None:
            raise NotFound(f"申报 {application_id} 不存在", f"no application {application_id}")
        org = s.get(Organisation, app.org_id)
        assert org is not None
        try:
            facts = parse_facts({**app.facts, "award_year": app.award_year})
        except InputError as exc:
            raise Invalid(
                "申报事实有误", "the declared facts are not valid", exc.problems
            ) from None
        start, end = date(app.award_year, 1, 1), date(app.award_year, 12, 31)
        orgs = {o.id: o for o in s.scalars(select(Organisation))}
        in_year = [
            (rec, _recognition_view(rec, orgs[rec.org_id]))
            for rec in s.scalars(select(Recognition).order_by(Recognition.id))
            if rec.valid_from <= end and (rec.valid_to is None or rec.valid_to >= start)
        ]
        findings = [
            finding
            for claim in _claims(facts)
            if (finding := _check_claim(claim, org, in_year, app.award_year)) is not None
        ]
        tenancy = facts.tenancy
        if tenancy is not None and tenancy.park_recognised:
            parks = tuple(v.describe() for rec, v in in_year if rec.kind in PARK_KINDS)
            findings.append(_tenancy_finding(parks, app.award_year))
        return findings


def _check_claim(
    claim: _Claim,
    org: Organisation,
    in_year: list[tuple[Recognition, RecognitionView]],
    year: int,
) -> Finding | None:
    own = [(rec, v) for rec, v in in_year if rec.org_id == org.id]
    if any(rec.kind in claim.kinds and rec.subject_id in (None, claim.subject) for rec, _ in own):
        return None
    related = PARK_KINDS if set(claim.kinds) <= set(PARK_KINDS) else claim.kinds
    candidates = tuple(v.describe() for rec, v in own if rec.kind in related)
    wanted_zh = "或".join(KIND_LABELS[k][0] for k in claim.kinds)
    wanted_en = " or ".join(KIND_LABELS[k][1] for k in claim.kinds)
    return Finding(
        claim.path,
        claim.value,
        GapStatus.MISSING,
        f"{claim.zh}，但{year}年度没有在效的{wanted_zh}认定记录",
        f"{claim.en}, but no {wanted_en} recognition on record is in force in {year}",
        candidates,
    )


def _tenancy_finding(parks: tuple[str, ...], year: int) -> Finding:
    path = "$.tenancy.park_recognised"
    if not parks:
        return Finding(
            path,
            "true",
            GapStatus.MISSING,
            f"申报称入驻的园区经认定或为示范基地，但{year}年度没有任何在效的园区认定记录",
            f"declares a recognised park or demonstration base, but no park recognition "
            f"is in force in {year}",
        )
    return Finding(
        path,
        "true",
        GapStatus.UNVERIFIABLE,
        "申报称入驻的园区经认定或为示范基地；申报事实未写明园区，无法自动核对，请对照本年度在效的认定园区人工核实",
        "declares a recognised park or demonstration base; the facts do not name the park, "
        "so check it by hand against the parks recognised that year",
        parks,
    )


# -- pre-approvals of events (6.1, 7.4) ---------------------------------------------------


@dataclass(frozen=True)
class PreApprovalView:
    id: int
    org_code: str
    reference: str
    event_kind: str
    title: str
    approved_on: date


def record_pre_approval(
    svc: Services,
    actor: Actor,
    org_code: str,
    reference: str,
    event_kind: EventKind | str,
    title: str,
    approved_on: date,
) -> PreApprovalView:
    """The leading group's office records its prior approval of an event; a 文号 is unique."""
    require(actor, Role.OFFICE_REVIEWER)
    problems: list[Problem] = []
    reference = text_field(problems, "reference", reference, 100)
    kind = _enum_value(problems, "event_kind", EventKind, event_kind)
    title = text_field(problems, "title", title, 200)
    if problems or kind is None:
        raise Invalid("事先批准信息有误", "bad pre-approval details", problems)
    duplicate = Conflict(f"批准文号 {reference} 已登记", f"reference {reference} is recorded")
    with svc.transaction() as s:
        org = org_by_code(s, org_code, actor)
        if s.scalar(select(PreApproval).where(PreApproval.reference == reference)) is not None:
            raise duplicate
        row = PreApproval(
            org_id=org.id,
            reference=reference,
            event_kind=kind.value,
            title=title,
            approved_on=approved_on,
            approved_by=actor.user_id,
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # recorded by someone else meanwhile
            raise duplicate from None
        view = PreApprovalView(row.id, org.credit_code, reference, kind.value, title, approved_on)
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="pre_approval.record",
            object_type="pre_approval",
            object_id=row.id,
            after=plain(view),
        )
        return view


# -- awards under other policies (从优不重复) --------------------------------------------------


@dataclass(frozen=True)
class OtherAwardView:
    id: int
    org_code: str
    policy: str
    clause_id: str
    subject_id: str | None
    award_year: int
    amount_fen: int
    provenance: dict[str, str | None]


def record_other_award(
    svc: Services,
    actor: Actor,
    org_code: str,
    *,
    policy: str,
    clause_id: str,
    award_year: int,
    amount_fen: int,
    document_no: str,
    subject_id: str | None = None,
    note: str | None = None,
) -> OtherAwardView:
    """Record what another Chenzhou policy paid for the same subject; the engine pays only
    the difference (从优不重复) for clauses that overlap."""
    require(actor, Role.COMMERCE_REVIEWER)
    problems: list[Problem] = []
    policy = text_field(problems, "policy", policy, 200)
    document_no = text_field(problems, "document_no", document_no, 100)
    clause = svc.package.clauses.get(clause_id)
    if clause is None:
        ids = ", ".join(sorted(svc.package.clauses))
        problems.append(
            Problem("clause_id", clause_id, f"应为本政策的条款：{ids}", f"a clause of: {ids}")
        )
    elif not clause.overlap:
        problems.append(
            Problem(
                "clause_id",
                clause_id,
                "该条款的金额本身来自其他政策，不适用从优不重复",
                "this clause's amount comes from the other policy; 从优不重复 does not apply",
            )
        )
    try:
        check_year(svc.package, award_year)
    except InputError as exc:
        problems += [Problem("award_year", award_year, p.zh, p.en) for p in exc.problems]
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        problems.append(
            Problem("amount_fen", amount_fen, "须为大于零的整数（分）", "a whole number of fen > 0")
        )
    if subject_id is not None:
        subject_id = text_field(problems, "subject_id", subject_id, 64)
    if problems:
        raise Invalid("其他政策奖补信息有误", "bad other-policy award", problems)
    provenance = {"document_no": document_no, "note": note, "recorded_by": actor.username}
    with svc.transaction() as s:
        org = org_by_code(s, org_code, actor)
        row = OtherPolicyAward(
            org_id=org.id,
            policy=policy,
            clause_id=clause_id,
            subject_id=subject_id,
            award_year=award_year,
            amount_fen=amount_fen,
            provenance=provenance,
            recorded_at=svc.clock(),
        )
        s.add(row)
        s.flush()
        view = OtherAwardView(
            row.id,
            org.credit_code,
            policy,
            clause_id,
            subject_id,
            award_year,
            amount_fen,
            provenance,
        )
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="other_award.record",
            object_type="other_policy_award",
            object_id=row.id,
            after={**plain(view), "amount": format_yuan(amount_fen)},
        )
        return view


# -- serious-dishonesty listings (失信) -------------------------------------------------------


@dataclass(frozen=True)
class ListingView:
    id: int
    org_code: str
    source: str
    document_no: str | None
    listed_on: date
    removed_on: date | None


def _listing_view(row: DishonestyListing, org: Organisation) -> ListingView:
    return ListingView(
        row.id, org.credit_code, row.source, row.document_no, row.listed_on, row.removed_on
    )


def list_dishonest(
    svc: Services,
    actor: Actor,
    org_code: str,
    source: str,
    document_no: str | None,
    listed_on: date,
    removed_on: date | None = None,
) -> ListingView:
    """Record an organisation's listing as seriously dishonest, with its source and dates."""
    require(actor, Role.COMMERCE_REVIEWER)
    problems: list[Problem] = []
    source = text_field(problems, "source", source, 200)
    if document_no is not None:
        document_no = text_field(problems, "document_no", document_no, 100)
    if removed_on is not None and removed_on <= listed_on:
        problems.append(
            Problem(
                "removed_on",
                str(removed_on),
                f"移出日期须晚于列入日期 {listed_on}",
                f"must be after the listing date {listed_on}",
            )
        )
    if problems:
        raise Invalid("失信名单信息有误", "bad dishonesty listing", problems)
    with svc.transaction() as s:
        org = org_by_code(s, org_code, actor)
        for other in s.scalars(select(DishonestyListing).where(DishonestyListing.org_id == org.id)):
            if _overlaps(other.listed_on, other.removed_on, listed_on, removed_on):
                raise Conflict(
                    f"该单位在此期间已列入失信名单（{other.source}，{other.listed_on}起）",
                    f"the organisation is already listed then ({other.source} "
                    f"from {other.listed_on})",
                )
        row = DishonestyListing(
            org_id=org.id,
            source=source,
            document_no=document_no,
            listed_on=listed_on,
            removed_on=removed_on,
        )
        s.add(row)
        s.flush()
        view = _listing_view(row, org)
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="dishonesty.list",
            object_type="dishonesty_listing",
            object_id=row.id,
            after=plain(view),
        )
        return view


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    """Two half-open periods [from, to) share a day; ``None`` is open-ended."""
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


def lift_listing(
    svc: Services, actor: Actor, listing_id: int, removed_on: date, reason: str
) -> ListingView:
    """Record that an organisation left the list: from ``removed_on`` it may apply again."""
    require(actor, Role.COMMERCE_REVIEWER)
    problems: list[Problem] = []
    reason = text_field(problems, "reason", reason, 2000)
    if problems:
        raise Invalid("移出失信名单须写明依据", "lifting a listing needs a reason", problems)
    with svc.transaction() as s:
        row = s.get(DishonestyListing, listing_id, with_for_update=True)
        if row is None:
            raise NotFound(f"失信记录 {listing_id} 不存在", f"no listing {listing_id}")
        if row.removed_on is not None:
            raise Conflict(
                f"该记录已于 {row.removed_on} 移出", f"this listing was lifted on {row.removed_on}"
            )
        if removed_on <= row.listed_on:
            raise Invalid(
                "移出日期有误",
                "bad removal date",
                [
                    Problem(
                        "removed_on",
                        str(removed_on),
                        f"须晚于列入日期 {row.listed_on}",
                        f"must be after the listing date {row.listed_on}",
                    )
                ],
            )
        row.removed_on = removed_on
        s.flush()
        org = s.get(Organisation, row.org_id)
        assert org is not None
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="dishonesty.lift",
            object_type="dishonesty_listing",
            object_id=row.id,
            before={"removed_on": None},
            after={"removed_on": str(removed_on)},
            reason=reason,
        )
        return _listing_view(row, org)


def listings_of(svc: Services, actor: Actor, org_code: str) -> list[ListingView]:
    """Every listing of the organisation, past and present."""
    with svc.reading() as s:
        org = org_by_code(s, org_code, actor)
        require_org(actor, org.id)
        rows = s.scalars(
            select(DishonestyListing)
            .where(DishonestyListing.org_id == org.id)
            .order_by(DishonestyListing.id)
        )
        return [_listing_view(r, org) for r in rows]
