"""The language switch (English persists from page to page, and back), and the pages on a
phone's width."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from huiqi.web.pages.common import LANG_COOKIE
from tests.e2e.conftest import People, Screenshots, Server, fill_sign_in

#: A common phone's viewport, in CSS pixels.
PHONE_WIDTH, PHONE_HEIGHT = 390, 844


def phone(people: People) -> Page:
    return people.browse(width=PHONE_WIDTH, height=PHONE_HEIGHT, mobile=True)


def switch(page: Page, to: str) -> None:
    with page.expect_navigation():
        page.click(f"header form[action='/lang/{to}'] button")


def test_english_chosen_once_stays_on_every_page_until_switched_back(
    server: Server, people: People, screenshots: Screenshots
) -> None:
    page = people.browse()
    page.goto("/calculator")
    expect(page.locator("h1")).to_have_text("政策计算器")
    switch(page, "en")
    assert page.url.endswith("/calculator")  # back where the switch was pressed
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Policy calculator")
    # The choice is a cookie that outlives the session (about a year).
    kept = next(c for c in page.context.cookies() if c["name"] == LANG_COOKIE)
    assert kept["value"] == "en"
    assert kept["expires"] > (datetime.now() + timedelta(days=300)).timestamp()

    page.click("header a[href='/']")
    expect(page.locator("h1")).to_have_text("Support that finds the enterprise")
    page.goto(f"/notices/{server.ids['plan_2025']}")
    expect(page.locator("main")).to_contain_text("Public notice")
    page.click("header a[href='/login']")
    expect(page.locator("h1")).to_have_text("Sign in")
    fill_sign_in(page, "alice")
    expect(page.locator("h1")).to_have_text("Enterprise portal")
    expect(page.locator("main")).to_contain_text("Your organisation")
    expect(page.locator("main")).not_to_contain_text("本单位登记信息")
    page.click(f"a[href='/portal/applications/{server.ids['exporter_2025']}']")
    expect(page.locator("main")).to_contain_text("verified")
    screenshots.save(page, "english-portal-application")

    switch(page, "zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("p.lead .state")).to_have_text("审核通过")
    page.goto("/portal")
    expect(page.locator("main")).to_contain_text("本单位登记信息")


@pytest.mark.parametrize("url", ["/", "/calculator", "/login", "/notices/{plan}"])
def test_public_pages_fit_a_phone_without_sideways_scrolling(
    server: Server, people: People, url: str
) -> None:
    page = phone(people)
    page.goto(url.format(plan=server.ids["plan_2025"]))
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{url} is {overflow}px wider than a {PHONE_WIDTH}px phone"


def test_the_calculator_result_reads_on_a_phone(
    server: Server, people: People, screenshots: Screenshots
) -> None:
    page = phone(people)
    page.goto("/calculator/facts?year=2025&kind=cbec_enterprise&clause=4.1a")
    for name in (
        "registered_locally",
        "tax_paying_locally",
        "independent_legal_person",
        "in_customs_cbec_statistics",
    ):
        page.select_option(f"#f-applicant-{name}", "true")
    page.fill("#f-trade-export_usd", "250000")
    with page.expect_navigation():
        page.click("form.facts-form button[value=submit]:not(.default-action)")
    expect(page.locator("main")).to_contain_text(
        "第4.1a条 跨境电商出口一次性奖励：符合，应兑现 200,000.00元"
    )
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the result is {overflow}px wider than the phone"
    screenshots.save(page, "phone-calculator-result")
    page.goto(f"/notices/{server.ids['plan_2025']}")
    screenshots.save(page, "phone-public-notice")


def calculate_4_1a(page: Page) -> None:
    page.goto("/calculator/facts?year=2025&kind=cbec_enterprise&clause=4.1a")
    page.fill("#f-trade-export_usd", "250000")
    with page.expect_navigation():
        page.click("form.facts-form button[value=submit]:not(.default-action)")
    expect(page.locator("h1")).to_have_text("测算结果")


def test_switching_language_on_the_calculator_result_stays_on_a_page(people: People) -> None:
    page = people.browse()
    calculate_4_1a(page)
    with page.expect_navigation() as navigation:
        page.click("header form[action='/lang/en'] button")
    response = navigation.value
    assert response is not None and response.status == 200, f"{response.status} {page.url}"
    expect(page.locator("h1")).not_to_have_text("Something went wrong")


def test_the_public_notice_keeps_names_readable_on_a_phone(server: Server, people: People) -> None:
    page = phone(people)
    page.goto(f"/notices/{server.ids['plan_2025']}")
    cell = page.locator("main table tbody tr").first.locator("td").first
    expect(cell).to_have_text("郴州湘南优品跨境电商有限公司")
    size = float(cell.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    box = cell.bounding_box()
    assert box is not None
    assert box["width"] >= 5 * size, f"the name column is {box['width']:.0f}px wide"
