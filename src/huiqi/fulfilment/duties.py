"""Separation of duties, per person (issue 11.2).

The policy names distinct bodies for each step of the money's way (郴政办发〔2021〕3号, 保障措施):
"扶持奖励资金分配方案由市商务局拟定，经市财政局、中国（郴州）跨境电子商务综合试验区工作
领导小组办公室审核，按程序报市人民政府批准执行", and the money is paid by the paying finance
("由税收申报缴纳地财政分级负责"). Two rules follow, and both hold in the database as well
(migration 0010):

1. **One account, one body.** Every role belongs to a body; an account holds roles of one body
   only. An applicant account holds no staff role; the administrator decides nothing and holds
   no other role; an auditor only reads. The leading group's office is hosted by the commerce
   bureau (附件: 领导小组办公室设在市商务局), so one commerce-bureau account may hold the
   reviewer's, the drafter's and the office's roles — rule 2 keeps one person from taking two
   of those steps on the same thing.
2. **One person, one step.** Where the chain names two bodies, no person takes both steps on
   the same application or plan: drafting, the finance bureau's review, the office's review,
   the city's approval and the payment are five different people; the bureau's verification
   of a line and the office's approval of that line (6.1, 7.4) are two; and the office does
   not review a plan holding a line its own reviewer verified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from huiqi.fulfilment.roles import Role


class Body(StrEnum):
    APPLICANT = "applicant"  # 申报单位
    COMMERCE = "commerce"  # 市商务局（含领导小组办公室）
    FINANCE = "finance"  # 市财政局
    CITY = "city"  # 市人民政府
    AUDIT = "audit"  # 审计
    ADMIN = "admin"  # 系统管理

    @property
    def zh(self) -> str:
        return _BODY_LABELS[self][0]

    @property
    def en(self) -> str:
        return _BODY_LABELS[self][1]


_BODY_LABELS = {
    Body.APPLICANT: ("申报单位", "an applicant organisation"),
    Body.COMMERCE: (
        "市商务局（含领导小组办公室）",
        "the commerce bureau (and the office it hosts)",
    ),
    Body.FINANCE: ("市财政局", "the finance bureau"),
    Body.CITY: ("市人民政府", "the city government"),
    Body.AUDIT: ("审计", "audit"),
    Body.ADMIN: ("系统管理", "system administration"),
}

#: Which body each role works for. The migration's CHECK constraint repeats this table; a test
#: compares the two.
ROLE_BODY: Mapping[Role, Body] = {
    Role.APPLICANT: Body.APPLICANT,
    Role.COMMERCE_REVIEWER: Body.COMMERCE,
    Role.PLAN_DRAFTER: Body.COMMERCE,
    Role.OFFICE_REVIEWER: Body.COMMERCE,
    Role.FINANCE_REVIEWER: Body.FINANCE,
    Role.CITY_APPROVER: Body.CITY,
    Role.AUDITOR: Body.AUDIT,
    Role.ADMIN: Body.ADMIN,
}


class DutyConflict(Exception):  # noqa: N818 - reads as the domain says it
    """A person may not hold these roles together, or take this step on this thing."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def body_of(roles: Iterable[Role]) -> Body:
    """The one body whose roles these are, or refuse a mix (rule 1)."""
    roles = list(dict.fromkeys(roles))
    if not roles:
        raise DutyConflict("用户至少须有一个角色", "a user needs at least one role")
    bodies = {ROLE_BODY[r] for r in roles}
    if len(bodies) > 1:
        listed_zh = "；".join(
            f"{b.zh}：{'、'.join(r.zh for r in roles if ROLE_BODY[r] is b)}" for b in sorted(bodies)
        )
        listed_en = "; ".join(
            f"{b.en}: {', '.join(r.en for r in roles if ROLE_BODY[r] is b)}" for b in sorted(bodies)
        )
        raise DutyConflict(
            f"一个账号只能担任同一机构的角色（职责分离），不能同时担任 {listed_zh}",
            f"one account holds the roles of one body only (separation of duties), not {listed_en}",
        )
    return bodies.pop()


class Step(StrEnum):
    """The steps of the chain a person takes on a plan or an application line."""

    DRAFT = "draft"  # 市商务局拟定方案（含公示的开启与结束、调整）
    VERIFY = "verify"  # 市商务局审核申报（核定金额）
    OFFICE_LINE = "office_line"  # 领导小组办公室批准 6.1、7.4 的金额
    FINANCE_REVIEW = "finance_review"  # 市财政局审核方案
    OFFICE_REVIEW = "office_review"  # 领导小组办公室审核方案
    APPROVE = "approve"  # 市人民政府批准
    PAY = "pay"  # 财政拨付

    @property
    def zh(self) -> str:
        return _STEP_LABELS[self][0]

    @property
    def en(self) -> str:
        return _STEP_LABELS[self][1]


_STEP_LABELS = {
    Step.DRAFT: ("拟定分配方案", "drafted the plan"),
    Step.VERIFY: ("审核申报并核定金额", "verified the application"),
    Step.OFFICE_LINE: ("以领导小组办公室名义批准该项金额", "approved the amount for the office"),
    Step.FINANCE_REVIEW: ("以市财政局名义审核方案", "reviewed the plan for the finance bureau"),
    Step.OFFICE_REVIEW: ("以领导小组办公室名义审核方案", "reviewed the plan for the office"),
    Step.APPROVE: ("以市人民政府名义批准方案", "approved the plan for the city"),
    Step.PAY: ("登记拨付", "recorded a payment"),
}

#: For each step, the steps on the same thing that its taker must not have taken. A step may
#: be repeated by the same person (two payments of one plan, a redraft) — only a second body's
#: step is refused.
INCOMPATIBLE: Mapping[Step, frozenset[Step]] = {
    Step.DRAFT: frozenset({Step.FINANCE_REVIEW, Step.OFFICE_REVIEW, Step.APPROVE, Step.PAY}),
    Step.VERIFY: frozenset({Step.OFFICE_LINE, Step.OFFICE_REVIEW}),
    Step.OFFICE_LINE: frozenset({Step.VERIFY}),
    Step.FINANCE_REVIEW: frozenset({Step.DRAFT, Step.OFFICE_REVIEW, Step.APPROVE, Step.PAY}),
    Step.OFFICE_REVIEW: frozenset(
        {Step.DRAFT, Step.VERIFY, Step.FINANCE_REVIEW, Step.APPROVE, Step.PAY}
    ),
    Step.APPROVE: frozenset({Step.DRAFT, Step.FINANCE_REVIEW, Step.OFFICE_REVIEW, Step.PAY}),
    Step.PAY: frozenset({Step.DRAFT, Step.FINANCE_REVIEW, Step.OFFICE_REVIEW, Step.APPROVE}),
}


@dataclass(frozen=True)
class Taken:
    """Someone took a step on the thing (a plan, or a line of an application in it)."""

    step: Step
    user_id: int


def check_step(step: Step, user_id: int, taken: Iterable[Taken]) -> None:
    """Refuse ``step`` by ``user_id`` if that person already took an incompatible step."""
    clashes = sorted(
        {t.step for t in taken if t.user_id == user_id and t.step in INCOMPATIBLE[step]}
    )
    if clashes:
        zh = "、".join(c.zh for c in clashes)
        en = ", ".join(c.en for c in clashes)
        raise DutyConflict(
            f"职责分离：您已{zh}，不能再{step.zh}，须由另一人办理",
            f"separation of duties: you {en}, so someone else must take this step ({step.en})",
        )
