"""The state machines of applications and allocation plans.

A transition table is the only way a state changes: each row says from which
state an action leads where, and which role may take it. Anything else is an
:class:`InvalidTransition` that names the state, the action and who tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from huiqi.fulfilment.roles import Role


class AppState(StrEnum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 已提交
    RETURNED = "returned"  # 退回补正
    RESUBMITTED = "resubmitted"  # 补正后重新提交
    VERIFIED = "verified"  # 市商务局审核通过（金额已核定）
    REJECTED = "rejected"  # 不予支持


class AppAction(StrEnum):
    SUBMIT = "submit"
    RETURN = "return"
    RESUBMIT = "resubmit"
    VERIFY = "verify"
    REJECT = "reject"
    REOPEN = "reopen"  # an upheld objection pulls a verified application back for re-review


class PlanState(StrEnum):
    DRAFT = "draft"  # 拟定中
    NOTICE = "notice"  # 公示中
    REVIEW = "review"  # 公示结束，待市财政局和领导小组办公室审核
    RETURNED = "returned"  # 被退回修改
    APPROVED = "approved"  # 市人民政府已批准
    CLOSED = "closed"  # 资金已全部拨付，方案关闭


class PlanAction(StrEnum):
    OPEN_NOTICE = "open_notice"
    CLOSE_NOTICE = "close_notice"
    REVIEW = "review"  # one reviewing body's approval (both are required, either order)
    RETURN = "return"
    APPROVE = "approve"
    CLOSE = "close"


STATE_LABELS: dict[str, tuple[str, str]] = {
    "draft": ("草稿", "draft"),
    "submitted": ("已提交", "submitted"),
    "returned": ("已退回", "returned"),
    "resubmitted": ("已重新提交", "resubmitted"),
    "verified": ("审核通过", "verified"),
    "rejected": ("不予支持", "rejected"),
    "notice": ("公示中", "public notice"),
    "review": ("待审核", "under review"),
    "approved": ("已批准", "approved"),
    "closed": ("已关闭", "closed"),
}


@dataclass(frozen=True)
class Transition:
    to: str
    roles: frozenset[Role]


APPLICATION: dict[tuple[AppState, AppAction], Transition] = {
    (AppState.DRAFT, AppAction.SUBMIT): Transition(AppState.SUBMITTED, frozenset({Role.APPLICANT})),
    (AppState.SUBMITTED, AppAction.RETURN): Transition(
        AppState.RETURNED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.RESUBMITTED, AppAction.RETURN): Transition(
        AppState.RETURNED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.RETURNED, AppAction.RESUBMIT): Transition(
        AppState.RESUBMITTED, frozenset({Role.APPLICANT})
    ),
    (AppState.SUBMITTED, AppAction.VERIFY): Transition(
        AppState.VERIFIED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.RESUBMITTED, AppAction.VERIFY): Transition(
        AppState.VERIFIED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.SUBMITTED, AppAction.REJECT): Transition(
        AppState.REJECTED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.RESUBMITTED, AppAction.REJECT): Transition(
        AppState.REJECTED, frozenset({Role.COMMERCE_REVIEWER})
    ),
    (AppState.VERIFIED, AppAction.REOPEN): Transition(
        AppState.RESUBMITTED, frozenset({Role.COMMERCE_REVIEWER, Role.PLAN_DRAFTER})
    ),
}

PLAN: dict[tuple[PlanState, PlanAction], Transition] = {
    (PlanState.DRAFT, PlanAction.OPEN_NOTICE): Transition(
        PlanState.NOTICE, frozenset({Role.PLAN_DRAFTER})
    ),
    (PlanState.RETURNED, PlanAction.OPEN_NOTICE): Transition(
        PlanState.NOTICE, frozenset({Role.PLAN_DRAFTER})
    ),
    (PlanState.NOTICE, PlanAction.CLOSE_NOTICE): Transition(
        PlanState.REVIEW, frozenset({Role.PLAN_DRAFTER})
    ),
    (PlanState.REVIEW, PlanAction.REVIEW): Transition(
        PlanState.REVIEW, frozenset({Role.FINANCE_REVIEWER, Role.OFFICE_REVIEWER})
    ),
    (PlanState.REVIEW, PlanAction.RETURN): Transition(
        PlanState.RETURNED, frozenset({Role.FINANCE_REVIEWER, Role.OFFICE_REVIEWER})
    ),
    (PlanState.REVIEW, PlanAction.APPROVE): Transition(
        PlanState.APPROVED, frozenset({Role.CITY_APPROVER})
    ),
    (PlanState.APPROVED, PlanAction.CLOSE): Transition(
        PlanState.CLOSED, frozenset({Role.PLAN_DRAFTER, Role.FINANCE_REVIEWER})
    ),
}


class InvalidTransition(Exception):  # noqa: N818 - reads as the domain says it
    """An action that the state machine does not allow now, or not to this role."""

    def __init__(self, zh: str, en: str, *, by_role: bool = False) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        #: True when the state allows the action but not for this role (a 403, not a 409).
        self.by_role = by_role


def _label(value: str) -> tuple[str, str]:
    return STATE_LABELS.get(value, (value, value))


S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


def step(
    table: dict[tuple[S, A], Transition], state: S, action: A, roles: frozenset[Role] | set[Role]
) -> str:
    """The state after ``action`` from ``state`` by someone holding ``roles``, or refuse."""
    transition = table.get((state, action))
    zh_state, en_state = _label(state.value)
    if transition is None:
        raise InvalidTransition(
            f"当前状态“{zh_state}”下不能执行“{action.value}”",
            f"cannot {action.value} in state '{en_state}'",
        )
    if not transition.roles & set(roles):
        allowed_zh = "、".join(r.zh for r in sorted(transition.roles))
        allowed_en = ", ".join(r.en for r in sorted(transition.roles))
        raise InvalidTransition(
            f"“{action.value}”只能由{allowed_zh}执行",
            f"only {allowed_en} may {action.value}",
            by_role=True,
        )
    return transition.to
