"""Records clauses depend on: recognitions, pre-approvals, other-policy awards, listings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from huiqi.db.tables import AuditEntry
from huiqi.fulfilment.decisions import LineDecision
from huiqi.fulfilment.roles import Role
from huiqi.service import applications, orgs, plans, registry
from huiqi.service import audit as audit_service
from huiqi.service.actors import Actor, load_actor
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound
from huiqi.service.registry import GapStatus
from huiqi.service.uow import Services

from .conftest import ORG_A, ORG_B, PARK, Cast

APPLICANT_A: dict[str, Any] = {
    "credit_code": ORG_A,
    "name": "x",
    "kind": "cbec_enterprise",
    "registered_locally": True,
    "tax_paying_locally": True,
    "independent_legal_person": True,
    "in_customs_cbec_statistics": True,
}
FACTS: dict[str, Any] = {
    "applicant": APPLICANT_A,
    "trade": {"export_usd": "250000", "import_usd": "0"},
    "staff_training": {"costs_cny": "40000"},
}
FACTS_B: dict[str, Any] = {
    "applicant": {**APPLICANT_A, "credit_code": ORG_B, "kind": "service_enterprise"},
    "staff_training": {"costs_cny": "10000"},
}


def approve_all(view: applications.ApplicationView) -> list[LineDecision]:
    return [
        LineDecision(ln.clause_id, ln.subject_id, True, ln.engine_fen, "符合政策")
        for ln in view.lines
    ]


def park_applicant(svc: Services, cast: Cast) -> Actor:
    orgs.add_user(
        svc, cast.admin, username="pat", display_name="pat", roles=[Role.APPLICANT], org_code=PARK
    )
    with svc.reading() as s:
        return load_actor(s, "pat")


def actions(svc: Services) -> list[str]:
    with svc.reading() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


# -- recognitions ---------------------------------------------------------------------------


def test_a_recognition_is_in_force_from_its_first_to_its_last_day(
    svc: Services, cast: Cast
) -> None:
    rec = registry.record_recognition(
        svc,
        cast.rui,
        PARK,
        "park_city",
        "郴州市商务局",
        "郴商务〔2021〕12号",
        date(2021, 1, 1),
        date(2022, 12, 31),
    )
    assert (rec.org_code, rec.kind, rec.document_no) == (PARK, "park_city", "郴商务〔2021〕12号")

    def on(day: date) -> list[int]:
        return [r.id for r in registry.recognitions_of(svc, cast.rui, PARK, on=day)]

    assert on(date(2020, 12, 31)) == []
    assert on(date(2021, 1, 1)) == [rec.id]
    assert on(date(2022, 12, 31)) == [rec.id]  # valid_to is the last day in force
    assert on(date(2023, 1, 1)) == []
    assert actions(svc)[-1] == "recognition.record"


def test_a_bad_recognition_is_refused_naming_each_field_and_value(
    svc: Services, cast: Cast
) -> None:
    with pytest.raises(Invalid) as raised:
        registry.record_recognition(
            svc,
            cast.rui,
            PARK,
            "museum",
            " ",
            "郴商务〔2021〕12号",
            date(2022, 1, 1),
            date(2021, 1, 1),
        )
    assert {(p.path, p.value) for p in raised.value.problems} == {
        ("kind", "museum"),
        ("body", " "),
        ("valid_to", "2021-01-01"),
    }
    assert all(p.zh and p.en for p in raised.value.problems)


def test_only_the_commerce_bureau_or_the_administrator_records_recognitions(
    svc: Services, cast: Cast
) -> None:
    for someone in (cast.ou, cast.alice, cast.shen):
        with pytest.raises(Forbidden):
            registry.record_recognition(
                svc, someone, ORG_A, "customs_certification", "郴州海关", "X-1", date(2022, 1, 1)
            )
    registry.record_recognition(
        svc, cast.admin, ORG_A, "customs_certification", "郴州海关", "X-1", date(2022, 1, 1)
    )
    with pytest.raises(Conflict):  # the same document for the same organisation again
        registry.record_recognition(
            svc, cast.rui, ORG_A, "customs_certification", "郴州海关", "X-1", date(2022, 1, 1)
        )


def test_an_applicant_sees_only_its_own_organisations_recognitions(
    svc: Services, cast: Cast
) -> None:
    registry.record_recognition(
        svc, cast.rui, ORG_A, "customs_certification", "郴州海关", "X-1", date(2022, 1, 1)
    )
    assert len(registry.recognitions_of(svc, cast.alice, ORG_A, on=date(2022, 6, 1))) == 1
    with pytest.raises(NotFound):
        registry.recognitions_of(svc, cast.charlie, ORG_A, on=date(2022, 6, 1))


def test_a_park_claiming_recognitions_not_in_force_that_year_is_reported_by_fact_path(
    svc: Services, cast: Cast
) -> None:
    pat = park_applicant(svc, cast)
    facts = {
        "applicant": {**APPLICANT_A, "credit_code": PARK, "kind": "park"},
        "park": {
            "recognised_by": "province",
            "demonstration_base": True,
            "new_cbec_tenants": 12,
            "new_tenants_cbec_total_usd": "31000000",
        },
    }
    draft = applications.create_draft(
        svc, pat, org_code=PARK, year=2022, clauses=["2.1"], facts=facts
    )
    registry.record_recognition(
        svc, cast.rui, PARK, "park_city", "郴州市商务局", "郴商务〔2020〕3号", date(2020, 1, 1)
    )
    registry.record_recognition(
        svc,
        cast.rui,
        PARK,
        "demonstration_base",
        "湖南省商务厅",
        "湘商务〔2019〕7号",
        date(2019, 1, 1),
        date(2021, 12, 31),  # expired before the award year 2022
    )
    findings = {f.path: f for f in registry.recognition_gaps(svc, cast.rui, draft.id)}
    assert set(findings) == {"$.park.recognised_by", "$.park.demonstration_base"}
    level = findings["$.park.recognised_by"]
    assert (level.value, level.status) == ("province", GapStatus.MISSING)
    assert "省级" in level.zh and "2022" in level.en
    assert any("郴商务〔2020〕3号" in c for c in level.candidates)  # the city one is there

    # A provincial recognition from November 2022 is in force during the award year.
    registry.record_recognition(
        svc,
        cast.rui,
        PARK,
        "park_province",
        "湖南省商务厅",
        "湘商务〔2022〕40号",
        date(2022, 11, 1),
    )
    paths = [f.path for f in registry.recognition_gaps(svc, cast.rui, draft.id)]
    assert paths == ["$.park.demonstration_base"]


def test_each_claim_needs_the_applicants_own_recognition_for_the_claimed_subject(
    svc: Services, cast: Cast
) -> None:
    facts = {
        **FACTS,
        "public_service_platform": {"customs_certified": True, "cbec_total_usd": "21000000"},
        "overseas_warehouse_pilot": {"listed_by": "ministry"},
        "talent_base": {"id": "TB1", "recognised": True, "construction_cny": "100000"},
    }
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["3.2", "5.2a", "7.2"], facts=facts
    )
    registry.record_recognition(  # another organisation's certification does not count
        svc,
        cast.rui,
        ORG_B,
        "customs_certification",
        "郴州海关",
        "郴关〔2021〕1号",
        date(2021, 1, 1),
    )
    registry.record_recognition(
        svc,
        cast.rui,
        ORG_A,
        "overseas_warehouse_pilot",
        "商务部",
        "商办〔2022〕9号",
        date(2022, 5, 1),
    )
    registry.record_recognition(
        svc,
        cast.rui,
        ORG_A,
        "talent_base",
        "郴州市商务局",
        "郴商务〔2022〕8号",
        date(2022, 1, 1),
        subject_id="TB2",  # another base of the same company
    )
    findings = {f.path: f for f in registry.recognition_gaps(svc, cast.rui, draft.id)}
    assert set(findings) == {
        "$.public_service_platform.customs_certified",
        "$.talent_base.recognised",
    }
    assert findings["$.talent_base.recognised"].candidates != ()
    assert findings["$.public_service_platform.customs_certified"].candidates == ()


def test_a_tenancy_claim_is_unverifiable_while_parks_are_recognised_and_missing_when_none_is(
    svc: Services, cast: Cast
) -> None:
    facts = {
        **FACTS,
        "tenancy": {
            "park_recognised": True,
            "moved_in_date": "2022-03-01",
            "leased_area_m2": "120",
            "first_year_rent_cny": "60000",
        },
    }
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["2.2a"], facts=facts
    )
    [finding] = registry.recognition_gaps(svc, cast.rui, draft.id)
    assert (finding.path, finding.status) == ("$.tenancy.park_recognised", GapStatus.MISSING)

    registry.record_recognition(
        svc, cast.rui, PARK, "park_city", "郴州市商务局", "郴商务〔2020〕3号", date(2020, 1, 1)
    )
    [finding] = registry.recognition_gaps(svc, cast.rui, draft.id)
    assert finding.status is GapStatus.UNVERIFIABLE
    assert finding.candidates == (
        "郴州跨境电商产业园：市商务部门认定的跨境电商产业园区（郴州市商务局，郴商务〔2020〕3号，2020-01-01起长期）",
    )


def test_applicants_cannot_ask_for_recognition_gaps(svc: Services, cast: Cast) -> None:
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["4.1a"], facts=FACTS
    )
    with pytest.raises(Forbidden):
        registry.recognition_gaps(svc, cast.alice, draft.id)
    assert registry.recognition_gaps(svc, cast.shen, draft.id) == []  # the auditor reads


# -- pre-approvals -------------------------------------------------------------------------


def test_the_office_records_a_pre_approval_once_per_reference(svc: Services, cast: Cast) -> None:
    view = registry.record_pre_approval(
        svc, cast.ou, ORG_A, "郴跨综办〔2022〕1号", "training", "跨境电商运营培训", date(2022, 3, 1)
    )
    assert (view.org_code, view.event_kind) == (ORG_A, "training")
    with pytest.raises(Conflict):  # even for another organisation
        registry.record_pre_approval(
            svc, cast.ou, ORG_B, "郴跨综办〔2022〕1号", "summit", "峰会", date(2022, 3, 2)
        )
    with pytest.raises(Forbidden):
        registry.record_pre_approval(svc, cast.rui, ORG_A, "R-2", "training", "t", date(2022, 3, 1))
    with pytest.raises(Invalid) as raised:
        registry.record_pre_approval(svc, cast.ou, ORG_A, "R-2", "party", "", date(2022, 3, 1))
    assert {(p.path, p.value) for p in raised.value.problems} == {
        ("event_kind", "party"),
        ("title", ""),
    }
    assert actions(svc).count("pre_approval.record") == 1


def event_facts(*refs: str | None, kind: str = "training") -> dict[str, Any]:
    events = [
        {
            "id": f"E{i + 1}",
            "kind": kind,
            "office_approval_ref": ref,
            "participants": 120,
            "held_date": "2022-05-01",
        }
        for i, ref in enumerate(refs)
    ]
    return {**FACTS, "events": events}


def test_an_event_must_reference_the_offices_approval_given_to_the_applicant(
    svc: Services, cast: Cast
) -> None:
    registry.record_pre_approval(
        svc, cast.ou, ORG_B, "郴跨综办〔2022〕1号", "training", "乙公司培训", date(2022, 3, 1)
    )
    registry.record_pre_approval(
        svc, cast.ou, ORG_A, "郴跨综办〔2022〕2号", "training", "甲公司培训", date(2022, 3, 1)
    )
    facts = event_facts("郴跨综办〔2022〕1号", "郴跨综办〔2022〕99号")  # B's, and unknown
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["7.4"], facts=facts
    )
    with pytest.raises(Invalid) as raised:
        applications.submit(svc, cast.alice, draft.id)
    assert {(p.path, p.value) for p in raised.value.problems} == {
        ("$.events[0].office_approval_ref", "郴跨综办〔2022〕1号"),
        ("$.events[1].office_approval_ref", "郴跨综办〔2022〕99号"),
    }
    assert applications.get(svc, cast.alice, draft.id).state == "draft"

    applications.update_draft(svc, cast.alice, draft.id, facts=event_facts("郴跨综办〔2022〕2号"))
    view = applications.submit(svc, cast.alice, draft.id)
    assert view.line("7.4", "E1").engine_fen == 10_000_000  # ceiling 10万 an event


def test_an_events_kind_must_match_its_approval(svc: Services, cast: Cast) -> None:
    registry.record_pre_approval(
        svc, cast.ou, ORG_A, "郴跨综办〔2022〕3号", "exhibition", "广交会展位", date(2022, 3, 1)
    )
    draft = applications.create_draft(
        svc,
        cast.alice,
        org_code=ORG_A,
        year=2022,
        clauses=["7.4"],
        facts=event_facts("郴跨综办〔2022〕3号"),
    )
    with pytest.raises(Invalid) as raised:
        applications.submit(svc, cast.alice, draft.id)
    assert [p.path for p in raised.value.problems] == ["$.events[0].kind"]


# -- other-policy awards (从优不重复) -----------------------------------------------------------


def test_an_award_under_another_policy_for_the_same_year_reduces_this_policys_amount(
    svc: Services, cast: Cast
) -> None:
    view = registry.record_other_award(
        svc,
        cast.rui,
        ORG_A,
        policy="郴州市职业技能提升培训补贴",
        clause_id="7.1",
        award_year=2022,
        amount_fen=500_000,
        document_no="郴人社〔2022〕15号",
    )
    assert view.provenance["document_no"] == "郴人社〔2022〕15号"
    registry.record_other_award(  # another year's award is not for the same training
        svc,
        cast.rui,
        ORG_A,
        policy="郴州市职业技能提升培训补贴",
        clause_id="7.1",
        award_year=2021,
        amount_fen=900_000,
        document_no="郴人社〔2021〕4号",
    )
    draft = applications.create_draft(
        svc, cast.alice, org_code=ORG_A, year=2022, clauses=["7.1"], facts=FACTS
    )
    submitted = applications.submit(svc, cast.alice, draft.id)
    # 30% × 40,000 = 12,000 yuan, less the 5,000 yuan already received: 7,000 yuan.
    assert submitted.line("7.1").engine_fen == 700_000


def test_a_bad_other_policy_award_is_refused_naming_each_field(svc: Services, cast: Cast) -> None:
    with pytest.raises(Invalid) as raised:
        registry.record_other_award(
            svc,
            cast.rui,
            ORG_A,
            policy="",
            clause_id="9.9",
            award_year=2019,
            amount_fen=0,
            document_no="D",
        )
    assert {(p.path, p.value) for p in raised.value.problems} == {
        ("policy", ""),
        ("clause_id", "9.9"),
        ("award_year", 2019),
        ("amount_fen", 0),
    }
    with pytest.raises(Invalid) as raised:  # 5.4's amount is the other policy's own figure
        registry.record_other_award(
            svc,
            cast.rui,
            ORG_A,
            policy="郴办发〔2019〕5号",
            clause_id="5.4",
            award_year=2022,
            amount_fen=1,
            document_no="D",
        )
    assert [p.path for p in raised.value.problems] == ["clause_id"]
    with pytest.raises(Forbidden):
        registry.record_other_award(
            svc,
            cast.alice,
            ORG_A,
            policy="p",
            clause_id="7.1",
            award_year=2022,
            amount_fen=1,
            document_no="D",
        )


# -- serious-dishonesty listings ---------------------------------------------------------------


def test_a_listed_organisation_cannot_submit_until_the_listing_is_lifted(
    svc: Services, cast: Cast
) -> None:
    listing = registry.list_dishonest(
        svc, cast.rui, ORG_B, "信用中国（湖南）", "湘信用〔2023〕2号", date(2023, 2, 1)
    )
    draft = applications.create_draft(
        svc, cast.charlie, org_code=ORG_B, year=2022, clauses=["7.1"], facts=FACTS_B
    )
    with pytest.raises(Conflict) as raised:
        applications.submit(svc, cast.charlie, draft.id)
    assert "信用中国（湖南）" in raised.value.zh
    lifted = registry.lift_listing(svc, cast.rui, listing.id, date(2023, 3, 1), "信用修复完成")
    assert lifted.removed_on == date(2023, 3, 1)
    assert applications.submit(svc, cast.charlie, draft.id).state == "submitted"
    with svc.reading() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "dishonesty.lift")).one()
        assert entry.reason == "信用修复完成"


def test_a_plan_leaves_out_a_listed_organisation_and_records_why(svc: Services, cast: Cast) -> None:
    for actor, code, facts in ((cast.alice, ORG_A, FACTS), (cast.charlie, ORG_B, FACTS_B)):
        draft = applications.create_draft(
            svc, actor, org_code=code, year=2022, clauses=["7.1"], facts=facts
        )
        view = applications.submit(svc, actor, draft.id)
        applications.verify(svc, cast.rui, draft.id, approve_all(view))
    b_line = next(a for a in applications.list_for(svc, cast.charlie)).line("7.1").id
    listing = registry.list_dishonest(
        svc, cast.rui, ORG_B, "信用中国（湖南）", None, date(2023, 2, 1)
    )

    plan = plans.draft(svc, cast.dai, year=2022, title="2022")
    assert [i.org_code for i in plan.items] == [ORG_A]
    assert plan.factors["excluded"] == [
        {"org": ORG_B, "line": b_line, "reason": "严重失信名单 信用中国（湖南） / dishonesty list"}
    ]

    registry.lift_listing(svc, cast.rui, listing.id, date(2023, 3, 1), "已移出名单")
    later = plans.draft(svc, cast.dai, year=2022, title="2022 补充")
    assert [(i.org_code, i.granted_fen) for i in later.items] == [(ORG_B, 300_000)]  # 30% × 1万


def test_listings_refuse_bad_dates_overlaps_and_a_second_lifting(svc: Services, cast: Cast) -> None:
    with pytest.raises(Invalid) as raised:
        registry.list_dishonest(
            svc, cast.rui, ORG_B, "信用中国", None, date(2023, 2, 1), date(2023, 2, 1)
        )
    assert [(p.path, p.value) for p in raised.value.problems] == [("removed_on", "2023-02-01")]
    first = registry.list_dishonest(
        svc, cast.rui, ORG_B, "信用中国", None, date(2022, 1, 1), date(2022, 7, 1)
    )
    with pytest.raises(Conflict):  # overlaps the first listing
        registry.list_dishonest(svc, cast.rui, ORG_B, "信用中国", None, date(2022, 6, 30))
    registry.list_dishonest(svc, cast.rui, ORG_B, "信用中国", None, date(2022, 7, 1))
    with pytest.raises(Conflict):
        registry.lift_listing(svc, cast.rui, first.id, date(2022, 8, 1), "again")
    with pytest.raises(Forbidden):
        registry.list_dishonest(svc, cast.fang, ORG_B, "信用中国", None, date(2024, 1, 1))
    assert [(x.listed_on, x.removed_on) for x in registry.listings_of(svc, cast.rui, ORG_B)] == [
        (date(2022, 1, 1), date(2022, 7, 1)),
        (date(2022, 7, 1), None),
    ]
    with svc.reading() as s:
        _, problems = audit_service.verify(s)
    assert problems == []
