"""The notice, the decision letters and the annual report: Chinese that a reader can copy out of
the PDF (so the font is embedded with its Unicode map), every beneficiary and amount, the
citation, the same bytes twice, and pages that render."""

from __future__ import annotations

import html
import subprocess
from pathlib import Path

import pytest

from huiqi.documents import write_letters, write_notice, write_report
from huiqi.documents.data import load_public_plan
from huiqi.documents.letters import letter_pdf, load_letter
from huiqi.documents.notice import notice_html, notice_pdf
from huiqi.fulfilment.calendar import ZONE
from huiqi.service import plans
from huiqi.service.errors import Conflict, Forbidden, NotFound

from .conftest import World, keep, pdf_text, render_pages, squashed
from .helpers import ink

EXPORTER = "郴州湘南优品跨境电商有限公司"
ASSOCIATION = "郴州市跨境电子商务协会"
FOUNDRY = "嘉禾县铸造跨境电商有限公司"
#: The demo's 2025 plan by hand: (beneficiary, clause, granted yuan)
PLAN_2025 = [
    (EXPORTER, "4.1a", "400,000.00"),
    (EXPORTER, "4.4b", "50,000.00"),
    (EXPORTER, "7.1", "10,690.00"),
    (ASSOCIATION, "6.1", "60,000.00"),
    (ASSOCIATION, "7.4", "100,000.00"),
    (FOUNDRY, "4.1a", "500,000.00"),
    (FOUNDRY, "4.2", "600,000.00"),
]


def notice_file(world: World, tmp_path: Path, suffix: str) -> Path:
    return write_notice(
        world.svc, world.ids["plan_2025"], tmp_path / f"notice{suffix}", contact="0735-2881234"
    )


def published(world: World) -> str:
    """When the demo published its 2025 plan, in Beijing time, as the notice writes it (the
    demo's clock moves a few minutes with every step, so the minute is read, not assumed)."""
    at = load_public_plan(world.svc, world.ids["plan_2025"]).notice_published_at
    assert at is not None
    local = at.astimezone(ZONE)
    assert (local.year, local.month, local.day) == (2026, 3, 2)  # Monday 2 March
    return f"2026年3月2日{local:%H:%M}"


#: Published on Monday 2 March, five working days: 3, 4, 5, 6 and 9 March.
PERIOD = (
    "（北京时间）。公示期5个工作日（按国家法定节假日和调休安排计算），"
    "自发布次日起算，至2026年3月9日24时止。"
)


def test_the_notice_pdf_names_every_beneficiary_and_amount(world: World, tmp_path: Path) -> None:
    text = squashed(pdf_text(notice_file(world, tmp_path, ".pdf")))
    for name, clause, amount in PLAN_2025:
        assert name in text and f"第{clause}条" in text and amount in text
    assert "合计（8项）" in text and "1,770,690.00" in text
    assert squashed(f"发布时间：{published(world)}{PERIOD}") in text
    assert "/notices/2" in text and "0735-2881234" in text  # the objection channel
    assert "郴政办发〔2021〕3号" in text and world.svc.package.sha256 in text


def test_the_notice_html_says_the_same_and_escapes_what_it_prints(
    world: World, tmp_path: Path
) -> None:
    page = notice_file(world, tmp_path, ".html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in page
    for name, clause, amount in PLAN_2025:
        assert name in page and f"第{clause}条" in page and amount in page
    assert f"发布时间：{published(world)}{PERIOD}" in page
    assert "http" not in page.split("<body>")[0]  # nothing fetched from elsewhere
    plan = load_public_plan(world.svc, world.ids["plan_2025"])
    odd = plan.__class__(**{**plan.__dict__, "title": "<script>x</script>"})
    assert "<script>x" not in notice_html(odd) and html.escape("<script>x") in notice_html(odd)


def test_a_plan_not_yet_noticed_has_no_public_notice(world: World) -> None:
    with pytest.raises(NotFound):
        load_public_plan(world.svc, 999)


def test_a_decision_letter_lists_each_clause_decision_amount_and_reason(
    world: World, tmp_path: Path
) -> None:
    [path] = write_letters(
        world.svc, world.actor("alice"), tmp_path, application_id=world.ids["exporter_2025"]
    )
    assert path.name == f"decision-HQ-2025-A{world.ids['exporter_2025']:04d}.pdf"
    text = squashed(pdf_text(path))
    assert EXPORTER in text and "91431000MA4T123451" in text
    assert "申报条款：第4.1a、4.4b、7.1条" in text
    for clause, amount in (("4.1a", "400,000.00"), ("4.4b", "50,000.00"), ("7.1", "10,690.00")):
        assert f"第{clause}条" in text and amount in text
    assert text.count("同意支持") == 4  # 4.1a, two stores of 4.4b, 7.1
    assert text.count("材料齐全，符合政策") >= 4
    assert "HQ-2025-P002（公示中）" in text and "510,690.00" in text
    assert "2026年2月16日" in text  # the day it was decided, from the records


def test_a_letter_shows_what_the_budget_left_of_a_ceiling_item(world: World) -> None:
    data = load_letter(world.svc, world.actor("rui"), world.ids["foundry_2025"])
    line = next(ln for ln in data.lines if ln.clause_id == "4.2")
    assert (line.decided_fen, line.granted_fen, line.plan_ref) == (
        80_000_000,
        60_000_000,
        "HQ-2025-P002",
    )


def test_a_rejected_application_gets_a_letter_with_the_reason(world: World, tmp_path: Path) -> None:
    path = tmp_path / "rejected.pdf"
    path.write_bytes(
        letter_pdf(load_letter(world.svc, world.actor("yong"), world.ids["silver_2025"]))
    )
    text = squashed(pdf_text(path))
    assert "永兴县银饰跨境电商有限公司" in text and "不予支持" in text
    assert "未纳入郴州海关跨境贸易电商统计体系，不在第1条支持范围内" in text


def test_no_letter_before_a_decision_and_none_for_another_organisation(world: World) -> None:
    with pytest.raises(Conflict):
        load_letter(world.svc, world.actor("rui"), world.ids["logistics_2025"])  # submitted
    with pytest.raises(NotFound):
        load_letter(world.svc, world.actor("charlie"), world.ids["exporter_2025"])


def test_letters_for_a_plan_are_one_per_application(world: World, tmp_path: Path) -> None:
    paths = write_letters(world.svc, world.actor("rui"), tmp_path, plan_id=world.ids["plan_2025"])
    expected = sorted(world.ids[k] for k in ("exporter_2025", "association_2025", "foundry_2025"))
    assert [p.name for p in paths] == [f"decision-HQ-2025-A{i:04d}.pdf" for i in expected]
    with pytest.raises(Forbidden):
        write_letters(world.svc, world.actor("alice"), tmp_path, plan_id=world.ids["plan_2025"])


def test_the_annual_report_has_its_charts_and_its_figures(world: World, tmp_path: Path) -> None:
    paths = write_report(world.svc, world.actor("shen"), 2024, tmp_path)
    assert [p.name for p in paths] == [
        "report-2024.pdf",
        "report-2024-by-clause.png",
        "report-2024-by-division.png",
        "report-2024-by-year.png",
        "report-2024-budget.png",
    ]
    for png in paths[1:]:
        assert png.read_bytes().startswith(b"\x89PNG") and ink(png) > 0.01
    view = plans.get(world.svc, world.actor("fang"), world.ids["plan_2024"])
    granted = f"{view.granted_fen / 100:,.2f}"
    text = squashed(pdf_text(paths[0]))
    assert "2024年度跨境电商产业扶持资金年度报告" in text
    assert f"已批准{granted}元" in text and f"已拨付{granted}元" in text  # paid in full
    assert "郴政办发〔2021〕3号" in text


def test_the_2025_report_counts_the_plan_under_notice_as_proposed(
    world: World, tmp_path: Path
) -> None:
    [pdf, *_charts] = write_report(world.svc, world.actor("shen"), 2025, tmp_path)
    text = squashed(pdf_text(pdf))
    assert "已批准0.00元" in text and "拟安排（尚在拟定、公示或审核中）1,770,690.00元" in text
    assert "各支付财政预算合计10,000,000.00元" in text
    assert "嘉禾县1,100,000.001,100,000.00" not in text  # budget and proposed are separate cells
    with pytest.raises(Forbidden):
        write_report(world.svc, world.actor("admin"), 2025, tmp_path)


def test_documents_are_the_same_bytes_from_the_same_data(world: World, tmp_path: Path) -> None:
    plan = load_public_plan(world.svc, world.ids["plan_2025"])
    assert notice_pdf(plan) == notice_pdf(plan) and notice_html(plan) == notice_html(plan)
    letter = load_letter(world.svc, world.actor("rui"), world.ids["exporter_2025"])
    assert letter_pdf(letter) == letter_pdf(letter)
    first = [
        p.read_bytes() for p in write_report(world.svc, world.actor("shen"), 2025, tmp_path / "a")
    ]
    second = [
        p.read_bytes() for p in write_report(world.svc, world.actor("shen"), 2025, tmp_path / "b")
    ]
    assert first == second


def test_the_pdfs_embed_the_chinese_font(world: World, tmp_path: Path) -> None:
    fonts = subprocess.run(
        ["pdffonts", str(notice_file(world, tmp_path, ".pdf"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [ln for ln in fonts.splitlines() if "WenQuanYi" in ln or "HuiqiCJK" in ln]
    assert lines  # ReportLab embeds a subset per 256 glyphs used: one line each
    for line in lines:
        assert line.split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, Unicode map


def test_rendered_pages_show_something_and_are_kept(world: World, tmp_path: Path) -> None:
    if world.backend != "sqlite":
        return  # the same pages; one set of pictures is enough
    notice = notice_file(world, tmp_path, ".pdf")
    [letter] = write_letters(
        world.svc, world.actor("rui"), tmp_path, application_id=world.ids["foundry_2025"]
    )
    report, *charts = write_report(world.svc, world.actor("shen"), 2025, tmp_path)
    rendered = (
        render_pages(notice, "notice-2")
        + render_pages(letter, "letter-foundry-2025")
        + render_pages(report, "report-2025", last=2)
    )
    assert len(rendered) == 4
    for png in rendered:
        assert png.stat().st_size > 10_000 and ink(png) > 0.01
    keep(notice, "notice-2.pdf")
    for path in (letter, report, *charts):
        keep(path, path.name)
    keep(notice_file(world, tmp_path, ".html"), "notice-2.html")
