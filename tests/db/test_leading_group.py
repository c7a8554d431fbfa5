"""The leading group of the annex and the procedure that changes its members."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from huiqi.db.tables import AuditEntry
from huiqi.policy import PolicyPackage
from huiqi.service import leading_group as lg
from huiqi.service.errors import Conflict, Forbidden, Invalid, NotFound
from huiqi.service.uow import Services

from .conftest import Cast


def test_the_annex_lists_a_leader_two_deputies_and_twenty_members_as_printed(
    chenzhou: PolicyPackage,
) -> None:
    annex = lg.load_annex(chenzhou.root)
    roles = [m.group_role.value for m in annex.members]
    assert (roles.count("组长"), roles.count("副组长"), roles.count("成员")) == (1, 2, 20)
    for member in annex.members:
        assert member.quote in chenzhou.source_text, member.quote
        line = member.quote.replace(" ", "")
        assert line.startswith(member.name)
        assert line.removeprefix(member.name) in (member.position, member.unit + member.position)
    assert annex.office["unit"] == "市商务局" and annex.office["director"] == "熊娟"
    assert annex.change_procedure["quote"] in chenzhou.source_text


def test_the_seeded_group_is_in_office_from_the_date_of_issue(svc: Services, cast: Cast) -> None:
    seeded = lg.seed_annex(svc, cast.ou)
    assert len(seeded) == 23
    assert lg.members(svc, date(2021, 2, 22)) == []
    group = lg.members(svc, date(2021, 2, 23))
    assert [(m.group_role, m.name) for m in group[:3]] == [
        ("组长", "刘志仁"),
        ("副组长", "蒋锋"),
        ("副组长", "周海林"),
    ]
    commerce = next(m for m in group if m.name == "熊娟")
    assert (commerce.unit, commerce.position, commerce.active_to) == ("市商务局", "局长", None)
    with pytest.raises(Conflict):
        lg.seed_annex(svc, cast.ou)
    with pytest.raises(Forbidden):
        lg.seed_annex(svc, cast.rui)


def member(svc: Services, name: str) -> lg.MemberView:
    return next(m for m in lg.members(svc, date(2022, 1, 1)) if m.name == name)


def test_a_replacement_takes_effect_only_once_filed_with_the_city_governments_office(
    svc: Services, cast: Cast
) -> None:
    lg.seed_annex(svc, cast.admin)
    xiong = member(svc, "熊娟")
    change = lg.propose_change(
        svc,
        cast.ou,
        unit="市商务局",
        member_id=xiong.id,
        name="王五",
        position="局长",
        reason="工作变动",
        unit_document="郴商务函〔2023〕1号",
    )
    assert change.state == "proposed"
    lg.check_change(svc, cast.ou, change.id)
    lg.approve_change(svc, cast.shi, change.id)
    assert "熊娟" in [m.name for m in lg.members(svc, date(2023, 6, 1))]  # approved, not filed
    filed = lg.file_change(
        svc,
        cast.ou,
        change.id,
        filed_ref="郴政办备〔2023〕5号",
        filed_on=date(2023, 3, 10),
        group_document="郴跨综领〔2023〕1号",
    )
    assert filed.state == "filed" and filed.filed_ref == "郴政办备〔2023〕5号"
    assert [(h.state, h.by) for h in filed.history] == [
        ("proposed", "ou"),
        ("checked", "ou"),
        ("approved", "shi"),
        ("filed", "ou"),
    ]
    assert filed.history[0].details == {"on_behalf_of": "市商务局"}
    assert filed.history[-1].details["group_document"] == "郴跨综领〔2023〕1号"
    before = [m.name for m in lg.members(svc, date(2023, 3, 9))]
    after = lg.members(svc, date(2023, 3, 10))
    assert "熊娟" in before and "王五" not in before
    assert "熊娟" not in [m.name for m in after]
    successor = next(m for m in after if m.name == "王五")
    assert (successor.unit, successor.group_role, successor.active_from) == (
        "市商务局",
        "成员",
        date(2023, 3, 10),
    )
    assert len(after) == 23
    with svc.reading() as s:
        steps = s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "member_change")
            .order_by(AuditEntry.seq)
        ).all()
    assert steps == [
        "leading_group.propose",
        "leading_group.check",
        "leading_group.approve",
        "leading_group.file",
    ]


def test_every_step_out_of_order_is_a_conflict(svc: Services, cast: Cast) -> None:
    lg.seed_annex(svc, cast.admin)
    chen = member(svc, "陈剑")
    change = lg.propose_change(
        svc,
        cast.ou,
        unit="市财政局",
        member_id=chen.id,
        name="赵六",
        position="局长",
        reason="调任",
    )
    with pytest.raises(Conflict):
        lg.approve_change(svc, cast.shi, change.id)  # not checked yet
    with pytest.raises(Conflict):
        lg.file_change(svc, cast.ou, change.id, filed_ref="R", filed_on=date(2023, 3, 1))
    lg.check_change(svc, cast.ou, change.id)
    with pytest.raises(Conflict):
        lg.check_change(svc, cast.ou, change.id)  # checked already
    with pytest.raises(Conflict):
        lg.file_change(svc, cast.ou, change.id, filed_ref="R", filed_on=date(2023, 3, 1))
    with pytest.raises(Forbidden):
        lg.approve_change(svc, cast.ou, change.id)  # the office does not stand for 组长
    with pytest.raises(Forbidden):
        lg.check_change(svc, cast.shi, change.id)
    assert lg.changes(svc, cast.shen)[0].state == "checked"


def test_the_office_or_the_leader_may_return_a_change_with_a_reason(
    svc: Services, cast: Cast
) -> None:
    lg.seed_annex(svc, cast.admin)
    liu = member(svc, "刘探坦")
    first = lg.propose_change(
        svc, cast.ou, unit="郴州海关", member_id=liu.id, name="孙七", position="关长", reason="调任"
    )
    with pytest.raises(Invalid) as raised:
        lg.check_change(svc, cast.ou, first.id, approve=False, reason=" ")
    assert [p.path for p in raised.value.problems] == ["reason"]
    returned = lg.check_change(svc, cast.ou, first.id, approve=False, reason="缺少单位党组意见")
    assert (returned.state, returned.reason) == ("returned", "缺少单位党组意见")
    with pytest.raises(Conflict):
        lg.approve_change(svc, cast.shi, first.id)  # a returned change is closed

    second = lg.propose_change(
        svc, cast.ou, unit="郴州海关", member_id=liu.id, name="孙七", position="关长", reason="调任"
    )
    lg.check_change(svc, cast.ou, second.id)
    returned = lg.approve_change(svc, cast.shi, second.id, approve=False, reason="待任命文件下达")
    assert returned.state == "returned"
    assert [h.state for h in returned.history] == ["proposed", "checked", "returned"]
    assert returned.history[-1].note == "待任命文件下达"
    assert "刘探坦" in [m.name for m in lg.members(svc, date(2024, 1, 1))]


def test_only_the_members_own_unit_proposes_and_one_change_at_a_time(
    svc: Services, cast: Cast
) -> None:
    lg.seed_annex(svc, cast.admin)
    xie = member(svc, "谢小虎")
    with pytest.raises(Invalid) as raised:
        lg.propose_change(
            svc,
            cast.ou,
            unit="市商务局",
            member_id=xie.id,
            name="周八",
            position="局长",
            reason="r",
        )
    assert [(p.path, p.value) for p in raised.value.problems] == [("unit", "市商务局")]
    with pytest.raises(Invalid) as raised:
        lg.propose_change(
            svc, cast.ou, unit="", member_id=xie.id, name="", position="局长", reason=""
        )
    assert {p.path for p in raised.value.problems} == {"unit", "name", "reason"}
    with pytest.raises(NotFound):
        lg.propose_change(
            svc,
            cast.ou,
            unit="市邮政管理局",
            member_id=999,
            name="周八",
            position="局长",
            reason="r",
        )
    change = lg.propose_change(
        svc,
        cast.ou,
        unit="市邮政管理局",
        member_id=xie.id,
        name="周八",
        position="局长",
        reason="r",
    )
    with pytest.raises(Conflict):
        lg.propose_change(
            svc,
            cast.ou,
            unit="市邮政管理局",
            member_id=xie.id,
            name="吴九",
            position="局长",
            reason="r",
        )
    with pytest.raises(Forbidden):
        lg.propose_change(
            svc,
            cast.rui,
            unit="市邮政管理局",
            member_id=xie.id,
            name="吴九",
            position="局长",
            reason="r",
        )
    lg.check_change(svc, cast.ou, change.id)
    lg.approve_change(svc, cast.shi, change.id)
    with pytest.raises(Invalid):  # a filing date before the member's first day
        lg.file_change(svc, cast.ou, change.id, filed_ref="R", filed_on=date(2021, 1, 1))
    lg.file_change(svc, cast.ou, change.id, filed_ref="R", filed_on=date(2023, 1, 1))
    with pytest.raises(Conflict):  # 谢小虎 has left; there is nobody to replace
        lg.propose_change(
            svc,
            cast.ou,
            unit="市邮政管理局",
            member_id=xie.id,
            name="吴九",
            position="局长",
            reason="r",
        )


def test_a_unit_may_propose_an_additional_member(svc: Services, cast: Cast) -> None:
    lg.seed_annex(svc, cast.admin)
    change = lg.propose_change(
        svc,
        cast.ou,
        unit="市外事办",
        member_id=None,
        name="郑十",
        position="主任",
        reason="工作需要增补",
    )
    lg.check_change(svc, cast.ou, change.id)
    lg.approve_change(svc, cast.shi, change.id)
    lg.file_change(svc, cast.ou, change.id, filed_ref="R-1", filed_on=date(2023, 5, 1))
    group = lg.members(svc, date(2023, 5, 1))
    assert len(group) == 24 and group[-1].name == "郑十" and group[-1].group_role == "成员"
