"""The leading group of the annex, and how its membership changes.

附件: 今后，领导小组成员因工作变动需要调整的，由所在单位提出意见，经领导小组办公室审核，
报领导小组组长批准后，由领导小组行文，报市政府办公室备案。

So a change is proposed by the member's unit (the office records it on the unit's
behalf), checked by the office, approved by the group leader (the city approver acts
for 组长/市长) and filed with the city government's office; only the filing makes it
take effect. The office or the leader may return it with a reason; a returned change
is closed, and the unit proposes again.

Membership runs from ``active_from`` up to the day before ``active_to``: a successor's
first day is the day the predecessor's ends, so no day has two holders of one seat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from huiqi.db.tables import LeadingGroupMember, MemberChange, MemberChangeState
from huiqi.errors import Problem
from huiqi.fulfilment.roles import Role
from huiqi.fulfilment.workflow import InvalidTransition, Transition, step
from huiqi.service import audit
from huiqi.service.actors import STAFF, Actor, require
from huiqi.service.errors import Conflict, Invalid, NotFound
from huiqi.service.registry import text_field
from huiqi.service.uow import Services
from huiqi.yamlio import read_data

ANNEX_FILE = "leading_group.yaml"


class GroupRole(StrEnum):
    LEADER = "组长"
    DEPUTY = "副组长"
    MEMBER = "成员"


_RANK = {GroupRole.LEADER: 0, GroupRole.DEPUTY: 1, GroupRole.MEMBER: 2}


class ChangeAction(StrEnum):
    CHECK = "check"  # 领导小组办公室审核
    APPROVE = "approve"  # 组长批准
    FILE = "file"  # 报市政府办公室备案
    RETURN = "return"


S = MemberChangeState
MEMBER_CHANGE: dict[tuple[MemberChangeState, ChangeAction], Transition] = {
    (S.PROPOSED, ChangeAction.CHECK): Transition(S.CHECKED, frozenset({Role.OFFICE_REVIEWER})),
    (S.PROPOSED, ChangeAction.RETURN): Transition(S.RETURNED, frozenset({Role.OFFICE_REVIEWER})),
    (S.CHECKED, ChangeAction.APPROVE): Transition(S.APPROVED, frozenset({Role.CITY_APPROVER})),
    (S.CHECKED, ChangeAction.RETURN): Transition(S.RETURNED, frozenset({Role.CITY_APPROVER})),
    (S.APPROVED, ChangeAction.FILE): Transition(S.FILED, frozenset({Role.OFFICE_REVIEWER})),
}
OPEN_STATES = (S.PROPOSED, S.CHECKED, S.APPROVED)
STATE_ZH = {
    S.PROPOSED: "成员单位已提出",
    S.CHECKED: "领导小组办公室已审核",
    S.APPROVED: "组长已批准",
    S.FILED: "已报市政府办公室备案",
    S.RETURNED: "已退回",
}


# -- the annex as data ----------------------------------------------------------------------


class _Annex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnnexMember(_Annex):
    group_role: GroupRole
    name: str
    unit: str
    position: str
    quote: str


class Annex(_Annex):
    document_no: str
    as_of: date
    office: dict[str, str]
    change_procedure: dict[str, str]
    members: list[AnnexMember]


def load_annex(package_root: str | Path) -> Annex:
    """The annex's member list kept beside the policy package (``leading_group.yaml``)."""
    path = Path(package_root) / ANNEX_FILE
    if not path.is_file():
        raise NotFound(
            "本政策包没有领导小组成员名单（leading_group.yaml）",
            "this policy package has no leading group list (leading_group.yaml)",
        )
    try:
        return Annex.model_validate(read_data(path))
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]), None, f"无效：{e['msg']}", e["msg"])
            for e in exc.errors()
        ]
        raise Invalid(f"{ANNEX_FILE} 格式有误", f"{ANNEX_FILE} is not valid", problems) from None


# -- views ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberView:
    id: int
    group_role: str
    name: str
    unit: str
    position: str
    active_from: date
    active_to: date | None


@dataclass(frozen=True)
class ChangeStep:
    state: str
    by: str
    at: str
    note: str | None
    #: Whatever else the step recorded: on whose behalf, the group's document, the new member.
    details: dict[str, Any]


@dataclass(frozen=True)
class ChangeView:
    id: int
    member_id: int | None
    unit: str
    proposal: dict[str, Any]
    state: str
    reason: str | None
    filed_ref: str | None
    history: tuple[ChangeStep, ...]


def _member_view(m: LeadingGroupMember) -> MemberView:
    return MemberView(m.id, m.group_role, m.name, m.unit, m.position, m.active_from, m.active_to)


def _change_view(c: MemberChange) -> ChangeView:
    known = {"state", "by", "at", "note"}
    steps = tuple(
        ChangeStep(
            h["state"],
            h["by"],
            h["at"],
            h.get("note"),
            {k: v for k, v in h.items() if k not in known},
        )
        for h in c.history
    )
    return ChangeView(
        c.id, c.member_id, c.unit, dict(c.proposal), c.state.value, c.reason, c.filed_ref, steps
    )


# -- seeding and reading ------------------------------------------------------------------


def seed_annex(svc: Services, actor: Actor, as_of: date = date(2021, 2, 23)) -> list[MemberView]:
    """Record the members the annex lists, in office from ``as_of`` (the date of issue)."""
    require(actor, Role.ADMIN, Role.OFFICE_REVIEWER)
    annex = load_annex(svc.package.root)
    with svc.transaction() as s:
        if s.scalar(select(LeadingGroupMember).limit(1)) is not None:
            raise Conflict(
                "领导小组成员已登记，调整须按附件规定的程序办理",
                "the members are recorded; changes follow the annex's procedure",
            )
        rows = [
            LeadingGroupMember(
                unit=m.unit,
                position=m.position,
                name=m.name,
                group_role=m.group_role.value,
                active_from=as_of,
            )
            for m in annex.members
        ]
        s.add_all(rows)
        s.flush()
        audit.record(
            s,
            at=svc.clock(),
            actor=actor.username,
            action="leading_group.seed",
            object_type="leading_group",
            object_id=annex.document_no,
            after={
                "as_of": str(as_of),
                "members": [[r.id, r.group_role, r.name, r.unit, r.position] for r in rows],
            },
        )
        return [_member_view(r) for r in rows]


def members(svc: Services, on: date | None = None) -> list[MemberView]:
    """The group on ``on`` (default: today): 组长, 副组长, then 成员, in the annex's order."""
    day = on or svc.clock().date()
    with svc.reading() as s:
        rows = s.scalars(select(LeadingGroupMember).order_by(LeadingGroupMember.id)).all()
        current = [
            r for r in rows if r.active_from <= day and (r.active_to is None or day < r.active_to)
        ]
        current.sort(key=lambda r: (_RANK.get(GroupRole(r.group_role), 9), r.id))
        return [_member_view(r) for r in current]


def changes(svc: Services, actor: Actor) -> list[ChangeView]:
    """Every change proposed so far, oldest first (staff only)."""
    require(actor, *(STAFF - {Role.ADMIN}))
    with svc.reading() as s:
        return [_change_view(c) for c in s.scalars(select(MemberChange).order_by(MemberChange.id))]


# -- the change procedure ---------------------------------------------------------------------


def _history(
    c: MemberChange, state: MemberChangeState, actor: Actor, at: str, **extra: Any
) -> None:
    # A new list, so the JSON column sees the change.
    c.history = [*c.history, {"state": state.value, "by": actor.username, "at": at, **extra}]


def propose_change(
    svc: Services,
    actor: Actor,
    *,
    unit: str,
    member_id: int | None,
    name: str,
    position: str,
    reason: str,
    unit_document: str | None = None,
    group_role: GroupRole | str = GroupRole.MEMBER,
) -> ChangeView:
    """The office records a unit's proposal: replace ``member_id`` (or, with None, add a
    member) by ``name`` in ``position``. Nothing changes in the group until it is filed."""
    require(actor, Role.OFFICE_REVIEWER)
    problems: list[Problem] = []
    unit = text_field(problems, "unit", unit, 100)
    name = text_field(problems, "name", name, 50)
    position = text_field(problems, "position", position, 100)
    reason = text_field(problems, "reason", reason, 2000)
    try:
        role = GroupRole(group_role)
    except ValueError:
        allowed = "、".join(r.value for r in GroupRole)
        problems.append(Problem("group_role", group_role, f"应为{allowed}", f"one of {allowed}"))
        role = GroupRole.MEMBER
    if problems:
        raise Invalid("成员调整意见不完整", "the proposal is incomplete", problems)
    with svc.transaction() as s:
        if member_id is not None:
            member = _active_member(s, member_id)
            if member.unit != unit:
                raise Invalid(
                    "调整意见须由该成员所在单位提出",
                    "the member's own unit proposes the change",
                    [
                        Problem(
                            "unit",
                            unit,
                            f"该成员所在单位为{member.unit}",
                            f"the member's unit is {member.unit}",
                        )
                    ],
                )
            role = GroupRole(member.group_role)
            pending = s.scalar(
                select(MemberChange).where(
                    MemberChange.member_id == member_id, MemberChange.state.in_(OPEN_STATES)
                )
            )
            if pending is not None:
                raise Conflict(
                    f"该成员已有办理中的调整（第{pending.id}号）",
                    f"a change of this member is already under way (no. {pending.id})",
                )
        proposal = {
            "replaces": member_id,
            "name": name,
            "position": position,
            "group_role": role.value,
            "unit_document": unit_document,
        }
        now = svc.clock()
        change = MemberChange(
            member_id=member_id,
            unit=unit,
            proposal=proposal,
            state=S.PROPOSED,
            reason=reason,
            history=[],
        )
        _history(change, S.PROPOSED, actor, now.isoformat(), note=reason, on_behalf_of=unit)
        s.add(change)
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="leading_group.propose",
            object_type="member_change",
            object_id=change.id,
            after={"unit": unit, **proposal},
            reason=reason,
        )
        return _change_view(change)


def _active_member(s: Session, member_id: int, *, lock: bool = False) -> LeadingGroupMember:
    member = s.get(LeadingGroupMember, member_id, with_for_update=lock)
    if member is None:
        raise NotFound(f"领导小组成员 {member_id} 不存在", f"no member {member_id}")
    if member.active_to is not None:
        raise Conflict(
            f"{member.name}已于{member.active_to}不再担任成员",
            f"{member.name} left the group on {member.active_to}",
        )
    return member


def _load(s: Session, change_id: int) -> MemberChange:
    change = s.scalar(select(MemberChange).where(MemberChange.id == change_id).with_for_update())
    if change is None:
        raise NotFound(f"成员调整 {change_id} 不存在", f"no member change {change_id}")
    return change


def _move(change: MemberChange, action: ChangeAction, actor: Actor) -> MemberChangeState:
    try:
        return MemberChangeState(step(MEMBER_CHANGE, change.state, action, actor.roles))
    except InvalidTransition:
        raise Conflict(
            f"该调整当前为“{STATE_ZH[change.state]}”，不能执行此步骤（须依次：单位提出→办公室审核→"
            "组长批准→报市政府办公室备案）",
            f"the change is '{change.state.value}': this step is out of order (unit proposes → "
            "office checks → group leader approves → filed with the city government's office)",
        ) from None


def _decide(
    svc: Services,
    actor: Actor,
    change_id: int,
    action: ChangeAction,
    approve: bool,
    reason: str | None,
) -> ChangeView:
    """One reviewing step: forward with ``action``, or return with a reason."""
    if not approve and not (reason or "").strip():
        raise Invalid(
            "退回须写明理由",
            "a return needs a reason",
            [Problem("reason", reason, "不能为空", "empty")],
        )
    with svc.transaction() as s:
        change = _load(s, change_id)
        before = change.state
        to = _move(change, action if approve else ChangeAction.RETURN, actor)
        note = (reason or "").strip() or None
        change.state = to
        if to is S.RETURNED:
            change.reason = note
        now = svc.clock()
        _history(change, to, actor, now.isoformat(), note=note)
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action=f"leading_group.{action.value if approve else 'return'}",
            object_type="member_change",
            object_id=change.id,
            before={"state": before.value},
            after={"state": to.value},
            reason=note,
        )
        return _change_view(change)


def check_change(
    svc: Services, actor: Actor, change_id: int, *, approve: bool = True, reason: str | None = None
) -> ChangeView:
    """领导小组办公室审核: pass the proposal to the group leader, or return it."""
    require(actor, Role.OFFICE_REVIEWER)
    return _decide(svc, actor, change_id, ChangeAction.CHECK, approve, reason)


def approve_change(
    svc: Services, actor: Actor, change_id: int, *, approve: bool = True, reason: str | None = None
) -> ChangeView:
    """领导小组组长批准 (the city approver acts for 组长): approve, or return with a reason."""
    require(actor, Role.CITY_APPROVER)
    return _decide(svc, actor, change_id, ChangeAction.APPROVE, approve, reason)


def file_change(
    svc: Services,
    actor: Actor,
    change_id: int,
    *,
    filed_ref: str,
    filed_on: date,
    group_document: str | None = None,
) -> ChangeView:
    """由领导小组行文，报市政府办公室备案: record the filing (and the group's own document,
    kept in the history); the change takes effect on ``filed_on``."""
    require(actor, Role.OFFICE_REVIEWER)
    problems: list[Problem] = []
    filed_ref = text_field(problems, "filed_ref", filed_ref, 100)
    if problems:
        raise Invalid("须填写备案文号", "the filing reference is needed", problems)
    with svc.transaction() as s:
        change = _load(s, change_id)
        to = _move(change, ChangeAction.FILE, actor)
        proposal = change.proposal
        before_members: list[Any] = []
        if change.member_id is not None:
            old = _active_member(s, change.member_id, lock=True)
            if filed_on <= old.active_from:
                raise Invalid(
                    "备案日期有误",
                    "bad filing date",
                    [
                        Problem(
                            "filed_on",
                            str(filed_on),
                            f"须晚于{old.name}任职起始日 {old.active_from}",
                            f"must be after {old.name}'s first day {old.active_from}",
                        )
                    ],
                )
            old.active_to = filed_on
            before_members = [old.id, old.name, old.position]
        new = LeadingGroupMember(
            unit=change.unit,
            position=proposal["position"],
            name=proposal["name"],
            group_role=proposal["group_role"],
            active_from=filed_on,
        )
        s.add(new)
        s.flush()
        change.state, change.filed_ref = to, filed_ref
        now = svc.clock()
        _history(
            change,
            to,
            actor,
            now.isoformat(),
            note=filed_ref,
            group_document=group_document,
            new_member_id=new.id,
        )
        s.flush()
        audit.record(
            s,
            at=now,
            actor=actor.username,
            action="leading_group.file",
            object_type="member_change",
            object_id=change.id,
            before={"state": S.APPROVED.value, "member": before_members or None},
            after={
                "state": to.value,
                "filed_ref": filed_ref,
                "group_document": group_document,
                "effective": str(filed_on),
                "member": [new.id, new.name, new.position],
            },
        )
        return _change_view(change)
