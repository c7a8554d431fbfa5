"""The whole path in a real browser, from the public calculator to the payment.

Amounts worked out by hand from the clauses (郴政办发〔2021〕3号):

The award year is 2024: alice's 2025 claims (4.1a, 4.4b, 7.1) are open in the demo's 2025
plan under notice, and a second claim of the same clause, subject and year is refused while
the first is open; her 2024 claims were settled when the 2024 plan was approved.

* 4.1a pays 500,000 yuan once exports pass 500,000 dollars (600,000 here). The calculator
  knows no history, so it says 500,000; the exporter (alice) already received 100,000 for
  4.1a in 2024, so her application is topped up by 400,000.
* 4.3 (Belt and Road sub-site, turnover over 5,000,000 dollars) is a ceiling: at most
  300,000; the reviewer grants 250,000 with a reason.
* 7.1 pays 30% of the year's training costs: 40,000 → 12,000; corrected to 45,000: 13,500.
* The plan pays from 北湖区's 2024 budget of 1,200,000, of which the approved 2024 plan
  takes 217,090.25: 982,909.75 is left, enough for all 663,500 (400,000 + 250,000 + 13,500).

The public notice period is real time: a notice starts when it is published, an objection
is possible only while the notice runs (to the end of its last day) and a notice closes only
after that day. So the new plan's notice is published in the browser, its closing refused,
and then moved a month back in the database (the server's clock is the real one), and the
member of the public objects on the notice that runs today (the demo's 2025 plan), where the
objection is then dismissed.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import People, Screenshots, Server, fill_sign_in
from tests.samples import PDF

QUESTION = "请补充2024年度员工培训费用的发票及培训签到表。"
OBJECTION = "请核实该企业2025年度跨境电商出口额是否属实。"


def submit(page: Page, selector: str) -> None:
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def flash(page: Page) -> str:
    return page.locator("p.flash[role=status]").inner_text()


def text(page: Page) -> str:
    return re.sub(r"\s+", " ", page.locator("main").inner_text())


def test_an_application_goes_from_the_calculator_to_payment(
    server: Server, people: People, screenshots: Screenshots, tmp_path: Path
) -> None:
    # -- a visitor (no account) uses the calculator, in Chinese ---------------------------------
    visitor = people.browse()
    visitor.goto("/")
    expect(visitor.locator("h1")).to_have_text("政策找企业，企业少跑腿")
    expect(visitor.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshots.save(visitor, "home")
    visitor.click("a.card[href='/calculator']")
    visitor.select_option("#year", "2024")
    visitor.select_option("#kind", "cbec_enterprise")
    for box in ("#c-4-1a", "#c-4-3", "#c-7-1"):
        visitor.check(box)
    submit(visitor, "form.calc-choose button[type=submit]")
    assert "/calculator/facts?" in visitor.url
    for name in (
        "registered_locally",
        "tax_paying_locally",
        "independent_legal_person",
        "in_customs_cbec_statistics",
        "platform_enterprise",
    ):
        visitor.select_option(f"#f-applicant-{name}", "true")
    visitor.fill("#f-trade-export_usd", "600,000")
    visitor.select_option("#f-belt_and_road-site_opened", "true")
    visitor.fill("#f-belt_and_road-destination_turnover_usd", "6000000")
    visitor.fill("#f-staff_training-costs_cny", "40000")
    submit(visitor, "form.facts-form button[value=submit]:not(.default-action)")
    result = text(visitor)
    assert "第4.1a条 跨境电商出口一次性奖励：符合，应兑现 500,000.00元" in result
    assert "第4.3条 “一带一路”子网站或独立页面扶持：符合，最高可核定 300,000.00元" in result
    assert "第7.1条 企业员工在职培训支持：符合，应兑现 12,000.00元" in result
    assert "应兑现合计（定额、按比例计算） 512,000.00元" in result
    visitor.click("#clause-4-3 details.why summary")  # the explanation opens in place
    expect(visitor.locator("#clause-4-3 details.why ul.tree").first).to_be_visible()
    screenshots.save(visitor, "calculator-result")

    # -- the visitor is alice: "apply with these facts" signs in and carries them over --------
    submit(visitor, "form[action='/calculator/apply'] button[type=submit]")
    assert "/login" in visitor.url
    fill_sign_in(visitor, "alice")
    alice = visitor
    assert alice.url.endswith("/portal/new?from=calculator")
    expect(alice.locator("main p.flash[role=status]")).to_contain_text(
        "已带入政策计算器中填写的内容"
    )
    expect(alice.locator("#f-trade-export_usd")).to_have_value("600000")
    for box in ("#c-4-1a", "#c-4-3", "#c-7-1"):
        expect(alice.locator(box)).to_be_checked()
    submit(alice, "form.facts-form button[value=save]:not(.default-action)")
    found = re.search(r"/portal/applications/(\d+)\?msg=saved$", alice.url)
    assert found, alice.url
    app_id = int(found.group(1))
    assert flash(alice) == "已保存。"
    # The estimate now knows the ledger: 4.1a tops up the 100,000 of 2024.
    estimate = text(alice)
    assert "第4.1a条 跨境电商出口一次性奖励：符合，应兑现 400,000.00元" in estimate
    assert "第7.1条 企业员工在职培训支持：符合，应兑现 12,000.00元" in estimate

    # -- she uploads an attachment (a tiny PDF) and submits -----------------------------------
    invoice = tmp_path / "培训发票.pdf"
    invoice.write_bytes(PDF)
    alice.set_input_files("#file", str(invoice))
    submit(alice, f"form[action='/portal/applications/{app_id}/attachments'] button")
    assert flash(alice) == "附件已上传。"
    expect(alice.locator("ul.attachments")).to_contain_text("培训发票.pdf")
    submit(alice, f"form[action='/portal/applications/{app_id}/submit'] button")
    assert flash(alice) == "已提交。"
    expect(alice.locator("p.lead .state")).to_have_text("已提交")

    # -- the reviewer (rui) finds it in the queue and returns it with a question ---------------
    rui = people.sign_in("rui")
    assert rui.url.endswith("/console")
    expect(rui.locator(f"a[href='/console/applications/{app_id}']").first).to_be_visible()
    rui.click(f"a[href='/console/applications/{app_id}']")
    expect(rui.locator("#files")).to_contain_text("培训发票.pdf")
    href = rui.locator("#files a", has_text="培训发票.pdf").get_attribute("href")
    assert href is not None
    download = rui.context.request.get(href)  # with the reviewer's session
    assert download.status == 200 and download.body() == PDF
    rui.fill("#return-reason", QUESTION)
    submit(rui, f"form[action='/console/applications/{app_id}/return'] button")
    assert flash(rui) == "已退回补正。"

    # -- alice sees the question, corrects the training costs and resubmits ---------------------
    alice.goto("/portal")
    expect(alice.locator(f"a[href='/portal/applications/{app_id}']")).to_be_visible()
    expect(alice.locator("main")).to_contain_text("（请补正）")  # beside the returned one
    alice.click(f"a[href='/portal/applications/{app_id}']")
    expect(alice.locator(".returned .reason")).to_have_text(QUESTION)
    alice.click(f"a[href='/portal/applications/{app_id}/edit']")
    expect(alice.locator(".returned .reason")).to_have_text(QUESTION)
    alice.fill("#f-staff_training-costs_cny", "45000")
    submit(alice, "form.facts-form button[value=save]:not(.default-action)")
    assert flash(alice) == "已保存。"
    # 7.1: 30% of 45,000 = 13,500
    assert "第7.1条 企业员工在职培训支持：符合，应兑现 13,500.00元" in text(alice)
    submit(alice, f"form[action='/portal/applications/{app_id}/submit'] button")
    expect(alice.locator("p.lead .state")).to_have_text("已重新提交")

    # -- the reviewer verifies: 4.3's amount is set within its ceiling, with a reason ----------
    rui.goto(f"/console/applications/{app_id}")
    expect(rui.locator("dl.meta .state")).to_have_text("已重新提交")
    screenshots.save(rui, "review")
    block = rui.locator("#clause-4\\.3")
    amount = block.locator("input[id$='-amount']")
    expect(amount).to_have_attribute("max", "300000.00")
    amount.fill("250000")
    block.locator("textarea[id$='-reason']").fill("按子网站建设实际投入核定")
    submit(rui, "#verify > button[type=submit]")
    assert flash(rui) == "已审核通过。", text(rui)
    expect(rui.locator("dl.meta .state")).to_have_text("审核通过")

    # -- the drafter (dai) drafts the plan of what is verified and not yet planned -------------
    dai = people.sign_in("dai")
    dai.goto("/console/plans")
    dai.fill("#draft-year", "2024")
    dai.fill("#draft-title", "2024年度跨境电商扶持资金第二批分配方案")
    submit(dai, "form[method=post][action='/console/plans'] button[type=submit]")
    found = re.search(r"/console/plans/(\d+)", dai.url)
    assert found, dai.url
    plan_id = int(found.group(1))
    items = dai.locator("#items table.items tbody tr[id^='item-']")
    expect(items).to_have_count(3)
    expect(dai.locator("#items")).to_contain_text("郴州湘南优品跨境电商有限公司")
    expect(dai.locator("#budgets .bar").first).to_be_visible()
    # Published now for five working days: it cannot be closed today.
    dai.fill("#notice-days", "5")
    submit(dai, f"form[action='/console/plans/{plan_id}/notice'] button")
    expect(dai.locator("dl.meta .state")).to_have_text("公示中")
    expect(dai.locator("#notice")).to_contain_text("发布时间：")
    screenshots.save(dai, "plan")
    submit(dai, "#close-notice button")
    expect(dai.locator("main")).to_contain_text("尚未期满")
    server.let_a_month_pass_for_the_notice(plan_id)

    # -- a member of the public objects on the notice running today; it is dismissed ----------
    running = server.ids["plan_2025"]
    public = people.browse()
    public.goto("/")
    public.click(f"a[href='/notices/{running}']")
    expect(public.locator("h1")).to_have_text("2025年度跨境电商产业扶持资金分配方案")
    public.fill("#submitted_by", "市民李女士")
    public.fill("#contact", "13800000000")
    public.select_option("#item_id", index=1)
    public.fill("#text", OBJECTION)
    screenshots.save(public, "public-notice")
    submit(public, f"form[action='/notices/{running}/objections'] button")
    assert flash(public) == "异议已登记，我们将在公示期结束前答复。"

    dai.goto(f"/console/plans/{running}")
    objection = dai.locator("article.objection", has_text=OBJECTION)
    expect(objection).to_contain_text("市民李女士")
    objection.locator("input[name=decision][value=dismiss]").check()
    objection.locator("textarea[name=resolution]").fill(
        "经核实，出口额有海关统计数据支持，异议不成立。"
    )
    with dai.expect_navigation():
        objection.locator("button[type=submit]").click()
    assert flash(dai) == "操作已完成。"
    expect(dai.locator("article.objection", has_text=OBJECTION)).to_contain_text(
        "经核实，出口额有海关统计数据支持"
    )

    # -- the new plan's notice closes; both bodies review; the city approves -----------------
    dai.goto(f"/console/plans/{plan_id}")
    submit(dai, "#close-notice button")
    expect(dai.locator("dl.meta .state")).to_have_text("待审核")

    fang = people.sign_in("fang")
    ou = people.sign_in("ou")
    shi = people.sign_in("shi")
    shi.goto(f"/console/plans/{plan_id}")
    expect(shi.locator("#approve")).to_contain_text("尚待")  # not before both have approved
    for reviewer, reason in ((fang, "资金来源已落实"), (ou, "同意")):
        reviewer.goto(f"/console/plans/{plan_id}")
        form = reviewer.locator(f"form[action='/console/plans/{plan_id}/review']")
        form.locator("input[name=decision][value=approve]").check()
        form.locator("#review-reason").fill(reason)
        with reviewer.expect_navigation():
            form.locator("button[type=submit]").click()
        assert flash(reviewer) == "操作已完成。"
    shi.goto(f"/console/plans/{plan_id}")
    expect(shi.locator("#review ul.bodies .ok")).to_have_count(2)
    submit(shi, "#approve button")
    expect(shi.locator("dl.meta .state")).to_have_text("已批准")

    # -- another finance officer pays every item (the reviewer may not); the plan closes ----
    cai = people.sign_in("cai")
    cai.goto(f"/console/plans/{plan_id}")
    forms = cai.locator("#payments form.pay")
    expect(forms).to_have_count(3)
    for n in range(3):
        form = cai.locator("#payments form.pay").first
        form.locator("input[name=reference]").fill(f"BH-2024-E2E-{n + 1}")
        with cai.expect_navigation():
            form.locator("button[type=submit]").click()
        assert flash(cai) == "操作已完成。"
    expect(cai.locator("#payments form.pay")).to_have_count(0)
    fang.goto(f"/console/plans/{plan_id}")
    submit(fang, "#close button")
    expect(fang.locator("dl.meta .state")).to_have_text("已关闭")

    # -- alice sees the decided amounts and the payment ------------------------------------
    alice.goto(f"/portal/applications/{app_id}")
    expect(alice.locator("p.ok", has_text="已全额拨付。")).to_be_visible()
    share = alice.locator("article.plan-share")
    expect(share).to_contain_text("2024年度跨境电商扶持资金第二批分配方案")
    expect(share.locator("tbody tr", has_text="4.3")).to_contain_text("250,000.00元")
    expect(share.locator("tfoot")).to_contain_text("663,500.00元")
    expect(alice.locator("table.lines")).to_contain_text("按子网站建设实际投入核定")
    screenshots.save(alice, "portal-application")

    # -- the dashboard and the audit trail show it ----------------------------------------
    shen = people.sign_in("shen")
    shen.goto("/console/dashboard?year=2024")
    expect(shen.locator("#by-clause svg").first).to_be_visible()
    screenshots.save(shen, "dashboard")
    shen.goto(f"/console/audit?object_type=plan&object_id={plan_id}")
    for action in ("plan.open_notice", "plan.approve", "plan.close"):
        expect(shen.locator("main")).to_contain_text(action)
