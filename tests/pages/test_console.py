"""The staff console: work queues, the review of an application, plans from draft to closing,
and the audit trail — all through plain forms, in Chinese and in English.

The demo (see ``conftest.py``): application 7 (charlie, logistics, 2025) is submitted with
clause 5.3; application 9 (yi, fruit, 2025) is resubmitted with 4.1a and 4.1b; plan 2 (2025)
is under public notice from 2026-03-02 with one unresolved objection about the foundry's 4.2
item; plan 1 (2024) is approved, paid and closed. Staff: rui (commerce reviewer), dai (plan
drafter), fang (finance), ou (office), shi (city), shen (auditor), admin.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from typing import Any

import pytest
from sqlalchemy import func, select, update

from huiqi.db.tables import (
    Application,
    AuditEntry,
    LedgerEntry,
    OfficialFigure,
    Organisation,
    User,
)
from huiqi.fulfilment.decisions import LineDecision
from huiqi.service import applications, demo, plans, registry
from huiqi.service.actors import Actor, load_actor
from huiqi.service.applications import ApplicationView
from tests.pages.conftest import NOW, Site

FOUNDRY = next(o for o in demo.ORGS if o.key == "foundry")
ASSOCIATION = next(o for o in demo.ORGS if o.key == "association")


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def who(site: Site, username: str) -> Actor:
    with site.svc.reading() as s:
        return load_actor(s, username)


def application(site: Site, app_id: int) -> ApplicationView:
    return applications.get(site.svc, who(site, "rui"), app_id)


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def field_error(html: str, name: str) -> str:
    """The message shown next to a form field (the element its aria-describedby names)."""
    found = re.search(rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>(.*?)</p>', html)
    assert found is not None, f"no error shown for {name}"
    return unescape(found.group(1))


def facts_for(org: demo.DemoOrg, extra: dict[str, Any]) -> dict[str, Any]:
    applicant = {"credit_code": org.code, "name": org.name, "kind": org.kind, **demo.SCOPE}
    return {"applicant": applicant, **extra}


def ceiling_application(site: Site) -> ApplicationView:
    """The foundry applies for 4.2 in 2024: 31,200,000 + 450,000 = 31,650,000 USD of
    cross-border trade, 3000万美元以上 but under 1亿 → a ceiling of 100万元 (1,000,000.00)."""
    jia = who(site, "jia")
    facts = facts_for(FOUNDRY, {"trade": {"export_usd": "31200000", "import_usd": "450000"}})
    draft = applications.create_draft(
        site.svc, jia, org_code=FOUNDRY.code, year=2024, clauses=["4.2"], facts=facts
    )
    return applications.submit(site.svc, jia, draft.id)


def discretionary_application(site: Site) -> ApplicationView:
    """The association applies for 6.1 in 2024 for an exhibition the office approved
    beforehand: a discretionary line (review sets the amount, the office approves it)."""
    registry.record_pre_approval(
        site.svc,
        who(site, "ou"),
        org_code=ASSOCIATION.code,
        reference="郴综试办〔2024〕3号",
        event_kind="exhibition",
        title="郴品出海选品展（2024）",
        approved_on=date(2024, 3, 1),
    )
    xie = who(site, "xie")
    event = {
        "id": "E-2024-EXPO",
        "kind": "exhibition",
        "office_approval_ref": "郴综试办〔2024〕3号",
        "held_date": "2024-05-10",
    }
    draft = applications.create_draft(
        site.svc,
        xie,
        org_code=ASSOCIATION.code,
        year=2024,
        clauses=["6.1"],
        facts=facts_for(ASSOCIATION, {"events": [event]}),
    )
    return applications.submit(site.svc, xie, draft.id)


# -- who may see the console -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/console", "/console/applications/7", "/console/plans/2", "/console/audit"],
)
def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in_and_back(site: Site, url):
    page = site.visitor().get(url)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next={url}"


@pytest.mark.parametrize(
    "url",
    [
        "/console",
        "/console/applications/4",  # alice's own application: still not hers to review
        "/console/applications/7",
        "/console/plans",
        "/console/plans/2",
        "/console/audit?object_type=application&object_id=4",
    ],
)
def test_an_applicant_is_refused_every_console_page(site: Site, url):
    page = site.visitor("alice").get(url)
    assert page.status_code == 403
    assert "工作台仅供工作人员使用" in page.text


def test_an_applicant_cannot_verify_even_their_own_application_through_the_console(site: Site):
    before = application(site, 4)
    line = before.lines[0]
    page = site.visitor("alice").post(
        "/console/applications/4/return", {"reason": "请补充材料", f"line-{line.id}": "x"}
    )
    assert page.status_code == 403
    assert application(site, 4).state == before.state == "verified"


@pytest.mark.parametrize(
    "url",
    ["/console/applications/999999", "/console/plans/999999", "/console/plans/999999?rule=none"],
)
def test_staff_asking_for_something_that_does_not_exist_get_404(site: Site, url):
    assert site.visitor("rui").get(url).status_code == 404


def test_a_form_posted_without_the_session_csrf_token_is_refused_and_changes_nothing(site: Site):
    visitor = site.visitor("rui")
    visitor.csrf = ""
    page = visitor.post("/console/applications/7/return", {"reason": "请补充订单明细"})
    assert page.status_code == 403
    assert application(site, 7).state == "submitted"


def test_the_administrator_has_no_work_queue(site: Site):
    page = site.visitor("admin").get("/console")
    assert page.status_code == 200
    assert "没有待办事项" in page.text


# -- work queues -------------------------------------------------------------------------------


def queue(html: str, key: str) -> tuple[int, list[str]]:
    """A queue's count and the links it lists."""
    section = re.search(rf'<section id="q-{key}".*?</section>', html, re.S)
    assert section is not None, f"no queue {key}"
    count = re.search(r'<span class="badge">(\d+)</span>', section.group(0))
    assert count is not None
    links = re.findall(r'<li><a href="([^"]+)"', section.group(0))
    return int(count.group(1)), links


def test_the_commerce_reviewer_sees_what_waits_for_review_and_the_open_objection(site: Site):
    page = site.visitor("rui").get("/console")
    assert page.status_code == 200
    # Application 7 is submitted and 9 resubmitted; nothing else of the demo waits.
    assert queue(page.text, "review") == (
        2,
        ["/console/applications/7", "/console/applications/9"],
    )
    count, links = queue(page.text, "objections")
    assert count == 1
    assert links[0].startswith("/console/plans/2#objection-")
    assert 'id="q-payments"' not in page.text  # the finance bureau's queue, not rui's


def test_the_plan_drafter_sees_the_plan_under_notice(site: Site):
    page = site.visitor("dai").get("/console")
    assert queue(page.text, "plans_notice") == (1, ["/console/plans/2"])
    assert queue(page.text, "unplanned") == (0, [])  # every verified 2025 line is in plan 2
    assert queue(page.text, "plans_drafting") == (0, [])


def test_verified_lines_not_yet_planned_wait_for_the_drafter_by_year(site: Site):
    view = application(site, 7)
    applications.verify(
        site.svc,
        who(site, "rui"),
        7,
        [LineDecision(ln.clause_id, ln.subject_id, True, None, None) for ln in view.lines],
    )
    page = site.visitor("dai", lang="en").get("/console")
    count, links = queue(page.text, "unplanned")
    assert (count, links) == (1, ["/console/plans?year=2025#draft"])
    assert "1 lines" in text_of(page.text)
    assert "CNY 206,175.00" in page.text  # 412,350 orders × 0.5


def test_the_auditor_sees_every_queue_read_only(site: Site):
    page = site.visitor("shen").get("/console")
    for key in ("review", "office_lines", "unplanned", "plans_finance", "plans_city", "payments"):
        assert f'id="q-{key}"' in page.text
    assert "审计人员只读" in page.text
    main = page.text.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    assert "<form" not in main


def test_queues_read_in_english_after_the_switch(site: Site):
    page = site.visitor("rui", lang="en").get("/console")
    assert '<html lang="en">' in page.text
    words = text_of(page.text)
    assert "Applications to review" in words
    assert "Objections to resolve" in words
    assert "待审核的申报" not in words


# -- the review page ---------------------------------------------------------------------------


def test_the_review_shows_declared_facts_beside_official_figures_and_marks_differences(
    site: Site,
):
    with site.svc.transaction() as s:
        org_id = s.scalar(select(Organisation.id).where(Organisation.name.like("%速达%")))
        for field, value, source in (
            ("logistics.domestic_orders", "400000", "logistics"),  # declared 412350: differs
            ("applicant.tax_paying_locally", "true", "platform"),  # declared true: agrees
            ("trade.export_usd", "12000", "customs"),  # not declared at all
        ):
            s.add(
                OfficialFigure(
                    org_id=org_id,
                    award_year=2025,
                    source=source,
                    field=field,
                    value=value,
                    provenance={"doc": "2025年报"},
                    recorded_at=NOW,
                )
            )
    page = site.visitor("rui").get("/console/applications/7")
    assert page.status_code == 200
    rows = {}
    for row in re.findall(r"<tr[^>]*>.*?</tr>", page.text, re.S):
        path = re.search(r'<code class="path">([^<]+)</code>', row)
        if path is not None:
            rows[path.group(1)] = row
    orders = rows["logistics.domestic_orders"]
    assert orders.startswith('<tr class="diff">')
    assert "412350" in orders and "400000" in orders and "不一致" in orders
    assert "年度物流订单量" in orders  # the facts schema's own label
    agrees = rows["applicant.tax_paying_locally"]
    assert not agrees.startswith('<tr class="diff">') and "一致" in agrees
    undeclared = rows["trade.export_usd"]
    assert undeclared.startswith('<tr class="diff">') and "未申报" in undeclared


def test_the_review_says_so_when_no_official_figures_are_recorded(site: Site):
    page = site.visitor("rui").get("/console/applications/7")
    assert "尚未录入该单位本年度的官方数据" in page.text
    assert 'class="diff"' not in page.text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        # 5.3: 412,350 orders × 0.5元 = 206,175.00元, under the 30万元 cap.
        ("zh", ["第5.3条", "应兑现 206,175.00元", "412,350", "每单0.5元", "保存审核决定"]),
        ("en", ["Clause 5.3", "CNY 206,175.00", "412,350", "Save the decisions"]),
    ],
)
def test_the_review_shows_each_lines_amount_and_the_engines_explanation(site: Site, lang, words):
    page = site.visitor("rui", lang=lang).get("/console/applications/7")
    assert page.status_code == 200
    shown = text_of(page.text)
    for word in words:
        assert word in shown
    assert '<ul class="tree explanation">' in page.text


def test_verifying_a_computed_line_saves_the_engines_amount(site: Site):
    line = application(site, 7).lines[0]
    visitor = site.visitor("rui")
    page = visitor.post("/console/applications/7/verify", {f"line-{line.id}-approve": "yes"})
    assert page.status_code == 303
    assert page.headers["location"] == "/console/applications/7?msg=verified"
    after = application(site, 7)
    assert after.state == "verified"
    assert after.lines[0].decision == "approved"
    assert after.lines[0].decided_fen == 20_617_500  # 412,350 × 0.5 = 206,175.00元
    shown = visitor.get(page.headers["location"]).text
    assert "已审核通过。" in shown
    assert 'action="/console/applications/7/verify"' not in shown  # decided: no form any more


def test_refusing_a_line_without_a_reason_is_refused_next_to_the_reason(site: Site):
    line = application(site, 7).lines[0]
    page = site.visitor("rui").post(
        "/console/applications/7/verify",
        {f"line-{line.id}-approve": "no", f"line-{line.id}-reason": ""},
    )
    assert page.status_code == 422
    assert field_error(page.text, f"line-{line.id}-reason") == "不予支持须写明理由"
    assert "审核决定有误，未保存" in page.text
    assert application(site, 7).state == "submitted"


def test_a_ceiling_field_carries_its_limit_as_html_max(site: Site):
    view = ceiling_application(site)
    line = view.lines[0]
    assert (line.kind, line.engine_fen) == ("ceiling", 100_000_000)
    page = site.visitor("rui").get(f"/console/applications/{view.id}")
    field = re.search(rf'<input id="line-{line.id}-amount"[^>]*>', page.text)
    assert field is not None
    assert 'max="1000000.00"' in field.group(0)
    assert 'step="0.01"' in field.group(0)
    assert f'<textarea id="line-{line.id}-reason" name="line-{line.id}-reason"' in page.text


@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("zh", "超过本项上限 1,000,000.00元"),
        ("en", "above this line's ceiling of CNY 1,000,000.00"),
    ],
)
def test_an_amount_over_the_ceiling_is_refused_by_the_service_next_to_the_field(
    site: Site, lang, message
):
    view = ceiling_application(site)
    line = view.lines[0]
    page = site.visitor("rui", lang=lang).post(
        f"/console/applications/{view.id}/verify",
        {
            f"line-{line.id}-approve": "yes",
            f"line-{line.id}-amount": "1000000.01",
            f"line-{line.id}-reason": "按实际投入核定",
        },
    )
    assert page.status_code == 422
    assert field_error(page.text, f"line-{line.id}-amount") == message
    # What was typed is kept, and marked invalid for assistive technology.
    field = re.search(rf'<input id="line-{line.id}-amount"[^>]*>', page.text)
    assert field is not None
    assert 'value="1000000.01"' in field.group(0) and 'aria-invalid="true"' in field.group(0)
    assert application(site, view.id).state == "submitted"


def test_a_ceiling_amount_needs_a_reason(site: Site):
    view = ceiling_application(site)
    line = view.lines[0]
    page = site.visitor("rui").post(
        f"/console/applications/{view.id}/verify",
        {f"line-{line.id}-approve": "yes", f"line-{line.id}-amount": "800000"},
    )
    assert page.status_code == 422
    assert field_error(page.text, f"line-{line.id}-reason") == "限额类和酌定类金额须写明核定理由"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("800000.001", "金额最多保留两位小数（到分）"),
        ("八十万", "请填写金额（元），如 12345.67"),
        ("-5", "金额不能为负数"),
    ],
)
def test_an_amount_that_cannot_be_read_is_refused_before_anything_is_saved(
    site: Site, typed, message
):
    view = ceiling_application(site)
    line = view.lines[0]
    page = site.visitor("rui").post(
        f"/console/applications/{view.id}/verify",
        {
            f"line-{line.id}-approve": "yes",
            f"line-{line.id}-amount": typed,
            f"line-{line.id}-reason": "按实际投入核定",
        },
    )
    assert page.status_code == 422
    assert field_error(page.text, f"line-{line.id}-amount") == message
    assert application(site, view.id).state == "submitted"


def test_a_ceiling_amount_within_the_limit_with_a_reason_is_verified_to_the_fen(site: Site):
    view = ceiling_application(site)
    line = view.lines[0]
    page = site.visitor("rui").post(
        f"/console/applications/{view.id}/verify",
        {
            f"line-{line.id}-approve": "yes",
            f"line-{line.id}-amount": "812,345.67",
            f"line-{line.id}-reason": "按实际投入核定",
        },
    )
    assert page.status_code == 303
    after = application(site, view.id)
    assert (after.state, after.lines[0].decided_fen) == ("verified", 81_234_567)
    assert after.lines[0].reason == "按实际投入核定"


def test_returning_needs_questions_and_then_sends_the_application_back(site: Site):
    visitor = site.visitor("rui")
    empty = visitor.post("/console/applications/7/return", {"reason": "  "})
    assert empty.status_code == 422
    assert field_error(empty.text, "return-reason") == "不能为空"
    assert "退回须写明需补正的内容" in empty.text
    done = visitor.post("/console/applications/7/return", {"reason": "请补充2025年度订单明细"})
    assert done.status_code == 303
    assert done.headers["location"] == "/console/applications/7?msg=returned"
    after = application(site, 7)
    assert (after.state, after.return_reason) == ("returned", "请补充2025年度订单明细")
    shown = visitor.get("/console/applications/7").text
    assert "请补充2025年度订单明细" in shown
    assert 'action="/console/applications/7/verify"' not in shown  # returned: not for review now


def test_rejecting_needs_reasons_and_refuses_every_line(site: Site):
    visitor = site.visitor("rui", lang="en")
    empty = visitor.post("/console/applications/9/reject", {"reason": ""})
    assert empty.status_code == 422
    assert field_error(empty.text, "reject-reason") == "empty"
    assert "a rejection needs reasons" in empty.text
    done = visitor.post("/console/applications/9/reject", {"reason": "推广费用发票与平台记录不符"})
    assert done.status_code == 303
    after = application(site, 9)
    assert after.state == "rejected"
    assert {(ln.decision, ln.decided_fen) for ln in after.lines} == {("refused", 0)}


def test_a_discretionary_amount_is_set_by_review_and_then_approved_by_the_office(site: Site):
    view = discretionary_application(site)
    line = view.lines[0]
    assert (line.kind, line.engine_fen, line.office_state) == ("discretionary", None, "pending")
    rui = site.visitor("rui")
    form = rui.get(f"/console/applications/{view.id}").text
    field = re.search(rf'<input id="line-{line.id}-amount"[^>]*>', form)
    assert field is not None and "max=" not in field.group(0)  # no ceiling: review sets it
    verified = rui.post(
        f"/console/applications/{view.id}/verify",
        {
            f"line-{line.id}-approve": "yes",
            f"line-{line.id}-amount": "30000",
            f"line-{line.id}-reason": "按展位和宣传实际支出核定",
        },
    )
    assert verified.status_code == 303
    ou = site.visitor("ou")
    assert queue(ou.get("/console").text, "office_lines") == (
        1,
        [f"/console/applications/{view.id}#line-{line.id}"],
    )
    page = ou.get(f"/console/applications/{view.id}").text
    assert f'action="/console/lines/{line.id}/office-decision"' in page
    assert "核定 30,000.00元" in text_of(page)
    refused = ou.post(
        f"/console/lines/{line.id}/office-decision", {"decision": "return", "reason": ""}
    )
    assert refused.status_code == 422
    assert field_error(refused.text, f"office-{line.id}-reason") == "不能为空"
    done = ou.post(f"/console/lines/{line.id}/office-decision", {"decision": "approve"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/applications/{view.id}?msg=done#line-{line.id}"
    assert application(site, view.id).lines[0].office_state == "approved"
    assert queue(ou.get("/console").text, "office_lines") == (0, [])


def test_only_the_office_sees_the_office_form(site: Site):
    view = discretionary_application(site)
    line = view.lines[0]
    applications.verify(
        site.svc,
        who(site, "rui"),
        view.id,
        [LineDecision("6.1", line.subject_id, True, 3_000_000, "按实际支出核定")],
    )
    page = site.visitor("rui").get(f"/console/applications/{view.id}").text
    assert "office-decision" not in page
    refused = site.visitor("rui").post(
        f"/console/lines/{line.id}/office-decision", {"decision": "approve"}
    )
    assert refused.status_code == 403


# -- plans -------------------------------------------------------------------------------------


def plan_of(site: Site, plan_id: int) -> plans.PlanView:
    return plans.get(site.svc, who(site, "dai"), plan_id)


def budget_row(html: str, division: str) -> str:
    found = re.search(rf'<tr[^>]*>\s*<th scope="row">{division}</th>.*?</tr>', html, re.S)
    assert found is not None, division
    return found.group(0)


def test_the_plan_shows_each_paying_finance_against_its_budget_with_a_bar(site: Site):
    page = site.visitor("dai").get("/console/plans/2")
    assert page.status_code == 200
    # 嘉禾县: the foundry's 4.1a (500,000.00, fixed) and 4.2 (800,000.00 decided, a ceiling)
    # ask 1,300,000.00 of a 1,100,000.00 budget. Scaling ceilings only, 4.2 gets what is left
    # after 4.1a: 1,100,000 − 500,000 = 600,000.00, a factor of 600,000 / 800,000 = 75.00%.
    jiahe = budget_row(page.text, "嘉禾县")
    assert '<tr class="over">' in jiahe and 'class="bar over"' in jiahe
    for figure in ("1,100,000.00元", "1,300,000.00元", "75.00%", "超出 200,000.00元", "118.2%"):
        assert figure in jiahe
    beihu = budget_row(page.text, "北湖区")
    assert 'class="bar"' in beihu and "over" not in beihu
    items = text_of(page.text)
    assert "嘉禾县财政兑付" in items and "北湖区财政兑付" in items
    assert "600,000.00元" in items
    assert 'href="/notices/2"' in page.text


def test_a_preview_shows_what_another_rule_would_grant_without_saving_it(site: Site):
    page = site.visitor("dai").get("/console/plans/2?rule=pro_rata_all&ranking=submitted")
    assert page.status_code == 200
    # Scaling every item of 嘉禾县 by 1,100,000 / 1,300,000 = 11/13 (84.62%), in fen:
    # 4.1a 50,000,000 × 11/13 = 42,307,692.31 → 42,307,692; 4.2 80,000,000 × 11/13 =
    # 67,692,307.69 → 67,692,307; one fen is left and goes to the larger remainder (4.2).
    shown = text_of(page.text)
    assert "423,076.92元" in shown and "676,923.08元" in shown
    assert "84.62%" in budget_row(page.text, "嘉禾县")
    assert "正在预览" in shown
    granted = {i.clause_id: i.granted_fen for i in plan_of(site, 2).items if i.division == "嘉禾县"}
    assert granted == {"4.1a": 50_000_000, "4.2": 60_000_000}


def test_a_plan_under_notice_cannot_be_reallocated(site: Site):
    page = site.visitor("dai").post("/console/plans/2/reallocate", {"rule": "pro_rata_all"})
    assert page.status_code == 409
    assert "只有拟定中或退回的方案可以重新分配" in page.text


def test_a_plan_is_drafted_reallocated_and_noticed_through_forms(site: Site):
    view = application(site, 7)
    applications.verify(
        site.svc,
        who(site, "rui"),
        7,
        [LineDecision(ln.clause_id, ln.subject_id, True, None, None) for ln in view.lines],
    )
    dai = site.visitor("dai")
    listing = dai.get("/console/plans?year=2025").text
    assert 'action="/console/plans"' in listing and 'value="2025"' in listing
    nothing = dai.post("/console/plans", {"year": "2019", "title": "2019年度方案"})
    assert nothing.status_code == 409
    assert "2019年度没有可列入方案的已审核项目" in nothing.text
    drafted = dai.post(
        "/console/plans",
        {
            "year": "2025",
            "title": "2025年度第二批",
            "rule": "pro_rata_flexible",
            "ranking": "submitted",
        },
    )
    assert drafted.status_code == 303
    plan_id = int(found(r"/console/plans/(\d+)", drafted.headers["location"]))
    page = dai.get(f"/console/plans/{plan_id}").text
    # 苏仙区: 206,175.00 of an 800,000.00 budget = 25.77…% → 25.8%.
    suxian = budget_row(page, "苏仙区")
    assert "206,175.00元" in suxian and "25.8%" in suxian and "over" not in suxian
    quota = dai.post(f"/console/plans/{plan_id}/reallocate", {"rule": "quota", "quota": ""})
    assert quota.status_code == 422
    assert field_error(quota.text, "reallocate-quota") == "须为不小于0的整数"
    again = dai.post(f"/console/plans/{plan_id}/reallocate", {"rule": "pro_rata_all"})
    assert again.status_code == 303
    assert plan_of(site, plan_id).rule == "pro_rata_all"
    short = dai.post(f"/console/plans/{plan_id}/notice", {"days": "1"})
    assert short.status_code == 422
    assert field_error(short.text, "notice-days") == "须为 5–60 个工作日（HUIQI_NOTICE_DAYS = 5）"
    assert plan_of(site, plan_id).state == "draft"
    opened = dai.post(f"/console/plans/{plan_id}/notice", {"days": ""})
    assert opened.status_code == 303
    after = plan_of(site, plan_id)
    assert (after.state, after.notice_start, after.notice_days) == ("notice", date(2026, 3, 2), 5)
    assert after.notice_published_at == site.svc.clock()  # published now, not on a chosen day
    assert after.notice_end == date(2026, 3, 9)  # 3, 4, 5, 6 and 9 March
    assert "发布时间：2026-03-02 20:00（北京时间）" in dai.get(f"/console/plans/{plan_id}").text
    assert f'href="/notices/{plan_id}"' in dai.get(f"/console/plans/{plan_id}").text


def test_the_whole_plan_path_notice_reviews_approval_payments_and_closing(site: Site):
    dai, fang, ou, shi = (site.visitor(n) for n in ("dai", "fang", "ou", "shi"))
    # Published on Monday 2 March 2026, the notice runs 3, 4, 5, 6 and 9 March: not over now.
    early = dai.post("/console/plans/2/close-notice")
    assert early.status_code == 409
    assert "尚未期满" in early.text
    before = plan_of(site, 2)
    page = dai.get("/console/plans/2").text
    objection_id = int(found(r'action="/console/objections/(\d+)/resolve"', page))
    blank = dai.post(f"/console/objections/{objection_id}/resolve", {"decision": "dismiss"})
    assert blank.status_code == 422
    assert field_error(blank.text, f"objection-{objection_id}-resolution") == "不能为空"
    dismissed = dai.post(
        f"/console/objections/{objection_id}/resolve",
        {"decision": "dismiss", "resolution": "经核实，进出口额均为跨境电商业务，异议不成立。"},
    )
    assert dismissed.status_code == 303
    # A fortnight later (sessions last a working day: everyone signs in again).
    site.svc.clock = lambda: datetime(2026, 3, 16, 9, 0, tzinfo=UTC)
    dai, fang, ou, shi = (site.visitor(n) for n in ("dai", "fang", "ou", "shi"))
    assert dai.post("/console/plans/2/close-notice").status_code == 303
    assert plan_of(site, 2).state == "review"
    # Both reviewing bodies: a return needs reasons; approvals in either order.
    assert queue(fang.get("/console").text, "plans_finance") == (1, ["/console/plans/2#review"])
    no_reason = fang.post("/console/plans/2/review", {"decision": "return", "reason": ""})
    assert no_reason.status_code == 422
    assert field_error(no_reason.text, "review-reason") == "不能为空"
    early_city = shi.post("/console/plans/2/approve")
    assert early_city.status_code == 409
    assert "尚待" in early_city.text
    assert fang.post("/console/plans/2/review", {"decision": "approve"}).status_code == 303
    assert (
        ou.post("/console/plans/2/review", {"decision": "approve", "reason": "同意"}).status_code
        == 303
    )
    assert queue(shi.get("/console").text, "plans_city") == (1, ["/console/plans/2#approve"])
    assert shi.post("/console/plans/2/approve").status_code == 303
    approved = plan_of(site, 2)
    assert approved.state == "approved"
    with site.svc.reading() as s:
        ledger = s.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.plan_id == 2))
    assert ledger == approved.granted_fen == before.granted_fen
    # Payments, by another finance officer than the reviewer (separation of duties): the
    # reviewer is refused; more than is owed is refused at the field; then every item is paid.
    cai = site.visitor("cai")
    first = next(i for i in approved.items if i.state == "included")
    reviewer_page = fang.get("/console/plans/2").text
    assert 'id="pay-blocked"' in reviewer_page and 'class="pay"' not in reviewer_page
    own_review = fang.post(
        f"/console/plan-items/{first.id}/disbursements",
        {"amount": "1.00", "paid_on": "2026-03-20", "reference": "嘉禾-2026-000"},
    )
    assert own_review.status_code == 403
    assert "职责分离" in own_review.text
    over = cai.post(
        f"/console/plan-items/{first.id}/disbursements",
        {
            "amount": f"{first.granted_fen // 100}.{first.granted_fen % 100 + 1:02d}",
            "paid_on": "2026-03-20",
            "reference": "嘉禾-2026-001",
        },
    )
    assert over.status_code == 422
    assert "累计不超过核定金额" in field_error(over.text, f"pay-{first.id}-amount")
    assert fang.post("/console/plans/2/close").status_code == 409  # nothing paid yet
    for item in approved.items:
        if item.state != "included":
            continue
        paid = cai.post(
            f"/console/plan-items/{item.id}/disbursements",
            {
                "amount": f"{item.granted_fen // 100}.{item.granted_fen % 100:02d}",
                "paid_on": "2026-03-20",
                "reference": f"{item.division}-2026-{item.id:03d}",
            },
        )
        assert paid.status_code == 303
        assert paid.headers["location"] == f"/console/plans/2?msg=done#pay-{item.id}"
    records = fang.get("/console/plans/2").text
    assert f"{first.division}-2026-{first.id:03d}" in records
    assert fang.post("/console/plans/2/close").status_code == 303
    assert plan_of(site, 2).state == "closed"


def test_upholding_an_objection_pulls_the_item_back_with_its_application(site: Site):
    dai = site.visitor("dai")
    page = dai.get("/console/plans/2").text
    objection_id = int(found(r'action="/console/objections/(\d+)/resolve"', page))
    done = dai.post(
        f"/console/objections/{objection_id}/resolve",
        {"decision": "uphold", "resolution": "进出口额含一般贸易，须重新核定"},
    )
    assert done.status_code == 303
    foundry = [i for i in plan_of(site, 2).items if i.division == "嘉禾县"]
    assert {i.state for i in foundry} == {"pulled_back"}
    shown = text_of(dai.get("/console/plans/2").text)
    assert "异议成立" in shown and "已撤出" in shown


def test_user_text_is_shown_as_text_never_as_markup(site: Site):
    plans.object_to(
        site.svc,
        2,
        submitted_by='<script>alert("x")</script>',
        text="<b>加粗</b> & <img src=x onerror=alert(1)>",
    )
    for url in ("/console/plans/2", "/console", "/console/audit?object_type=objection"):
        page = site.visitor("dai").get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page


# -- the audit trail ---------------------------------------------------------------------------


def test_the_audit_trail_of_an_application_lists_its_steps_and_checks_the_chain(site: Site):
    page = site.visitor("shen").get("/console/audit?object_type=application&object_id=7")
    assert page.status_code == 200
    actions = re.findall(r"<td><code>([a-z_.]+)</code></td>", page.text)
    assert actions == ["application.create", "application.submit"]
    with site.svc.reading() as s:
        total = s.scalar(select(func.count()).select_from(AuditEntry))
    assert f"已逐条校验 {total} 条记录的哈希" in page.text
    assert 'href="/console/applications/7"' in page.text


def test_a_tampered_audit_entry_breaks_the_chain_and_the_page_says_so(site: Site):
    with site.svc.transaction() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    page = site.visitor("shen", lang="en").get("/console/audit")
    assert page.status_code == 200
    assert "The audit chain has" in page.text
    assert 'role="alert"' in page.text


def test_the_administrator_may_not_read_the_audit_trail(site: Site):
    assert site.visitor("admin").get("/console/audit").status_code == 403


# -- both languages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "zh", "en"),
    [
        ("/console", "工作台", "Staff console"),
        ("/console/applications/9", "逐项测算与审核", "Each line: the engine's result"),
        ("/console/plans", "待列入方案的已审核项目", "Verified lines waiting for a plan"),
        ("/console/plans/2", "各县市区（园区）预算与安排", "Budgets and grants by paying finance"),
        ("/console/plans/1", "资金拨付", "Payments"),
        ("/console/audit?object_type=plan&object_id=2", "审计链完整", "The audit chain is intact"),
    ],
)
def test_every_console_page_reads_in_chinese_and_in_english(site: Site, url, zh, en):
    chinese = site.visitor("shen").get(url)
    english = site.visitor("shen", lang="en").get(url)
    assert chinese.status_code == english.status_code == 200
    assert '<html lang="zh-CN">' in chinese.text and zh in text_of(chinese.text)
    assert '<html lang="en">' in english.text and en in text_of(english.text)
    assert zh not in english.text


def test_every_field_of_the_plan_page_has_a_label(site: Site):
    view = application(site, 7)
    applications.verify(
        site.svc,
        who(site, "rui"),
        7,
        [LineDecision(ln.clause_id, ln.subject_id, True, None, None) for ln in view.lines],
    )
    plan = plans.draft(site.svc, who(site, "dai"), year=2025, title="第二批")
    for user, url in (("dai", f"/console/plans/{plan.id}"), ("rui", "/console/applications/9")):
        page = site.visitor(user).get(url).text
        ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', page)
        assert ids
        for field_id in ids:
            assert f'<label for="{field_id}"' in page, field_id


def test_the_review_lists_every_other_claim_of_the_same_thing_with_its_state(site: Site):
    with site.svc.reading() as s:
        rui = load_actor(s, "rui")
        earlier = s.get(Application, 7)  # the demo's 2025 logistics application, submitted
        assert earlier is not None
        facts, clauses, year = dict(earlier.facts), list(earlier.clauses), earlier.award_year
        applicant = s.scalar(select(User.username).where(User.id == earlier.created_by))
        code = s.scalar(select(Organisation.credit_code).where(Organisation.id == earlier.org_id))
        assert applicant is not None and code is not None
        who = load_actor(s, applicant)
    applications.reject(site.svc, rui, 7, "物流数据与海关数据不符")
    again = applications.create_draft(
        site.svc, who, org_code=code, year=year, clauses=clauses, facts=facts,
        submit=True,
    )  # fmt: skip
    page = site.visitor("rui").get(f"/console/applications/{again.id}")
    assert page.status_code == 200
    shown = page.text
    assert "同一单位、条款、对象和年度的其他申报" in shown
    assert 'href="/console/applications/7"' in shown and "不予支持" in shown
    assert f"第{clauses[0]}条" in shown


def test_a_reviewer_replays_a_decision_from_its_page(site: Site) -> None:
    """The review page links to the replay; the replay page says the decision is the same,
    byte for byte, in either language, and shows both hashes."""
    rui = site.visitor("rui")
    page = rui.get("/console/applications/1").text
    assert 'href="/console/applications/1/replay"' in page
    zh = rui.get("/console/applications/1/replay")
    assert zh.status_code == 200 and "重放结果与原决定逐字节一致" in zh.text
    en = site.visitor("shen", lang="en").get("/console/applications/1/replay")
    assert "identical to the decision, byte for byte" in en.text
    hashes = re.findall(r"<code>([0-9a-f]{64})</code>", zh.text)
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert site.visitor("alice").get("/console/applications/1/replay").status_code in (303, 403)
