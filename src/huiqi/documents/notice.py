"""The public notice (公示) of an allocation plan, as HTML and as PDF.

Both say the same: who is to receive how much under which clause, the notice period in
working days, and how to object (the platform's notice page, or in writing to the bureau).
Only items in the plan are shown; the citation closes the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from jinja2 import Environment, StrictUndefined
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from huiqi.documents.data import PlanData
from huiqi.documents.pdf import esc, render, styles, table, wrap_footer
from huiqi.fulfilment.calendar import ZONE
from huiqi.money import format_yuan


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class NoticeText:
    """The notice's words, shared by the HTML and the PDF."""

    title_zh: str
    title_en: str
    intro_zh: str
    intro_en: str
    period_zh: str
    period_en: str
    objection_zh: str
    objection_en: str
    signature_zh: str
    signature_en: str


def notice_text(plan: PlanData, *, base_url: str = "", contact: str | None = None) -> NoticeText:
    count, total = len(plan.included), plan.granted_fen
    citation = plan.citation
    url = f"{base_url.rstrip('/')}/notices/{plan.id}"
    if plan.notice_published_at and plan.notice_end:
        published = plan.notice_published_at.astimezone(ZONE)
        at_zh = f"{zh_date(published.date())}{published:%H:%M}"
        period_zh = (
            f"发布时间：{at_zh}（北京时间）。公示期{plan.notice_days}个工作日"
            "（按国家法定节假日和调休安排计算），自发布次日起算，"
            f"至{zh_date(plan.notice_end)}24时止。"
        )
        period_en = (
            f"Published {published:%Y-%m-%d %H:%M} (Beijing time). The notice runs "
            f"{plan.notice_days} working days (by the official holiday and make-up-day "
            f"schedule) from the next day, until the end of {plan.notice_end.isoformat()}."
        )
        signed = published.date()
    else:
        period_zh, period_en = "公示期：尚未确定。", "Notice period: not yet set."
        signed = plan.created_at.date()
    contact_zh = f"联系电话：{contact}。" if contact else ""
    contact_en = f" Telephone: {contact}." if contact else ""
    return NoticeText(
        title_zh=f"关于{plan.title}的公示",
        title_en=(
            f"Public notice: allocation plan {plan.reference} for award year {plan.award_year}"
        ),
        intro_zh=(
            f"根据《{citation.title_zh}》（{citation.document_no}）有关规定，经企业申报、"
            f"市商务局审核，拟对以下{count}个项目安排{plan.award_year}年度跨境电商产业扶持资金，"
            f"共计{format_yuan(total)}。现予以公示（方案编号：{plan.reference}）。"
        ),
        intro_en=(
            f"Under {citation.document_no} ({citation.title_en}), after application and review "
            f"by the commerce bureau, the {count} items below are to receive "
            f"{format_yuan(total, 'en')} of support for award year {plan.award_year}. "
            f"They are hereby publicly noticed (plan {plan.reference})."
        ),
        period_zh=period_zh,
        period_en=period_en,
        objection_zh=(
            "公示期内，任何单位或个人对公示内容有异议的，可通过惠企平台公示页面"
            f"（{url}）在线提出，或以书面形式向{plan.issuer[0]}反映。提出异议应实事求是，"
            f"写明异议人姓名（单位名称）、联系方式及所针对的项目。{contact_zh}"
        ),
        objection_en=(
            "During the notice period anyone may object to an item on the platform's notice "
            f"page ({url}) or in writing to the {plan.issuer[1]}, giving their name, a way to "
            f"reach them and the item concerned.{contact_en}"
        ),
        signature_zh=f"{plan.issuer[0]}\n{zh_date(signed)}",
        signature_en=f"{plan.issuer[1]}\n{signed.isoformat()}",
    )


_HTML = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ text.title_zh }}</title>
<style>
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.6; }
h1 { text-align: center; font-size: 1.5rem; }
h2 { text-align: center; font-size: 1.1rem; color: #555; font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #888; padding: .25rem .4rem; }
th { background: #e8eef4; }
td.num { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; background: #fff2cc; }
.signature { text-align: right; white-space: pre-line; margin-top: 1.5rem; }
.en { color: #444; }
footer { margin-top: 2rem; font-size: .75rem; color: #555; border-top: 1px solid #ccc; }
</style>
</head>
<body>
<h1>{{ text.title_zh }}</h1>
<h2 lang="en">{{ text.title_en }}</h2>
<p>{{ text.intro_zh }}</p>
<table>
<thead><tr><th>序号</th><th>单位名称</th><th>统一社会信用代码</th><th>所属县市区/园区</th>
<th>支持项目</th><th>依据条款</th><th>拟安排金额（元）</th></tr></thead>
<tbody>
{% for row in rows %}<tr><td>{{ loop.index }}</td><td>{{ row.org_name }}</td>
<td>{{ row.org_code }}</td><td>{{ row.division }}</td><td>{{ row.clause_zh }}</td>
<td>第{{ row.clause_id }}条</td><td class="num">{{ money(row.granted_fen) }}</td></tr>
{% endfor %}<tr class="total"><td colspan="6">合计（{{ rows | length }}项）</td>
<td class="num">{{ money(total) }}</td></tr>
</tbody>
</table>
<p><strong>{{ text.period_zh }}</strong></p>
<p>{{ text.objection_zh }}</p>
<p class="signature">{{ text.signature_zh }}</p>
<section class="en" lang="en">
<p>{{ text.intro_en }}</p>
<p><strong>{{ text.period_en }}</strong></p>
<p>{{ text.objection_en }}</p>
<p class="signature">{{ text.signature_en }}</p>
</section>
<footer><p>{{ citation_zh }}</p><p lang="en">{{ citation_en }}</p></footer>
</body>
</html>
"""


def _money(fen: int) -> str:
    return format_yuan(fen).removesuffix("元")


def notice_html(plan: PlanData, *, base_url: str = "", contact: str | None = None) -> str:
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    template = env.from_string(_HTML)
    return template.render(
        text=notice_text(plan, base_url=base_url, contact=contact),
        rows=plan.included,
        total=plan.granted_fen,
        money=_money,
        citation_zh=plan.citation.zh(),
        citation_en=plan.citation.en(),
    )


def notice_pdf(plan: PlanData, *, base_url: str = "", contact: str | None = None) -> bytes:
    text = notice_text(plan, base_url=base_url, contact=contact)
    st = styles()
    rows: list[list[object]] = [
        [
            Paragraph(esc(h), st.cell)
            for h in (
                "序号",
                "单位名称",
                "统一社会信用代码",
                "所属县市区/园区",
                "支持项目",
                "依据条款",
                "拟安排金额（元）",
            )
        ]
    ]
    for number, row in enumerate(plan.included, start=1):
        rows.append(
            [
                str(number),
                Paragraph(esc(row.org_name), st.cell),
                Paragraph(row.org_code, st.code),
                Paragraph(esc(row.division), st.cell),
                Paragraph(esc(row.clause_zh), st.cell),
                Paragraph(f"第{row.clause_id}条", st.cell),
                Paragraph(_money(row.granted_fen), st.number),
            ]
        )
    rows.append(
        [
            "",
            Paragraph(f"合计（{len(plan.included)}项）", st.cell),
            "",
            "",
            "",
            "",
            Paragraph(_money(plan.granted_fen), st.number),
        ]
    )
    widths = [w * mm for w in (8, 44, 35, 19, 32, 17, 25)]
    story: list[Flowable] = [
        Paragraph(esc(text.title_zh), st.title),
        Paragraph(esc(text.title_en), st.small),
        Spacer(1, 3 * mm),
        Paragraph(esc(text.intro_zh), st.body),
        table(rows, widths),
        Spacer(1, 3 * mm),
        Paragraph(esc(text.period_zh), st.body),
        Paragraph(esc(text.objection_zh), st.body),
        Paragraph(esc(text.signature_zh).replace("\n", "<br/>"), st.right),
        Spacer(1, 4 * mm),
        Paragraph(esc(text.intro_en), st.small),
        Paragraph(esc(text.period_en), st.small),
        Paragraph(esc(text.objection_en), st.small),
        Paragraph(esc(text.signature_en).replace("\n", "<br/>"), st.small),
    ]
    footer = wrap_footer(plan.citation.zh()) + wrap_footer(plan.citation.en())
    return render(story, title=text.title_zh, footer=footer, author=plan.issuer[0])
