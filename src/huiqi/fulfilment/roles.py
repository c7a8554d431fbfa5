"""Who uses huiqi (issue 3's roles), with their Chinese and English names."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    APPLICANT = "applicant"  # 申报单位：只看、只改本单位的数据
    COMMERCE_REVIEWER = "commerce_reviewer"  # 市商务局审核人
    PLAN_DRAFTER = "plan_drafter"  # 市商务局分配方案拟定人
    FINANCE_REVIEWER = "finance_reviewer"  # 市财政局审核人
    OFFICE_REVIEWER = "office_reviewer"  # 领导小组办公室审核人
    CITY_APPROVER = "city_approver"  # 市人民政府审批人
    AUDITOR = "auditor"  # 审计：只读全部
    ADMIN = "admin"  # 管理员：用户与参数，不作决定

    @property
    def zh(self) -> str:
        return _LABELS[self][0]

    @property
    def en(self) -> str:
        return _LABELS[self][1]


_LABELS = {
    Role.APPLICANT: ("申报单位", "applicant"),
    Role.COMMERCE_REVIEWER: ("市商务局审核人", "commerce bureau reviewer"),
    Role.PLAN_DRAFTER: ("市商务局方案拟定人", "commerce bureau plan drafter"),
    Role.FINANCE_REVIEWER: ("市财政局审核人", "finance bureau reviewer"),
    Role.OFFICE_REVIEWER: ("领导小组办公室审核人", "leading group office reviewer"),
    Role.CITY_APPROVER: ("市人民政府审批人", "city government approver"),
    Role.AUDITOR: ("审计人员（只读）", "auditor (read-only)"),
    Role.ADMIN: ("系统管理员", "administrator"),
}
