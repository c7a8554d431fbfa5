"""The public calculator: asks only what the chosen clauses read, explains every result.

Amounts are worked out by hand from the clauses' words (郴政办发〔2021〕3号):
4.1a pays 500,000 yuan once exports reach 500,000 dollars; 4.4b pays 50,000 per community
store opened in the year; 6.2 pays 20% of the one-year LPR on the drawdown date (3.1% on
2025-03-15) on the principal, for the days of the year the loan ran, over 360:
3,000,000 × 20% × 3.1% × 292 / 360 = 15,086.666… → 15,086.67 yuan.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import unescape
from urllib.parse import unquote

import httpx
import pytest

from huiqi.policy import PolicyPackage
from huiqi.web.pages import factsform
from huiqi.web.pages.calculator import CARRY_COOKIE, unpack
from tests.pages.conftest import Site, Visitor

SCOPE_ALWAYS = {
    "applicant.credit_code",
    "applicant.name",
    "applicant.kind",
    "applicant.registered_locally",
    "applicant.tax_paying_locally",
    "applicant.independent_legal_person",
}
#: What clause 1 asks of a CBEC enterprise only (the default reading of the scope switch).
SCOPE_CBEC = {
    "applicant.in_customs_cbec_statistics",
    "trade.export_usd",
    "trade.import_usd",
    "trade.export_cny",
    "trade.import_cny",
}

SCOPE_YES = {
    "applicant.registered_locally": "true",
    "applicant.tax_paying_locally": "true",
    "applicant.independent_legal_person": "true",
    "applicant.in_customs_cbec_statistics": "true",
}


def paths(needs: factsform.Needs) -> set[str]:
    return {f"{s}.{f}" for s, fields in needs.fields.items() for f in fields}


# -- which facts a clause reads ---------------------------------------------------------------


def test_a_tiered_export_clause_reads_the_export_in_dollars_or_yuan(chenzhou: PolicyPackage):
    found = factsform.clause_paths(chenzhou, chenzhou.clauses["4.1a"], "cbec_enterprise")
    assert found == {"trade.export_usd", "trade.export_cny"}


def test_a_loan_clause_reads_each_loans_fields_its_amount_and_cap_use(chenzhou: PolicyPackage):
    found = factsform.clause_paths(chenzhou, chenzhou.clauses["6.2"], "cbec_enterprise")
    assert found == {
        "applicant.platform_filed",
        "trade.export_usd",
        "trade.import_usd",
        "trade.export_cny",
        "trade.import_cny",
        "loans.id",
        "loans.cross_border_financial_product",
        "loans.principal_cny",  # the base of the computed amount
        "loans.drawdown_date",  # the LPR's date and the start of the days
        "loans.repaid_date",  # the end of the days
        "loans.interest_paid_cny",  # the cap: never more than the interest paid
        # the applicant section's required fields come with it
        "applicant.credit_code",
        "applicant.name",
        "applicant.kind",
    }


def test_a_clause_about_one_subject_reads_that_subjects_id(chenzhou: PolicyPackage):
    found = factsform.clause_paths(chenzhou, chenzhou.clauses["5.1"], "park")
    assert found == {"distribution_centre.id", "distribution_centre.main_builder"}


def test_a_clause_over_events_reads_the_filter_and_the_conditions(chenzhou: PolicyPackage):
    found = factsform.clause_paths(chenzhou, chenzhou.clauses["7.4"], "public_service_body")
    assert found == {
        "events.id",
        "events.kind",
        "events.held_date",  # held in the award year (issue 15.4)
        "events.office_approval_ref",
        "events.participants",
    }


def test_a_park_is_not_asked_for_trade_that_only_cbec_enterprises_must_show(
    chenzhou: PolicyPackage,
):
    needs = factsform.needed_facts(chenzhou, ["2.1"], "park")
    assert paths(needs) == SCOPE_ALWAYS | {
        "park.recognised_by",
        "park.demonstration_base",
        "park.new_cbec_tenants",
        "park.new_tenants_cbec_total_usd",  # the default reading of park_trade_basis
    }
    assert needs.used_by == {"applicant": ("1",), "park": ("2.1",)}


def test_an_enterprise_is_asked_the_scope_and_its_clauses_in_the_models_order(
    chenzhou: PolicyPackage,
):
    needs = factsform.needed_facts(chenzhou, ["4.4b", "4.1a"], "cbec_enterprise")
    assert paths(needs) == SCOPE_ALWAYS | SCOPE_CBEC | {
        "stores.id",
        "stores.kind",
        "stores.opened_date",
    }
    assert list(needs.fields) == ["applicant", "trade", "stores"]
    assert needs.fields["trade"] == ("export_usd", "import_usd", "export_cny", "import_cny")
    assert needs.used_by["trade"] == ("1", "4.1a")


def test_a_posted_form_becomes_facts_without_blanks_and_with_numbered_rows(
    chenzhou: PolicyPackage,
):
    built = factsform.sections(
        chenzhou, factsform.needed_facts(chenzhou, ["4.4b"], "cbec_enterprise")
    )
    form = {
        "applicant.name": " 湘南 ",
        "applicant.registered_locally": "true",
        "applicant.tax_paying_locally": "",
        "trade.export_usd": "1,000",
        "_rows.stores": "3",
        "stores.0.kind": "community",
        "stores.0.opened_date": "2025-04-18",
        "stores.1.kind": "",  # a blank row is dropped
        "stores.2.id": "S-1",
        "stores.2.kind": "o2o_experience",
    }
    facts = factsform.read_form(form, built, {"award_year": 2025})
    assert facts == {
        "award_year": 2025,
        "applicant": {"name": "湘南", "registered_locally": True},
        "trade": {"export_usd": "1000"},  # thousands separators dropped
        "stores": [
            {"kind": "community", "opened_date": "2025-04-18", "id": "S-2"},  # S-1 is taken
            {"id": "S-1", "kind": "o2o_experience"},
        ],
    }
    assert factsform.flatten(facts)["stores.0.id"] == "S-2"


def test_a_problems_json_path_names_the_form_field():
    assert factsform.field_name("$.stores[1].area_m2") == "stores.1.area_m2"
    assert factsform.field_name("$.trade") == "trade"
    assert factsform.field_name("$") == ""


# -- the pages --------------------------------------------------------------------------------


def step2(
    visitor: Visitor,
    year: str = "2025",
    kind: str = "cbec_enterprise",
    clauses: Sequence[str] = ("4.1a",),
) -> httpx.Response:
    query = "&".join([f"year={year}", f"kind={kind}", *(f"clause={c}" for c in clauses)])
    return visitor.get(f"/calculator/facts?{query}")


def evaluate(
    visitor: Visitor,
    fields: dict[str, str],
    clauses: Sequence[str] = ("4.1a",),
    kind: str = "cbec_enterprise",
) -> httpx.Response:
    data = [("year", "2025"), ("kind", kind), *(("clause", c) for c in clauses)]
    data += list(fields.items())
    return visitor.post("/calculator/result", data)


def carried_facts(html: str) -> str:
    found = re.search(r'name="facts_json" value="([^"]*)"', html)
    assert found is not None
    return unescape(found.group(1))


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def input_names(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select)[^>]*\bname="([^"_][^"]*)"', html))


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh", ["政策计算器", "关心的扶持项目", "跨境电商出口一次性奖励", "全部条款"]),
        ("en", ["Policy calculator", "Support you are interested in", "Every clause"]),
    ],
)
def test_the_first_step_lists_every_clause_in_both_languages(site: Site, lang, words):
    page = site.visitor(lang=lang).get("/calculator")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    assert page.text.count('name="clause"') == 1 + 23  # "all" and each clause
    assert '<label for="c-4-1a">' in page.text and 'id="c-4-1a"' in page.text


def test_the_form_asks_only_what_the_chosen_clauses_read(site: Site):
    page = step2(site.visitor(), clauses=("4.2",))
    assert page.status_code == 200
    names = input_names(page.text)
    assert "trade.export_usd" in names and "applicant.in_customs_cbec_statistics" in names
    assert not any(n.startswith(("park.", "stores.", "loans.", "events.")) for n in names)
    assert "applicant.kind" not in names  # chosen on the first step


def test_a_park_is_asked_about_the_park_and_not_about_exports(site: Site):
    page = step2(site.visitor(lang="en"), kind="park", clauses=("2.1",))
    names = input_names(page.text)
    assert {"park.recognised_by", "park.new_cbec_tenants"} <= names
    assert not any(n.startswith("trade.") for n in names)
    assert "New tenants with CBEC trade this year" in page.text


def test_choosing_no_clause_is_refused_on_the_first_step(site: Site):
    page = site.visitor().get("/calculator/facts?year=2025&kind=park")
    assert page.status_code == 422
    assert "请至少选择一项扶持项目" in page.text
    assert 'value="park" selected' in page.text  # the answers are kept


def test_every_field_has_a_label(site: Site):
    page = step2(site.visitor(), clauses=("all",))
    ids = set(re.findall(r'<(?:input|select)[^>]*\bid="(f-[^"]+)"', page.text))
    labelled = set(re.findall(r'<label for="(f-[^"]+)"', page.text))
    assert ids and ids <= labelled


def test_enter_in_a_field_evaluates_rather_than_adds_a_row(site: Site):
    page = step2(site.visitor(), clauses=("4.4b",))
    form = page.text.split('action="/calculator/result"', 1)[1]
    first = re.search(r'<button type="submit"[^>]*>', form)
    assert first is not None and 'value="submit"' in first.group(0)


def test_a_full_calculation_shows_each_amount_and_the_total(site: Site):
    page = evaluate(
        site.visitor(),
        {
            **SCOPE_YES,
            "applicant.platform_filed": "true",
            "trade.export_usd": "526,000",
            "_rows.stores": "1",
            "stores.0.kind": "community",
            "stores.0.opened_date": "2025-04-18",
            "_rows.loans": "1",
            "loans.0.cross_border_financial_product": "true",
            "loans.0.principal_cny": "3000000",
            "loans.0.drawdown_date": "2025-03-15",
            "loans.0.interest_paid_cny": "84000",
        },
        clauses=("4.1a", "4.4b", "6.2"),
    )
    assert page.status_code == 200
    text = text_of(page.text)
    assert "第4.1a条 跨境电商出口一次性奖励：符合，应兑现 500,000.00元" in text
    assert "第4.4b条 社区跨境电商O2O体验店扶持：符合，应兑现 50,000.00元" in text
    assert "第6.2条 跨境金融产品贷款贴息：符合，应兑现 15,086.67元" in text
    assert "应兑现合计（定额、按比例计算） 565,086.67元" in text
    assert "292天（2025-03-15至2025-12-31）" in text  # the explanation shows the days
    assert "S-1" in text and "L-1" in text  # rows left without an id were numbered


def test_a_ceiling_is_shown_as_the_most_review_may_grant(site: Site):
    page = evaluate(site.visitor(), {**SCOPE_YES, "trade.export_usd": "31200000"}, clauses=("4.2",))
    text = text_of(page.text)
    assert "符合，最高可核定 1,000,000.00元" in text
    assert "限额类最高合计（以审核核定为准） 1,000,000.00元" in text
    assert "实际金额由审核部门在此限额内核定" in text


def test_an_unmet_clause_says_which_fact_was_missing_and_quotes_its_text(site: Site):
    page = evaluate(site.visitor(), dict(SCOPE_YES))
    text = text_of(page.text)
    assert "第4.1a条 跨境电商出口一次性奖励：不符合" in text
    why = page.text.split('<details class="why">', 1)[1].split("</details>", 1)[0]
    assert "跨境电商出口额（美元）" in unescape(why) and 'class="t-bad"' in why
    words = page.text.split('<details class="clause-text">', 1)[1].split("</details>", 1)[0]
    assert "对当年跨境电商出口总额破零的，给予一次性奖励10万元" in words


def test_outside_the_scope_the_page_says_why_first(site: Site):
    page = evaluate(
        site.visitor(), {**SCOPE_YES, "applicant.registered_locally": "false"}, clauses=("4.1a",)
    )
    text = text_of(page.text)
    assert "不符合政策第1条的支持范围" in text
    assert "在本市依法注册：否" in text


def test_a_bad_value_is_shown_beside_its_field_and_kept(site: Site):
    page = evaluate(
        site.visitor(),
        {
            **SCOPE_YES,
            "applicant.platform_filed": "true",
            "trade.export_usd": "12x",
            "_rows.loans": "1",
            "loans.0.principal_cny": "3000000",
            "loans.0.drawdown_date": "2025-03-15",
        },
        clauses=("6.2",),
    )
    assert page.status_code == 422
    assert 'id="e-trade-export_usd"' in page.text
    assert 'value="12x"' in page.text and 'aria-invalid="true"' in page.text
    # a required field left blank, beside its own field in the first row
    assert 'id="e-loans-0-interest_paid_cny"' in page.text
    assert "缺少必填字段" in page.text
    assert "有 2 处需要修改" in page.text
    assert 'href="#f-trade-export_usd"' in page.text


def test_dollars_and_yuan_for_the_same_flow_are_refused_on_the_section(site: Site):
    page = evaluate(
        site.visitor(lang="en"),
        {**SCOPE_YES, "trade.export_usd": "100", "trade.export_cny": "700"},
    )
    assert page.status_code == 422
    assert 'id="e-trade"' in page.text
    assert "export: give USD or CNY, not both" in page.text


def test_a_row_is_added_and_removed_without_javascript(site: Site):
    visitor = site.visitor()
    fields = {"_rows.stores": "1", "stores.0.kind": "community", "_action": "add:stores"}
    page = evaluate(visitor, fields, clauses=("4.4b",))
    assert page.status_code == 200
    assert 'name="stores.1.kind"' in page.text
    assert 'name="_rows.stores" value="2"' in page.text
    page = evaluate(
        visitor,
        {
            "_rows.stores": "2",
            "stores.0.kind": "community",
            "stores.1.kind": "o2o_experience",
            "_action": "remove:stores.0",
        },
        clauses=("4.4b",),
    )
    assert 'name="_rows.stores" value="1"' in page.text
    assert '<option value="o2o_experience" selected>' in page.text


def test_the_answers_can_be_changed_after_the_results(site: Site):
    visitor = site.visitor()
    page = evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "250000"})
    carried = carried_facts(page.text)
    back = evaluate(visitor, {"facts_json": carried, "_action": "edit"})
    assert back.status_code == 200
    assert 'name="trade.export_usd" type="text" value="250000"' in back.text


def test_text_the_visitor_typed_is_shown_as_text(site: Site):
    page = evaluate(
        site.visitor(),
        {**SCOPE_YES, "applicant.name": "<script>alert(1)</script>", "trade.export_usd": "1"},
    )
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_results_are_fully_english_after_the_switch(site: Site):
    visitor = site.visitor()
    switched = visitor.post("/lang/en", {"next": "/calculator"})
    assert switched.status_code == 303
    page = evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "200000"})
    text = text_of(page.text)
    assert "Clause 4.1a One-time CBEC export award: eligible, CNY 200,000.00 owed" in text
    assert "Why: each condition and the calculation" in text
    assert "Owed in total (fixed and computed)" in text
    # the policy's own words stay Chinese (they are quoted); the page's own words do not
    for chinese in (
        "测算结果",
        "汇总",
        "金额类型",
        "为什么",
        "应兑现合计",
        "用这些信息申报",
        "条原文",
    ):
        assert chinese not in text


def test_the_results_page_prints_with_a_hint_and_without_its_buttons(site: Site):
    page = evaluate(site.visitor(), {**SCOPE_YES, "trade.export_usd": "1"})
    assert "Ctrl+P" in page.text
    assert '<div class="actions noprint">' in page.text


def test_applying_without_an_account_signs_in_first_and_keeps_the_answers(site: Site):
    visitor = site.visitor()
    page = evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "600000"})
    assert "用这些信息申报" in page.text
    carried = carried_facts(page.text)
    apply = visitor.post(
        "/calculator/apply",
        [
            ("year", "2025"),
            ("kind", "cbec_enterprise"),
            ("clause", "4.1a"),
            ("facts_json", carried),
        ],
    )
    assert apply.status_code == 303
    assert unquote(apply.headers["location"]) == "/login?next=/portal/new?from=calculator"
    kept = unpack(visitor.client.cookies[CARRY_COOKIE])
    assert kept is not None and kept["clauses"] == ["4.1a"] and kept["year"] == 2025
    assert kept["facts"]["trade"] == {"export_usd": "600000"}

    signed = site.visitor("alice")  # the same browser, now signed in
    visitor.client.cookies.update(signed.client.cookies)
    visitor.csrf = signed.csrf
    form = visitor.get("/portal/new?from=calculator")
    assert form.status_code == 200
    assert "已带入政策计算器中填写的内容" in form.text
    assert 'name="trade.export_usd" type="text" value="600000"' in form.text
    assert re.search(r'value="4\.1a" checked', form.text)


def test_staff_are_not_offered_to_apply(site: Site):
    page = evaluate(site.visitor("rui"), {**SCOPE_YES, "trade.export_usd": "1"})
    assert page.status_code == 200
    assert "/calculator/apply" not in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_calculator_page_has_its_words_in_both_languages(site: Site, lang: str):
    visitor = site.visitor(lang=lang)
    pages = [
        visitor.get("/calculator"),
        step2(visitor, clauses=("all",)),
        evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "x"}),
        evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "1"}, clauses=("3.1", "4.2", "7.4")),
    ]
    for page in pages:
        untranslated = re.findall(r"\b(?:portal|calc|form)\.[a-z_.]+\b", text_of(page.text))
        assert untranslated == []


def test_a_discretionary_clause_is_eligible_with_the_amount_left_to_review(site: Site):
    page = evaluate(
        site.visitor(),
        {
            "applicant.registered_locally": "true",
            "applicant.tax_paying_locally": "true",
            "applicant.independent_legal_person": "true",
            "platform_construction.hardware_cny": "1000",
        },
        clauses=("3.1",),
        kind="service_enterprise",
    )
    text = text_of(page.text)
    assert "第3.1条 综试区线上综合服务平台和线下园区配套建设支持：符合条件，金额由审核酌定" in text
    assert "酌情支持类符合条件的项数 1" in text
    assert "领导小组办公室批准" in text


def test_a_clause_not_open_to_the_chosen_kind_is_flagged_before_the_figures(site: Site):
    page = step2(site.visitor(), kind="park", clauses=("4.1a",))
    assert "第 4.1a 条不适用于“园区”" in page.text


def test_a_signed_in_applicant_goes_straight_to_the_new_application(site: Site):
    visitor = site.visitor("alice")
    page = evaluate(visitor, {**SCOPE_YES, "trade.export_usd": "1"})
    apply = visitor.post(
        "/calculator/apply",
        [
            ("year", "2025"),
            ("kind", "cbec_enterprise"),
            ("clause", "4.1a"),
            ("facts_json", carried_facts(page.text)),
        ],
    )
    assert apply.status_code == 303
    assert apply.headers["location"] == "/portal/new?from=calculator"
