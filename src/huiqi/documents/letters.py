"""Decision letters (审核结果告知书): one PDF per application, for each clause applied for the
decision, the amount and the reason, and where the amount stands in an allocation plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import (
    AllocationPlan,
    Application,
    ApplicationLine,
    Organisation,
    PlanItem,
    PlanItemState,
)
from huiqi.documents.citation import Citation, cite
from huiqi.documents.data import READERS, clause_title, plan_reference, state_label
from huiqi.documents.notice import zh_date
from huiqi.documents.pdf import esc, render, styles, table, wrap_footer
from huiqi.fulfilment.workflow import AppState
from huiqi.money import format_yuan
from huiqi.service.actors import Actor, require, require_org
from huiqi.service.errors import Conflict, NotFound
from huiqi.service.uow import Services

ISSUER = ("郴州市商务局", "Chenzhou Municipal Bureau of Commerce")
DECISIONS = {
    "approved": ("同意支持", "approved"),
    "refused": ("不予支持", "refused"),
    "pending": ("待定", "pending"),
}
OFFICE = {
    "pending": ("（金额待领导小组办公室审定）", " (amount awaits the office's approval)"),
    "returned": ("（领导小组办公室退回）", " (returned by the office)"),
}


@dataclass(frozen=True)
class LetterLine:
    clause_id: str
    clause_zh: str
    clause_en: str
    subject_id: str
    decision: str
    office_state: str
    decided_fen: int | None
    granted_fen: int | None  # in an allocation plan, after budget allocation
    plan_ref: str | None
    reason: str | None


@dataclass(frozen=True)
class LetterData:
    application_id: int
    org_code: str
    org_name: str
    award_year: int
    state: str
    submitted_on: date | None
    decided_on: date
    clauses: list[str]
    lines: list[LetterLine]
    plans: list[tuple[str, str]]  # (reference, state)
    citation: Citation

    @property
    def reference(self) -> str:
        return f"HQ-{self.award_year}-A{self.application_id:04d}"

    @property
    def decided_fen(self) -> int:
        return sum(ln.decided_fen or 0 for ln in self.lines if ln.decision == "approved")


def _plan_items(s: Session, line_ids: list[int]) -> dict[int, tuple[PlanItem, AllocationPlan]]:
    rows = s.execute(
        select(PlanItem, AllocationPlan)
        .join(AllocationPlan, AllocationPlan.id == PlanItem.plan_id)
        .where(PlanItem.line_id.in_(line_ids), PlanItem.state == PlanItemState.INCLUDED)
        .order_by(PlanItem.id)
    ).all()
    return {item.line_id: (item, plan) for item, plan in rows}


def _letter_data(s: Session, svc: Services, app: Application, org: Organisation) -> LetterData:
    if app.state not in (AppState.VERIFIED, AppState.REJECTED) or app.decided_at is None:
        raise Conflict(
            f"申报 {app.id} 尚未作出审核决定（当前：{state_label(app.state.value)}）",
            f"application {app.id} has no decision yet (now: {state_label(app.state.value, 'en')})",
        )
    lines: list[ApplicationLine] = list(app.lines)
    planned = _plan_items(s, [ln.id for ln in lines])
    out: list[LetterLine] = []
    order = {c: i for i, c in enumerate(app.clauses)}
    for line in sorted(lines, key=lambda ln: (order.get(ln.clause_id, 99), ln.id)):
        item_plan = planned.get(line.id)
        out.append(
            LetterLine(
                clause_id=line.clause_id,
                clause_zh=clause_title(svc.package, line.clause_id, "zh"),
                clause_en=clause_title(svc.package, line.clause_id, "en"),
                subject_id=line.subject_id,
                decision=line.decision.value,
                office_state=line.office_state.value,
                decided_fen=line.decided_fen,
                granted_fen=None if item_plan is None else item_plan[0].granted_fen,
                plan_ref=None
                if item_plan is None
                else plan_reference(item_plan[1].id, item_plan[1].award_year),
                reason=line.reason,
            )
        )
    for clause_id in app.clauses:
        if not any(ln.clause_id == clause_id for ln in out):
            out.append(
                LetterLine(
                    clause_id,
                    clause_title(svc.package, clause_id, "zh"),
                    clause_title(svc.package, clause_id, "en"),
                    org.credit_code,
                    "refused",
                    "not_needed",
                    None,
                    None,
                    None,
                    "不符合该条款的申报对象或条件 / not a beneficiary of this clause",
                )
            )
    plans = sorted(
        {(plan_reference(p.id, p.award_year), p.state.value) for _item, p in planned.values()}
    )
    return LetterData(
        application_id=app.id,
        org_code=org.credit_code,
        org_name=org.name,
        award_year=app.award_year,
        state=app.state.value,
        submitted_on=None if app.submitted_at is None else app.submitted_at.date(),
        decided_on=app.decided_at.date(),
        clauses=list(app.clauses),
        lines=out,
        plans=plans,
        citation=cite(s, svc.package, app.clauses, [app.policy_sha256]),
    )


def load_letter(svc: Services, actor: Actor, app_id: int) -> LetterData:
    """The data of one application's decision letter (its applicant or staff)."""
    with svc.reading() as s:
        app = s.get(Application, app_id)
        if app is None:
            raise NotFound(f"申报 {app_id} 不存在", f"no application {app_id}")
        org = s.get(Organisation, app.org_id)
        assert org is not None
        require_org(actor, org.id)
        return _letter_data(s, svc, app, org)


def load_plan_letters(svc: Services, actor: Actor, plan_id: int) -> list[LetterData]:
    """Letters for every application with an item in the plan (staff)."""
    require(actor, *READERS)
    with svc.reading() as s:
        plan = s.get(AllocationPlan, plan_id)
        if plan is None:
            raise NotFound(f"分配方案 {plan_id} 不存在", f"no allocation plan {plan_id}")
        app_ids = sorted(
            set(
                s.scalars(
                    select(ApplicationLine.application_id).where(
                        ApplicationLine.id.in_([i.line_id for i in plan.items])
                    )
                )
            )
        )
        out = []
        for app_id in app_ids:
            app = s.get(Application, app_id)
            assert app is not None
            org = s.get(Organisation, app.org_id)
            assert org is not None
            out.append(_letter_data(s, svc, app, org))
        return out


def _money(fen: int | None) -> str:
    return "—" if fen is None else format_yuan(fen).removesuffix("元")


def _decision(line: LetterLine, lang: str) -> str:
    index = 0 if lang == "zh" else 1
    text = DECISIONS.get(line.decision, (line.decision, line.decision))[index]
    if line.decision == "approved" and line.office_state in OFFICE:
        text += OFFICE[line.office_state][index]
    return text


def letter_pdf(data: LetterData) -> bytes:
    st = styles()
    title = "跨境电商产业扶持资金申报审核结果告知书"
    clauses = "、".join(data.clauses)
    submitted = f"于{zh_date(data.submitted_on)}" if data.submitted_on else ""
    story: list[Flowable] = [
        Paragraph(title, st.title),
        Paragraph(f"编号：{data.reference}", st.right),
        Paragraph(esc(f"{data.org_name}（统一社会信用代码：{data.org_code}）："), st.body),
        Paragraph(
            esc(
                f"　　贵单位{submitted}提交的{data.award_year}年度扶持资金申报（申报编号"
                f" {data.application_id}，申报条款：第{clauses}条），经{ISSUER[0]}审核，"
                f"结论为：{state_label(data.state)}。各条款审核结果如下："
            ),
            st.body,
        ),
    ]
    head = ["依据条款", "支持项目", "对象", "审核结论", "核定金额（元）", "安排金额（元）", "理由"]
    rows: list[list[object]] = [[Paragraph(h, st.cell) for h in head]]
    for line in data.lines:
        subject = "本单位" if line.subject_id == data.org_code else line.subject_id
        rows.append(
            [
                Paragraph(f"第{line.clause_id}条", st.cell),
                Paragraph(esc(line.clause_zh), st.cell),
                Paragraph(esc(subject), st.cell),
                Paragraph(esc(_decision(line, "zh")), st.cell),
                Paragraph(
                    _money(line.decided_fen if line.decision == "approved" else 0), st.number
                ),
                Paragraph(_money(line.granted_fen), st.number),
                Paragraph(esc(line.reason or "—"), st.cell),
            ]
        )
    rows.append(
        [
            Paragraph("合计", st.cell),
            "",
            "",
            "",
            Paragraph(_money(data.decided_fen), st.number),
            Paragraph(
                _money(sum(ln.granted_fen for ln in data.lines if ln.granted_fen is not None))
                if any(ln.granted_fen is not None for ln in data.lines)
                else "—",
                st.number,
            ),
            "",
        ]
    )
    story.append(table(rows, [w * mm for w in (16, 30, 22, 22, 24, 24, 42)]))
    story.append(Spacer(1, 3 * mm))
    if data.plans:
        listed = "、".join(f"{ref}（{state_label(state)}）" for ref, state in data.plans)
        story.append(
            Paragraph(
                esc(
                    f"　　以上核定项目已列入分配方案{listed}。“安排金额”为按预算分配后的金额，"
                    "最终以市人民政府批准并拨付的金额为准。"
                ),
                st.body,
            )
        )
    story.append(
        Paragraph(
            "　　如对审核结果有异议，可在分配方案公示期内通过惠企平台提出异议，"
            f"或向{ISSUER[0]}申请复核。",
            st.body,
        )
    )
    story.append(Paragraph(f"{ISSUER[0]}<br/>{zh_date(data.decided_on)}", st.right))
    story.append(Spacer(1, 4 * mm))
    story += _english(data, st.small)
    footer = wrap_footer(data.citation.zh()) + wrap_footer(data.citation.en())
    return render(story, title=f"{title} {data.reference}", footer=footer, author=ISSUER[0])


def _english(data: LetterData, style: ParagraphStyle) -> list[Flowable]:
    lines = [
        f"Decision on application {data.application_id} ({data.reference}) of {data.org_name} "
        f"for award year {data.award_year}: {state_label(data.state, 'en')}.",
    ]
    for line in data.lines:
        amount = format_yuan(line.decided_fen, "en") if line.decided_fen else "—"
        granted = (
            f", in plan {line.plan_ref}: {format_yuan(line.granted_fen, 'en')}"
            if line.granted_fen is not None
            else ""
        )
        lines.append(
            f"Clause {line.clause_id} {line.clause_en} ({line.subject_id}): "
            f"{_decision(line, 'en')}, {amount}{granted}; reason: {line.reason or '—'}"
        )
    lines.append(
        f"{ISSUER[1]}, {data.decided_on.isoformat()}. Objections: during the plan's public "
        "notice on the huiqi platform, or a request for re-review to the bureau."
    )
    return [Paragraph(esc(text), style) for text in lines]
