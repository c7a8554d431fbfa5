"""What the pages refuse, in the browser: an amount over a clause's ceiling, and another
organisation's application.

The foundry (jia) applies for 4.2 in 2023 (a year the whole-path test, which shares the server,
drafts no plan for) with 31,200,000 + 450,000 = 31,650,000 dollars of
cross-border trade: 3000万美元以上 and under 1亿 → a ceiling of 100万元 (1,000,000.00).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import People, Server


def submit(page: Page, selector: str) -> int:
    """Click a submit button; the status of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None
    return response.status


def foundry_applies_for_4_2(people: People) -> int:
    """jia fills a 2023 application for 4.2 through the portal and submits it."""
    jia = people.sign_in("jia")
    assert jia.url.endswith("/portal")
    jia.select_option("#year", "2023")
    submit(jia, "form[action='/portal/new'] button[type=submit]")
    jia.check("#c-4-2")
    submit(jia, "form.facts-form button[value=refresh]")  # the form asks what 4.2 needs
    for name in (
        "registered_locally",
        "tax_paying_locally",
        "independent_legal_person",
        "in_customs_cbec_statistics",
    ):
        jia.select_option(f"#f-applicant-{name}", "true")
    jia.fill("#f-trade-export_usd", "31,200,000")
    jia.fill("#f-trade-import_usd", "450,000")
    submit(jia, "form.facts-form button[value=save]:not(.default-action)")
    found = re.search(r"/portal/applications/(\d+)\?msg=saved$", jia.url)
    assert found, jia.url
    app_id = int(found.group(1))
    expect(jia.locator("main")).to_contain_text("最高可核定 1,000,000.00元")
    submit(jia, f"form[action='/portal/applications/{app_id}/submit'] button")
    expect(jia.locator("p.lead .state")).to_have_text("已提交")
    return app_id


def test_an_amount_over_the_ceiling_is_refused_by_the_browser_and_by_the_server(
    people: People,
) -> None:
    app_id = foundry_applies_for_4_2(people)
    rui = people.sign_in("rui")
    rui.goto(f"/console/applications/{app_id}")
    block = rui.locator("#clause-4\\.2")
    amount = block.locator("input[id$='-amount']")
    expect(amount).to_have_attribute("max", "1000000.00")
    field_id = amount.get_attribute("id")
    assert field_id is not None and re.fullmatch(r"line-\d+-amount", field_id)
    amount.fill("1000000.01")
    block.locator("textarea[id$='-reason']").fill("按实际投入核定")

    # The browser's own check (HTML max) stops the form: nothing is sent.
    rui.click("#verify > button[type=submit]")
    assert amount.evaluate("e => e.validity.rangeOverflow") is True
    assert rui.url.endswith(f"/console/applications/{app_id}")

    # Past the browser's check, the server refuses it, beside the field and at the top.
    rui.evaluate("document.getElementById('verify').noValidate = true")
    assert submit(rui, "#verify > button[type=submit]") == 422
    expect(rui.locator("#errors")).to_contain_text("审核决定有误，未保存")
    expect(rui.locator(f"#{field_id}-error")).to_have_text("超过本项上限 1,000,000.00元")
    expect(rui.locator(f"#{field_id}")).to_have_value("1000000.01")
    expect(rui.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")

    # The same refusal in English, after the switch.
    rui.goto(f"/console/applications/{app_id}")
    submit(rui, "header form[action='/lang/en'] button")
    expect(rui.locator("html")).to_have_attribute("lang", "en")
    block = rui.locator("#clause-4\\.2")
    block.locator("input[id$='-amount']").fill("1000000.01")
    block.locator("textarea[id$='-reason']").fill("actual investment")
    rui.evaluate("document.getElementById('verify').noValidate = true")
    assert submit(rui, "#verify > button[type=submit]") == 422
    expect(rui.locator(f"#{field_id}-error")).to_have_text(
        "above this line's ceiling of CNY 1,000,000.00"
    )

    # Within the ceiling, with a reason, it is verified.
    rui.locator(f"#{field_id}").fill("800000")
    rui.locator("#clause-4\\.2 textarea[id$='-reason']").fill("actual investment")
    assert submit(rui, "#verify > button[type=submit]") == 200
    expect(rui.locator("p.flash[role=status]")).to_have_text("Verified.")


def test_an_applicant_cannot_open_another_organisations_application(
    server: Server, people: People
) -> None:
    alices = server.ids["exporter_2025"]
    charlie = people.sign_in("charlie")
    expect(charlie.locator(f"a[href='/portal/applications/{alices}']")).to_have_count(0)
    for url in (f"/portal/applications/{alices}", f"/portal/applications/{alices}/edit"):
        response = charlie.goto(url)
        assert response is not None and response.status == 404, url
        expect(charlie.locator("h1")).to_have_text("出错了")
        expect(charlie.locator("main")).not_to_contain_text("郴州湘南优品跨境电商有限公司")
    # Her own application opens as usual.
    own = server.ids["logistics_2025"]
    response = charlie.goto(f"/portal/applications/{own}")
    assert response is not None and response.status == 200
    expect(charlie.locator("h1")).to_contain_text(f"申报第 {own} 号")
