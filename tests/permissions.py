"""Who may do what, written down by hand from the policy — the expectation the code is held to.

Nothing here is read from ``huiqi.fulfilment.workflow`` or the service: the workflow tables,
the service's ``require(...)`` checks and the authorisation matrix are all compared against
this table, so changing who may act in the code without changing this table fails a test.

Each line is one action on one kind of record in one state: the state it goes to (``-``
when the action creates or changes a record without a state machine), a mark per role
(``✓`` allowed, ``·`` refused) and the ground: a sentence of 郴政办发〔2021〕3号 (the last
paragraph of its section 五, quoted in ``GROUNDS``) or the project's rule in README.md.
Every (state, action) pair of a state machine not listed here is refused to everyone.

Reviewed against the policy's approval chain (section 五, last paragraph):
"扶持奖励资金分配方案由市商务局拟定，经市财政局、中国（郴州）跨境电子商务综合试验区工作领导小组办公室审核，
按程序报市人民政府批准执行。" — the plan is drafted by 市商务局 (plan drafter), reviewed by 市财政局
(finance reviewer) and 领导小组办公室 (office reviewer), approved by 市人民政府 (city approver).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The roles, in the order of the table's columns (values of ``huiqi.fulfilment.roles.Role``).
COLUMNS = (
    "applicant",  # 申报单位
    "commerce_reviewer",  # 市商务局审核人
    "plan_drafter",  # 市商务局分配方案拟定人
    "finance_reviewer",  # 市财政局审核人
    "office_reviewer",  # 领导小组办公室审核人
    "city_approver",  # 市人民政府审批人
    "auditor",  # 审计（只读）
    "admin",  # 系统管理员
)

GROUNDS: dict[str, str] = {
    "drafted": (
        "五：扶持奖励资金分配方案由市商务局拟定 — the plan is drafted by 市商务局 (plan drafter)"
    ),
    "reviewed": (
        "五：经市财政局、中国（郴州）跨境电子商务综合试验区工作领导小组办公室审核 — "
        "reviewed by 市财政局 and 领导小组办公室, each on its own (both before approval)"
    ),
    "approved": "五：按程序报市人民政府批准执行 — only 市人民政府 approves the plan",
    "office": (
        "三(一)：对经领导小组办公室批准的展览、展示、宣传、行业峰会论坛和课题研究等服务，"
        "给予一定支持 — the office approves what depends on its approval"
    ),
    "paid": (
        "五：以上措施所需扶持奖励资金按现行财税体制由税收申报缴纳地财政分级负责 — "
        "the finance bureau pays and holds the budget"
    ),
    "applies": (
        "README (roles): 申报单位只看、只改本单位的数据 — only the applicant files and corrects "
        "its own application"
    ),
    "commerce": (
        "README (fulfilment): the commerce bureau's review — 具体实施细则由郴州市商务局制定 (五); "
        "市商务局 checks each application, returns it for correction, rejects or verifies it"
    ),
    "notice": (
        "README (fulfilment): public notice (公示) of the plan and its objections, run by the "
        "drafter before the reviews"
    ),
    "objection": (
        "README: an upheld objection sends the whole application back to review — decided by "
        "市商务局 (drafter or reviewer)"
    ),
    "closed": (
        "README (fulfilment): a plan closes once paid in full — by its drafter or the finance "
        "bureau that paid it"
    ),
    "registry": (
        "README (roles): 管理员：用户与参数，不作决定; 市商务局 registers enterprises it reviews"
    ),
    "users": "README (roles): 管理员：用户与参数 — only the administrator manages users",
}

#: Per person, not per role (issue 11.2): steps on the same plan or line that one person may
#: not both take, because the chain of section 五 gives them to two bodies. Written by hand;
#: ``huiqi.fulfilment.duties.INCOMPATIBLE`` is held to it (tests/test_permission_table.py).
ONE_PERSON_NEVER_BOTH: dict[frozenset[str], str] = {
    frozenset({"draft", "finance_review"}): "五：市商务局拟定，经市财政局审核",
    frozenset({"draft", "office_review"}): "五：市商务局拟定，经领导小组办公室审核",
    frozenset({"draft", "approve"}): "五：市商务局拟定，报市人民政府批准",
    frozenset({"draft", "pay"}): "五：市商务局拟定；资金由财政负责",
    frozenset({"finance_review", "office_review"}): "五：经市财政局、领导小组办公室审核（两家）",
    frozenset({"finance_review", "approve"}): "五：市财政局审核，市人民政府批准",
    frozenset({"finance_review", "pay"}): "审核与拨付分由两人（the reviewer does not pay)",
    frozenset({"office_review", "approve"}): "五：领导小组办公室审核，市人民政府批准",
    frozenset({"office_review", "pay"}): "五：领导小组办公室审核；资金由财政负责",
    frozenset({"approve", "pay"}): "五：市人民政府批准；资金由财政负责",
    frozenset({"verify", "office_review"}): "办公室审核的是市商务局核定的金额",
    frozenset({"verify", "office_line"}): "三(一)：经领导小组办公室批准 — not the verifier's own",
}

#: Columns after the arrow: the state reached, then applicant, commerce, drafter, finance,
#: office, city, auditor, admin, then the ground.
TABLE = """
application draft        submit        → submitted    ✓ · · · · · · ·  applies
application returned     resubmit      → resubmitted  ✓ · · · · · · ·  applies
application submitted    return        → returned     · ✓ · · · · · ·  commerce
application resubmitted  return        → returned     · ✓ · · · · · ·  commerce
application submitted    verify        → verified     · ✓ · · · · · ·  commerce
application resubmitted  verify        → verified     · ✓ · · · · · ·  commerce
application submitted    reject        → rejected     · ✓ · · · · · ·  commerce
application resubmitted  reject        → rejected     · ✓ · · · · · ·  commerce
application verified     reopen        → resubmitted  · ✓ ✓ · · · · ·  objection
plan        draft        open_notice   → notice       · · ✓ · · · · ·  notice
plan        returned     open_notice   → notice       · · ✓ · · · · ·  notice
plan        notice       close_notice  → review       · · ✓ · · · · ·  notice
plan        review       review        → review       · · · ✓ ✓ · · ·  reviewed
plan        review       return        → returned     · · · ✓ ✓ · · ·  reviewed
plan        review       approve       → approved     · · · · · ✓ · ·  approved
plan        approved     close         → closed       · · ✓ ✓ · · · ·  closed
planning    -            draft         → draft        · · ✓ · · · · ·  drafted
planning    draft        reallocate    → draft        · · ✓ · · · · ·  drafted
objection   unresolved   resolve       → -            · ✓ ✓ · · · · ·  objection
line        pending      office        → -            · · · · ✓ · · ·  office
item        approved     disburse      → -            · · · ✓ · · · ·  paid
budget      -            set           → -            · · · ✓ · · · ·  paid
organisation -           register      → -            · ✓ · · · · · ✓  registry
user        -            create        → -            · · · · · · · ✓  users
user        -            list          → -            · · · · · · · ✓  users
user        -            disable       → -            · · · · · · · ✓  users
user        -            enable        → -            · · · · · · · ✓  users
user        -            tokens        → -            · · · · · · · ✓  users
"""

#: The records whose states are a state machine of ``huiqi.fulfilment.workflow``.
MACHINES = ("application", "plan")


@dataclass(frozen=True)
class Permission:
    record: str
    state: str
    action: str
    to: str
    allowed: frozenset[str]
    ground: str

    def allows(self, role: str) -> bool:
        return role in self.allowed


def _parse(table: str) -> dict[tuple[str, str, str], Permission]:
    found: dict[tuple[str, str, str], Permission] = {}
    for line in table.strip().splitlines():
        record, state, action, arrow, to, *marks, ground = line.split()
        assert arrow == "→" and len(marks) == len(COLUMNS), line
        assert set(marks) <= {"✓", "·"} and ground in GROUNDS, line
        allowed = frozenset(role for role, mark in zip(COLUMNS, marks, strict=True) if mark == "✓")
        assert (record, state, action) not in found, f"listed twice: {line}"
        found[record, state, action] = Permission(
            record, state, action, to, allowed, GROUNDS[ground]
        )
    return found


PERMISSIONS = _parse(TABLE)


def may(record: str, state: str, action: str) -> frozenset[str]:
    """The roles the table allows (role values); KeyError for a line the table lacks."""
    return PERMISSIONS[record, state, action].allowed


def machine(record: str) -> dict[tuple[str, str], Permission]:
    """The table's lines for one state machine, by (state, action)."""
    return {(p.state, p.action): p for p in PERMISSIONS.values() if p.record == record}
