"""The enterprise portal: an applicant's organisation and applications, from draft to payment.

The demo's applicants: alice (the exporter: application 1 of 2024, approved and paid;
application 4 of 2025, verified and in the plan under notice), zi (the tea company: draft 11),
pan (the park: application 8, returned with questions), yong (application 10, rejected),
charlie (the logistics company: application 7, submitted).
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from huiqi.service import applications
from huiqi.service.actors import load_actor
from huiqi.service.applications import ApplicationView
from tests.pages.conftest import Site
from tests.samples import PDF

SCOPE_YES = {
    "applicant.registered_locally": "true",
    "applicant.tax_paying_locally": "true",
    "applicant.independent_legal_person": "true",
    "applicant.in_customs_cbec_statistics": "true",
}


def as_staff(site: Site, app_id: int) -> ApplicationView:
    with site.svc.reading() as s:
        rui = load_actor(s, "rui")
    return applications.get(site.svc, rui, app_id)


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found is not None, name
    return unescape(found.group(1))


# -- who may see what -------------------------------------------------------------------------


def test_the_portal_asks_a_visitor_to_sign_in_first(site: Site):
    page = site.visitor().get("/portal")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/portal"


def test_the_portal_is_for_applicants_not_staff(site: Site):
    assert site.visitor("rui").get("/portal").status_code == 403


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "zh",
            ["本单位登记信息", "郴州湘南优品跨境电商有限公司", "北湖区", "我的申报", "审核通过"],
        ),
        ("en", ["Your organisation", "Your applications", "verified", "Start an application"]),
    ],
)
def test_the_portal_shows_the_organisation_and_only_its_applications(site: Site, lang, words):
    page = site.visitor("alice", lang=lang).get("/portal")
    assert page.status_code == 200
    for word in words:
        assert word in page.text
    linked = set(re.findall(r'href="/portal/applications/(\d+)"', page.text))
    assert linked == {"1", "4"}


@pytest.mark.parametrize(
    "url",
    [
        "/portal/applications/7",
        "/portal/applications/7/edit",
        "/portal/applications/999999",
    ],
)
def test_another_organisations_application_is_not_found(site: Site, url: str):
    assert site.visitor("alice").get(url).status_code == 404


@pytest.mark.parametrize(
    ("url", "files"),
    [
        ("/portal/applications/7/edit", None),
        ("/portal/applications/7/submit", None),
        ("/portal/applications/7/attachments", {"file": ("a.pdf", PDF, "application/pdf")}),
    ],
)
def test_another_organisations_application_cannot_be_changed(site: Site, url, files):
    before = as_staff(site, 7)
    visitor = site.visitor("zi")
    answer = visitor.post(url, {"_action": "save", "clause": "5.3"}, files=files)
    assert answer.status_code == 404
    assert as_staff(site, 7) == before


def test_a_form_without_the_sessions_csrf_token_changes_nothing(site: Site):
    visitor = site.visitor("zi")
    visitor.csrf = "forged"
    answer = visitor.post("/portal/applications/11/submit")
    assert answer.status_code == 403
    assert as_staff(site, 11).state == "draft"


# -- starting and filling an application ------------------------------------------------------


def test_choosing_clauses_updates_the_form_to_ask_what_they_need(site: Site):
    visitor = site.visitor("alice")
    page = visitor.get("/portal/new?year=2025")
    assert page.status_code == 200
    assert 'name="trade.export_usd"' in page.text  # clause 1 asks it of every enterprise
    assert 'name="loans.0.principal_cny"' not in page.text
    assert 'name="applicant.credit_code"' not in page.text  # from the registration
    refreshed = visitor.post(
        "/portal/new",
        [
            ("year", "2025"),
            ("clause", "6.2"),
            ("_action", "refresh"),
            ("_facts", hidden(page.text, "_facts")),
            ("_shown", ""),
            ("trade.export_usd", "600000"),
        ],
    )
    assert refreshed.status_code == 200
    assert 'name="loans.0.principal_cny"' in refreshed.text
    assert 'name="trade.export_usd" type="text" value="600000"' in refreshed.text
    assert re.search(r'value="6\.2" checked', refreshed.text)


def test_clauses_not_open_to_the_organisations_kind_cannot_be_chosen(site: Site):
    page = site.visitor("alice").get("/portal/new")
    assert 'name="clause" value="4.1a"' in page.text
    assert 'name="clause" value="2.1"' not in page.text  # parks only
    assert "不适用于本单位主体类型" in page.text


def new_draft(site: Site, visitor, fields: dict[str, str], clauses=("4.1a",)):
    page = visitor.get("/portal/new?year=2025")
    data = [("year", "2025"), *(("clause", c) for c in clauses)]
    data += [("_facts", hidden(page.text, "_facts")), ("_shown", ",".join(clauses))]
    data += [("_action", "save"), *fields.items()]
    return visitor.post("/portal/new", data)


def test_a_saved_draft_shows_the_estimate_against_the_ledger(site: Site):
    visitor = site.visitor("alice")
    saved = new_draft(site, visitor, {**SCOPE_YES, "trade.export_usd": "600,000"})
    assert saved.status_code == 303
    url = saved.headers["location"]
    assert re.fullmatch(r"/portal/applications/\d+\?msg=saved", url)
    page = visitor.get(url)
    text = text_of(page.text)
    assert "已保存" in text and "草稿" in text
    # 4.1a is once per enterprise, topped up: 500,000 for this year's tier, less the
    # 100,000 of 2024 already in the ledger.
    assert "第4.1a条 跨境电商出口一次性奖励：符合，应兑现 400,000.00元" in text
    assert "此前已获 100,000.00元" in text
    assert "跨境电商出口额（美元） 600,000" in text  # the declared facts


def test_a_bad_value_is_refused_beside_its_field_and_nothing_is_created(site: Site):
    visitor = site.visitor("alice")
    answer = new_draft(site, visitor, {**SCOPE_YES, "trade.export_usd": "六十万"})
    assert answer.status_code == 422
    assert 'id="e-trade-export_usd"' in answer.text
    assert 'value="六十万"' in answer.text
    assert re.findall(r'href="/portal/applications/(\d+)"', visitor.get("/portal").text) == [
        "4",
        "1",
    ]


def test_saving_for_new_clauses_first_asks_what_they_need(site: Site):
    visitor = site.visitor("alice")
    page = visitor.get("/portal/new?year=2025")
    answer = visitor.post(
        "/portal/new",
        [
            ("year", "2025"),
            ("clause", "6.2"),
            ("_facts", hidden(page.text, "_facts")),
            ("_shown", ""),
            ("_action", "save"),
        ],
    )
    assert answer.status_code == 200
    assert "表格已更新" in answer.text
    assert 'name="loans.0.principal_cny"' in answer.text


def test_a_draft_is_edited_with_the_same_form_and_submitted(site: Site):
    visitor = site.visitor("zi")
    form = visitor.get("/portal/applications/11/edit")
    assert form.status_code == 200
    assert 'name="trade.export_usd" type="text" value="23000"' in form.text
    data = [
        ("clause", "4.1a"),
        ("clause", "7.1"),
        ("_facts", hidden(form.text, "_facts")),
        ("_shown", hidden(form.text, "_shown")),
        ("_action", "save"),
        ("trade.export_usd", "210000"),
        ("staff_training.costs_cny", "18000"),
        *SCOPE_YES.items(),
    ]
    saved = visitor.post("/portal/applications/11/edit", data)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/portal/applications/11?msg=saved"
    page = visitor.get("/portal/applications/11")
    assert "符合，应兑现 200,000.00元" in text_of(page.text)  # 210,000 dollars: the 20万 tier

    submitted = visitor.post("/portal/applications/11/submit")
    assert submitted.status_code == 303
    assert as_staff(site, 11).state == "submitted"
    page = visitor.get("/portal/applications/11")
    assert "已提交，等待市商务局审核" in page.text
    assert "/portal/applications/11/edit" not in page.text


def test_a_submitted_application_cannot_be_edited(site: Site):
    assert site.visitor("charlie").get("/portal/applications/7/edit").status_code == 409


# -- attachments ------------------------------------------------------------------------------


def test_an_attachment_is_uploaded_and_listed(site: Site):
    visitor = site.visitor("zi")
    answer = visitor.post(
        "/portal/applications/11/attachments", files={"file": ("发票.pdf", PDF, "application/pdf")}
    )
    assert answer.status_code == 303
    page = visitor.get(answer.headers["location"])
    assert "附件已上传" in page.text
    link = re.search(r'<a href="(/api/v1/attachments/\d+)">发票\.pdf</a>', page.text)
    assert link is not None
    assert visitor.get(link.group(1)).content == PDF


def test_a_file_that_is_not_what_it_claims_is_refused_on_the_page(site: Site):
    visitor = site.visitor("zi", lang="en")
    answer = visitor.post(
        "/portal/applications/11/attachments",
        files={"file": ("invoice.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
    )
    assert answer.status_code == 422
    assert "only PDF, JPEG, PNG or XLSX files are accepted (by content)" in answer.text
    assert "No attachments yet." in answer.text


# -- after submission -------------------------------------------------------------------------


def test_a_returned_application_shows_the_questions_and_is_resubmitted(site: Site):
    visitor = site.visitor("pan")
    page = visitor.get("/portal/applications/8")
    assert page.status_code == 200
    assert "请补充2025年度新入驻企业名单及海关统计证明" in page.text
    assert "补正后重新提交" in page.text
    assert '<li class="current" aria-current="step">提交' in page.text  # back with the applicant
    edit = visitor.get("/portal/applications/8/edit")
    assert "请补充2025年度新入驻企业名单及海关统计证明" in edit.text  # beside the form too
    answer = visitor.post("/portal/applications/8/submit")
    assert answer.status_code == 303
    assert as_staff(site, 8).state == "resubmitted"


def test_a_rejected_application_shows_the_reason(site: Site):
    page = site.visitor("yong").get("/portal/applications/10")
    assert "经审核，本申报不予支持" in page.text
    assert "未纳入郴州海关跨境贸易电商统计体系" in page.text
    assert 'class="refused"' in page.text


def test_a_verified_application_shows_the_decisions_and_the_public_notice(site: Site):
    page = site.visitor("alice").get("/portal/applications/4")
    text = text_of(page.text)
    assert "予以支持" in text and "材料齐全，符合政策" in text
    assert 'href="/notices/2"' in page.text
    assert "公示中" in text


def test_a_paid_application_shows_the_payments(site: Site):
    page = site.visitor("alice", lang="en").get("/portal/applications/1")
    text = text_of(page.text)
    assert "Application No. 1" in text
    assert "Paid in full." in text
    # 100,000 (4.1a) + 100,300.25 (4.1b) + 16,790 (6.2), all paid
    assert "Total CNY 217,090.25 CNY 217,090.25" in text


def test_the_reviewers_words_are_shown_as_text(site: Site):
    with site.svc.reading() as s:
        rui = load_actor(s, "rui")
    applications.return_for_correction(site.svc, rui, 7, "<script>alert('x')</script> 请补充")
    page = site.visitor("charlie").get("/portal/applications/7")
    assert "<script>alert(" not in page.text
    assert "&lt;script&gt;alert(" in page.text


def test_a_mangled_hidden_document_is_ignored_rather_than_an_error(site: Site):
    answer = site.visitor("alice").post(
        "/portal/new",
        [
            ("year", "2025"),
            ("clause", "4.4b"),
            ("_facts", '{"applicant": "x", "stores": "y", "nonsense": [1], "trade": [2]}'),
            ("_shown", "4.4b,../../etc"),
            ("_rows.stores", "999"),
            ("_action", "refresh"),
        ],
    )
    assert answer.status_code == 200
    assert 'name="stores.0.kind"' in answer.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_portal_page_has_its_words_in_both_languages(site: Site, lang: str):
    visitor = site.visitor("pan", lang=lang)
    for url in ("/portal", "/portal/new", "/portal/applications/8", "/portal/applications/8/edit"):
        page = visitor.get(url)
        assert page.status_code == 200, url
        untranslated = re.findall(r"\b(?:portal|calc|form)\.[a-z_.]+\b", text_of(page.text))
        assert untranslated == [], (url, untranslated)
